"""Several API processes on one port (`casegrid serve --workers N`, 多进程).

uvicorn's supervisor binds the port once, spawns N processes that share the socket, and
restarts one that dies. A spawned process imports `app_from_env` (the factory) and builds
its own app from the settings the parent put in the environment (`CASEGRID_SERVE`, JSON),
with the same `CASEGRID_SECRET`, so a token or a CSRF token signed by one process is good
in every other. Sessions and login failures are in the database (auth_store.py).

With several processes the background work — projection following, the deadline tick,
notifications — runs under named leases (adapters/storage/lease.py): exactly one process
does each, the others take over within seconds when it dies. Every process still catches
its read models up before it reads (deps.fresh), so a read after a write sees it, whichever
process took the write.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import threading
import time
from dataclasses import asdict, dataclass

from adapters.background import BackgroundLoop

ENV = "CASEGRID_SERVE"
PID_HEADER_ENV = "CASEGRID_PID_HEADER"  # tests: answer with X-Casegrid-Pid


@dataclass(frozen=True)
class ServeSettings:
    """What one API process needs to build its app: the CLI's options."""

    data_dir: str | None = None
    config: str | None = None
    credentials: str | None = None
    tick_every: float = 60.0
    secure_cookies: bool = False
    leases: bool = True
    demo_logins: bool = False
    log_level: str | None = None

    def to_env(self) -> dict[str, str]:
        """The environment for the spawned processes: these settings and one shared secret."""
        env = {ENV: json.dumps(asdict(self))}
        if not os.environ.get("CASEGRID_SECRET"):
            env["CASEGRID_SECRET"] = secrets.token_urlsafe(32)
        return env

    @classmethod
    def from_env(cls) -> ServeSettings:
        raw = os.environ.get(ENV)
        if not raw:
            raise RuntimeError(f"${ENV} is not set: start the processes with `casegrid serve`")
        return cls(**json.loads(raw))


def build_app(s: ServeSettings):
    """The app of one API process."""
    from adapters.bootstrap import bootstrap
    from adapters.http import create_app
    from adapters.http.server import demo_logins

    cg = bootstrap(data_dir=s.data_dir, config=s.config)
    app = create_app(cg, credentials=s.credentials, follow=True, tick_every=s.tick_every,
                     secure_cookies=s.secure_cookies, leases=s.leases)
    if s.demo_logins:
        app.state.demo_logins = demo_logins(cg)
    return app


def app_from_env():
    """uvicorn's factory in each spawned process (`adapters.http.workers:app_from_env`)."""
    from adapters.http.heap import freeze_heap
    from adapters.logs import setup_logging

    s = ServeSettings.from_env()
    setup_logging(s.log_level)
    watch_supervisor()
    app = build_app(s)
    freeze_heap()  # what the process loaded is never walked again by a full collection
    return app


def watch_supervisor(every: float = 1.0) -> None:
    """Stop this API process (SIGTERM to itself: it finishes its requests, releases its
    leases) when the supervisor that started it is gone, e.g. SIGKILLed: no orphans."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="casegrid-supervisor-watch", daemon=True).start()


class LeasedLoop(BackgroundLoop):
    """`run(stop)` in a thread of its own while this process holds lease `name`."""

    def __init__(self, sql, name: str, run, interval: float):
        from adapters.storage.lease import Lease, follow_as_singleton

        def leased(stop: threading.Event) -> None:
            follow_as_singleton(Lease(sql, name), run, interval, stop)

        super().__init__(f"casegrid-{name}", leased)
