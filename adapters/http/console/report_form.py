"""The report form (上报) of the console."""

from __future__ import annotations

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from adapters.http.access import check_write
from adapters.http.console.evidence_form import photo_refs, typed_refs
from adapters.http.console.pages import (
    cgrid,
    page,
    posted_form,
    router,
    viewer,
)
from adapters.http.errors import status_of
from domain.city import User
from domain.errors import CasegridError
from domain.glossary import CHANNEL, zh_of
from domain.lifecycle import CHANNELS
from workflows.commands import ReportCase


def channels_for(user: User) -> list[str]:
    """The channels the user's role may report through."""
    return [c for c, v in CHANNELS.items() if user.role in v["roles"]]


@router.get("/report")
def report_form(request: Request):
    user = viewer(request)
    return report_page(request, user)


def report_page(request: Request, user: User, status: int = 200, error=None, form=None):
    cg = cgrid(request)
    cells = [(code, cg.city.areas.get(c.community, "")) for code, c in sorted(cg.city.cells.items())]
    cats = sorted(cg.city.categories.values(), key=lambda c: c.code)
    return page(request, "report.html", status=status, user=user, channels=channels_for(user),
                channel_zh=zh_of(CHANNEL),
                as_of=request.query_params.get("as_of"), cells=cells, cats=cats,
                error=error, form=form or {})


@router.post("/report")
async def report_post(request: Request):
    user = viewer(request)
    cg = cgrid(request)
    form = await posted_form(request)
    try:  # typed refs, then the posted photos stored (证据材料)
        evidence = [*typed_refs(request, form), *await photo_refs(request, user, "report", form)]
    except CasegridError as e:
        return report_page(request, user, status_of(e), e.to_dict(), dict(form))

    def run():
        if user.role == "inspector":
            check_write(user, "report")
        lat = float(form["lat"]) if form.get("lat") else None
        lon = float(form["lon"]) if form.get("lon") else None
        return cg.service.report(ReportCase(
            channel=str(form.get("channel") or ""), category=str(form.get("category") or ""),
            grid=str(form.get("grid") or ""), actor=user.id,
            description=str(form.get("description") or ""),
            urgency=str(form.get("urgency") or "normal"), lat=lat, lon=lon, evidence=evidence,
            reporter_name=form.get("reporter_name") or None,  # protected (回访)
            reporter_phone=form.get("reporter_phone") or None))

    try:
        case = await run_in_threadpool(run)
    except CasegridError as e:
        return report_page(request, user, status_of(e), e.to_dict(), dict(form))
    except ValueError as e:
        return report_page(request, user, 422, {"field": "lat", "rule": str(e)}, dict(form))
    return RedirectResponse(f"/cases/{case.id}?done=report", status_code=303)
