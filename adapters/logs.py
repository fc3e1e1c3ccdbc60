"""structlog setup: JSON lines in production, readable lines on a terminal; always to stderr.

The output survives a closed or broken stream (SafeLoggerFactory): a line that cannot be
written is dropped, never raised into the request, command or loop that logged it.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog

from adapters.metrics import observe

WRITE_ERRORS = (OSError, ValueError)  # broken pipe, full disk; closed file, unencodable text


def setup_logging(level: str | None = None, fmt: str | None = None) -> None:
    level = (level or os.environ.get("CASEGRID_LOG_LEVEL") or "warning").upper()
    threshold = getattr(logging, level, logging.WARNING)
    tty = is_terminal(sys.stderr)
    fmt = fmt or os.environ.get("CASEGRID_LOG_FORMAT") or ("console" if tty else "json")
    renderer = (
        structlog.dev.ConsoleRenderer(colors=tty)
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
        logger_factory=SafeLoggerFactory(structlog.PrintLoggerFactory(file=log_stream())),
        cache_logger_on_first_use=False,
    )


def log_stream():
    """stderr; with none (started with `2>&-`) the null device, never stdout (--json)."""
    if sys.stderr is not None:
        return sys.stderr
    return open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives with the process


def is_terminal(stream) -> bool:
    """Whether `stream` is a terminal; a closed one, or none (`2>&-`), is not."""
    try:
        return bool(stream.isatty())
    except (AttributeError, *WRITE_ERRORS):
        return False


LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "warn": logging.WARNING, "error": logging.ERROR, "exception": logging.ERROR}


def _below(threshold: int):
    """Drop a line under the configured level (after `observe` has seen it)."""
    def drop(_logger, method: str, event_dict: dict) -> dict:
        if LEVELS.get(method, logging.CRITICAL) < threshold:
            raise structlog.DropEvent
        return event_dict
    return drop


class SafeLogger:
    """A structlog output logger whose write may fail (a closed or broken stream): the
    line is dropped and the caller goes on."""

    __slots__ = ("inner",)

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name: str):
        write = getattr(self.inner, name)

        def safe(*args, **kw):
            try:
                return write(*args, **kw)
            except WRITE_ERRORS:
                return None
        return safe


class SafeLoggerFactory:
    """Wraps a structlog logger factory: every logger it makes is a SafeLogger."""

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, *args) -> SafeLogger:
        return SafeLogger(self.inner(*args))


def safe_output() -> None:
    """Make the output structlog is configured with now safe (an app embedded without
    `setup_logging`: structlog's default prints to stdout)."""
    factory = structlog.get_config()["logger_factory"]
    if not isinstance(factory, SafeLoggerFactory):
        structlog.configure(logger_factory=SafeLoggerFactory(factory))
