"""The web console (监督指挥中心控制台): server-rendered pages with a little vanilla JS.

Every page reads through the same functions as the JSON API (adapters/http/api.py) and
every action goes through the same lifecycle guard, so the console can show or do
nothing the API would not. Chinese by default; `?lang=en` (the 中/EN switch) sets a cookie.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from adapters.bootstrap import Casegrid
from adapters.http import api, csrf, geo, reads
from adapters.http.access import TRAIL_READERS, Forbidden, unit_scope
from adapters.http.auth import SESSION_SECONDS, AuthError
from adapters.http.csrf import CsrfError
from adapters.http.i18n import QUEUE, ROLE, word
from adapters.http.throttle import Throttled
from adapters.views import EVENT_ZH
from domain.city import User
from domain.errors import CasegridError, ValidationError
from domain.lifecycle import CHANNELS, CLOSURE_TYPES, RATINGS, STATES
from domain.times import local_format
from projections.cases import list_cases
from projections.times import from_ts
from workflows.commands import ReportCase

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)
COOKIE = api.COOKIE
log = structlog.get_logger("casegrid.http")
NEAR_MINUTES = 60  # a due time within this many minutes shows as "near"
MY_QUEUES = {
    "supervisor": ["verification", "check"],
    "acceptor": ["filing", "closure", "verification"],
    "duty_chief": ["extension_decision", "shelve_decision", "filing", "closure"],
    "dispatcher": ["dispatch", "extension_decision"],
}
ROWS_PER_QUEUE = 100
PREFERRED = {  # the chart's first indicator per dimension
    "unit": ["on_time_resolution_rate"], "supervisor": ["valid_report_rate"],
    "dispatcher": ["on_time_dispatch_rate"], "duty-chief": ["on_time_filing_rate"],
    "*": ["discovery_rate", "on_time_closure_rate"],
}


# ---------------------------------------------------------------- helpers


def lang_of(request: Request) -> str:
    return "en" if request.cookies.get("cg_lang") == "en" else "zh"


def viewer(request: Request) -> User:
    token = request.cookies.get(COOKIE)
    if not token:
        raise AuthError("please log in")
    session = request.app.state.auth.session(token)
    request.state.session = session
    api.note(request, user=session.user.id, role=session.user.role)
    return session.user


def session_csrf(request: Request) -> str | None:
    """The CSRF token of the viewer's session (None before login)."""
    session = getattr(request.state, "session", None)
    if session is None or session.session_id is None:
        return None
    return request.app.state.auth.csrf_token(session.session_id)


async def posted_form(request: Request):
    """A logged-in console form, checked for CSRF (its token and its Origin)."""
    form = await request.form()
    csrf.check_form(request, form, session_csrf(request))
    return form


def cgrid(request: Request) -> Casegrid:
    return request.app.state.cg


def local(t, cg: Casegrid, fmt: str = "%m-%d %H:%M") -> str:
    if t is None:
        return ""
    if isinstance(t, str):
        t = datetime.fromisoformat(t.replace("Z", "+00:00"))
    return local_format(t, cg.city.tz, fmt)


def due_class(due, now: datetime) -> str:
    if not due:
        return ""
    if isinstance(due, str):
        due = datetime.fromisoformat(due.replace("Z", "+00:00"))
    if due < now:
        return "due-over"
    if due - now < timedelta(minutes=NEAR_MINUTES):
        return "due-near"
    return "due-ok"


def nav(user: User) -> list[tuple[str, str]]:
    items = []
    if user.role == "unit_member":
        items.append(("/inbox", "inbox"))
    elif user.role in ("supervisor", "acceptor", "duty_chief", "dispatcher", "inspector"):
        items.append(("/queues", "queues"))
    if user.role not in ("inspector",):
        items.append(("/report", "report"))
    items += [("/cases", "cases"), ("/map", "map"), ("/scoreboard", "scoreboard")]
    if user.role in TRAIL_READERS or user.role == "unit_member":
        items.append(("/trail", "trail"))
    if user.role in api.CENTER_READERS or _can_patrol(user):
        items.append(("/reports", "reports"))
    return items


