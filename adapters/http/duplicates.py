"""A case's possible duplicates (可能重复) and its merge links, for the API and the console.

Candidates come from the case summaries (projections/duplicates.py); each gets its
photos from its case's evidence (`sha256:` refs, shown at /evidence/<hex>/thumb). They
are worked out when read, so a report from any channel (console, field app, API,
Open311, Kafka, import) shows its candidates on its case page afterwards.
"""

from __future__ import annotations

from adapters.bootstrap import Casegrid
from domain.errors import CasegridError
from domain.glossary import STATE, label
from domain.lifecycle import TRANSITIONS, sources
from domain.times import local_text
from projections.duplicates import candidates_of

MERGEABLE = tuple(s for t in TRANSITIONS if t["trigger"] == "merge" for s in sources(t))
READERS = ("acceptor", "duty_chief", "dispatcher", "inspector", "system")  # the center


def photos(cg: Casegrid, case_id: str) -> list[str]:
    try:
        return list(cg.service.get(case_id).evidence)
    except CasegridError:
        return []


def duplicate_candidates(cg: Casegrid, case, lang: str = "zh") -> list[dict]:
    """The possible duplicates of `case` (none once it is merged, closed or voided)."""
    if case.state not in MERGEABLE:
        return []
    found = candidates_of(cg.sql, cg.city, case, lambda cid: photos(cg, cid))
    for c in found:
        c["reported_at"] = local_text(c["reported_at"], cg.city.tz)
        c["state_label"] = label(STATE, c["state"], lang)
        c["thumbs"] = [f"/evidence/{p.removeprefix('sha256:')}/thumb" for p in c["photos"]]
    return found


def merge_links(cg: Casegrid, case) -> dict:
    """Both ways: the original a duplicate was merged into, the duplicates merged into it."""
    original = None
    if case.merged_into:
        try:
            number = cg.service.get(case.merged_into).number
        except CasegridError:
            number = None
        original = {"case_id": case.merged_into, "number": number}
    dups = [{"case_id": d["case_id"], "number": d["number"], "channel": d["channel"],
             "reporter": d["reporter"], "external_id": d["external_id"],
             "reported_at": local_text(d["reported_at"], cg.city.tz),
             "evidence": list(d["evidence"])} for d in case.duplicates]
    return {"merged_into": original, "duplicates": dups}


def age_text(minutes: int, lang: str) -> str:
    """How long before (or after) this report a candidate was reported: 早 2 小时 / 2 h earlier."""
    m = abs(int(minutes))
    amount = (f"{m} 分钟" if lang != "en" else f"{m} min") if m < 120 else (
        f"{round(m / 60)} 小时" if lang != "en" else f"{round(m / 60)} h")
    if lang == "en":
        return f"reported {amount} {'earlier' if minutes >= 0 else 'later'}"
    return f"{'早' if minutes >= 0 else '晚'} {amount}上报"


def distance_text(metres: float | None, lang: str) -> str:
    if metres is None:
        return "同一网格（无坐标）" if lang != "en" else "same grid cell (no coordinates)"
    return f"相距 {round(metres)} 米" if lang != "en" else f"{round(metres)} m away"


def panel(cg: Casegrid, user, case_id: str, lang: str) -> dict:
    """The case page's merge panel: links both ways; for the center, the candidates; for
    the roles that merge (acceptor, duty chief) while the case may be merged, the forms."""
    case = cg.service.get(case_id)
    merge_roles = {r for t in TRANSITIONS if t["trigger"] == "merge" for r in t["roles"]}
    show = user.role in READERS and case.state in MERGEABLE
    found = duplicate_candidates(cg, case, lang) if show else []
    for c in found:
        c["age_text"] = age_text(c["age_minutes"], lang)
        c["distance_text"] = distance_text(c["distance_m"], lang)
    return {"links": merge_links(cg, case), "show_candidates": show, "candidates": found,
            "can_merge": show and user.role in merge_roles}
