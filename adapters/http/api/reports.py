"""JSON API for the CLI's `patrol` and `report` groups: daily patrol reports (巡查日报 / 零报告)
and the daily / weekly / monthly reports, the rewards-and-penalties ledger and the what-if.

Reports are for the center and the inspector; a patrol report comes from its squad's own
people (the patrol service's rule); the tick is the duty chief's. Policy files are never
named over HTTP: reports use the city's policy, and the what-if takes the other policy
as a JSON mapping in the body.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from adapters.http.access import CENTER_READERS, check_write, require_role
from adapters.http.api.auth import Me
from adapters.http.api.bodies import CompareBody, PatrolBody
from adapters.http.api.deps import Cg, fresh
from domain.errors import ValidationError
from domain.times import optional_day, optional_time, parse_day

router = APIRouter(prefix="/api", tags=["patrol and reports"])
MEDIA = {"json": "application/json", "html": "text/html; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "pdf": "application/pdf"}
Fmt = Annotated[str, Query(alias="format", description="json, html, xlsx or pdf")]


def _policy(cg, raw: dict | None = None, label: str = "policy"):
    from adapters.config.policy_file import build_policy
    from adapters.policies import load_policy

    if raw is None:
        return load_policy(None, cg.city)
    return build_policy(raw, cg.city, path=f"(request body: {label})")


def _month(month: str) -> str:
    from domain.policy import month_bounds

    month_bounds(month)  # ValidationError("month", …) when it is not YYYY-MM
    return month


def _send(doc: dict, fmt: str, stem: str) -> Response:
    from adapters.reports import FORMATS, render, to_html, to_json

    if fmt not in FORMATS:
        raise ValidationError("format", f"'{fmt}' is not one of {', '.join(FORMATS)}")
    if fmt == "json":
        return Response(to_json(doc), media_type=MEDIA["json"])
    if fmt == "html":
        return HTMLResponse(to_html(doc))
    with tempfile.TemporaryDirectory() as d:
        data = render(doc, fmt, Path(d) / f"{stem}.{fmt}").read_bytes()
    return Response(data, media_type=MEDIA[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{stem}.{fmt}"'})


# ---------------------------------------------------------------- patrol


@router.post("/patrol/reports", status_code=201)
def patrol_report(body: PatrolBody, user: Me, cg: Cg):
    """巡查日报 / 零报告: the day's findings of the caller's squad, or an explicit nil report."""
    check_write(user, "patrol_report", "patrol_day")
    pd = cg.patrol.report(squad=body.squad, day=body.date, actor=user.id, nil=body.nil,
                            case_ids=body.case_ids, findings=body.findings, note=body.note,
                            at=body.at, idempotency_key=body.idempotency_key)
    return {"squad": body.squad, "date": str(pd.day), "nil": pd.nil,
            "reported_at": pd.reported_at.isoformat(), "late": pd.reported_at > pd.cut_off,
            "missed_recorded": pd.missed, "actor": pd.reporter, "id": str(pd.id)}


@router.post("/patrol/tick")
def patrol_tick(user: Me, cg: Cg, now: str | None = None, since: str | None = None):
    """Record PatrolReportMissed for every squad-day past its cut-off without a report."""
    require_role(user, ("duty_chief", "system"), "the patrol tick")
    t = optional_time(now, "now", cg.city.tz) or datetime.now(UTC)
    missed = cg.patrol.tick(t, since=optional_day(since, "since"))
    return {"now": t.isoformat(), "missed": [
        {"squad": e.squad, "date": str(e.day), "cut_off": e.cut_off.isoformat()} for e in missed]}


@router.get("/patrol/days")
def patrol_days(request: Request, user: Me, cg: Cg,
                start: Annotated[str, Query(alias="from")],
                end: Annotated[str | None, Query(alias="to")] = None):
    """Every squad and day: reported, nil, late or missing."""
    from adapters.reports import patrol_section

    require_role(user, CENTER_READERS, "the patrol days")
    a = parse_day(start, "from")
    b = optional_day(end, "to") or a
    if b < a:
        raise ValidationError("to", f"{b} is before from {a}")
    if (b - a).days > 400:
        raise ValidationError("to", f"{a} .. {b} spans more than 400 days")
    fresh(request)
    _, rows = patrol_section(cg.sql, cg.city, a, b, datetime.now(UTC))
    return json.loads(json.dumps({"days": rows}, default=str))


# ---------------------------------------------------------------- reports


@router.get("/reports/daily")
def report_daily(request: Request, user: Me, cg: Cg, day: Annotated[str, Query(alias="date")],
                 fmt: Fmt = "json", now: str | None = None):
    """日汇总: squads' reports, nil reports and missing ones; new, overdue and urged cases."""
    from adapters.reports import daily

    require_role(user, CENTER_READERS, "reports")
    d = parse_day(day, "date")
    fresh(request)
    t = optional_time(now, "now", cg.city.tz) or datetime.now(UTC)
    return _send(daily(cg.sql, cg.city, d, t), fmt, f"daily-{d}")