def page(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
    lang = lang_of(request)
    cg = cgrid(request)
    user = ctx.pop("user", None)
    base = {
        "request": request, "user": user, "lang": lang, "city": cg.city,
        "t": lambda k: word(k, lang), "nav": nav(user) if user else [],
        "role_name": lambda r: ROLE.get(r, (r, r))[1 if lang == "en" else 0],
        "queue_name": lambda q: QUEUE.get(q, (q, q))[1 if lang == "en" else 0],
        "state_zh": lambda s: STATES.get(s, {}).get("zh", s),
        "state_label": lambda s: s.replace("_", " ") if lang == "en" else STATES.get(s, {}).get("zh", s),
        "cat_name": lambda c: cg.city.categories[c].name if c in cg.city.categories else c,
        "unit_name": lambda u: (cg.city.units[u].short if u in cg.city.units else (u or "")),
        "user_name": lambda u: cg.city.users[u].name if u in cg.city.users else u,
        "community_of": lambda g: cg.city.areas.get(cg.city.cells[g].community, "") if g in cg.city.cells else "",
        "local": lambda t, fmt="%m-%d %H:%M": local(t, cg, fmt),
        "path": request.url.path, "demo": getattr(request.app.state, "demo_logins", None),
        "csrf": session_csrf(request) if user else None,
    }
    return templates.TemplateResponse(request, name, base | ctx, status_code=status)


def render_error(request: Request, status: int, body: dict) -> Response:
    try:
        user = viewer(request)
    except Exception:
        user = None
    return page(request, "error.html", status=status, user=user, status_code=status, body=body)


def home_of(user: User) -> str:
    if user.role == "unit_member":
        return "/inbox"
    if user.role in ("supervisor", "acceptor", "duty_chief", "dispatcher", "inspector"):
        return "/queues"
    return "/cases"


# ---------------------------------------------------------------- login


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


def _login_page(request: Request, status: int = 200, **ctx) -> Response:
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
    return _login_page(request, next=next, error=None)


@router.post("/login")
async def login_post(request: Request):
    form = await request.form()
    user_id, password = str(form.get("user", "")).strip(), str(form.get("password", ""))
    nxt = local_path(str(form.get("next") or "/"))
    auth = request.app.state.auth
    try:
        nonce = request.cookies.get(csrf.LOGIN_COOKIE)
        csrf.check_form(request, form, auth.login_csrf_token(nonce) if nonce else None)
        user = await run_in_threadpool(auth.login, user_id, password, api.client_of(request))
    except CsrfError as e:
        log.warning("csrf_refused", path="/login", field=e.field, rule=e.rule)
        return _login_page(request, 403, next=nxt, error=e.to_dict()["message"], user_id=user_id)
    except Throttled as e:
        resp = _login_page(request, 429, next=nxt, error=e.to_dict()["message"], user_id=user_id)
        resp.headers["Retry-After"] = str(e.retry_after)
        return resp
    except AuthError as e:
        return _login_page(request, 401, next=nxt, error=str(e), user_id=user_id)
    api.note(request, user=user.id, role=user.role)
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


# ---------------------------------------------------------------- queues and inbox


def _decorate(items: list[dict], now: datetime) -> list[dict]:
    for it in items:
        it["due_class"] = due_class(it.get("due_at"), now)
    return items


@router.get("/queues")
def queues_page(request: Request):
    user = viewer(request)
    if user.role == "unit_member":
        return RedirectResponse("/inbox", status_code=303)
    if user.role == "channel":
        raise Forbidden("the queues are for the center's roles", role=user.role)
    cg = cgrid(request)
    request.app.state.follower.ensure()
    now = cg.service.clock()
    data = reads.queues(cg, unit=None, now=now)
    mine = MY_QUEUES.get(user.role, [])
    order = mine + [q for q in data["queues"] if q not in mine]
    qs = [{"name": q, "mine": q in mine, "total": len(data["queues"].get(q, [])),
           "overdue": sum(1 for i in data["queues"].get(q, []) if i.get("overdue")),
           "rows": _decorate(data["queues"].get(q, [])[:ROWS_PER_QUEUE], now)} for q in order]
    overdue = sorted(((u, len(v)) for u, v in data.get("overdue_by_unit", {}).items()),
                     key=lambda x: -x[1])
    return page(request, "queues.html", user=user, queues=qs, overdue=overdue, now=now,
                near=NEAR_MINUTES)


@router.get("/inbox")
def inbox_page(request: Request):
    user = viewer(request)
    cg = cgrid(request)
    unit = unit_scope(user, None) if user.role == "unit_member" else request.query_params.get("unit")
    if unit is None:
        return RedirectResponse("/queues", status_code=303)
    request.app.state.follower.ensure()
    now = cg.service.clock()
    data = reads.queues(cg, unit=unit, now=now)
    items = _decorate(list(data.get("unit_inbox", [])), now)
    return page(request, "inbox.html", user=user, unit=unit, items=items, now=now,
                near=NEAR_MINUTES)


# ---------------------------------------------------------------- cases


@router.get("/cases")
def cases_page(request: Request, state: str | None = None, unit: str | None = None,
               limit: int = 100):
    user = viewer(request)
    cg = cgrid(request)
    unit = unit_scope(user, unit or None)
    state = state or None
    if state is not None and state not in STATES:
        raise ValidationError("state", f"'{state}' is not one of {', '.join(STATES)}")
    request.app.state.follower.ensure()
    rows = list_cases(cg.sql, state=state, unit=unit, limit=max(1, min(limit, 1000)))
    now = cg.service.clock()
    for r in rows:
        r["due_class"] = due_class(from_ts(r["due_at"]) if r["due_at"] else None, now)
        r["due_local"] = local(from_ts(r["due_at"]), cg) if r["due_at"] else ""
        r["reported_local"] = local(from_ts(r["reported_at"]), cg)
    return page(request, "cases.html", user=user, rows=rows, state=state, unit=unit,
                states=STATES, units=cg.city.units, pinned=user.role == "unit_member")


def _case_page(request: Request, user: User, case_id: str, *, status: int = 200,
               error: dict | None = None, form: dict | None = None):
    cg = cgrid(request)
    api.note(request, case_id=case_id)
    as_of = reads.parse_time(request.query_params.get("as_of"), "as_of", cg.city)
    detail = api.case_detail(cg, user, case_id, as_of)
    now = cg.service.clock()
    c = detail["case"]
    c["due_class"] = due_class(c["due_at"], now) if c["step"] else ""
    suggested = detail["dispatch_suggestion"]
    return page(request, "case.html", status=status, user=user, c=c, timeline=detail["timeline"],
                allowed=detail["allowed"], suggestion=suggested, units=cg.city.units,
                closure_types=CLOSURE_TYPES, ratings=RATINGS, error=error, form=form or {},
                done=request.query_params.get("done"), event_zh=EVENT_ZH, near=NEAR_MINUTES,
                channel_zh={k: v["zh"] for k, v in CHANNELS.items()},
                as_of=request.query_params.get("as_of"),
                trail_ok=user.role in TRAIL_READERS or user.role == "unit_member")


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: str):
    return _case_page(request, viewer(request), case_id)


