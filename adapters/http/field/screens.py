"""The field app's screens: home, report (上报), the day's patrol report (巡查日报 / 零报告),
a unit's inbox (待办), the supervisor's lists (核实, 核查) and one case with its step."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse

from adapters.http import reads
from adapters.http.api.views import case_detail
from adapters.http.console.pages import can_patrol, cgrid, due_class, lang_of, viewer
from adapters.http.field.shared import FIELD_ROLES, before_after, field_page, router
from domain.city import URGENCIES
from domain.glossary import PATROL_STATUS, label

CHANNEL_OF = {"supervisor": "patrol", "unit_member": "unit"}  # who reports through what


@router.get("/m")
def bare():
    return RedirectResponse("/m/", status_code=308)


def waiting(request: Request, unit: str | None) -> dict[str, list]:
    """A unit's inbox, or the supervisor's two queues (核实 and 核查), due times coloured."""
    cg = cgrid(request)
    request.app.state.follower.ensure()
    now = cg.service.clock()
    data = reads.queues(cg, unit=unit, now=now)
    out = {"inbox": list(data.get("unit_inbox", [])) if unit else [],
           "verification": list(data["queues"].get("verification", [])) if unit is None else [],
           "check": list(data["queues"].get("check", [])) if unit is None else []}
    for items in out.values():
        for it in items:
            it["due_class"] = due_class(it.get("due_at"), now)
    return out


@router.get("/m/")
def home(request: Request):
    user = viewer(request)
    lists = {"inbox": [], "verification": [], "check": []}
    if user.role == "unit_member":
        lists = waiting(request, user.unit)
    elif user.role == "supervisor":
        lists = waiting(request, None)
    return field_page(request, "home.html", user, "home", field=user.role in FIELD_ROLES,
                      inbox=lists["inbox"], tasks=lists["verification"] + lists["check"],
                      patrol=can_patrol(user))


@router.get("/m/report")
def report(request: Request):
    user = viewer(request)
    cg = cgrid(request)
    groups: dict[str, list] = {}
    for c in sorted(cg.city.categories.values(), key=lambda c: (c.kind != "event", c.code)):
        groups.setdefault(c.big_name, []).append(c)
    cells = [(code, cg.city.areas.get(c.community, "")) for code, c in sorted(cg.city.cells.items())]
    return field_page(request, "report.html", user, "report", channel=CHANNEL_OF.get(user.role),
                      groups=groups, cells=cells, urgencies=URGENCIES)


@router.get("/m/patrol")
def patrol(request: Request):
    """The day's patrol report of the user's squad: the form, or what was reported already."""
    from adapters.reports import patrol_section

    user = viewer(request)
    cg = cgrid(request)
    now = cg.service.clock()
    today = now.astimezone(cg.city.tz).date()
    row = None
    if can_patrol(user):
        request.app.state.follower.ensure()
        _, rows = patrol_section(cg.sql, cg.city, today, today, now)
        row = next((r for r in rows if r["squad"] == user.squad), None)
    done = bool(row and row["status"] not in ("open", "missed"))
    if row:
        row["status_text"] = label(PATROL_STATUS, row["status"], lang_of(request))
    return field_page(request, "patrol.html", user, "patrol", ok=can_patrol(user),
                      today=today.isoformat(), squad=user.squad, row=row, done=done,
                      squad_name=cg.city.squads.get(user.squad or "", ""))


@router.get("/m/inbox")
def inbox(request: Request):
    user = viewer(request)
    if user.role != "unit_member":
        return RedirectResponse("/m/", status_code=303)
    items = waiting(request, user.unit)["inbox"]
    return field_page(request, "list.html", user, "inbox", title="m_inbox",
                      sections=[("inbox", "", items, "m_inbox_empty")], total=len(items))


@router.get("/m/check")
def check(request: Request):
    """The supervisor's field work: reports to verify (核实) and resolutions to check (核查),
    the own squad's cells first."""
    user = viewer(request)
    if user.role != "supervisor":
        return RedirectResponse("/m/", status_code=303)
    lists = waiting(request, None)
    cells = cgrid(request).city.cells
    for items in lists.values():
        items.sort(key=lambda it: getattr(cells.get(it["grid"]), "squad", None) != user.squad)
    sections = [("verification", "m_verify_list", lists["verification"], "m_verify_empty"),
                ("check", "m_check_list", lists["check"], "m_check_empty")]
    return field_page(request, "list.html", user, "check", title="m_check", sections=sections,
                      total=len(lists["verification"]) + len(lists["check"]))


@router.get("/m/cases/{case_id}")
def case(request: Request, case_id: str):
    user = viewer(request)
    cg = cgrid(request)
    detail = case_detail(cg, user, case_id)
    c = detail["case"]
    c["due_class"] = due_class(c["due_at"], cg.service.clock()) if c["step"] else ""
    steps = {a["action"] for a in detail["allowed"]}
    before, after = before_after(detail["timeline"])
    return field_page(request, "case.html", user, "case", c=c, before=before, after=after,
                      can_accept="accept" in steps, can_resolve="resolve" in steps, can_return="return" in steps,
                      can_check="check" in steps, can_verify="verify" in steps,
                      can_assist="assist-feedback" in steps)  # 协办反馈: an assisting unit
