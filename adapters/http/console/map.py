"""The map (地图): open cases with a location, clustered and coloured by state, over the
grid cells (polygons from the city file, else the schematic of adapters/http/geo.py) and,
when the city runs its own tile server (`map.tiles`), its tiles."""

from __future__ import annotations

import json

from fastapi import Request

from adapters.bootstrap import Casegrid
from adapters.http import geo, reads
from adapters.http.access import unit_scope
from adapters.http.console.pages import cgrid, due_class, lang_of, page, router, viewer
from adapters.reports.numbers import case_numbers
from domain.glossary import STATE, label
from workflows.service import parse_case_id

LOCATIONS: dict[str, tuple] = {}  # case id -> its reported (lat, lon); they never change
# one colour per open state (the legend and the points); CSS classes st-<state> in map.css
STATE_COLOURS = {
    "pending_verification": "#8250df", "pending_filing": "#0969da",
    "pending_dispatch": "#bf8700", "dispatched": "#e16f24", "extension_requested": "#cf222e",
    "shelve_requested": "#a40e26", "pending_check": "#1a7f37", "pending_closure": "#116329",
    "shelved": "#57606a",
}


def map_context(cg: Casegrid) -> dict:
    """What a map needs besides its points: the cells' outlines, the box, the tile server."""
    return {f"{k}_json": json.dumps(v, ensure_ascii=False)
            for k, v in geo.map_layers(cg.city).items()}


@router.get("/map")
def map_page(request: Request):
    user = viewer(request)
    cg = cgrid(request)
    lang = lang_of(request)
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
        unit_id = it.get("unit")
        points.append({"id": it["case_id"], "lat": lat, "lon": lon, "state": it["state"],
                       "state_label": label(STATE, it["state"], lang),
                       "cat_name": cg.city.categories[it["category"]].name
                       if it.get("category") in cg.city.categories else "",
                       "unit": cg.city.units[unit_id].short if unit_id in cg.city.units else "",
                       "cls": due_class(it.get("due_at"), now)})
    numbers = case_numbers(cg.sql, [p["id"] for p in points])
    for p in points:
        p["no"] = numbers[p["id"]]
    order = {s: i for i, s in enumerate(STATE_COLOURS)}
    states = sorted({p["state"] for p in points}, key=lambda s: order.get(s, len(order)))
    legend = [(s, label(STATE, s, lang), sum(p["state"] == s for p in points)) for s in states]
    return page(request, "map.html", user=user, count=len(points), legend=legend,
                points_json=json.dumps(points, ensure_ascii=False),
                colours_json=json.dumps(STATE_COLOURS), **map_context(cg))


def location(cg: Casegrid, case_id: str) -> tuple:
    """A case's reported lat/lon (they never change), remembered after the first read."""
    if case_id not in LOCATIONS:
        first = next(iter(cg.app.events.get(parse_case_id(case_id), limit=1)), None)
        LOCATIONS[case_id] = (getattr(first, "lat", None), getattr(first, "lon", None))
    return LOCATIONS[case_id]
