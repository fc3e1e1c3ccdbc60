"""structlog setup: JSON lines in production, readable lines on a terminal; always to stderr."""

from __future__ import annotations

import logging
import os
import sys

import structlog


def setup_logging(level: str | None = None, fmt: str | None = None) -> None:
    level = (level or os.environ.get("CASEGRID_LOG_LEVEL") or "warning").upper()
    fmt = fmt or os.environ.get("CASEGRID_LOG_FORMAT") or ("console" if sys.stderr.isatty() else "json")
    renderer = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if fmt == "console"
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level, logging.WARNING)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
