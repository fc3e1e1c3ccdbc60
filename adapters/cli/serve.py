"""`casegrid serve`: the HTTP API and the web console, in one process or several
(`--workers N`, PostgreSQL only: adapters/http/workers.py)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from adapters.cli.common import casegrid, state
from adapters.http.server import DEMO_PASSWORD, demo_logins, load_demo

MAX_WORKERS = 64


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on")] = 8000,
    demo: Annotated[bool, typer.Option("--demo", help="Load a simulated month first "
                                       "(if the store is empty) and print the demo logins")] = False,
    credentials: Annotated[str | None, typer.Option(
        envvar="CASEGRID_CREDENTIALS", help="Credentials file (default: the demo logins)")] = None,
    tick_every: Annotated[float, typer.Option(help="Seconds between deadline ticks (0: off)")] = 60.0,
    secure_cookies: Annotated[bool, typer.Option(
        "--secure-cookies", envvar="CASEGRID_SECURE_COOKIES",
        help="Clients reach the server over TLS (a proxy in front): Secure cookies, HSTS")] = False,
    workers: Annotated[int, typer.Option(
        envvar="CASEGRID_WORKERS", min=1, max=MAX_WORKERS,
        help="API processes on the one port (PostgreSQL only above 1); a dead one is restarted")] = 1,
    singleton: Annotated[bool, typer.Option(
        help="Follow projections, tick deadlines and send notifications only while holding "
             "their leases (shared with the CLI loops and other servers); always on with "
             "--workers above 1")] = True,
):
    """Start the HTTP API (/api, /docs), Open311 (/open311/v2) and the web console."""
    import uvicorn

    from adapters.http import create_app
    from adapters.http.heap import freeze_heap
    from adapters.http.workers import ServeSettings

    st = state(ctx)
    cg = casegrid(ctx)  # a store that cannot be opened, or lacks schema steps: exit, one line
    postgres = cg.sql.dialect == "postgres"
    if workers > 1 and not postgres:
        print("error: --workers: more than one API process needs PostgreSQL (SQLite allows "
              "one writer at a time and its store is one machine's file); use --workers 1 or "
              "set PERSISTENCE_MODULE=eventsourcing.postgres", file=sys.stderr)
        raise typer.Exit(2)
    if demo and not load_demo(cg, photos=True):
        print(f"the store already holds {cg.projections.head()} events: not loading the demo "
              "(use an empty --data-dir for a fresh one)")
    leases = (singleton or workers > 1) and leases_possible(cg)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    store = cg.app.env.get("SQLITE_DBNAME") or "PostgreSQL"
    print(f"casegrid monitoring center: {url}   (API docs {url}docs, store {store}"
          f"{f', {workers} processes' if workers > 1 else ''})")
    show_logins = demo or credentials is None
    if show_logins:
        users = demo_logins(cg)
        print(f"demo logins (password '{DEMO_PASSWORD}' for everyone):")
        for u in users:
            print(f"  {u.id:14} {u.name}  {u.role}{'  ' + u.unit if u.unit else ''}")
        print("  Open311 api_key: citizen-app-demo-token")
    if workers == 1:
        app_ = create_app(cg, credentials=credentials, follow=True, tick_every=tick_every,
                          secure_cookies=secure_cookies, leases=leases)
        if show_logins:
            app_.state.demo_logins = users
        freeze_heap()  # the demo, the city and the app: never walked by a full collection
        uvicorn.run(app_, host=host, port=port, log_level="warning", access_log=False)
        return
    settings = ServeSettings(data_dir=st.data_dir, config=st.config, credentials=credentials,
                             tick_every=tick_every, secure_cookies=secure_cookies, leases=True,
                             demo_logins=show_logins)
    os.environ.update(settings.to_env())  # the spawned processes inherit it
    cg.close()
    uvicorn.run("adapters.http.workers:app_from_env", factory=True, workers=workers, host=host,
                port=port, log_level="warning", access_log=False)


def leases_possible(cg) -> bool:
    """PostgreSQL or a SQLite file (not an in-memory store)."""
    from adapters.storage.lease import Lease

    try:
        Lease(cg.sql, "serve")
    except ValueError:
        return False
    return True
