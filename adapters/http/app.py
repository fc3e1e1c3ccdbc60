"""The FastAPI application: JSON API (/api), Open311 GeoReport v2 (/open311/v2) and the console.

    app = create_app(bootstrap(...))            # or: casegrid serve [--demo]

Errors are JSON bodies naming the field or the rule: 401 (who are you), 403 (the
lifecycle or the role refuses), 404, 409 (version conflict, with the current version),
422 (bad input). Open311 answers errors in GeoReport's own shape, the console in HTML.
"""

from __future__ import annotations

import time
from pathlib import Path

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.bootstrap import Casegrid
from adapters.http.access import Forbidden
from adapters.http.auth import Authenticator, AuthError, Credentials, load_credentials
from adapters.http.auth_store import store_for
from adapters.http.csrf import CsrfError
from adapters.http.reads import Follower, Unavailable
from adapters.http.security_headers import SecurityHeaders, docs_page, secure_setting
from adapters.http.throttle import Throttled
from domain.errors import CasegridError

HERE = Path(__file__).parent
STATUS = {"invalid": 422, "config": 422, "refused": 403, "forbidden": 403, "not_found": 404,
          "conflict": 409, "unavailable": 503, "unauthorized": 401, "throttled": 429}
log = structlog.get_logger("casegrid.http")


def create_app(
    cg: Casegrid,
    *,
    credentials: Credentials | str | Path | None = None,
    secret: bytes | None = None,
    follow: bool = False,
    tick_every: float = 60.0,
    secure_cookies: bool | None = None,
) -> FastAPI:
    """The whole server for one Casegrid. `follow=True` starts the live projection follower;
    `secure_cookies` (default $CASEGRID_SECURE_COOKIES) when clients reach it over TLS."""
    from adapters.http import api, api_reports, api_sessions, console, health, open311

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
    app.state.auth = Authenticator(cg.city, credentials, secret, store=store_for(cg.sql))
    app.state.secure_cookies = secure_setting(secure_cookies)
    app.state.headers = headers = SecurityHeaders(app.state.secure_cookies)
    app.state.follower = Follower(cg, tick_every=tick_every)
    if follow:
        app.router.on_startup.append(app.state.follower.start)
        app.router.on_shutdown.append(app.state.follower.stop)

    app.include_router(health.router)
    app.include_router(api.router)
    app.include_router(api_sessions.router)
    app.include_router(api_reports.router)
    app.include_router(open311.router)
    app.include_router(console.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(GZipMiddleware, minimum_size=1024)  # Chart.js 205 KB -> ~70 KB on the wire

    @app.get("/docs", include_in_schema=False)
    def docs():
        return docs_page(app.openapi_url, f"{app.title} - Swagger UI")

    @app.middleware("http")
    async def request_log(request: Request, call_next):
        structlog.contextvars.clear_contextvars()
        ctx = request.scope["cg_log"] = {}  # filled by the endpoint: user, role, case_id
        t0 = time.perf_counter()
        response = await call_next(request)
        headers.apply(response)
        if not request.url.path.startswith("/static"):
            log.info("request", method=request.method, path=request.url.path,
                     status=response.status_code, ms=round((time.perf_counter() - t0) * 1000, 1),
                     **{k: ctx[k] for k in ("user", "role", "case_id") if k in ctx})
        return response

    @app.exception_handler(CasegridError)
    async def casegrid_error(request: Request, e: CasegridError):
        return _error(request, STATUS.get(e.kind, 400), e.to_dict())

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, e: Forbidden):
        return _error(request, 403, e.to_dict())

    @app.exception_handler(AuthError)
    async def unauthorized(request: Request, e: AuthError):
        return _error(request, 401, {"error": "unauthorized", "field": "authorization",
                                     "rule": str(e), "message": f"authorization: {e}"})

    @app.exception_handler(Throttled)
    async def throttled(request: Request, e: Throttled):
        response = _error(request, 429, e.to_dict())
        response.headers["Retry-After"] = str(e.retry_after)
        return response

    @app.exception_handler(CsrfError)
    async def csrf_refused(request: Request, e: CsrfError):
        log.warning("csrf_refused", path=request.url.path, field=e.field, rule=e.rule)
        return _error(request, 403, e.to_dict())

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError):
        errs = e.errors()
        for er in errs:  # a body that is not JSON: pydantic's loc is ("body", position)
            if er.get("type") == "json_invalid":
                er["msg"] = f"is not valid JSON ({er.get('ctx', {}).get('error', 'decode error')}" \
                            f" at character {er['loc'][-1]})"
                er["loc"] = ("body",)
        first = errs[0] if errs else {"loc": ("body",), "msg": "invalid"}
        loc = [str(x) for x in first.get("loc", ()) if x not in ("body", "query", "path")]
        field = ".".join(loc) or "body"
        body = {"error": "invalid", "field": field, "rule": first.get("msg", "invalid"),
                "message": f"{field}: {first.get('msg', 'invalid')}",
                "errors": [{"field": ".".join(str(x) for x in er.get("loc", ())[1:]) or "body",
                            "rule": er.get("msg")} for er in errs]}
        return _error(request, 422, body)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException):
        kind = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "error")
        field = "path"
        if e.status_code == 400 and "parsing the body" in str(e.detail):
            # e.g. JSON nested deeper than the parser allows
            kind, field = "invalid", "body"
        return _error(request, e.status_code, {"error": kind, "field": field,
                                               "rule": str(e.detail), "message": f"{field}: {e.detail}"})

    return app


def _error(request: Request, status: int, body: dict) -> Response:
    path = request.url.path
    if path.startswith("/open311"):
        from adapters.http.open311 import open311_error

        return open311_error(status, body.get("message", ""))
    if path.startswith("/api") or path.startswith("/docs") or path.startswith("/openapi"):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)
    if status == 401:
        return RedirectResponse(f"/login?next={path}", status_code=303)
    from adapters.http.console import render_error

    return render_error(request, status, body)


__all__ = ["create_app", "Unavailable"]
