"""The case list (案件列表)."""

from __future__ import annotations

from fastapi import Request

from adapters.http.access import unit_scope
from adapters.http.console.pages import (
    SHORT,
    cgrid,
    due_class,
    page,
    router,
    viewer,
)
from domain.errors import ValidationError
from domain.lifecycle import STATES
from domain.times import local_format
from projections.cases import list_cases
from projections.times import from_ts


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
        r["due_local"] = local_format(r["due_at"], cg.city.tz, SHORT)
        r["reported_local"] = local_format(r["reported_at"], cg.city.tz, SHORT)
    return page(request, "cases.html", user=user, rows=rows, state=state, unit=unit,
                states=STATES, units=cg.city.units, pinned=user.role == "unit_member")
