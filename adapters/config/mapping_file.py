"""An import mapping (docs/import/README.md) as a pydantic model; the importer's Mapping
(adapters/importing/mapping.py) is built from it. Errors name the key under `mapping.`."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, ValidationError, WithJsonSchema

from adapters.config.errors import config_error
from adapters.config.types import Spec, Strings, TimeZone, checked, digits, keys, number, one_of
from domain.errors import ConfigError
from domain.errors import ValidationError as DomainError
from domain.policy import CHANNELS
from domain.times import FLOOR_DAY, parse_day

OUTCOMES = ("reported", "filed", "dispatched", "resolved", "closed", "refused")
STEPS = ("verify", "file", "dispatch", "resolve", "check", "close", "refuse")
Outcome = one_of((*OUTCOMES, "skip"))
Step = one_of(STEPS, f"is not one of {', '.join(STEPS)}")


def _source(v: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,63}", v):
        raise ValueError(f"'{v}' must be lower-case letters, digits, '_', '.', '-'")
    return v


def _column(v):
    cols = [v] if isinstance(v, str) else v
    if not isinstance(cols, list) or not cols or not all(isinstance(c, str) and c for c in cols):
        raise ValueError("must name a source column (or a list of them)")
    return v


def _day(v):
    try:  # a day, bounded like the city's intake.history_from (never before 1990-01-01)
        return parse_day(v, "mapping.history_from", floor=FLOOR_DAY)
    except DomainError as e:
        raise ValueError(e.rule) from None


Column = checked(_column, {"anyOf": [
    {"type": "string", "minLength": 1},
    {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}]}, Any)


class Fields(Spec):
    """Our field: the source column (jsonl: a dotted path), or columns joined."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Column]

    external_id: Column
    reported_at: Column
    category: Column


class Rule(Spec):
    """Before statuses: when these source values, then this outcome."""

    when: dict[str, Any]
    then: Outcome


def _alternatives(v):
    alts = v if isinstance(v, list) else [v]
    if not alts or not all(isinstance(a, dict) for a in alts):
        raise ValueError("must be {note key: value(s)} or a list of them")
    return v


Match = checked(_alternatives, {"anyOf": [{"type": "object"},
                                          {"type": "array", "items": {"type": "object"},
                                           "minItems": 1}]}, Any)


class Notes(Spec):
    """Step times from a list of timestamped notes (JSON lines)."""

    field: str = "notes"
    time: str = "datetime"
    match: Annotated[dict[Step, Match] | None, keys({"enum": list(STEPS)})] = None


class Grid(Spec):
    """How a source area becomes a grid cell: hash, or a map of area → cell."""

    method: one_of(("hash", "map"), "must be hash or map")
    field: str | None = None
    map: dict[str, str] | None = None
    default: str | None = None
    empty: list[str] | None = None


class Create(Spec):
    """The import big class that --create-unknown adds categories to."""

    category_class: digits(2) = "99"
    category_class_name: str = "导入类别"


class MappingFile(Spec):
    """An import mapping: which source column is which field, how statuses end."""

    model_config = ConfigDict(title="casegrid import mapping", extra="allow")

    source: Annotated[str, AfterValidator(_source),
                      WithJsonSchema({"type": "string", "pattern": r"^[a-z0-9][a-z0-9_.-]{0,63}$"})]
    format: one_of(("csv", "jsonl")) = "csv"
    timezone: TimeZone = "UTC"
    time_formats: list[str] | None = None
    tolerance_seconds: number("must be a number of seconds, 0 or more", 0) | None = None
    history_from: checked(_day, {"type": "string", "format": "date"}, Any) | None = None
    fields: Fields
    statuses: dict[str, Outcome] | None = None
    rules: list[Rule] | None = None
    refuse_reason_field: str | None = None
    steps: Annotated[dict[Step, Strings] | None, keys({"enum": list(STEPS)})] = None
    notes: Notes | None = None
    channels: dict[str, one_of(CHANNELS)] | None = None
    categories: dict[str, str] | None = None
    units: dict[str, str] | None = None
    grid: Grid | None = None
    actors: dict[str, str] | None = None
    create: Create | None = None


def check_mapping(raw) -> MappingFile:
    """The mapping's content, checked; a ConfigError names `mapping.<key>`."""
    if not isinstance(raw, dict):
        raise ConfigError("mapping", "must be a mapping at the top level")
    try:
        return MappingFile.model_validate(raw)
    except ValidationError as e:
        raise config_error(e, raw, "mapping") from None
