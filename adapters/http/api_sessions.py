"""Ending sessions over the API: log out (this session), and revoke every session of a
user (the duty chief for anyone, everyone for themselves). Sessions are rows of the
database, so the end is seen by every server process at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from adapters.http.access import Forbidden
from adapters.http.api import Cg, current_session, note
from adapters.http.auth import Session

router = APIRouter(prefix="/api", tags=["auth"])
Current = Annotated[Session, Depends(current_session)]
REVOKERS = ("duty_chief", "system")


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