def _flag(value) -> bool | None:
    if value in (None, ""):
        return None
    return str(value) in ("1", "true", "yes", "on", "passed", "approve")


@router.post("/cases/{case_id}/act/{action}")
async def case_act(request: Request, case_id: str, action: str):
    user = viewer(request)
    cg = cgrid(request)
    form = await posted_form(request)
    if action not in api.ACTIONS:
        raise ValidationError("action", f"'{action}' is not one of {', '.join(api.ACTIONS)}")
    evidence = [e.strip() for e in str(form.get("evidence") or "").split() if e.strip()]
    version = str(form.get("expected_version") or "")
    body = api.ActionBody(
        unit=form.get("unit") or None, passed=_flag(form.get("passed")),
        approve=_flag(form.get("approve")), reason=form.get("reason") or None,
        extra=form.get("extra") or None, closure_type=form.get("closure_type") or None,
        rating=form.get("rating") or None, evidence=evidence,
        expected_version=int(version) if version.isdigit() else None)
    try:
        await run_in_threadpool(api.act, cg, user, case_id, api.ACTIONS[action], body)
    except CasegridError as e:
        from adapters.http.app import STATUS

        status, error = STATUS.get(e.kind, 400), e.to_dict() | {"action": action}
        return await run_in_threadpool(
            lambda: _case_page(request, user, case_id, status=status, error=error, form=dict(form)))
    return RedirectResponse(f"/cases/{case_id}?done={quote(action)}", status_code=303)


