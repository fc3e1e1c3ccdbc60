"""What every console page shares: the router, the viewer (from the session cookie), the
CSRF check of a posted form, times and due-time colours, the menu, and page rendering."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from adapters.bootstrap import Casegrid
from adapters.http import csrf
from adapters.http.access import CENTER_READERS, TRAIL_READERS
from adapters.http.api.auth import COOKIE
from adapters.http.api.deps import note
from adapters.http.api.views import ACTIONS
from adapters.http.auth import AuthError
from adapters.http.console.evidence_form import read_form
from adapters.http.i18n import QUEUE, ROLE, word
from domain.city import User
from domain.glossary import CHANNEL, DIMENSION, STATE, STEP, TRIGGER, label, zh
from domain.times import local_format

HERE = Path(__file__).resolve().parents[1]
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)
NEAR_MINUTES = 60  # a due time within this many minutes shows as "near"
SHORT = "%m-%d %H:%M"
FIELD_KEYS = {"occurred_at": "time", "at": "time", "into": "merge_original", "assist": "assist_units",
              "file": "evidence", "passed": "outcome", "approved": "outcome", "approve": "outcome"}  # how the console shows a time unless a page asks otherwise
CENTER_ROLES = ("supervisor", "acceptor", "duty_chief", "dispatcher", "inspector")
PATROL_REPORTERS = ("supervisor", "unit_member", "acceptor", "duty_chief")


def lang_of(request: Request) -> str:
    return "en" if request.cookies.get("cg_lang") == "en" else "zh"


def viewer(request: Request) -> User:
    """The logged-in user of the session cookie (AuthError: the login page)."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise AuthError("please log in")
    session = request.app.state.auth.session(token)
    request.state.session = session
    note(request, user=session.user.id, role=session.user.role)
    return session.user


def session_csrf(request: Request) -> str | None:
    """The CSRF token of the viewer's session (None before login)."""
    session = getattr(request.state, "session", None)
    if session is None or session.session_id is None:
        return None
    return request.app.state.auth.csrf_token(session.session_id)


async def posted_form(request: Request):
    """A logged-in console form, checked for CSRF (its token and its Origin)."""
    form = await read_form(request)  # bounded: photos at most, never a disk full of upload
    csrf.check_form(request, form, session_csrf(request))
    return form


def cgrid(request: Request) -> Casegrid:
    return request.app.state.cg


def due_class(due, now: datetime) -> str:
    """The colour of a due time: over, near (within NEAR_MINUTES) or ok."""
    if not due:
        return ""
    if isinstance(due, str):
        due = datetime.fromisoformat(due.replace("Z", "+00:00"))
    if due < now:
        return "due-over"
    if due - now < timedelta(minutes=NEAR_MINUTES):
        return "due-near"
    return "due-ok"


def can_patrol(user: User) -> bool:
    """Whether the user files a squad's daily patrol report."""
    return user.role in PATROL_REPORTERS and (user.role not in ("supervisor", "unit_member")
                                               or bool(user.squad))


def nav(user: User) -> list[tuple[str, str]]:
    items = []
    if user.role == "unit_member":
        items.append(("/inbox", "inbox"))
    elif user.role in CENTER_ROLES:
        items.append(("/queues", "queues"))
    if user.role not in ("inspector",):
        items.append(("/report", "report"))
    if user.role in ("supervisor", "unit_member"):
        items.append(("/m/", "field_app"))  # 城管通 on the phone
    items += [("/cases", "cases"), ("/map", "map"), ("/scoreboard", "scoreboard")]
    if user.role != "channel":
        items.append(("/notifications", "notifications"))  # 通知
    if user.role in TRAIL_READERS or user.role == "unit_member":
        items.append(("/trail", "trail"))
    if user.role in CENTER_READERS or can_patrol(user):
        items.append(("/reports", "reports"))
    return items


def case_no(item) -> str:
    """The number a person reads for a case (案件编号, e.g. 2026-11-000123): the case's
    readable number, else (a case reported before numbers existed) its id's first 8 hex."""
    get = item.get if isinstance(item, dict) else lambda k, d=None: getattr(item, k, d)
    number = get("number")
    if number:
        return str(number)
    cid = get("case_id") or get("id") or ""
    return str(cid)[:8]


def page(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
    """A template rendered with the viewer, the language and the label helpers."""
    lang = lang_of(request)
    cg = cgrid(request)
    user = ctx.pop("user", None)
    base = {
        "request": request, "user": user, "lang": lang, "city": cg.city,
        "t": lambda k: word(k, lang), "nav": nav(user) if user else [],
        "role_name": lambda r: label(ROLE, r, lang),
        "queue_name": lambda q: label(QUEUE, q, lang),
        "state_zh": lambda s: zh(STATE, s),
        "state_label": lambda s: label(STATE, s, lang),
        "action_label": lambda a: label(TRIGGER, ACTIONS.get(a, a), lang),
        "channel_label": lambda c: label(CHANNEL, c, lang),
        "step_label": lambda st: label(STEP, st, lang),
        "trigger_label": lambda tr: label(TRIGGER, tr, lang),
        "field_label": lambda f: word(FIELD_KEYS.get(f.split("[")[0], f.split("[")[0]), lang),
        "dim_label": lambda d: label(DIMENSION, d, lang),
        "cat_name": lambda c: cg.city.categories[c].name if c in cg.city.categories else c,
        "unit_name": lambda u: (cg.city.units[u].short if u in cg.city.units else (u or "")),
        "user_name": lambda u: cg.city.users[u].name if u in cg.city.users else u,
        "community_of": lambda g: cg.city.areas.get(cg.city.cells[g].community, "") if g in cg.city.cells else "",
        "local": lambda t, fmt=SHORT: local_format(t, cg.city.tz, fmt),
        "case_no": case_no,
        "path": request.url.path, "demo": getattr(request.app.state, "demo_logins", None),
        "csrf": session_csrf(request) if user else None,
    }
    return templates.TemplateResponse(request, name, base | ctx, status_code=status)


def render_error(request: Request, status: int, body: dict) -> Response:
    """The console's error page (with the menu when the viewer is logged in)."""
    try:
        user = viewer(request)
    except Exception:
        user = None
    return page(request, "error.html", status=status, user=user, status_code=status, body=body)


def home_of(user: User) -> str:
    if user.role == "unit_member":
        return "/inbox"
    if user.role in CENTER_ROLES:
        return "/queues"
    return "/cases"
