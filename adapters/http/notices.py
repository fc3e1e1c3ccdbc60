"""Notifications (通知) over HTTP: the JSON API, the console's list and the field app's.

    GET  /api/notifications?unread=1&channel=console|field&limit=&offset=
    POST /api/notifications/{id}/read          POST /api/notifications/read (all)
    GET  /notifications                        GET  /m/notifications
    POST /notifications/read (form: id, or none for all; next)

A unit member reads their unit's notifications, a center role its role's; anyone else's
is not found (404), so a unit never learns of another unit's notices. Before reading, the
notifier catches up (as the read models do), so a notice of a step just taken is there.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse

from adapters.http.access import Forbidden
from adapters.http.api.auth import Me
from adapters.http.api.deps import note
from adapters.http.console.pages import cgrid, page, posted_form, templates, viewer
from adapters.http.field.shared import field_page
from domain.city import User
from domain.errors import ValidationError
from projections.notifications import VIEW_CHANNELS, listing, mark_read, unread_count

router = APIRouter()
PAGE = 50
BACK = {"/notifications": "console", "/m/notifications": "field"}


def worker(request: Request):
    """The server's notify worker (made here for a server built without one)."""
    state = request.app.state
    if getattr(state, "notifier", None) is None:
        from adapters.notify.worker import NotifyWorker

        state.notifier = NotifyWorker(state.cg)
    return state.notifier


def unread_badge(request: Request, user: User | None) -> int:
    """The viewer's unread count for the menu's 通知 (0 before the notifier's first run)."""
    if user is None or user.role == "channel":
        return 0
    try:
        return unread_count(cgrid(request).sql, user)
    except Exception:  # noqa: BLE001 - no table yet, or the store is away: no badge
        return 0


templates.env.globals["notice_unread"] = unread_badge


def _read(request: Request, user: User, channel: str, unread: bool, limit: int,
          offset: int) -> dict:
    if user.role == "channel":
        raise Forbidden("notifications are for the center's roles and the units", role=user.role)
    if channel not in VIEW_CHANNELS:
        raise ValidationError("channel", f"must be one of {', '.join(VIEW_CHANNELS)}")
    worker(request).ensure()
    return listing(cgrid(request).sql, user, channel=channel, unread=unread, limit=limit,
                   offset=offset)


def _id(text) -> str:
    if not isinstance(text, str) or len(text) > 64:
        raise ValidationError("id", "must be a notification id (a UUID)")
    try:
        return str(UUID(text))
    except ValueError:
        raise ValidationError("id", "must be a notification id (a UUID)") from None


@router.get("/api/notifications", tags=["notifications"])
def api_list(request: Request, user: Me, unread: bool = False, channel: str = "console",
             limit: Annotated[int, Query(ge=1, le=200)] = PAGE,
             offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0):
    """The caller's notifications (their unit's, or their center role's), newest first,
    with the total and the unread count."""
    return _read(request, user, channel, unread, limit, offset)


@router.post("/api/notifications/{nid}/read", tags=["notifications"])
def api_read(request: Request, user: Me, nid: str, channel: str = "console"):
    """Mark one of the caller's notifications read; another's is not found (404)."""
    _read(request, user, channel, True, 1, 0)
    note(request, notification_id=nid)
    n = mark_read(cgrid(request).sql, user, _id(nid), cgrid(request).service.clock(), channel)
    return {"id": nid, "marked": n}


@router.post("/api/notifications/read", tags=["notifications"])
def api_read_all(request: Request, user: Me, channel: str = "console"):
    """Mark all of the caller's notifications read."""
    _read(request, user, channel, True, 1, 0)
    return {"marked": mark_read(cgrid(request).sql, user, None, cgrid(request).service.clock(),
                                channel)}


def _unread(unread: str | None) -> bool:
    if unread not in (None, "", "0", "1"):
        raise ValidationError("unread", "must be 1 or 0")
    return unread == "1"


@router.get("/notifications", include_in_schema=False)
def console_page(request: Request, unread: str | None = None,
                 offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0):
    user = viewer(request)
    only = _unread(unread)
    data = _read(request, user, "console", only, PAGE, offset)
    return page(request, "notices.html", user=user, data=data, only_unread=only,
                offset=offset, step=PAGE, back="/notifications")


@router.get("/m/notifications", include_in_schema=False)
def field_screen(request: Request, unread: str | None = None,
                 offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0):
    user = viewer(request)
    only = _unread(unread)
    data = _read(request, user, "field", only, PAGE, offset)
    return field_page(request, "notices.html", user, "notifications", data=data,
                      only_unread=only, offset=offset, step=PAGE, back="/m/notifications")


@router.post("/notifications/read", include_in_schema=False)
async def console_read(request: Request):
    user = viewer(request)
    form = await posted_form(request)
    back = form.get("next") or "/notifications"
    if back not in BACK:
        raise ValidationError("next", "must be /notifications or /m/notifications")
    nid = form.get("id")
    nid = _id(nid) if nid else None
    _read(request, user, BACK[back], True, 1, 0)
    cg = cgrid(request)
    mark_read(cg.sql, user, nid, cg.service.clock(), BACK[back])
    return RedirectResponse(back, status_code=303)