# ---------------------------------------------------------------- report


def _channels_for(user: User) -> list[str]:
    return [c for c, v in CHANNELS.items() if user.role in v["roles"]]


@router.get("/report")
def report_form(request: Request):
    user = viewer(request)
    return _report_page(request, user)


def _report_page(request: Request, user: User, status: int = 200, error=None, form=None):
    cg = cgrid(request)
    cells = [(code, cg.city.areas.get(c.community, "")) for code, c in sorted(cg.city.cells.items())]
    cats = sorted(cg.city.categories.values(), key=lambda c: c.code)
    return page(request, "report.html", status=status, user=user, channels=_channels_for(user),
                channel_zh={k: v["zh"] for k, v in CHANNELS.items()},
                as_of=request.query_params.get("as_of"), cells=cells, cats=cats,
                error=error, form=form or {})


@router.post("/report")
async def report_post(request: Request):
    user = viewer(request)
    cg = cgrid(request)
    form = await posted_form(request)
    evidence = [e.strip() for e in str(form.get("evidence") or "").split() if e.strip()]

    def run():
        if user.role == "inspector":
            api.check_write(user, "report")
        lat = float(form["lat"]) if form.get("lat") else None
        lon = float(form["lon"]) if form.get("lon") else None
        return cg.service.report(ReportCase(
            channel=str(form.get("channel") or ""), category=str(form.get("category") or ""),
            grid=str(form.get("grid") or ""), actor=user.id,
            description=str(form.get("description") or ""),
            urgency=str(form.get("urgency") or "normal"), lat=lat, lon=lon, evidence=evidence))

    try:
        case = await run_in_threadpool(run)
    except CasegridError as e:
        from adapters.http.app import STATUS

        return _report_page(request, user, STATUS.get(e.kind, 400), e.to_dict(), dict(form))
    except ValueError as e:
        return _report_page(request, user, 422, {"field": "lat", "rule": str(e)}, dict(form))
    return RedirectResponse(f"/cases/{case.id}?done=report", status_code=303)


# ---------------------------------------------------------------- scoreboard


@router.get("/scoreboard")
def scoreboard_page(request: Request, by: str = "unit", indicator: str | None = None,
                    start: str | None = None, end: str | None = None):
    user = viewer(request)
    cg = cgrid(request)
    start = request.query_params.get("from") or start
    end = request.query_params.get("to") or end
    request.app.state.follower.ensure()
    try:
        s, e = api._range(cg, start, end)
        board = reads.scoreboard(cg, by=by, start=s, end=e)
    except reads.Unavailable:
        return page(request, "unavailable.html", user=user, what="scoreboard")
    inds = reads.indicators()
    rate_names = [k for k, v in inds.items() if v.get("kind") == "rate"] or sorted(
        {k for r in board["rows"] for k in r.get("rates", {})})
    count_names = [k for k, v in inds.items() if v.get("kind") == "count"]
    shown_rates = [k for k in rate_names if any(r["rates"].get(k) is not None for r in board["rows"])]
    preferred = [p for p in PREFERRED.get(by, PREFERRED["*"]) if p in shown_rates]
    indicator = indicator or (preferred or shown_rates or rate_names or [None])[0]
    chart = None
    if indicator and by in ("unit", "community", "squad", "street", "district", "supervisor",
                            "dispatcher", "duty-chief", "grid"):
        chart = api.series(cg, by=by, indicator=indicator, start=s, end=e)
        if by == "grid":
            chart["series"] = chart["series"][:12]
    rows = sorted(board["rows"], key=lambda r: (r.get("rank") is None, r.get("rank") or 0, r["key"]))
    return page(request, "scoreboard.html", user=user, board=board, rows=rows, by=by,
                dims=reads.dimensions(), inds=inds, rate_names=shown_rates,
                count_names=[c for c in count_names if any(r["counts"].get(c) for r in rows)][:6],
                indicator=indicator, start=s.isoformat(), end=e.isoformat(),
                chart_json=json.dumps(chart, ensure_ascii=False) if chart else "null")


