"""A plain, locally generated map of the city's grid (no internet tiles).

The city file names grid cells but gives them no geometry, so the console draws a
schematic: the city's bounding box (`map.bbox: [south, west, north, east]` in the city
file, else the sample street's box) split into one strip per community and each strip
into its cells. The same layout turns an Open311 `lat`/`long` into a grid cell.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.city import City

DEFAULT_BBOX = (22.56, 114.11, 22.59, 114.14)  # the sample street 清水河街道 (approximate)


@dataclass(frozen=True)
class CellBox:
    code: str
    community: str
    south: float
    west: float
    north: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east


def bbox(city: City) -> tuple[float, float, float, float]:
    raw = (city.raw.get("map") or {}).get("bbox") if isinstance(city.raw, dict) else None
    if isinstance(raw, list) and len(raw) == 4:
        return tuple(float(x) for x in raw)  # type: ignore[return-value]
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
            out.append(CellBox(code, community, round(n - (j + 1) * height, 6),
                               round(w + i * width, 6), round(n - j * height, 6),
                               round(w + (i + 1) * width, 6)))
    return tuple(out)


def layout(city: City) -> tuple[CellBox, ...]:
    key = id(city)
    if key not in _CACHE or _CACHE[key][0] is not city:
        _CACHE[key] = (city, _layout(city))
    return _CACHE[key][1]


def cell_at(city: City, lat: float, lon: float) -> str | None:
    return next((b.code for b in layout(city) if b.contains(lat, lon)), None)


def center_of(city: City, code: str) -> tuple[float, float] | None:
    for b in layout(city):
        if b.code == code:
            return (round((b.south + b.north) / 2, 6), round((b.west + b.east) / 2, 6))
    return None
