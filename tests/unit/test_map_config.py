"""The city file's `map` section: the city's own tile server (an http(s) URL template with
{z}, {x} and {y}), the box, and grid cells' polygons, each refused by its dotted key when
wrong; cells with a polygon are found by the point-in-polygon test, the others keep the
schematic layout; the published schema refuses what the loader refuses."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from adapters.config.city_build import build_city
from adapters.http import geo
from adapters.http.security_headers import SecurityHeaders
from domain.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = yaml.safe_load((ROOT / "adapters/cities/sample.yaml").read_text(encoding="utf-8"))
TILES = "https://gis.city/tiles/{z}/{x}/{y}.png"
CELL = "44030301000101"
SQUARE = [[22.600, 114.200], [22.610, 114.200], [22.610, 114.210], [22.600, 114.210]]


def with_map(section) -> dict:
    raw = copy.deepcopy(SAMPLE)
    raw["map"] = section
    return raw


def schema() -> jsonschema.Draft202012Validator:
    published = json.loads((ROOT / "docs/schemas/city.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(published)


@pytest.mark.parametrize(("section", "field", "rule"), [
    ({"tiles": {"url": "ftp://gis.city/{z}/{x}/{y}.png"}}, "map.tiles.url", "http:// or https://"),
    ({"tiles": {"url": "javascript:alert(1)//{z}/{x}/{y}"}}, "map.tiles.url", "http:// or https://"),
    ({"tiles": {"url": "https://gis.city/tiles/{z}/{x}.png"}}, "map.tiles.url", "missing {y}"),
    ({"tiles": {"url": "https://gis.city/tiles.png"}}, "map.tiles.url", "{z}, {x} and {y}"),
    ({"tiles": {"url": "https://gis.city/" + "a" * 600 + "/{z}/{x}/{y}"}}, "map.tiles.url",
     "at most 500"),
    ({"tiles": {"url": 42}}, "map.tiles.url", "non-empty string"),
    ({"tiles": {"url": TILES, "max_zoom": 30}}, "map.tiles.max_zoom", "1 to 22"),
    ({"tiles": {"url": TILES, "max_zoom": True}}, "map.tiles.max_zoom", "1 to 22"),
    ({"tiles": {"url": TILES, "zoom": 3}}, "map.tiles.zoom", "not a known key"),
    ({"tiles": {}}, "map.tiles.url", "is required"),
    ({"bbox": [22.6, 114.1, 22.5, 114.2]}, "map.bbox", "south < north"),
    ({"bbox": [1, 2, 3]}, "map.bbox", "four numbers"),
    ({"cells": [{"code": "44030399999999", "polygon": SQUARE}]}, "map.cells[0].code",
     "no grid cell"),
    ({"cells": [{"code": CELL, "polygon": SQUARE[:2]}]}, "map.cells[0].polygon", "3 to 2000"),
    ({"cells": [{"code": CELL, "polygon": [*SQUARE[:2], [91, 114]]}]}, "map.cells[0].polygon",
     "[2] must be [lat, lon]"),
    ({"cells": [{"code": CELL, "polygon": SQUARE}, {"code": CELL, "polygon": SQUARE}]},
     "map.cells[1].code", "appears twice"),
    ("tiles", "map", "must be a mapping"),
])
def test_a_bad_map_section_is_refused_naming_the_key(section, field, rule):
    with pytest.raises(ConfigError) as e:
        build_city(with_map(section))
    assert e.value.field == field and rule in e.value.rule


@pytest.mark.parametrize("section", [
    {"tiles": {"url": "ftp://gis.city/{z}/{x}/{y}.png"}},
    {"tiles": {"url": "https://gis.city/tiles.png"}},
    {"tiles": {"url": TILES, "max_zoom": 30}},
    {"cells": [{"code": CELL, "polygon": SQUARE[:2]}]},
])
def test_the_published_schema_refuses_it_too(section):
    assert not schema().is_valid(json.loads(json.dumps(with_map(section))))


def test_tiles_and_polygons_are_taken():
    raw = with_map({"tiles": {"url": TILES, "attribution": "© 市规划和自然资源局",
                              "max_zoom": 19}, "cells": [{"code": CELL, "polygon": SQUARE}]})
    assert schema().is_valid(json.loads(json.dumps(raw)))
    c = build_city(raw)
    assert c.map.tiles.url == TILES and c.map.tiles.max_zoom == 19
    assert geo.tile_origin(c) == "https://gis.city"
    assert "img-src 'self' data: https://gis.city;" in SecurityHeaders(False, geo.tile_origin(c)).csp
    assert geo.cell_at(c, 22.605, 114.205) == CELL  # inside the polygon
    assert geo.cell_at(c, 22.615, 114.205) is None  # outside it, and outside the schematic
    assert geo.center_of(c, CELL) == (22.605, 114.205)
    other = next(b for b in geo.layout(c) if b.code != CELL)
    assert geo.cell_at(c, *geo.center_of(c, other.code)) == other.code  # schematic for the rest
    layers = geo.map_layers(c)
    assert layers["tiles"]["url"] == TILES
    assert next(x for x in layers["cells"] if x["code"] == CELL)["poly"] == SQUARE


def test_without_a_map_section_there_are_no_tiles():
    c = build_city(copy.deepcopy(SAMPLE))
    assert c.map.tiles is None and geo.tile_origin(c) == "" and geo.map_layers(c)["tiles"] is None
    assert "img-src 'self' data:;" in SecurityHeaders(False, geo.tile_origin(c)).csp


def test_a_point_in_a_concave_polygon():
    ell = [(0.0, 0.0), (2.0, 0.0), (2.0, 1.0), (1.0, 1.0), (1.0, 2.0), (0.0, 2.0)]
    assert geo.inside(ell, 0.5, 0.5) and geo.inside(ell, 1.5, 0.5) and geo.inside(ell, 0.5, 1.5)
    assert not geo.inside(ell, 1.5, 1.5) and not geo.inside(ell, 3, 3)