@router.get("/scoreboard/explain")
def explain_page(request: Request, key: str, indicator: str, by: str = "unit"):
    user = viewer(request)
    cg = cgrid(request)
    request.app.state.follower.ensure()
    try:
        s, e = api._range(cg, request.query_params.get("from"), request.query_params.get("to"))
        data = reads.scope_explain(cg, user, reads.explain(cg, by=by, key=key,
                                                           indicator=indicator, start=s, end=e))
    except reads.Unavailable:
        return page(request, "unavailable.html", user=user, what="scoreboard")
    return page(request, "explain.html", user=user, x=data, by=by, start=s.isoformat(),
                end=e.isoformat())


# ---------------------------------------------------------------- trail


@router.get("/trail")
def trail_page(request: Request, unit: str | None = None, case_id: str | None = None):
    user = viewer(request)
    cg = cgrid(request)
    if case_id:
        return RedirectResponse(f"/trail/cases/{case_id.strip()}", status_code=303)
    if user.role == "unit_member":
        unit = unit_scope(user, unit or None)
    elif user.role not in TRAIL_READERS:
        raise Forbidden("the accountability trail is for inspectors and the center",
                        role=user.role)
    request.app.state.follower.ensure()
    try:
        s, e = api._range(cg, request.query_params.get("from"), request.query_params.get("to"))
        data = reads.missed_deadlines(cg, unit=unit or None, actor=None, start=s, end=e)
    except reads.Unavailable:
        return page(request, "unavailable.html", user=user, what="trail")
    per_unit: dict[str, int] = dict(data.get("per_unit") or {})
    per_person: dict[str, int] = dict(data.get("per_person") or {})
    if not per_unit and not per_person:
        for m in data.get("misses", []):
            if m.get("holder_kind") == "unit":
                per_unit[m["holder"]] = per_unit.get(m["holder"], 0) + 1
            if m.get("person"):
                per_person[m["person"]] = per_person.get(m["person"], 0) + 1
    return page(request, "trail.html", user=user, data=data, unit=unit, units=cg.city.units,
                per_unit=sorted(per_unit.items(), key=lambda x: -x[1]),
                per_person=sorted(per_person.items(), key=lambda x: -x[1])[:12],
                start=s.isoformat(), end=e.isoformat(), pinned=user.role == "unit_member")


@router.get("/trail/cases/{case_id}")
def trail_case_page(request: Request, case_id: str):
    user = viewer(request)
    cg = cgrid(request)
    case = cg.service.get(case_id)
    api.check_read_case(user, case)
    if user.role != "unit_member" and user.role not in TRAIL_READERS:
        raise Forbidden("the accountability trail is for inspectors and the center",
                        role=user.role)
    request.app.state.follower.ensure()
    try:
        data = reads.case_trail(cg, str(case.id))
    except reads.Unavailable:
        return page(request, "unavailable.html", user=user, what="trail")
    keys = {"at": "time", "actor": "actor", "role": "role", "type": "event", "reason": "reason",
            "due_at": "due_at", "holder": "holder", "person": "person", "step": "step",
            "passed": "passed", "approved": "approve", "minutes": "extra",
            "recorded_as_of": "time"}
    return page(request, "trail_case.html", user=user, data=data, case=case, keys=keys,
                event_zh=EVENT_ZH)


# ---------------------------------------------------------------- map


@router.get("/map")
def map_page(request: Request):
    user = viewer(request)
    cg = cgrid(request)
    request.app.state.follower.ensure()
    now = cg.service.clock()
    unit = unit_scope(user, None) if user.role in ("unit_member",) else None
    data = reads.queues(cg, unit=unit, now=now)
    items = list(data.get("unit_inbox", []))
    if not unit:
        items += [i for q in data["queues"].values() for i in q]
    seen, points = set(), []
    for it in items:
        if it["case_id"] in seen:
            continue
        seen.add(it["case_id"])
        lat, lon = it.get("lat"), it.get("lon")
        if "lat" not in it or (lat is None and not reads.has_locations()):
            lat, lon = _location(cg, it["case_id"])
        if lat is None or lon is None:
            continue
        points.append({"id": it["case_id"], "lat": lat, "lon": lon, "state": it["state"],
                       "state_zh": STATES[it["state"]]["zh"], "cat": it.get("category"),
                       "cat_name": cg.city.categories[it["category"]].name
                       if it.get("category") in cg.city.categories else "",
                       "unit": it.get("unit"), "cls": due_class(it.get("due_at"), now)})
    cells = [{"code": b.code, "community": cg.city.areas.get(b.community, ""),
              "b": [[b.south, b.west], [b.north, b.east]]} for b in geo.layout(cg.city)]
    return page(request, "map.html", user=user, count=len(points),
                points_json=json.dumps(points, ensure_ascii=False),
                cells_json=json.dumps(cells, ensure_ascii=False),
                bbox_json=json.dumps(geo.bbox(cg.city)))


