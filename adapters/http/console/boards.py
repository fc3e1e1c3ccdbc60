"""The boards: the scoreboard (考评排名) with its weekly chart and drill-down, and the
accountability trail (责任倒查) over a period and of one case."""

from __future__ import annotations

import json
from datetime import date

from fastapi import Request
from fastapi.responses import RedirectResponse

from adapters.audit.case_proof import case_audit
from adapters.http import reads
from adapters.http.access import TRAIL_READERS, Forbidden, check_read_case, unit_scope
from adapters.http.api.views import period, series
from adapters.http.console.drill import MAX_ROWS, case_rows
from adapters.http.console.export import xlsx_response
from adapters.http.console.pages import case_no, cgrid, lang_of, page, router, viewer
from adapters.http.console.paging import paged, wants_xlsx
from adapters.http.i18n import word
from domain.errors import ValidationError
from domain.glossary import EVENT, INDICATOR, ROLE, STEP, label
from domain.times import local_format

PREFERRED = {  # the chart's first indicator per dimension
    "unit": ["on_time_resolution_rate"], "supervisor": ["valid_report_rate"],
    "dispatcher": ["on_time_dispatch_rate"], "duty-chief": ["on_time_filing_rate"],
    "*": ["discovery_rate", "on_time_closure_rate"],
}
KEY_MAX = 64  # a scoreboard row's key (unit id, grid cell, user id…)
CHART_LINES = 5  # lines drawn at first (the top five by rank); the reader may pick others
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
    rows = sorted(board["rows"], key=lambda r: (r.get("rank") is None, r.get("rank") or 0, r["key"]))
    lang = lang_of(request)
    for r in rows:
        r["name"] = row_name(cg, by, r["key"], r["name"], lang)
    chart = None
    if indicator and by in CHART_DIMENSIONS:
        chart = series(cg, by=by, indicator=indicator, start=s, end=e)
        chart_lines(cg, chart, rows, lang, today=cg.service.clock().astimezone(cg.city.tz).date())
    ind_name = lambda k: label(INDICATOR, k, lang) if k in INDICATOR else (  # noqa: E731
        inds[k]["zh"] if k in inds else k)
    return page(request, "scoreboard.html", user=user, board=board, rows=rows, by=by,
                dims=reads.dimensions(), inds=inds, rate_names=shown_rates, ind_name=ind_name,
                count_names=[c for c in count_names if any(r["counts"].get(c) for r in rows)][:6],
                indicator=indicator, start=s.isoformat(), end=e.isoformat(), chart=chart,
                chart_json=json.dumps(chart, ensure_ascii=False) if chart else "null")


def row_name(cg, by: str, key: str, name: str, lang: str) -> str:
    """A row's name in the page's language: a grid cell reads 玉龙社区 04号网格 or
    '玉龙社区 · cell 04' (place names stay as they are); a unit its full name."""
    if by == "grid" and lang == "en" and key in cg.city.cells:
        return f"{cg.city.areas.get(cg.city.cells[key].community, '')} · cell {key[-2:]}"
    return name


def chart_lines(cg, chart: dict, rows: list[dict], lang: str, *, today) -> None:
    """The chart's lines, named as the table names them; the first few by rank drawn, the
    others offered (the reader picks); the unfinished last period marked partial."""
    names = {r["key"]: r["name"] for r in rows}
    ranked = [r["key"] for r in rows]
    for line in chart["series"]:
        if cg.city.units.get(line["key"]) is None:
            line["name"] = names.get(line["key"], line["name"])
    order = {k: i for i, k in enumerate(ranked)}
    chart["series"].sort(key=lambda x: order.get(x["key"], len(order)))
    chart["shown"] = [x["key"] for x in chart["series"][:CHART_LINES]]
    chart["partial"] = [i for i, p in enumerate(chart["periods"])  # not over, or cut short
                        if p["to"] >= today.isoformat()
                        or (date.fromisoformat(p["to"]) - date.fromisoformat(p["from"])).days < 6]
    chart["partial_label"] = word("partial", lang)


