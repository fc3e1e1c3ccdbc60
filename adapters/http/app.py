"""The FastAPI application: JSON API (/api), Open311 GeoReport v2 (/open311/v2) and the console.

    app = create_app(bootstrap(...))            # or: casegrid serve [--demo]

Errors are answered by adapters/http/errors.py: JSON bodies naming the field or the rule
on /api, GeoReport's own shape on /open311, HTML pages in the console.
"""

from __future__ import annotations

import os
from pathlib import Path

import structlog
from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from adapters.bootstrap import Casegrid
from adapters.http import errors
from adapters.http.auth import Authenticator, Credentials, load_credentials
from adapters.http.auth_store import store_for
from adapters.http.geo import tile_origin
from adapters.http.read_cache import ReadCache
from adapters.http.reads import Follower, Unavailable
from adapters.http.report_batch import ReportBatcher
from adapters.http.request_log import RequestLog
from adapters.http.security_headers import SecurityHeaders, docs_page, secure_setting
from adapters.http.workers import PID_HEADER_ENV, LeasedLoop
from adapters.notify.worker import NotifyWorker

HERE = Path(__file__).parent
log = structlog.get_logger("casegrid.http")


def create_app(
    cg: Casegrid,
    *,
    credentials: Credentials | str | Path | None = None,
    secret: bytes | None = None,
    follow: bool = False,
    tick_every: float = 60.0,
    secure_cookies: bool | None = None,
    leases: bool = False,
) -> FastAPI:
    """The whole server for one Casegrid. `follow=True` starts the live projection follower,
    the deadline tick and notifications; with `leases` (several server processes) each of
    those only while this process holds its lease (adapters/http/workers.py);
    `secure_cookies` (default $CASEGRID_SECURE_COOKIES) when clients reach it over TLS."""
    from adapters.http import console, field, health, metrics, notices, open311
    from adapters.http.api import auth, commands, geo, reads, reports
    from adapters.http.api import evidence as evidence_api

    if not isinstance(credentials, Credentials):
        credentials = load_credentials(credentials, cg.city)
    app = FastAPI(
        title="casegrid monitoring center API (数字城管监督指挥)",
        version="0.1.0",
        description="Cases, lifecycle steps, queues, scoreboards and the accountability trail. "
        "Log in with `POST /api/login`, then send `Authorization: Bearer <token>`.",
        docs_url=None, redoc_url=None,
    )
    app.state.cg = cg
    app.state.auth = Authenticator(cg.city, credentials, secret,
                                   store=store_for(cg.sql, cache=True))
    if hasattr(app.state.auth.store, "start"):  # PostgreSQL: sessions cached until revoked
        app.router.on_startup.append(app.state.auth.store.start)
        app.router.on_shutdown.append(app.state.auth.store.stop)
    app.state.secure_cookies = secure_setting(secure_cookies)
    app.state.headers = headers = SecurityHeaders(app.state.secure_cookies, tile_origin(cg.city))
    app.state.follower = Follower(cg, tick_every=tick_every, leases=leases)
    app.state.notifier = NotifyWorker(cg)  # 通知: its own tracked follower
    app.state.read_cache = ReadCache()  # scoreboards per log position
    app.state.reports = ReportBatcher(cg.service)  # POST /api/cases saved in batches
    if follow:
        notify = LeasedLoop(cg.sql, "notifications-run", app.state.notifier.follow, 1.0) \
            if leases else app.state.notifier
        for part in (app.state.follower, notify):
            app.router.on_startup.append(part.start)
            app.router.on_shutdown.append(part.stop)

    app.include_router(health.router)
    metrics.install(app)  # /metrics (Prometheus); the latency histogram: RequestLog
    app.include_router(evidence_api.router)  # photos: POST /api/evidence, GET /evidence/<hex>
    for part in (auth, commands, reads, reports, geo):
        app.include_router(part.router)
    app.include_router(open311.router)
    app.include_router(console.router)
    app.include_router(field.router)  # 城管通, the field app under /m/
    app.include_router(notices.router)  # 通知: the API, the console's and the app's lists
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(GZipMiddleware, minimum_size=1024)  # Chart.js 205 KB -> ~70 KB on the wire

    @app.get("/docs", include_in_schema=False)
    def docs():
        return docs_page(app.openapi_url, f"{app.title} - Swagger UI")

    app.add_middleware(RequestLog, headers=headers,
                       pid_header=os.environ.get(PID_HEADER_ENV) == "1")

    errors.install(app, field.error_page)  # the console's error page, the field app's under /m/
    return app


__all__ = ["create_app", "Unavailable"]
