"""What the field app's screens share: the router, the page renderer (the console's, with
the words the script needs) and photos (证据照片) as the evidence store serves them."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from adapters.http.console.pages import lang_of, page, render_error, viewer
from adapters.http.i18n import word
from adapters.http.i18n_field import JS_WORDS
from domain.city import User

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parents[1] / "static" / "field"
FIELD_ROLES = ("supervisor", "unit_member")


def field_page(request: Request, name: str, user: User, screen: str, status: int = 200,
               **ctx) -> HTMLResponse:
    """A screen of the app (templates/field/<name>), with the script's words in the page's
    language and the tab bar for the user's role."""
    lang = lang_of(request)
    words = {k: word(k, lang) for k in JS_WORDS}
    return page(request, f"field/{name}", status=status, user=user, screen=screen, tabs=tabs(user),
                js_words=json.dumps(words, ensure_ascii=False), photos=photos, **ctx)


def error_page(request: Request, status: int, body: dict) -> Response:
    """An error under /m/ in the app's own look (with its tab bar); elsewhere the console's."""
    if not request.url.path.startswith("/m/"):
        return render_error(request, status, body)
    try:
        user = viewer(request)
    except Exception:
        return render_error(request, status, body)
    return field_page(request, "error.html", user, "error", status=status, status_code=status,
                      body=body)


def tabs(user: User) -> list[tuple[str, str]]:
    """The bottom tab bar: (path, word key)."""
    out = [("/m/", "m_home")]
    if user.role in FIELD_ROLES:
        out.append(("/m/report", "m_tab_report"))
    if user.role == "unit_member":
        out.append(("/m/inbox", "m_inbox"))
    if user.role == "supervisor":
        out.append(("/m/check", "m_tab_check"))
    if user.squad and user.role in FIELD_ROLES:
        out.append(("/m/patrol", "m_tab_patrol"))
    out.append(("/m/notifications", "m_tab_notices"))  # 通知
    return out


def photos(refs) -> list[dict]:
    """Evidence references as pictures: a stored photo (sha256:<hex>) has a full and a
    thumbnail URL on this server; any other reference (a URL elsewhere) is a link only."""
    out = []
    for ref in refs or []:
        ref = str(ref)
        if ref.startswith("sha256:") and len(ref) == 71 and ref[7:].isalnum():
            out.append({"ref": ref, "url": f"/evidence/{ref[7:]}",
                        "thumb": f"/evidence/{ref[7:]}/thumb"})
        else:
            out.append({"ref": ref, "url": None, "thumb": None})
    return out


def before_after(timeline: list[dict]) -> tuple[list, list]:
    """The report's photos (处置前) and the latest resolution's (处置后), from a case's events."""
    before = timeline[0].get("evidence", []) if timeline else []
    after: list = []
    for e in timeline:
        if e.get("type") == "Resolved":
            after = e.get("evidence") or []
    return before, after
