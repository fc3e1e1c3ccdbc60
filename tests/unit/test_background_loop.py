"""BackgroundLoop (adapters/background.py): one thread per start, stopped by its event,
an exception logged with the loop's name and the process going on."""

from __future__ import annotations

import threading

from structlog.testing import capture_logs

from adapters.background import BackgroundLoop


def _names() -> list[str]:
    return [t.name for t in threading.enumerate()]


def stop_more(rounds: list, n: int) -> bool:
    threading.Event().wait(0.05)
    return len(rounds) > n


def test_start_runs_one_thread_and_stop_ends_it():
    rounds, started = [], threading.Event()

    def run(stop: threading.Event) -> None:
        while not stop.wait(0.01):
            rounds.append(1)
            started.set()

    loop = BackgroundLoop("test-bg-one", run)
    loop.start()
    loop.start()  # twice: still one thread
    assert started.wait(5)
    assert _names().count("test-bg-one") == 1 and loop.alive
    loop.stop()
    assert not loop.alive and "test-bg-one" not in _names()
    n = len(rounds)
    assert n and not stop_more(rounds, n)  # it ran rounds, and none after stop()
    loop.stop()  # stopping a stopped loop is harmless


def test_a_loop_starts_again_after_stop_with_a_fresh_event():
    seen: list[threading.Event] = []

    def run(stop: threading.Event) -> None:
        seen.append(stop)
        stop.wait(5)

    loop = BackgroundLoop("test-bg-again", run)
    for _ in range(2):
        loop.start()
        loop.stop()
    assert len(seen) == 2 and seen[0] is not seen[1] and all(e.is_set() for e in seen)


def test_an_exception_is_logged_with_the_loop_name_and_start_runs_it_anew():
    calls = []

    def run(stop: threading.Event) -> None:
        calls.append(1)
        raise RuntimeError("store went away")

    loop = BackgroundLoop("test-bg-fails", run)
    with capture_logs() as logs:
        loop.start()
        loop._thread.join(5)  # noqa: SLF001 - wait for the thread to end by itself
    assert not loop.alive
    failed = [e for e in logs if e["event"] == "background_loop_failed"]
    assert failed and failed[0]["loop"] == "test-bg-fails"
    assert "store went away" in failed[0]["error"] and failed[0]["log_level"] == "error"
    loop.start()  # a dead thread is started again, not taken for a running one
    loop._thread.join(5)  # noqa: SLF001
    assert len(calls) == 2
    loop.stop()


def test_stop_waits_at_most_join_timeout_and_says_so():
    release = threading.Event()

    def stubborn(stop: threading.Event) -> None:
        release.wait(10)  # ignores its stop event

    loop = BackgroundLoop("test-bg-stubborn", stubborn, join_timeout=0.1)
    loop.start()
    with capture_logs() as logs:
        loop.stop()
    assert [e["loop"] for e in logs if e["event"] == "background_loop_still_running"] \
        == ["test-bg-stubborn"]
    release.set()


def test_run_may_stop_its_own_loop():
    done = threading.Event()
    holder: list[BackgroundLoop] = []

    def run(stop: threading.Event) -> None:
        holder[0].stop()  # from inside its own thread: no join on itself
        done.set()

    holder.append(BackgroundLoop("test-bg-self", run))
    holder[0].start()
    assert done.wait(5)
