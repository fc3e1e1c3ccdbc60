"""The log head read once for all waiting requests (adapters/http/head_reads.py): callers
that arrive while a read is under way share the next one, and nobody gets an answer from
a read that began before they came (a client still reads its own writes)."""

from __future__ import annotations

import threading
import time

import pytest

from adapters.http.head_reads import SharedHead


class Log:
    """A head that a test moves, and reads it can hold until released."""

    def __init__(self) -> None:
        self.head = 1
        self.reads = 0
        self.hold = threading.Event()
        self.hold.set()
        self.reading = threading.Event()
        self.fail: Exception | None = None

    def read(self) -> int:
        self.reads += 1
        value = self.head  # the value as of when the query began
        self.reading.set()
        assert self.hold.wait(10)
        if self.fail is not None:
            raise self.fail
        return value


def until(cond, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def start(n: int, fn) -> tuple[list, list[threading.Thread]]:
    out: list = []

    def run():
        try:
            out.append(fn())
        except Exception as e:  # noqa: BLE001 - the test looks at it
            out.append(e)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    return out, threads


def test_callers_during_a_read_share_the_next_one_and_see_a_write_made_before_they_came():
    log = Log()
    head = SharedHead(log.read)
    log.hold.clear()
    first, t1 = start(1, head)
    assert log.reading.wait(5)  # read 1 under way: it began with head 1
    log.head = 2  # a write commits; then 16 requests come
    later, ts = start(16, head)
    until(lambda: head.waits == 16)
    log.reading.clear()
    log.hold.set()
    for t in t1 + ts:
        t.join(5)
    assert first == [1]
    assert later == [2] * 16  # not read 1's answer: it began before they came
    assert log.reads == 2 and head.reads == 2  # 17 callers, 2 queries


def test_each_call_alone_reads_again():
    log = Log()
    head = SharedHead(log.read)
    assert head() == 1
    log.head = 7
    assert head() == 7 and log.reads == 2


def test_a_failed_read_fails_its_waiters_and_the_next_call_reads_again():
    log = Log()
    head = SharedHead(log.read)
    log.hold.clear()
    first, t1 = start(1, head)
    assert log.reading.wait(5)
    log.fail = ConnectionError("database gone")
    later, ts = start(4, head)  # they need read 2, which fails too
    until(lambda: head.waits == 4)
    log.hold.set()
    for t in t1 + ts:
        t.join(5)
    assert [type(e) for e in first + later] == [ConnectionError] * 5
    assert log.reads == 2
    log.fail = None
    log.head = 3
    assert head() == 3


def test_an_error_is_not_kept():
    log = Log()
    head = SharedHead(log.read)
    with pytest.raises(ConnectionError):
        log.fail = ConnectionError("once")
        head()
    log.fail = None
    assert head() == 1 and head() == 1 and log.reads == 3
