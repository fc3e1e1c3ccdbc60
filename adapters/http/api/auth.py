"""Who is calling, logging in, and ending sessions (this one, or every one of a user).

Sessions are rows of the database, so their end is seen by every server process at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from adapters.http import csrf
from adapters.http.access import Forbidden
from adapters.http.api.bodies import LoginBody
from adapters.http.api.deps import Cg, note
from adapters.http.auth import AuthError, Session
from domain.city import User

router = APIRouter(prefix="/api", tags=["auth"])
COOKIE = "cg_session"
REVOKERS = ("duty_chief", "system")


async def current_session(request: Request) -> Session:
    """The caller's session: a Bearer token, else the console's cookie, which for a
    state-changing request also needs the session's CSRF token or this server's Origin.
    From memory when the session cache can answer, else looked up in a worker thread."""
    auth = request.app.state.auth
    h = request.headers.get("authorization", "")
    bearer = h.lower().startswith("bearer ")
    token = h[7:].strip() if bearer else request.cookies.get(COOKIE)
    if not bearer and not token:
        raise AuthError("send 'Authorization: Bearer <token>' (get one from POST /api/login)")
    session = auth.cached_session(token) or await run_in_threadpool(auth.session, token)
    if not bearer and session.session_id:
        csrf.check_cookie_api(request, auth.csrf_token(session.session_id))
    note(request, user=session.user.id, role=session.user.role)
    return session


async def current_user(request: Request) -> User:
    return (await current_session(request)).user


Me = Annotated[User, Depends(current_user)]
Current = Annotated[Session, Depends(current_session)]


def client_of(request: Request) -> str | None:
    """The client address for login throttling (uvicorn applies X-Forwarded-For only from
    its trusted proxies, --forwarded-allow-ips)."""
    return request.client.host if request.client else None


def user_dict(user: User) -> dict:
    return {"id": user.id, "name": user.name, "role": user.role, "unit": user.unit,
            "squad": user.squad}


@router.post("/login", responses={429: {"description": "Too many failed logins "
                                        "for this user or address (Retry-After)"}})
def login(request: Request, body: LoginBody):
    """Exchange a user id and password for a Bearer token (valid 12 hours, or until
    `POST /api/logout`). Failed logins are throttled per user and per address (429)."""
    user = request.app.state.auth.login(body.user, body.password, client_of(request))
    note(request, user=user.id, role=user.role)
    return {"token": request.app.state.auth.issue(user), "token_type": "bearer",
            "user": user_dict(user)}


@router.get("/me")
def me(user: Me):
    return user_dict(user)


@router.post("/logout")
def logout(request: Request, session: Current):
    """End the calling session now: its token (Bearer or cookie) is refused from here on.
    An API token from the credentials file is not a session (`revoked` 0)."""
    n = request.app.state.auth.revoke(session, by=session.user.id)
    return {"user": session.user.id, "revoked": n}


@router.post("/users/{user_id}/sessions/revoke")
def revoke_user_sessions(request: Request, user_id: str, session: Current, cg: Cg):
    """End every session of `user_id` (e.g. a lost phone, a leaver): the duty chief for
    anyone, any user for themselves. API tokens are removed from the credentials file."""
    me = session.user
    if me.id != user_id and me.role not in REVOKERS:
        raise Forbidden(f"revoking another user's sessions is for roles {', '.join(REVOKERS)}, "
                        f"not '{me.role}'", role=me.role)
    cg.city.user(user_id, "user_id")
    note(request, target=user_id)
    n = request.app.state.auth.revoke_user(user_id, by=me.id)
    return {"user": user_id, "revoked": n}