_LOC: dict[str, tuple] = {}


def _location(cg: Casegrid, case_id: str) -> tuple:
    """A case's reported lat/lon (they never change), remembered after the first read."""
    if case_id not in _LOC:
        first = next(iter(cg.app.events.get(reads_uuid(case_id), limit=1)), None)
        _LOC[case_id] = (getattr(first, "lat", None), getattr(first, "lon", None))
    return _LOC[case_id]


def reads_uuid(case_id: str):
    from workflows.service import parse_case_id

    return parse_case_id(case_id)


# ---------------------------------------------------------------- patrol days and reports

PATROL_REPORTERS = ("supervisor", "unit_member", "acceptor", "duty_chief")


def _can_patrol(user: User) -> bool:
    return user.role in PATROL_REPORTERS and (user.role not in ("supervisor", "unit_member")
                                               or bool(user.squad))


@router.get("/reports")
def reports_page(request: Request):
    user = viewer(request)
    cg = cgrid(request)
    from adapters.reports import patrol_section

    today = cg.service.clock().astimezone(cg.city.tz).date()
    sec = rows = None
    if user.role in api.CENTER_READERS:
        request.app.state.follower.ensure()
        sec, rows = patrol_section(cg.sql, cg.city, today - timedelta(days=6), today,
                                   cg.service.clock())
        rows = list(reversed(rows))
    elif not _can_patrol(user):
        raise Forbidden("reports are for the center and the inspector", role=user.role)
    iso = today.isocalendar()
    return page(request, "reports.html", user=user, sec=sec, rows=rows, today=today.isoformat(),
                week=f"{iso.year}-W{iso.week:02d}", month=today.isoformat()[:7],
                can_patrol=_can_patrol(user),
                squads=[s for s in cg.city.squads.items()
                        if user.role not in ("supervisor", "unit_member") or s[0] == user.squad],
                done=request.query_params.get("done"), error=None, form={})


@router.post("/patrol")
async def patrol_post(request: Request):
    user = viewer(request)
    cg = cgrid(request)
    form = await posted_form(request)

    def run():
        from workflows.patrol import PatrolService

        api.check_write(user, "patrol_report", "patrol_day")
        ids = [x for x in str(form.get("case_ids") or "").split() if x]
        n = str(form.get("findings") or "").strip()
        return PatrolService(cg.app, cg.city, clock=cg.service.clock).report(
            squad=str(form.get("squad") or ""), day=str(form.get("date") or ""), actor=user.id,
            nil=form.get("nil") == "1", case_ids=ids, findings=int(n) if n.isdigit() else None,
            note=str(form.get("note") or ""))

    try:
        pd = await run_in_threadpool(run)
    except CasegridError as e:
        from adapters.http.app import STATUS

        today = cg.service.clock().astimezone(cg.city.tz).date()
        iso = today.isocalendar()
        return page(request, "reports.html", status=STATUS.get(e.kind, 400), user=user, sec=None,
                    rows=None, today=today.isoformat(), week=f"{iso.year}-W{iso.week:02d}",
                    month=today.isoformat()[:7], can_patrol=True,
                    squads=[s for s in cg.city.squads.items()
                            if user.role not in ("supervisor", "unit_member") or s[0] == user.squad],
                    done=None, error=e.to_dict(), form=dict(form))
    late = "late" if pd.reported_at > pd.cut_off else "ok"
    return RedirectResponse(f"/reports?done={quote(pd.squad)}+{pd.day}+{late}", status_code=303)
