"""`casegrid serve`: the HTTP API and the web console in one process.

    casegrid serve [--host 127.0.0.1] [--port 8000] [--demo]

Runs on the same store as every other command (SQLite in ./data by default, PostgreSQL
when PERSISTENCE_MODULE says so), with the projections following the log live in a
background thread and the deadline tick every minute. `--demo` first loads a simulated
month of the sample city into an empty store, and prints the URL and the demo logins.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from adapters.bootstrap import Casegrid, bootstrap
from workflows.simulation import Simulation

DEMO_CASES = 600
DEMO_DAYS = 30  # the month up to now, so the queues hold fresh work as well as overdue cases
DEMO_PASSWORD = "demo"


def load_demo(cg: Casegrid, *, cases: int = DEMO_CASES, seed: int = 1, echo=print) -> bool:
    """Simulate the last month of the sample city into an empty store (False if not empty).

    The month ends now: cases reported in the last days are still open, with due times
    still ahead, near or just passed, next to older overdue ones.
    """
    if cg.projections.head() > 0:
        return False
    now = datetime.now(UTC)
    first = (now.astimezone(cg.city.tz) - timedelta(days=DEMO_DAYS)).date()
    begin = datetime.combine(first, datetime.min.time(), cg.city.tz)
    sim = Simulation(cg.city, seed=seed, start=begin, days=DEMO_DAYS + 1,
                     end=now - timedelta(minutes=1))
    echo(f"loading the demo: {cases} simulated cases from {begin.date()} over {DEMO_DAYS} days …")
    t0 = time.perf_counter()

    def tick(now):
        from projections.cases import due_case_ids

        cg.projections.catch_up(["cases"])
        return len(cg.service.tick(now, due_case_ids(cg.sql, now)))

    stats = sim.run(cases, cg.service.execute, tick)
    cg.projections.catch_up()
    echo(f"demo loaded: {stats.cases} cases, {stats.commands} commands, "
         f"{stats.deadline_misses} missed deadlines in {time.perf_counter() - t0:.0f}s")
    return True


def demo_logins(cg: Casegrid) -> list:
    from adapters.http.auth import load_credentials

    creds = load_credentials(None, cg.city)
    return [u for u in cg.city.users.values() if u.id in creds.passwords]


def register(app: typer.Typer) -> None:
    @app.command("serve")
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

        # the global options (--data-dir, --config) from the CLI's callback; read from the
        # context, not adapters.cli.STATE, which is another module object under `python -m`
        top = ctx.find_root().params
        cg = bootstrap(data_dir=top.get("data_dir"), config=top.get("config"))
        if demo and not load_demo(cg):
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
