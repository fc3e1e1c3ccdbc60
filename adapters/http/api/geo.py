"""The map's layers and the grid cell at a point (GET /api/geo/layers, /api/geo/cell?lat=&lon=):
what the report form's map and the field app call when a person picks a location (the
layout of adapters/http/geo.py)."""

from __future__ import annotations

import math

from fastapi import APIRouter, Request

from adapters.http import geo
from adapters.http.api.auth import Me
from adapters.http.api.deps import Cg, note
from domain.errors import ValidationError

router = APIRouter(prefix="/api")
LIMITS = {"lat": 90.0, "lon": 180.0}


def coordinate(raw: str | None, name: str) -> float:
    """A latitude or longitude from a query parameter, refused by name when absurd."""
    bound = LIMITS[name]
    rule = f"must be a number from {-bound:g} to {bound:g}"
    if raw is None or raw == "":
        raise ValidationError(name, "is required")
    if len(raw) > 32 or "\x00" in raw:
        raise ValidationError(name, rule)
    try:
        value = float(raw)
    except ValueError:
        raise ValidationError(name, rule) from None
    if not math.isfinite(value) or not -bound <= value <= bound:
        raise ValidationError(name, rule)
    return value


@router.get("/geo/cell", tags=["cases"])
def cell_at_point(request: Request, user: Me, cg: Cg, lat: str | None = None,
                  lon: str | None = None):
    """The grid cell (单元网格) holding the point, with its community; `grid` is null when
    the point lies outside every cell."""
    note(request, user=user.id, role=user.role)
    la, lo = coordinate(lat, "lat"), coordinate(lon, "lon")
    code = geo.cell_at(cg.city, la, lo)
    cell = cg.city.cells.get(code) if code else None
    return {"lat": la, "lon": lo, "grid": code,
            "community": cg.city.areas.get(cell.community, "") if cell else None}


@router.get("/geo/layers", tags=["cases"])
def map_layers(request: Request, user: Me, cg: Cg):
    """The grid cells' outlines ([[lat, lon], …]), the map's box [south, west, north, east]
    and the city's tile server (null: none; draw the cells alone)."""
    note(request, user=user.id, role=user.role)
    return geo.map_layers(cg.city)
