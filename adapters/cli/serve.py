"""`casegrid serve`: the HTTP API and the web console in one process (adapters/http)."""

from __future__ import annotations

from typing import Annotated

import typer

from adapters.bootstrap import bootstrap
from adapters.cli.common import state
from adapters.http.server import DEMO_PASSWORD, demo_logins, load_demo


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    demo: Annotated[bool, typer.Option("--demo", help="Load a simulated month first "
                                       "(if the store is empty) and print the demo logins")] = False,
    credentials: Annotated[str | None, typer.Option(
        envvar="CASEGRID_CREDENTIALS", help="Credentials file (default: the demo logins)")] = None,
    tick_every: Annotated[float, typer.Option(help="Seconds between deadline ticks (0: off)")] = 60.0,
    secure_cookies: Annotated[bool, typer.Option(
        "--secure-cookies", envvar="CASEGRID_SECURE_COOKIES",
        help="Clients reach the server over TLS (a proxy in front): Secure cookies, HSTS")] = False,
):
    """Start the HTTP API (/api, /docs), Open311 (/open311/v2) and the web console."""
    import uvicorn

    from adapters.http import create_app

    st = state(ctx)
    cg = bootstrap(data_dir=st.data_dir, config=st.config)
    if demo and not load_demo(cg, photos=True):
        print(f"the store already holds {cg.projections.head()} events: not loading the demo "
              "(use an empty --data-dir for a fresh one)")
    app_ = create_app(cg, credentials=credentials, follow=True, tick_every=tick_every,
                      secure_cookies=secure_cookies)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    store = cg.app.env.get("SQLITE_DBNAME") or "PostgreSQL"
    print(f"casegrid monitoring center: {url}   (API docs {url}docs, store {store})")
    if demo or credentials is None:
        users = demo_logins(cg)
        app_.state.demo_logins = users
        print(f"demo logins (password '{DEMO_PASSWORD}' for everyone):")
        for u in users:
            print(f"  {u.id:14} {u.name}  {u.role}{'  ' + u.unit if u.unit else ''}")
        print("  Open311 api_key: citizen-app-demo-token")
    uvicorn.run(app_, host=host, port=port, log_level="warning", access_log=False)
