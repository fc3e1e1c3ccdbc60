"""The city file's `map` section (地图): the city's own tile server, the map's box and the
grid cells' polygons. Cities run their own GIS; nothing is fetched from the internet by
default (no `tiles`: the console draws the cells alone)."""

from __future__ import annotations

import math
import re

from adapters.config.types import Closed, checked
from domain.city import CityMap, MapTiles
from domain.errors import ConfigError

TILE_KEYS = ("{z}", "{x}", "{y}")
URL_RE = re.compile(r"^https?://[^\s/?#]+[^\s]*$")


def _tile_url(v):
    if not isinstance(v, str) or not v.strip() or len(v) > 500 or "\x00" in v:
        raise ValueError("must be a non-empty string (at most 500)")
    v = v.strip()
    if not URL_RE.fullmatch(v):
        raise ValueError("must be an http:// or https:// URL")
    missing = [k for k in TILE_KEYS if k not in v]
    if missing:
        raise ValueError(f"must contain {{z}}, {{x}} and {{y}} (missing {', '.join(missing)})")
    return v


def _attribution(v):
    if not isinstance(v, str) or len(v) > 300 or "\x00" in v:
        raise ValueError("must be a string (at most 300)")
    return v.strip()


def _zoom(v):
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 22:
        raise ValueError("must be a whole number from 1 to 22")
    return v


def _lat_lon(v) -> tuple[float, float]:
    ok = (isinstance(v, list) and len(v) == 2
          and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                  for x in v))
    if not ok or not (-90 <= v[0] <= 90 and -180 <= v[1] <= 180):
        raise ValueError("must be [lat, lon] with lat -90..90 and lon -180..180")
    return (float(v[0]), float(v[1]))


def _bbox(v):
    nums = (isinstance(v, list) and len(v) == 4
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                    for x in v))
    if not nums:
        raise ValueError("must be [south, west, north, east] (four numbers)")
    s, w, n, e = (float(x) for x in v)
    if not (-90 <= s < n <= 90 and -180 <= w < e <= 180):
        raise ValueError("must be [south, west, north, east] with south < north and west < east")
    return (s, w, n, e)


def _polygon(v):
    if not isinstance(v, list) or not 3 <= len(v) <= 2000:
        raise ValueError("must be a list of 3 to 2000 [lat, lon] points")
    out = []
    for i, p in enumerate(v):
        try:
            out.append(_lat_lon(p))
        except ValueError as e:
            raise ValueError(f"[{i}] {e}") from None
    return tuple(out)


NUM = {"type": "number"}
LATLON = {"type": "array", "items": NUM, "minItems": 2, "maxItems": 2}
TileUrl = checked(_tile_url, {"type": "string", "pattern": r"^https?://.*\{z\}.*",
                              "maxLength": 500}, str)
Attribution = checked(_attribution, {"type": "string", "maxLength": 300}, str)
Zoom = checked(_zoom, {"type": "integer", "minimum": 1, "maximum": 22}, int)
Bbox = checked(_bbox, {"type": "array", "items": NUM, "minItems": 4, "maxItems": 4}, tuple)
Polygon = checked(_polygon, {"type": "array", "items": LATLON, "minItems": 3,
                             "maxItems": 2000}, tuple)


class Tiles(Closed):
    """The city's own tile server (e.g. https://gis.city/tiles/{z}/{x}/{y}.png)."""

    url: TileUrl
    attribution: Attribution = ""
    max_zoom: Zoom = 18


class CellShape(Closed):
    """A grid cell's outline: its 14-digit code and polygon [[lat, lon], …]."""

    code: str
    polygon: Polygon


class MapSection(Closed):
    """The console map: box, tiles, cell polygons (all optional)."""

    bbox: Bbox | None = None
    tiles: Tiles | None = None
    cells: list[CellShape] | None = None


def city_map(spec: MapSection | None, cells: dict) -> CityMap:
    """The domain's CityMap; a polygon must name a known cell, once."""
    if spec is None:
        return CityMap()
    polygons: dict[str, tuple] = {}
    for i, c in enumerate(spec.cells or ()):
        if c.code not in cells:
            raise ConfigError(f"map.cells[{i}].code", f"'{c.code}' is no grid cell of the city")
        if c.code in polygons:
            raise ConfigError(f"map.cells[{i}].code", f"cell '{c.code}' appears twice")
        polygons[c.code] = c.polygon
    tiles = spec.tiles and MapTiles(spec.tiles.url, spec.tiles.attribution, spec.tiles.max_zoom)
    return CityMap(bbox=spec.bbox, tiles=tiles, polygons=polygons)
