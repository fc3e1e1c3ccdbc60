"""The center's work queues (按岗位的待办) and a unit's inbox (成员单位待办), due times coloured."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from fastapi.responses import RedirectResponse

from adapters.http import reads
from adapters.http.access import Forbidden, unit_scope
from adapters.http.api.reads import assisting
from adapters.http.console.export import xlsx_response
from adapters.http.console.pages import (
    NEAR_MINUTES,
    case_no,
    cgrid,
    due_class,
    lang_of,
    page,
    router,
    viewer,
)
from adapters.http.console.paging import paged, wants_xlsx
from adapters.http.i18n import word
from domain.glossary import STATE, label
from domain.lifecycle import QUEUES
from domain.times import local_format

MY_QUEUES = {
    "supervisor": ["verification", "check"],
    "acceptor": ["filing", "closure", "verification"],
    "duty_chief": ["extension_decision", "shelve_decision", "filing", "closure"],
    "dispatcher": ["dispatch", "extension_decision"],
}
ROWS_PER_QUEUE = 100


def decorate(items: list[dict], now: datetime) -> list[dict]:
    """Give each queue item its due-time colour."""
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
           "state": QUEUES.get(q),
           "overdue": sum(1 for i in data["queues"].get(q, []) if i.get("overdue")),
           "rows": decorate(data["queues"].get(q, [])[:ROWS_PER_QUEUE], now)} for q in order]
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
    items = list(data.get("unit_inbox", []))
    if wants_xlsx(request.query_params.get("format")):
        return inbox_xlsx(cg, unit, items, lang_of(request), now)
    p = paged(items, request.query_params)
    return page(request, "inbox.html", user=user, unit=unit, items=decorate(p.rows, now),
                paged=p, now=now, near=NEAR_MINUTES, assisting=assisting(cg, unit))



def inbox_xlsx(cg, unit: str, items: list[dict], lang: str, now):
    """A unit's inbox as a workbook: every open case, earliest due first."""
    city = cg.city

    def row(it: dict) -> list:
        cat = city.categories.get(it["category"])
        cell = city.cells.get(it["grid"])
        return [case_no(it), label(STATE, it["state"], lang), cat.name if cat else it["category"],
                city.areas.get(cell.community, "") if cell else "", it["grid"],
                local_format(it.get("due_at"), city.tz, "%Y-%m-%d %H:%M"),
                word("yes" if it.get("overdue") else "no", lang)]

    title = f"{word('inbox', lang)} · {city.units[unit].name} · {len(items)}"
    return xlsx_response(f"inbox-{unit}-{now.astimezone(city.tz):%Y%m%d-%H%M}", title,
                         [word(k, lang) for k in ("case", "state", "category", "community",
                                                  "grid", "due_at", "overdue")],
                         (row(it) for it in items))
