"""The log's head read once for every request that arrives while none is being read
(共享读头, like a group commit for reads).

Every read catches its read models up to the head first (Follower.ensure), and on
PostgreSQL that was one `max(notification_id)` round trip per request: under 32 clients
most of a cached scoreboard's cost, and each one a chance to wait on the database. Here a
request waits for the next read that *starts after it arrived* — so it still sees every
write committed before it came, whichever process took the write — and every request
that arrives while one read is under way shares the next one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class SharedHead:
    """`read()` through one caller at a time, its answer shared by all who waited."""

    def __init__(self, read: Callable[[], int]):
        self._read = read
        self._cond = threading.Condition()
        self._started = 0  # reads begun so far, numbered 1, 2, …
        self._done = 0  # the number of the last read finished (answer or error)
        self._running = False
        self._ok = 0  # the number of the last read that answered
        self._value = 0  # its answer
        self._error: BaseException | None = None  # the last failed read's error
        self.reads = self.waits = 0  # queries made; callers that waited for another's

    def __call__(self) -> int:
        """The head as read by a query begun after this call: its error if it failed."""
        with self._cond:
            need = self._started + 1  # a read under way began before we came: not that one
            if self._running:
                self.waits += 1
            while self._done < need:
                if not self._running:
                    self._running = True
                    self._started += 1
                    mine = self._started
                    break
                self._cond.wait()
            else:
                if self._ok >= need:
                    return self._value
                raise self._error  # as concurrent.futures does: every waiter gets it
        try:
            value = self._read()
        except BaseException as e:
            with self._cond:
                self._error = e
                self._finish(mine)
            raise
        with self._cond:
            self._ok, self._value = mine, value
            self._finish(mine)
        return value

    def _finish(self, number: int) -> None:
        self._running = False
        self._done = number
        self.reads += 1
        self._cond.notify_all()
