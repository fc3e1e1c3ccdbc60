"""Absurd values in the city file, a policy or an import mapping (year 1, huge numbers,
NaN, lists where strings go, booleans where numbers go, NUL) get a ConfigError naming
the key, never another exception."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from adapters.config.city_build import build_city
from adapters.config.mapping_file import check_mapping
from adapters.config.policy_file import build_policy
from domain.errors import ConfigError
from tests.support import city

ROOT = Path(__file__).resolve().parents[2]


def _load(rel: str) -> dict:
    return yaml.safe_load((ROOT / rel).read_text(encoding="utf-8"))


CITY, POLICY, MAPPING = (_load("adapters/cities/sample.yaml"),
                         _load("adapters/cities/sample-policy.yaml"),
                         _load("docs/import/la311.yaml"))


def _put(raw: dict, path: tuple, value) -> dict:
    raw = copy.deepcopy(raw)
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return raw


@pytest.mark.parametrize(("path", "value", "field"), [
    (("intake",), {"history_from": "0001-01-01"}, "intake.history_from"),
    (("intake",), {"history_from": "9999-12-31"}, "intake.history_from"),
    (("intake",), {"max_evidence": 10**40}, "intake.max_evidence"),
    (("intake",), {"max_reason": True}, "intake.max_reason"),
    (("intake",), {"future_skew": "99999999999h"}, "intake.future_skew"),
    (("time_limits", 0, "limit"), 10**400, "time_limits[0].limit"),
    (("time_limits", 0, "limit"), float("nan"), "time_limits[0].limit"),
    (("time_limits", 0, "limit"), float("inf"), "time_limits[0].limit"),
    (("time_limits", 0, "step"), ["verify"], "time_limits[0].step"),
    (("city", "timezone"), "Asia/Shang\x00hai", "city.timezone"),
    (("city", "timezone"), "../../etc/passwd", "city.timezone"),
    (("city", "name"), {"zh": "清水河"}, "city.name"),
    (("units", 0, "id"), ["cgj"], "units[0].id"),
    (("districts", 0, "code"), True, "districts[0].code"),
    (("calendar", "holidays", 0), [2026, 1, 1], "calendar.holidays[0]"),
    (("calendar", "hours"), [["08:30", "99:99"]], "calendar.hours"),
    (("calendar", "workdays"), [True], "calendar.workdays"),
    (("open311",), {"coordinate_decimals": 10**30}, "open311.coordinate_decimals"),
    (("open311",), {"contact": "x" * 10_000}, "open311.contact"),
    (("scoring",), {"weights": {"unit": {"resolution_rate": float("nan")}}},
     "scoring.weights.unit.resolution_rate"),
])
def test_absurd_city_values_name_the_key(path, value, field):
    with pytest.raises(ConfigError) as e:
        build_city(_put(CITY, path, value))
    assert e.value.field == field


@pytest.mark.parametrize(("path", "value", "field"), [
    (("id",), ["sample"], "policy.id"),
    (("rules", 0, "params", "community_amount"), 1e300,
     "policy.rules[0].params.community_amount"),
    (("rules", 0, "params", "person_amount"), True, "policy.rules[0].params.person_amount"),
    (("rules", 0, "params", "window"), "\x00", "policy.rules[0].params.window"),
    (("rules", 0, "params", "window"), ["24h"], "policy.rules[0].params.window"),
    (("rules", 0, "kind"), None, "policy.rules[0].kind"),
])
def test_absurd_policy_values_name_the_key(path, value, field):
    with pytest.raises(ConfigError) as e:
        build_policy(_put(POLICY, path, value), city())
    assert e.value.field == field


@pytest.mark.parametrize(("path", "value", "field"), [
    (("history_from",), "0001-01-01", "mapping.history_from"),
    (("history_from",), 20110101, "mapping.history_from"),
    (("source",), ["la311"], "mapping.source"),
    (("source",), "la\x00311", "mapping.source"),
    (("tolerance_seconds",), -1, "mapping.tolerance_seconds"),
    (("timezone",), "\x00", "mapping.timezone"),
    (("fields", "external_id"), [], "mapping.fields.external_id"),
    (("grid",), ["hash"], "mapping.grid"),
])
def test_absurd_mapping_values_name_the_key(path, value, field):
    with pytest.raises(ConfigError) as e:
        check_mapping(_put(MAPPING, path, value))
    assert e.value.field == field
