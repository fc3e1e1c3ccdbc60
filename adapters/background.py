"""One background thread, started and stopped (后台线程): the server's loops share it.

`BackgroundLoop(name, run)` runs `run(stop)` in a daemon thread named `name`; `run` must
return soon after the `stop` event is set. `start()` twice keeps one thread; `stop()` sets
the event and waits up to `join_timeout` seconds. Every start has an event of its own, so
a thread that outlived its stop's wait still stops when it next looks. An exception out of `run` is logged with
the loop's name and ends the thread (the process goes on); `start()` then starts it anew.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger("casegrid.background")


class BackgroundLoop:
    """`run(stop)` in a daemon thread of its own until `stop()`."""

    def __init__(self, name: str, run: Callable[[threading.Event], object], *,
                 join_timeout: float = 5.0):
        self.name, self.run, self.join_timeout = name, run, join_timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def alive(self) -> bool:
        """Whether the thread is running now."""
        t = self._thread
        return t is not None and t.is_alive()

    def start(self) -> None:
        """Start the thread unless it is running already."""
        with self._lock:
            if self.alive:
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._main, args=(self._stop,),
                                            name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Set the stop event and wait for the thread to end (at most `join_timeout`)."""
        with self._lock:
            self._stop.set()
            t, self._thread = self._thread, None
        if t is not None and t is not threading.current_thread():
            t.join(timeout=self.join_timeout)
            if t.is_alive():
                log.warning("background_loop_still_running", loop=self.name,
                            waited_seconds=self.join_timeout)

    def _main(self, stop: threading.Event) -> None:
        try:
            self.run(stop)
        except Exception as e:  # noqa: BLE001 - the loop ends; the process goes on
            log.error("background_loop_failed", loop=self.name, error=repr(e), exc_info=True)
