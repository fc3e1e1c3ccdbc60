"""Errors to answers: each exception's status, and its body in the path's own form — JSON
for /api (and the docs), GeoReport's shape for /open311, a console page (or, for 401, a
redirect to the login page) for everything else.

Bodies name the field or the rule: 401 (who are you), 403 (the lifecycle or the role
refuses, CSRF), 404, 409 (version conflict, with the current version), 422 (bad input),
429 (throttled, with Retry-After), 503 (a read model missing from this build).
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.http.access import Forbidden
from adapters.http.auth import AuthError
from adapters.http.csrf import CsrfError
from adapters.http.open311_render import error as open311_error
from adapters.http.throttle import Throttled
from domain.errors import CasegridError

STATUS = {"invalid": 422, "config": 422, "refused": 403, "forbidden": 403, "not_found": 404,
          "conflict": 409, "unavailable": 503, "unauthorized": 401, "throttled": 429,
          "too_large": 413, "unsupported_media_type": 415}
log = structlog.get_logger("casegrid.http")
PageRenderer = Callable[[Request, int, dict], Response]


def status_of(e: CasegridError) -> int:
    """The HTTP status of a domain error (400 for a kind without one)."""
    return STATUS.get(e.kind, 400)


def error_response(request: Request, status: int, body: dict, page: PageRenderer) -> Response:
    """`body` answered in the form the path asks for; `page` renders the console's."""
    path = request.url.path
    if path.startswith("/open311"):
        return open311_error(status, body.get("message", ""))
    if path.startswith("/api") or path.startswith("/docs") or path.startswith("/openapi"):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)
    if status == 401:
        return RedirectResponse(f"/login?next={path}", status_code=303)
    return page(request, status, body)


def validation_body(e: RequestValidationError) -> dict:
    """422: the first invalid field and rule, and every error."""
    errs = e.errors()
    for er in errs:  # a body that is not JSON: pydantic's loc is ("body", position)
        if er.get("type") == "json_invalid":
            er["msg"] = f"is not valid JSON ({er.get('ctx', {}).get('error', 'decode error')}" \
                        f" at character {er['loc'][-1]})"
            er["loc"] = ("body",)
    first = errs[0] if errs else {"loc": ("body",), "msg": "invalid"}
    loc = [str(x) for x in first.get("loc", ()) if x not in ("body", "query", "path")]
    field = ".".join(loc) or "body"
    return {"error": "invalid", "field": field, "rule": first.get("msg", "invalid"),
            "message": f"{field}: {first.get('msg', 'invalid')}",
            "errors": [{"field": ".".join(str(x) for x in er.get("loc", ())[1:]) or "body",
                        "rule": er.get("msg")} for er in errs]}


def install(app: FastAPI, page: PageRenderer) -> None:
    """Register the exception handlers; `page` renders a console error page."""

    def answer(request: Request, status: int, body: dict) -> Response:
        return error_response(request, status, body, page)

    @app.exception_handler(CasegridError)
    async def casegrid_error(request: Request, e: CasegridError):
        return answer(request, status_of(e), e.to_dict())

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, e: Forbidden):
        return answer(request, 403, e.to_dict())

    @app.exception_handler(AuthError)
    async def unauthorized(request: Request, e: AuthError):
        return answer(request, 401, {"error": "unauthorized", "field": "authorization",
                                     "rule": str(e), "message": f"authorization: {e}"})

    @app.exception_handler(Throttled)
    async def throttled(request: Request, e: Throttled):
        response = answer(request, 429, e.to_dict())
        response.headers["Retry-After"] = str(e.retry_after)
        return response

    @app.exception_handler(CsrfError)
    async def csrf_refused(request: Request, e: CsrfError):
        log.warning("csrf_refused", path=request.url.path, field=e.field, rule=e.rule)
        return answer(request, 403, e.to_dict())

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError):
        return answer(request, 422, validation_body(e))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException):
        kind = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "error")
        field = "path"
        if e.status_code == 400 and "parsing the body" in str(e.detail):
            # e.g. JSON nested deeper than the parser allows
            kind, field = "invalid", "body"
        return answer(request, e.status_code, {"error": kind, "field": field,
                                               "rule": str(e.detail), "message": f"{field}: {e.detail}"})
