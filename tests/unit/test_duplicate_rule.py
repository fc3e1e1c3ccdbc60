"""The city's duplicate rule (city file section `duplicates`): absurd values refused by
field, by the published schema and by the loader alike; the distance; the page's words."""

from __future__ import annotations

import math

import pytest

from adapters.config.city_build import build_city
from adapters.http.duplicates import age_text, distance_text
from domain.duplicates import DuplicateRule, distance_m
from domain.errors import ConfigError
from tests.unit.test_config_schemas import SHIPPED, as_json, validator


def city_with(section) -> dict:
    raw = as_json(SHIPPED["city.schema.json"][0])
    raw["duplicates"] = section
    return raw


def test_the_sample_city_and_the_defaults():
    raw = city_with({"radius_m": 250, "window_hours": 24})
    city = build_city(raw)
    assert city.duplicates == DuplicateRule(radius_m=250.0, window_hours=24.0, limit=10)
    raw.pop("duplicates")
    assert build_city(raw).duplicates == DuplicateRule()


@pytest.mark.parametrize(("section", "field"), [
    ({"radius_m": 0}, "duplicates.radius_m"),
    ({"radius_m": -5}, "duplicates.radius_m"),
    ({"radius_m": 1e9}, "duplicates.radius_m"),
    ({"radius_m": "100m"}, "duplicates.radius_m"),
    ({"radius_m": True}, "duplicates.radius_m"),
    ({"window_hours": 0.1}, "duplicates.window_hours"),
    ({"window_hours": 24 * 365}, "duplicates.window_hours"),
    ({"limit": 0}, "duplicates.limit"),
    ({"limit": 2.5}, "duplicates.limit"),
    ({"limit": 10_000}, "duplicates.limit"),
    ({"radius": 100}, "duplicates.radius"),
    ("everywhere", "duplicates"),
])
def test_absurd_values_are_refused_by_field(section, field):
    raw = city_with(section)
    assert not validator("city.schema.json").is_valid(raw)
    with pytest.raises(ConfigError) as e:
        build_city(raw)
    assert e.value.field == field


def test_distance():
    assert distance_m(22.56, 114.12, 22.56, 114.12) == 0
    assert math.isclose(distance_m(22.56, 114.12, 22.5609, 114.12), 100.1, abs_tol=0.5)
    assert math.isclose(distance_m(0, 0, 0, 180), math.pi * 6_371_008.8, rel_tol=1e-9)


def test_the_words_read_in_one_language():
    assert age_text(30, "zh") == "早 30 分钟上报" and age_text(-150, "zh") == "晚 2 小时上报"
    assert age_text(30, "en") == "reported 30 min earlier"
    assert age_text(-180, "en") == "reported 3 h later"
    assert distance_text(42.4, "zh") == "相距 42 米" and distance_text(42.4, "en") == "42 m away"
    assert distance_text(None, "zh") == "同一网格（无坐标）"
    assert distance_text(None, "en") == "same grid cell (no coordinates)"
