"""Readable case numbers (案件编号): `2026-11-000123` — the year and month a case was
reported (business time, the city's zone) and its place in that year's sequence.

The sequence is the store's (adapters/storage/numbers.py: one row per year, taken in a
transaction of its own); a report that fails after taking its number leaves a gap, as a
voided paper form would. A batch (import, Kafka) takes a block of numbers at once.
The UUID stays the case's internal id; the number is carried on its Reported event.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

from domain.case_number import is_number, number_text

__all__ = ["CaseNumbers", "MemoryNumbers", "NumberPool", "is_number"]


class CaseNumbers(Protocol):
    def take(self, scope: str, count: int) -> int:
        """Reserve `count` consecutive numbers of `scope` (a year); return the first."""


class MemoryNumbers:
    """The sequence of the in-memory store (eventsourcing's POPO, unit tests)."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}
        self.lock = threading.Lock()

    def take(self, scope: str, count: int) -> int:
        with self.lock:
            first = self.last.get(scope, 0) + 1
            self.last[scope] = first + count - 1
            return first


class NumberPool:
    """Numbers for the reports of one batch: a block per year, taken when first needed."""

    def __init__(self, numbers: CaseNumbers, block: int = 1):
        self.numbers = numbers
        self.block = max(1, block)
        self.free: dict[str, list[int]] = {}  # scope -> [next, end)

    def next(self, local: datetime) -> str:
        """The number of a case reported at `local` (its business time in the city's zone)."""
        scope = f"{local.year:04d}"
        got = self.free.get(scope)
        if got is None or got[0] >= got[1]:
            first = self.numbers.take(scope, self.block)
            got = self.free[scope] = [first, first + self.block]
        seq = got[0]
        got[0] += 1
        return number_text(local, seq)