@router.get("/reports/weekly")
def report_weekly(request: Request, user: Me, cg: Cg,
                  week: Annotated[str, Query(description="ISO week, e.g. 2026-W43")],
                  fmt: Fmt = "json", now: str | None = None):
    """周小结: per street, community and unit, beside last week."""
    from adapters.reports import weekly

    require_role(user, CENTER_READERS, "reports")
    fresh(request)
    t = optional_time(now, "now", cg.city.tz) or datetime.now(UTC)
    return _send(weekly(cg.sql, cg.city, week, t), fmt, f"weekly-{week}")


@router.get("/reports/monthly")
def report_monthly(request: Request, user: Me, cg: Cg,
                   month: Annotated[str, Query(description="YYYY-MM")],
                   fmt: Fmt = "json", now: str | None = None):
    """月通报: ranking and grades, indicators, trends, hot spots, ledgers, rewards and penalties."""
    from adapters.reports import monthly

    require_role(user, CENTER_READERS, "reports")
    pol = _policy(cg)
    fresh(request)
    t = optional_time(now, "now", cg.city.tz) or datetime.now(UTC)
    doc = monthly(cg.sql, cg.city, _month(month), t, pol, app=cg.app)
    return _send(doc, fmt, f"monthly-{month}")


@router.get("/reports/ledger")
def report_ledger(request: Request, user: Me, cg: Cg,
                  month: Annotated[str, Query(description="YYYY-MM")], now: str | None = None):
    """奖惩台账: every amount with its rule, source and cases."""
    from domain.policy import month_bounds
    from projections.ledger import ledger

    require_role(user, CENTER_READERS, "reports")
    pol = _policy(cg)
    a, b = month_bounds(_month(month))
    fresh(request)
    t = optional_time(now, "now", cg.city.tz) or datetime.now(UTC)
    led = ledger(cg.sql, cg.city, pol, a, b, t, app=cg.app)
    return json.loads(json.dumps(led, default=str, ensure_ascii=False))


@router.post("/reports/compare")
def report_compare(request: Request, body: CompareBody, user: Me, cg: Cg):
    """What-if: the month's scores, grades and ledger under another policy, and what changes."""
    from adapters.reports import compare

    require_role(user, CENTER_READERS, "reports")
    a = _policy(cg, body.base, "base")
    b = _policy(cg, body.policy, "policy")
    fresh(request)
    t = optional_time(body.now, "now", cg.city.tz) or datetime.now(UTC)
    doc = compare(cg.sql, cg.city, _month(body.month), t, a, b, app=cg.app)
    secs = {s["id"]: s for s in doc["sections"]}
    out = {"month": body.month, "base": a.id, "other": b.id,
           "grades": {k[7:]: s["rows"] for k, s in secs.items() if k.startswith("grades_")},
           "ledger_diff": secs["ledger_diff"]["rows"],
           "line_changes": secs["line_changes"]["rows"]}
    return json.loads(json.dumps(out, default=str, ensure_ascii=False))
