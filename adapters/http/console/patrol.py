"""A squad's daily patrol report (巡查日报) or nil report (零报告), from the reports page."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from adapters.http.access import check_write
from adapters.http.console.pages import cgrid, page, posted_form, router, viewer
from adapters.http.console.reports import periods_and_squads
from adapters.http.errors import status_of
from domain.errors import CasegridError


@router.post("/patrol")
async def patrol_post(request: Request):
    user = viewer(request)
    cg = cgrid(request)
    form = await posted_form(request)

    def run():
        check_write(user, "patrol_report", "patrol_day")
        ids = [x for x in str(form.get("case_ids") or "").split() if x]
        n = str(form.get("findings") or "").strip()
        return cg.patrol.report(
            squad=str(form.get("squad") or ""), day=str(form.get("date") or ""), actor=user.id,
            nil=form.get("nil") == "1", case_ids=ids, findings=int(n) if n.isdigit() else None,
            note=str(form.get("note") or ""))

    try:
        pd = await run_in_threadpool(run)
    except CasegridError as e:
        return page(request, "reports.html", status=status_of(e), user=user, sec=None,
                    rows=None, can_patrol=True, done=None, error=e.to_dict(), form=dict(form),
                    **periods_and_squads(cg, user))
    late = "late" if pd.reported_at > pd.cut_off else "ok"
    return RedirectResponse(f"/reports?done={quote(pd.squad)}+{pd.day}+{late}", status_code=303)
