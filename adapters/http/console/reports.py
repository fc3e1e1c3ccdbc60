"""The reports page (报表): for the center the last 7 days of patrol reports and the daily /
weekly / monthly reports; for a squad's people the day's patrol report form."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request

from adapters.bootstrap import Casegrid
from adapters.http.access import CENTER_READERS, Forbidden
from adapters.http.console.pages import can_patrol, cgrid, page, router, viewer
from domain.city import User


def periods_and_squads(cg: Casegrid, user: User) -> dict:
    """Today, this week and this month (the report links), and the squads the user reports for."""
    today = cg.service.clock().astimezone(cg.city.tz).date()
    iso = today.isocalendar()
    return {"today": today.isoformat(), "week": f"{iso.year}-W{iso.week:02d}",
            "month": today.isoformat()[:7],
            "squads": [s for s in cg.city.squads.items()
                       if user.role not in ("supervisor", "unit_member") or s[0] == user.squad]}


@router.get("/reports")
def reports_page(request: Request):
    user = viewer(request)
    cg = cgrid(request)
    from adapters.reports import patrol_section

    today = cg.service.clock().astimezone(cg.city.tz).date()
    sec = rows = None
    if user.role in CENTER_READERS:
        request.app.state.follower.ensure()
        sec, rows = patrol_section(cg.sql, cg.city, today - timedelta(days=6), today,
                                   cg.service.clock())
        rows = list(reversed(rows))
    elif not can_patrol(user):
        raise Forbidden("reports are for the center and the inspector", role=user.role)
    return page(request, "reports.html", user=user, sec=sec, rows=rows,
                can_patrol=can_patrol(user), done=request.query_params.get("done"), error=None,
                form={}, **periods_and_squads(cg, user))
