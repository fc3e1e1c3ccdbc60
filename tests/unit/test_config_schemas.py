"""The published JSON Schemas of the city file, the policy file and import mappings
(docs/schemas/*.schema.json) are generated from the loader's own models: they are up to
date, the shipped files pass them, and what the schema refuses the loader refuses too."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from adapters.config.city_build import build_city
from adapters.config.mapping_file import check_mapping
from adapters.config.policy_file import build_policy
from adapters.config.schemas import DOCS, SCHEMAS, main, render, stale
from domain.errors import ConfigError
from tests.support import city

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {
    "city.schema.json": [ROOT / "adapters/cities/sample.yaml"],
    "policy.schema.json": [ROOT / "adapters/cities/sample-policy.yaml"],
    "import-mapping.schema.json": sorted((ROOT / "docs/import").glob("*.yaml")),
}


def as_json(path: Path):
    """A YAML file as an editor's schema check sees it (dates are text)."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


def validator(name: str) -> jsonschema.Draft202012Validator:
    published = json.loads((DOCS / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(published)
    return jsonschema.Draft202012Validator(published)


def test_published_schemas_are_up_to_date():
    assert stale() == [], "run `python -m adapters.config.schemas` to regenerate docs/schemas/"
    assert main(["--check"]) == 0


def test_every_file_has_a_schema_that_names_its_draft():
    assert len(SHIPPED["import-mapping.schema.json"]) == 3  # la311, nyc311, chicago311
    for name in SCHEMAS:
        body = json.loads(render(name))
        assert body["$schema"].endswith("2020-12/schema") and body["type"] == "object"


@pytest.mark.parametrize(("name", "path"), [(n, p) for n, ps in SHIPPED.items() for p in ps],
                         ids=lambda x: getattr(x, "name", x))
def test_shipped_files_pass_the_published_schema(name, path):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator(name).iter_errors(as_json(path))]
    assert errors == []


def _city_with(path: tuple, value) -> dict:
    raw = as_json(SHIPPED["city.schema.json"][0])
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return raw


@pytest.mark.parametrize(("path", "value", "field"), [
    (("districts", 0, "streets", 0, "communities", 2, "cells", 1), "1",
     "districts[0].streets[0].communities[2].cells[1]"),
    (("districts", 0, "streets", 0, "communities", 2, "cells", 1), "00",
     "districts[0].streets[0].communities[2].cells[1]"),
    (("districts", 0, "code"), "4403", "districts[0].code"),
    (("categories", "events", 0, "small", "1"), "x", "categories.events[0].small.1"),
    (("scoring",), {"weights": {"units": {"resolution_rate": 1}}}, "scoring.weights.units"),
    (("units", 0, "group"), "5", "units[0].group"),
    (("users", 3, "role"), "boss", "users[3].role"),
    (("time_limits", 0, "step"), "fix", "time_limits[0].step"),
    (("time_limits", 0, "limit"), "30 minutes", "time_limits[0].limit"),
    (("routing", 1, "kind"), "custom", "routing[1].kind"),
    (("calendar", "workdays"), [1, 8], "calendar.workdays"),
    (("intake",), {"nonsense": 1}, "intake.nonsense"),
    (("open311",), {"coordinate_decimals": 7}, "open311.coordinate_decimals"),
    (("city", "name"), ["a list"], "city.name"),
])
def test_what_the_schema_refuses_the_loader_refuses(path, value, field):
    raw = _city_with(path, value)
    assert not validator("city.schema.json").is_valid(raw)
    with pytest.raises(ConfigError) as e:
        build_city(raw)
    assert e.value.field == field


def test_a_bad_policy_and_a_bad_mapping_fail_both():
    pol = as_json(SHIPPED["policy.schema.json"][0])
    pol["rules"][0]["params"]["speed"] = 1
    assert not validator("policy.schema.json").is_valid(pol)
    with pytest.raises(ConfigError) as e:
        build_policy(copy.deepcopy(pol), city())
    assert e.value.field == "policy.rules[0].params.speed"
    mapping = as_json(SHIPPED["import-mapping.schema.json"][0])
    mapping["statuses"] = {"Closed": "done"}
    assert not validator("import-mapping.schema.json").is_valid(mapping)
    with pytest.raises(ConfigError) as e:
        check_mapping(mapping)
    assert e.value.field == "mapping.statuses.Closed"


@pytest.mark.parametrize(("name", "path"), [(n, p) for n, ps in SHIPPED.items() for p in ps],
                         ids=lambda x: getattr(x, "name", x))
def test_shipped_files_name_their_schema_for_editors(name, path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    assert (path.parent / first[len(prefix):]).resolve() == DOCS / name
