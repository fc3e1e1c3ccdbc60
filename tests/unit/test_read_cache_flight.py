"""The read cache's single flight (adapters/http/read_cache.py): requests missing the same
key together compute it once; an expired entry is recomputed by one request while the
others are served it; a failed computation keeps nothing; clear() drops what was being
computed."""

from __future__ import annotations

import threading
import time

import pytest

from adapters.http.read_cache import ReadCache

N = 16


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Gate:
    """A compute() that counts its calls and blocks until released."""

    def __init__(self, body: bytes = b'{"n": 1}', error: Exception | None = None):
        self.body, self.error = body, error
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self) -> bytes:
        with self._lock:
            self.calls += 1
        self.entered.set()
        assert self.release.wait(10), "never released"
        if self.error is not None:
            raise self.error
        return self.body


def until(cond, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def in_threads(n: int, fn) -> tuple[list, list[threading.Thread]]:
    out: list = []
    threads = [threading.Thread(target=lambda: out.append(fn())) for _ in range(n)]
    for t in threads:
        t.start()
    return out, threads


def test_concurrent_misses_of_one_key_compute_it_once():
    cache, gate = ReadCache(), Gate()
    out, threads = in_threads(N, lambda: cache.answer(("board", 7), gate))
    assert gate.entered.wait(5)
    until(lambda: cache.waits == N - 1)  # every other request waits for the first one
    gate.release.set()
    for t in threads:
        t.join(5)
    assert gate.calls == 1 and cache.misses == 1
    assert len(out) == N and len(set(out)) == 1 and out[0][0] == b'{"n": 1}'
    assert out[0][1].startswith('"') and len(out[0][1]) == 26  # a quoted ETag
    again = Gate(b"other")
    again.release.set()
    assert cache.answer(("board", 7), again) == out[0] and again.calls == 0
    assert cache.answer(("board", 8), again)[0] == b"other"  # a new head: computed afresh


def test_an_expired_entry_is_recomputed_once_and_the_old_one_served_meanwhile():
    clock = Clock()
    cache = ReadCache(ttl=5.0, clock=clock)
    first = cache.answer("k", lambda: b"old")
    clock.now += 6  # past ttl
    gate = Gate(b"new")
    leader, lt = in_threads(1, lambda: cache.answer("k", gate))
    assert gate.entered.wait(5)
    others = [cache.answer("k", gate) for _ in range(N)]  # not one of them waits
    assert others == [first] * N and gate.calls == 1 and cache.waits == 0
    gate.release.set()
    lt[0].join(5)
    assert leader[0][0] == b"new"
    assert cache.answer("k", gate)[0] == b"new" and gate.calls == 1


def test_a_failed_computation_keeps_nothing_and_each_waiter_tries_itself():
    cache = ReadCache()
    gate = Gate(error=RuntimeError("database gone"))
    errors: list[Exception] = []

    def call():
        try:
            return cache.answer("k", gate)
        except RuntimeError as e:
            errors.append(e)
            return None

    out, threads = in_threads(4, call)
    assert gate.entered.wait(5)
    until(lambda: cache.waits == 3)
    gate.release.set()
    for t in threads:
        t.join(5)
    assert out == [None] * 4 and len(errors) == 4 and gate.calls == 4
    assert cache.answer("k", lambda: b"fine")[0] == b"fine"  # the error was not kept


def test_the_first_error_is_not_shared_when_a_waiter_succeeds():
    cache = ReadCache()
    calls: list[int] = []
    entered, release = threading.Event(), threading.Event()

    def compute():
        calls.append(1)
        if len(calls) == 1:
            entered.set()
            release.wait(5)
            raise ValueError("only the first")
        return b"second"

    failed: list[Exception] = []

    def leader():
        try:
            cache.answer("k", compute)
        except ValueError as e:
            failed.append(e)

    lt = threading.Thread(target=leader)
    lt.start()
    assert entered.wait(5)
    out, threads = in_threads(1, lambda: cache.answer("k", compute))
    until(lambda: cache.waits == 1)
    release.set()
    lt.join(5)
    threads[0].join(5)
    assert len(failed) == 1 and out[0][0] == b"second"
    assert cache.answer("k", compute)[0] == b"second" and len(calls) == 2


def test_clear_during_a_computation_keeps_nothing_of_it():
    cache = ReadCache()
    gate = Gate(b"read while the tables were refilled")
    out, threads = in_threads(1, lambda: cache.answer("k", gate))
    assert gate.entered.wait(5)
    cache.clear()
    after = cache.answer("k", lambda: b"after")  # not waiting for the old computation
    gate.release.set()
    threads[0].join(5)
    assert after[0] == b"after" and out[0][0] == b"read while the tables were refilled"
    assert cache.answer("k", gate)[0] == b"after"


def test_least_recently_used_entries_are_dropped_beyond_size():
    cache = ReadCache(size=2)
    for k in "abc":
        cache.answer(k, k.encode)
    assert cache.answer("a", lambda: b"again")[0] == b"again"  # 'a' was dropped
    assert cache.answer("c", lambda: b"never")[0] == b"c"


@pytest.mark.parametrize("bad", [None, "text", 7, [b"x"]])
def test_a_compute_that_returns_no_bytes_fails_and_keeps_nothing(bad):
    cache = ReadCache()
    with pytest.raises(TypeError):
        cache.answer("k", lambda: bad)
    assert cache.answer("k", lambda: b"ok")[0] == b"ok"
