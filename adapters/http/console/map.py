"""The map (地图): open cases with a location on the schematic grid (adapters/http/geo.py)."""

from __future__ import annotations

import json

from fastapi import Request

from adapters.bootstrap import Casegrid
from adapters.http import geo, reads
from adapters.http.access import unit_scope
from adapters.http.console.pages import cgrid, due_class, page, router, viewer
from domain.glossary import STATE, zh
from workflows.service import parse_case_id

LOCATIONS: dict[str, tuple] = {}  # case id -> its reported (lat, lon); they never change


@router.get("/map")
def map_page(request: Request):
    user = viewer(request)
    cg = cgrid(request)
    request.app.state.follower.ensure()
    now = cg.service.clock()
    unit = unit_scope(user, None) if user.role in ("unit_member",) else None
    data = reads.queues(cg, unit=unit, now=now)
    items = list(data.get("unit_inbox", []))
    if not unit:
        items += [i for q in data["queues"].values() for i in q]
    seen, points = set(), []
    for it in items:
        if it["case_id"] in seen:
            continue
        seen.add(it["case_id"])
        lat, lon = it.get("lat"), it.get("lon")
        if "lat" not in it or (lat is None and not reads.has_locations()):
            lat, lon = location(cg, it["case_id"])
        if lat is None or lon is None:
            continue
        points.append({"id": it["case_id"], "lat": lat, "lon": lon, "state": it["state"],
                       "state_zh": zh(STATE, it["state"]), "cat": it.get("category"),
                       "cat_name": cg.city.categories[it["category"]].name
                       if it.get("category") in cg.city.categories else "",
                       "unit": it.get("unit"), "cls": due_class(it.get("due_at"), now)})
    cells = [{"code": b.code, "community": cg.city.areas.get(b.community, ""),
              "b": [[b.south, b.west], [b.north, b.east]]} for b in geo.layout(cg.city)]
    return page(request, "map.html", user=user, count=len(points),
                points_json=json.dumps(points, ensure_ascii=False),
                cells_json=json.dumps(cells, ensure_ascii=False),
                bbox_json=json.dumps(geo.bbox(cg.city)))


def location(cg: Casegrid, case_id: str) -> tuple:
    """A case's reported lat/lon (they never change), remembered after the first read."""
    if case_id not in LOCATIONS:
        first = next(iter(cg.app.events.get(parse_case_id(case_id), limit=1)), None)
        LOCATIONS[case_id] = (getattr(first, "lat", None), getattr(first, "lon", None))
    return LOCATIONS[case_id]
