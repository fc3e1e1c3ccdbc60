"""The boards: the scoreboard (考评排名) with its weekly chart and drill-down, and the
accountability trail (责任倒查) over a period and of one case."""

from __future__ import annotations

import json

from fastapi import Request
from fastapi.responses import RedirectResponse

from adapters.http import reads
from adapters.http.access import TRAIL_READERS, Forbidden, check_read_case, unit_scope
from adapters.http.api.views import period, series
from adapters.http.console.pages import cgrid, page, router, viewer
from adapters.views import EVENT_ZH

PREFERRED = {  # the chart's first indicator per dimension
    "unit": ["on_time_resolution_rate"], "supervisor": ["valid_report_rate"],
    "dispatcher": ["on_time_dispatch_rate"], "duty-chief": ["on_time_filing_rate"],
    "*": ["discovery_rate", "on_time_closure_rate"],
}
CHART_DIMENSIONS = ("unit", "community", "squad", "street", "district", "supervisor",
                    "dispatcher", "duty-chief", "grid")


@router.get("/scoreboard")
def scoreboard_page(request: Request, by: str = "unit", indicator: str | None = None,
                    start: str | None = None, end: str | None = None):
    user = viewer(request)
    cg = cgrid(request)
    start = request.query_params.get("from") or start
    end = request.query_params.get("to") or end
    request.app.state.follower.ensure()
    try:
        s, e = period(cg, start, end)
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
    if indicator and by in CHART_DIMENSIONS:
        chart = series(cg, by=by, indicator=indicator, start=s, end=e)
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
        s, e = period(cg, request.query_params.get("from"), request.query_params.get("to"))
        data = reads.scope_explain(cg, user, reads.explain(cg, by=by, key=key,
                                                           indicator=indicator, start=s, end=e))
    except reads.Unavailable:
        return page(request, "unavailable.html", user=user, what="scoreboard")
    return page(request, "explain.html", user=user, x=data, by=by, start=s.isoformat(),
                end=e.isoformat())


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
        s, e = period(cg, request.query_params.get("from"), request.query_params.get("to"))
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
    check_read_case(user, case)
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
