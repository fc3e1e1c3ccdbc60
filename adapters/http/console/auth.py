"""The console's door: the home redirect, the language switch, logging in and out."""

from __future__ import annotations

import structlog
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from adapters.http import csrf
from adapters.http.api.auth import COOKIE, client_of
from adapters.http.api.deps import note
from adapters.http.auth import SESSION_SECONDS, AuthError
from adapters.http.console.pages import home_of, page, posted_form, router, viewer
from adapters.http.csrf import CsrfError
from adapters.http.throttle import Throttled

log = structlog.get_logger("casegrid.http")


@router.get("/")
def index(request: Request):
    try:
        user = viewer(request)
    except AuthError:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(home_of(user), status_code=303)


def local_path(target: str | None) -> str:
    """Only a path on this server (no //host or scheme): no open redirects."""
    t = target or "/"
    return t if t.startswith("/") and not t.startswith("//") and "\\" not in t else "/"


@router.get("/lang/{lang}")
def set_lang(request: Request, lang: str, next: str = "/"):
    resp = RedirectResponse(local_path(next), status_code=303)
    request.app.state.headers.cookie(resp, "cg_lang", "en" if lang == "en" else "zh",
                                     max_age=3600 * 24 * 365, httponly=False)
    return resp


def login_page(request: Request, status: int = 200, **ctx) -> Response:
    """The login form with a fresh token for the pre-session cookie (set if missing)."""
    nonce = request.cookies.get(csrf.LOGIN_COOKIE) or csrf.new_nonce()
    resp = page(request, "login.html", status=status,
                login_csrf=request.app.state.auth.login_csrf_token(nonce), **ctx)
    if request.cookies.get(csrf.LOGIN_COOKIE) != nonce:
        request.app.state.headers.cookie(resp, csrf.LOGIN_COOKIE, nonce, max_age=SESSION_SECONDS,
                                         samesite="strict")
    return resp


@router.get("/login")
def login_form(request: Request, next: str = "/"):
    return login_page(request, next=next, error=None)


@router.post("/login")
async def login_post(request: Request):
    form = await request.form()
    user_id, password = str(form.get("user", "")).strip(), str(form.get("password", ""))
    nxt = local_path(str(form.get("next") or "/"))
    auth = request.app.state.auth
    try:
        nonce = request.cookies.get(csrf.LOGIN_COOKIE)
        csrf.check_form(request, form, auth.login_csrf_token(nonce) if nonce else None)
        user = await run_in_threadpool(auth.login, user_id, password, client_of(request))
    except CsrfError as e:
        log.warning("csrf_refused", path="/login", field=e.field, rule=e.rule)
        return login_page(request, 403, next=nxt, error=e.to_dict()["message"], user_id=user_id)
    except Throttled as e:
        resp = login_page(request, 429, next=nxt, error=e.to_dict()["message"], user_id=user_id)
        resp.headers["Retry-After"] = str(e.retry_after)
        return resp
    except AuthError as e:
        return login_page(request, 401, next=nxt, error=str(e), user_id=user_id)
    note(request, user=user.id, role=user.role)
    resp = RedirectResponse(nxt if nxt != "/" else home_of(user), status_code=303)
    request.app.state.headers.cookie(resp, COOKIE, auth.issue(user), max_age=SESSION_SECONDS)
    return resp


@router.post("/logout")
async def logout(request: Request):
    """End the session server-side (the old cookie no longer works anywhere), then forget it."""
    try:
        user = viewer(request)
    except AuthError:
        user = None
    if user is not None:
        await posted_form(request)
        request.app.state.auth.revoke(request.state.session, by=user.id)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp
