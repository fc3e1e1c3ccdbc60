"""structlog setup: JSON lines in production, readable lines on a terminal; always to stderr."""

from __future__ import annotations

import logging
import os
import sys

import structlog

from adapters.metrics import observe


def setup_logging(level: str | None = None, fmt: str | None = None) -> None:
    level = (level or os.environ.get("CASEGRID_LOG_LEVEL") or "warning").upper()
    threshold = getattr(logging, level, logging.WARNING)
    fmt = fmt or os.environ.get("CASEGRID_LOG_FORMAT") or ("console" if sys.stderr.isatty() else "json")
    renderer = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if fmt == "console"
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    structlog.configure(
        processors=[
            observe,  # /metrics counts command and deadline lines, whatever the level
            _below(threshold),
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(min(threshold, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "warn": logging.WARNING, "error": logging.ERROR, "exception": logging.ERROR}


def _below(threshold: int):
    """Drop a line under the configured level (after `observe` has seen it)."""
    def drop(_logger, method: str, event_dict: dict) -> dict:
        if LEVELS.get(method, logging.CRITICAL) < threshold:
            raise structlog.DropEvent
        return event_dict
    return drop