@router.get("/scoreboard/explain")
def explain_page(request: Request, key: str, indicator: str, by: str = "unit"):
    user = viewer(request)
    if len(key) > KEY_MAX or "\x00" in key:
        raise ValidationError("key", f"a row key of at most {KEY_MAX} characters, no NUL")
    cg = cgrid(request)
    request.app.state.follower.ensure()
    try:
        s, e = period(cg, request.query_params.get("from"), request.query_params.get("to"))
        data = reads.scope_explain(cg, user, reads.explain(cg, by=by, key=key,
                                                           indicator=indicator, start=s, end=e))
    except reads.Unavailable:
        return page(request, "unavailable.html", user=user, what="scoreboard")
    lang = lang_of(request)
    parts = {part: case_rows(cg, data[part]["case_ids"]) for part in ("numerator", "denominator")
             if data.get(part) and data[part].get("case_ids") is not None}
    row_label = row_name(cg, by, data["key"], data.get("name") or data["key"], lang)
    return page(request, "explain.html", user=user, x=data, by=by, start=s.isoformat(),
                end=e.isoformat(), parts=parts, row_label=row_label, max_rows=MAX_ROWS,
                ind_name=lambda k: label(INDICATOR, k, lang) if k in INDICATOR else k)


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
    misses = data.get("misses", [])
    if wants_xlsx(request.query_params.get("format")):
        return misses_xlsx(cg, misses, lang_of(request), s, e, unit)
    return page(request, "trail.html", user=user, data=data, unit=unit, units=cg.city.units,
                per_unit=sorted(per_unit.items(), key=lambda x: -x[1]),
                per_person=sorted(per_person.items(), key=lambda x: -x[1])[:12],
                start=s.isoformat(), end=e.isoformat(), pinned=user.role == "unit_member",
                paged=paged(misses, request.query_params))


def misses_xlsx(cg, misses: list[dict], lang: str, start, end, unit: str | None):
    """The trail's missed deadlines as a workbook: every miss, not only one page."""
    city = cg.city

    def holder(m: dict) -> str:
        if m.get("holder_kind") == "unit":
            u = city.units.get(m["holder"])
            return u.short if u else m["holder"]
        return label(ROLE, m.get("holder") or "", lang)

    def person(m: dict) -> str:
        p = m.get("person")
        return city.users[p].name if p in city.users else (p or "")

    fmt = "%Y-%m-%d %H:%M"
    rows = ([case_no(m), label(STEP, m.get("step") or "", lang),
             local_format(m.get("due_at"), city.tz, fmt),
             local_format(m.get("done_at") or m.get("occurred_at"), city.tz, fmt),
             round(m["overrun_minutes"]) if m.get("overrun_minutes") else None,
             holder(m), person(m)] for m in misses)
    title = f"{word('missed', lang)} · {start}–{end}" + (f" · {unit}" if unit else "")
    return xlsx_response(f"trail-{start}-{end}", title,
                         [word(k, lang) for k in ("case", "step", "due_at", "done_at",
                                                  "overrun", "held_by", "person")], rows)


@router.get("/trail/cases/{case_id}")
def trail_case_page(request: Request, case_id: str):
    user = viewer(request)
    cg = cgrid(request)
    request.app.state.follower.ensure()
    case = cg.service.get(reads.case_key(cg, case_id))
    check_read_case(user, case)
    if user.role != "unit_member" and user.role not in TRAIL_READERS:
        raise Forbidden("the accountability trail is for inspectors and the center",
                        role=user.role)
    request.app.state.follower.ensure()
    try:
        data = reads.case_trail(cg, str(case.id))
    except reads.Unavailable:
        return page(request, "unavailable.html", user=user, what="trail")
    lang = lang_of(request)
    return page(request, "trail_case.html", user=user, data=data, case=case,
                event_name=lambda t: label(EVENT, t, lang), proof=case_audit(cg, str(case.id)))
