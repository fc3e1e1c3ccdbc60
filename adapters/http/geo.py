"""The city's grid on a map (no internet tiles unless the city runs its own tile server).

A cell's outline comes from the city file (`map.cells[].polygon: [[lat, lon], …]`); a cell
without one gets a schematic box: the city's bounding box (`map.bbox: [south, west, north,
east]`, else the box of the polygons when every cell has one, else the sample street's box) split into one
strip per community and each strip into its cells. The same layout turns a point (an
Open311 `lat`/`long`, a click on the report form's map) into a grid cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from domain.city import City

DEFAULT_BBOX = (22.56, 114.11, 22.59, 114.14)  # the sample street 清水河街道 (approximate)


@dataclass(frozen=True)
class CellBox:
    """A cell's box (its polygon's bounds, or the schematic box) and its polygon if given."""

    code: str
    community: str
    south: float
    west: float
    north: float
    east: float
    polygon: tuple[tuple[float, float], ...] = ()

    def contains(self, lat: float, lon: float) -> bool:
        if not (self.south <= lat <= self.north and self.west <= lon <= self.east):
            return False
        return not self.polygon or inside(self.polygon, lat, lon)

    def outline(self) -> list[list[float]]:
        """The polygon, or the box's four corners, as [[lat, lon], …]."""
        if self.polygon:
            return [list(p) for p in self.polygon]
        return [[self.south, self.west], [self.north, self.west], [self.north, self.east],
                [self.south, self.east]]


def inside(polygon, lat: float, lon: float) -> bool:
    """Ray casting: whether (lat, lon) lies inside the polygon (edges count as inside)."""
    hit = False
    n = len(polygon)
    for i in range(n):
        (y1, x1), (y2, x2) = polygon[i], polygon[(i + 1) % n]
        if (y1 > lat) != (y2 > lat):
            x = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            if lon == x:
                return True
            if lon < x:
                hit = not hit
        elif y1 == y2 == lat and min(x1, x2) <= lon <= max(x1, x2):
            return True
    return hit


def tile_origin(city: City) -> str:
    """The origin (scheme://host[:port]) of the city's tile server, '' when it has none."""
    if not city.map.tiles:
        return ""
    u = urlsplit(city.map.tiles.url)
    return f"{u.scheme}://{u.netloc}"


def bbox(city: City) -> tuple[float, float, float, float]:
    if city.map.bbox:
        return city.map.bbox
    pts = [p for poly in city.map.polygons.values() for p in poly]
    if pts and len(city.map.polygons) == len(city.cells):  # every cell outlined: their box
        return (min(p[0] for p in pts), min(p[1] for p in pts),
                max(p[0] for p in pts), max(p[1] for p in pts))
    return DEFAULT_BBOX


_CACHE: dict[int, tuple] = {}


def _layout(city: City) -> tuple[CellBox, ...]:
    s, w, n, e = bbox(city)
    communities: dict[str, list[str]] = {}
    for code in sorted(city.cells):
        communities.setdefault(city.cells[code].community, []).append(code)
    out = []
    width = (e - w) / max(1, len(communities))
    for i, (community, cells) in enumerate(sorted(communities.items())):
        height = (n - s) / len(cells)
        for j, code in enumerate(cells):
            poly = city.map.polygons.get(code)
            if poly:
                out.append(CellBox(code, community, min(p[0] for p in poly),
                                   min(p[1] for p in poly), max(p[0] for p in poly),
                                   max(p[1] for p in poly), poly))
                continue
            out.append(CellBox(code, community, round(n - (j + 1) * height, 6),
                               round(w + i * width, 6), round(n - j * height, 6),
                               round(w + (i + 1) * width, 6)))
    # cells with a real outline are tried first: a schematic box may overlap them
    return tuple(sorted(out, key=lambda b: not b.polygon))


def layout(city: City) -> tuple[CellBox, ...]:
    key = id(city)
    if key not in _CACHE or _CACHE[key][0] is not city:
        _CACHE[key] = (city, _layout(city))
    return _CACHE[key][1]


def map_layers(city: City) -> dict:
    """What a map draws besides its points: the cells' outlines, the box, the tile server."""
    tiles = city.map.tiles
    return {"cells": [{"code": b.code, "community": city.areas.get(b.community, ""),
                       "poly": b.outline()} for b in layout(city)],
            "bbox": list(bbox(city)),
            "tiles": {"url": tiles.url, "attribution": tiles.attribution,
                      "max_zoom": tiles.max_zoom} if tiles else None}


def cell_at(city: City, lat: float, lon: float) -> str | None:
    return next((b.code for b in layout(city) if b.contains(lat, lon)), None)


def center_of(city: City, code: str) -> tuple[float, float] | None:
    for b in layout(city):
        if b.code == code:
            if b.polygon:
                n = len(b.polygon)
                return (round(sum(p[0] for p in b.polygon) / n, 6),
                        round(sum(p[1] for p in b.polygon) / n, 6))
            return (round((b.south + b.north) / 2, 6), round((b.west + b.east) / 2, 6))
    return None


def point_in(city: City, code: str, fx: float, fy: float) -> tuple[float, float]:
    """A point inside the cell's box (fractions fx, fy of its height and width), kept
    inside an outlined cell by falling back to its centre."""
    for b in layout(city):
        if b.code == code:
            lat = round(b.south + (b.north - b.south) * (0.1 + 0.8 * fx), 6)
            lon = round(b.west + (b.east - b.west) * (0.1 + 0.8 * fy), 6)
            if b.contains(lat, lon):
                return lat, lon
            return center_of(city, code) or (lat, lon)
    raise KeyError(code)
