"""The reports page (报表): for the center a period picker (any past day, ISO week or month,
up to the current one), that period's daily / weekly / monthly reports and its squads'
patrol reports; for a squad's people the day's patrol report form."""

from __future__ import annotations

from datetime import date

from fastapi import Request

from adapters.bootstrap import Casegrid
from adapters.http.access import CENTER_READERS, Forbidden
from adapters.http.console.pages import can_patrol, cgrid, lang_of, page, router, viewer
from domain.city import User
from domain.errors import ValidationError
from domain.glossary import PATROL_STATUS, label
from domain.times import parse_day, parse_month, parse_week

KINDS = ("date", "week", "month")  # the period's query parameter: a day, an ISO week, a month
# the patrol table's columns: (row key, word key)
PATROL_COLUMNS = (("day", "date"), ("squad_name", "squad"), ("status", "patrol_status"),
                  ("reported_at", "reported_at"), ("actor", "reporter"),
                  ("findings", "findings"), ("patrol_cases", "patrol_cases"), ("note", "note"))


def week_of(d: date) -> str:
    iso = d.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def periods_and_squads(cg: Casegrid, user: User) -> dict:
    """Today, this week and this month (the pickers' limits), and the squads the user
    reports for."""
    today = cg.service.clock().astimezone(cg.city.tz).date()
    return {"today": today.isoformat(), "week": week_of(today), "month": today.isoformat()[:7],
            "earliest": cg.city.intake.history_from.date().isoformat(),
            "squads": [s for s in cg.city.squads.items()
                       if user.role not in ("supervisor", "unit_member") or s[0] == user.squad]}


def chosen_period(cg: Casegrid, params) -> dict:
    """The period asked for (`date`, `week` or `month`, one of them; none: today), never
    after the current one nor before the city's earliest business day."""
    today = cg.service.clock().astimezone(cg.city.tz).date()
    given = [k for k in KINDS if params.get(k)]
    if len(given) > 1:
        raise ValidationError(given[1], f"give one period: {' or '.join(given)}, not both")
    kind = given[0] if given else "date"
    raw = params.get(kind) or today.isoformat()
    if len(raw) > 20 or "\x00" in raw:
        raise ValidationError(kind, "is not a day, week or month")
    if kind == "date":
        a = b = parse_day(raw, "date")
        value = a.isoformat()
    elif kind == "week":
        a, b = parse_week(raw, "week")
        value = week_of(a)
    else:
        a, b = parse_month(raw, "month")
        value = a.isoformat()[:7]
    if a > today:
        raise ValidationError(kind, f"{value} is after today's ({today.isoformat()}); "
                                    "reports are for days that have begun")
    earliest = cg.city.intake.history_from.date()
    if b < earliest:
        raise ValidationError(kind, f"{value} is before {earliest.isoformat()}, the earliest "
                                    "business day accepted (history_from)")
    links = [("daily", "date", a.isoformat())] if kind == "date" else []
    links += [("weekly", "week", week_of(a))] if kind != "month" else []
    links.append(("monthly", "month", a.isoformat()[:7]))
    return {"kind": kind, "value": value, "start": a, "end": min(b, today), "links": links,
            "week_of": week_of(a)}


@router.get("/reports")
def reports_page(request: Request):
    user = viewer(request)
    cg = cgrid(request)
    if user.role not in CENTER_READERS and not can_patrol(user):
        raise Forbidden("reports are for the center and the inspector", role=user.role)
    status, error, chosen, rows = 200, None, None, None
    if user.role in CENTER_READERS:
        try:
            chosen = chosen_period(cg, request.query_params)
        except ValidationError as e:
            status, error = 422, e.to_dict()
            chosen = chosen_period(cg, {})
        rows = patrol_rows(request, cg, chosen["start"], chosen["end"])
    return page(request, "reports.html", status=status, user=user, chosen=chosen, rows=rows,
                columns=PATROL_COLUMNS, can_patrol=can_patrol(user),
                done=request.query_params.get("done"), error=error, form={},
                **periods_and_squads(cg, user))


def patrol_rows(request: Request, cg: Casegrid, start: date, end: date) -> list[dict]:
    """Every squad and day of the period, newest day first, its status in the page's language."""
    from adapters.reports import patrol_section

    request.app.state.follower.ensure()
    _, rows = patrol_section(cg.sql, cg.city, start, end, cg.service.clock())
    lang = lang_of(request)
    for r in rows:
        r["status_label"] = label(PATROL_STATUS, r["status"], lang)
    rows.sort(key=lambda r: (r["day"], r["squad"]), reverse=True)
    return rows


