"""The case list (案件查询): search by number, text, category, unit, community or grid cell,
channel, state, report dates and lateness; pages with totals; saved filters per user; the
whole list (not only the page) as XLSX."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from fastapi.responses import RedirectResponse

from adapters.http.access import unit_scope
from adapters.http.case_filters import SIZES, Filters, parse
from adapters.http.console.export import MAX_ROWS, xlsx_response
from adapters.http.console.pages import (
    SHORT,
    case_no,
    cgrid,
    due_class,
    lang_of,
    page,
    posted_form,
    router,
    viewer,
)
from adapters.http.i18n import word
from adapters.http.saved_filters import SavedFilters
from domain.city import User
from domain.errors import ValidationError
from domain.glossary import CHANNEL, STATE, label
from domain.lifecycle import CHANNELS, STATES
from domain.times import local_format
from projections.case_search import search_cases
from projections.times import from_ts, ts

EXPORT_COLUMNS = ("case", "state", "category", "community", "grid", "unit", "channel",
                  "reported_at", "due_at", "late", "description")


def saved(request: Request) -> SavedFilters:
    store = getattr(request.app.state, "saved_filters", None)
    if store is None:
        store = request.app.state.saved_filters = SavedFilters(cgrid(request).sql)
    return store


def filters_of(request: Request, user: User) -> Filters:
    cg = cgrid(request)
    pinned = unit_scope(user, None) if user.role == "unit_member" else None
    return parse(request.query_params, cg.city, pinned_unit=pinned, now=cg.service.clock())


def is_late(r: dict, now: datetime) -> bool:
    due = from_ts(r["due_at"]) if r.get("due_at") else None
    return bool(r.get("missed_due")) or bool(r.get("step") and due and due < now)


@router.get("/cases")
def cases_page(request: Request):
    user = viewer(request)
    cg = cgrid(request)
    f = filters_of(request, user)
    request.app.state.follower.ensure()
    rows, total = search_cases(cg.sql, f.query, offset=(f.page - 1) * f.size, limit=f.size)
    now = cg.service.clock()
    for r in rows:
        r["due_class"] = due_class(from_ts(r["due_at"]) if r["due_at"] and r["step"] else None, now)
        r["due_local"] = local_format(r["due_at"], cg.city.tz, SHORT)
        r["reported_local"] = local_format(r["reported_at"], cg.city.tz, SHORT)
        r["late"] = is_late(r, now)
    pages = max(1, -(-total // f.size))
    communities = sorted({c.community for c in cg.city.cells.values()})
    return page(request, "cases.html", user=user, rows=rows, total=total, f=f, pages=pages,
                first=(f.page - 1) * f.size + 1 if rows else 0,
                last=(f.page - 1) * f.size + len(rows), sizes=SIZES, states=STATES,
                channels=CHANNELS, units=cg.city.units, communities=communities,
                categories=sorted(cg.city.categories.values(), key=lambda c: c.code),
                cells=sorted(cg.city.cells), saved=saved(request).list(user.id),
                pinned=user.role == "unit_member", max_rows=MAX_ROWS)


@router.get("/cases/export.xlsx")
def cases_export(request: Request):
    """The whole list the filters find (up to MAX_ROWS rows) as a workbook."""
    user = viewer(request)
    cg = cgrid(request)
    f = filters_of(request, user)
    request.app.state.follower.ensure()
    rows, total = search_cases(cg.sql, f.query, limit=MAX_ROWS)
    if total > MAX_ROWS:
        raise ValidationError("q", f"the filters find {total} cases; export at most {MAX_ROWS}:"
                                   " narrow them (dates, state, unit)")
    lang, city, now = lang_of(request), cg.city, cg.service.clock()
    yes, no = word("yes", lang), word("no", lang)

    def line(r: dict) -> list:
        cell = city.cells.get(r["grid"])
        cat = city.categories.get(r["category"])
        unit = city.units.get(r["unit"]) if r["unit"] else None
        return [case_no(r), label(STATE, r["state"], lang), cat.name if cat else r["category"],
                city.areas.get(cell.community, "") if cell else "", r["grid"],
                unit.short if unit else "", label(CHANNEL, r["channel"], lang),
                local_format(r["reported_at"], city.tz, "%Y-%m-%d %H:%M"),
                local_format(r["due_at"], city.tz, "%Y-%m-%d %H:%M") if r["step"] else "",
                yes if is_late(r, now) else no, r["description"] or ""]

    title = f"{word('cases', lang)} · {total} · {local_format(ts(now), city.tz, '%Y-%m-%d %H:%M')}"
    if f.values:
        title += " · " + ", ".join(f"{k}={v}" for k, v in f.values.items())
    return xlsx_response(f"cases-{now.astimezone(city.tz):%Y%m%d-%H%M}", title,
                         [word(c, lang) for c in EXPORT_COLUMNS], (line(r) for r in rows))


@router.post("/cases/filters")
async def save_filter(request: Request):
    user = viewer(request)
    form = await posted_form(request)
    query = str(form.get("query") or "")
    # the query must be a filter this list takes: check it as the list would
    from urllib.parse import parse_qsl

    cg = cgrid(request)
    parse(dict(parse_qsl(query)), cg.city, pinned_unit=None, now=cg.service.clock())
    saved(request).save(user.id, form.get("name"), query)
    return RedirectResponse(f"/cases?{query}", status_code=303)


@router.post("/cases/filters/delete")
async def delete_filter(request: Request):
    user = viewer(request)
    form = await posted_form(request)
    saved(request).delete(user.id, form.get("name"))
    return RedirectResponse("/cases", status_code=303)
