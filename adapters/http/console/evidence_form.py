"""Photos posted with a console form (field `photo`, multipart): the resolve and check
steps and the report form store them in the evidence store and add their refs to the
step's evidence. The whole post is bounded (at most MAX_FILES photos of the upload limit)."""

from __future__ import annotations

from fastapi import Request

from adapters.http.access import check_write
from adapters.http.api.evidence import store_uploads
from adapters.http.uploads import MAX_FILES, SLACK, bounded_form, files_of
from domain.city import User
from domain.errors import ValidationError

FIELD = "photo"
TAKES_PHOTOS = ("report", "resolve", "check")


def form_bound(request: Request) -> int:
    """The most bytes a console form post may have: its photos and the other fields."""
    store = request.app.state.cg.evidence
    return (store.limits.max_bytes if store else 0) * MAX_FILES + SLACK


async def read_form(request: Request):
    """A console form's fields (and its photos, unread), bounded before it is parsed."""
    return await bounded_form(request, form_bound(request), FIELD, (FIELD,))


async def photo_refs(request: Request, user: User, trigger: str, form) -> list[str]:
    """Store the form's photos (all checked first) and return their refs; [] without."""
    if not files_of(form, FIELD):
        return []
    check_write(user, trigger)
    if trigger not in TAKES_PHOTOS:
        raise ValidationError(FIELD, f"only {', '.join(TAKES_PHOTOS)} take photos")
    stored = await store_uploads(request.app.state.cg, form, FIELD)
    return [s.ref for s in stored]


def typed_refs(request: Request, form) -> list[str]:
    """The evidence typed into the form's text field (URLs or sha256: refs, split on
    white space; the case service checks them, and that a photo is in the store)."""
    return [e.strip() for e in str(form.get("evidence") or "").split() if e.strip()]
