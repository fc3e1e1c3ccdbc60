"""Failures in the Kafka pipelines: one that will pass (broker down, a timeout, a busy
database) is retried after a back-off; any other failure of one item parks that item.

Each pipeline of the worker (inbound, outbound case events, dead-letter publishing) has
its own `Backoff`, so one failing part waits alone while the others go on.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from eventsourcing.persistence import InterfaceError, OperationalError

from domain.errors import printable


def is_transient(e: BaseException) -> bool:
    """True for failures that say nothing about the item: the broker or database is away."""
    from kafka.errors import KafkaConnectionError, KafkaError

    if isinstance(e, KafkaError):
        return bool(getattr(e, "retriable", False)) or isinstance(e, KafkaConnectionError)
    if isinstance(e, OperationalError | InterfaceError | sqlite3.OperationalError
                  | ConnectionError | TimeoutError):
        return True
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(e, psycopg.OperationalError | psycopg.InterfaceError)


def describe(e: BaseException, limit: int = 1000) -> str:
    """`Type: message`, printable and bounded: what status shows and the logs carry."""
    name, text = type(e).__name__, str(e)
    return printable(text if text.startswith(name) else f"{name}: {text}", limit)


class Backoff:
    """Exponential back-off of one pipeline: `first` seconds doubling up to `most`,
    cleared by a success."""

    def __init__(self, name: str, *, first: float = 0.5, most: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.name, self.first, self.most, self.clock = name, first, most, clock
        self.failures = 0
        self.until = 0.0
        self.last_error: str | None = None

    def ready(self) -> bool:
        return self.clock() >= self.until

    def failed(self, e: BaseException) -> float:
        """Record a failure; returns the delay before the next try."""
        self.failures += 1
        self.last_error = describe(e)
        delay = min(self.most, self.first * 2 ** (self.failures - 1))
        self.until = self.clock() + delay
        return delay

    def ok(self) -> None:
        self.failures, self.until, self.last_error = 0, 0.0, None
