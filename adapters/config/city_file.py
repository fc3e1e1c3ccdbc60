"""The city file's shape (docs/configuration.md) as pydantic models: required keys, types,
codes, enumerations. What needs the whole file (a routing rule's unit exists, a code
appears once) is checked in city_build.py, which makes the domain's City."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    WithJsonSchema,
)

from adapters.config.duplicates_file import DuplicatesSection
from adapters.config.map_file import MapSection
from adapters.config.notify_file import NotificationsSection
from adapters.config.types import (
    Closed,
    Day,
    Duration,
    Spec,
    TimeZone,
    checked,
    digits,
    keys,
    number,
    one_of,
    whole,
)
from domain.calendar import parse_hours
from domain.city import ROLES, STEPS, URGENCIES
from domain.errors import ValidationError
from domain.indicators import DEFAULT_WEIGHTS, valid_term
from domain.open311 import FIELDS, OPEN311, REASONS
from domain.policy import CHANNELS
from domain.times import FLOOR_DAY, parse_day

CLOCK = r"^([01]?\d|2[0-3]):[0-5]\d$"
PAIR_SCHEMA = {"type": "array", "items": {"type": "string", "pattern": CLOCK},
               "minItems": 2, "maxItems": 2}


def _hours(v):
    if not isinstance(v, list):
        raise ValueError("must be a list")
    return parse_hours(v)  # its ValueError names the interval: '[1] ends before it starts'


def _shift(v):
    return parse_hours([v])[0]


def _workdays(v):
    if not isinstance(v, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in v):
        raise ValueError("must be a list of ISO weekdays 1 (Mon) to 7 (Sun)")
    return frozenset(v)


Hours = checked(_hours, {"type": "array", "items": PAIR_SCHEMA, "minItems": 1}, tuple)
Shift = checked(_shift, PAIR_SCHEMA, tuple)
Workdays = checked(_workdays, {"type": "array", "items": {"type": "integer", "minimum": 1,
                                                         "maximum": 7}}, frozenset)


def _cell(v: str) -> str:
    if v == "00":
        raise ValueError("cell code 00 is reserved for the community itself")
    return v


CellCode = Annotated[digits(2), AfterValidator(_cell),
                     WithJsonSchema({"type": "string", "pattern": r"^(0[1-9]|[1-9]\d)$"})]


def _small_name(v: str) -> str:
    if not v.strip():
        raise ValueError("needs a name")
    return v


class CityName(Spec):
    """The city: its display name and IANA time zone."""

    name: str
    timezone: TimeZone


class Calendar(Spec):
    """Working hours of a working day, working weekdays, holidays and make-up days."""

    hours: Hours
    workdays: Workdays = frozenset({1, 2, 3, 4, 5})
    shifts: dict[str, Shift] | None = None
    holidays: list[Day] | None = None
    extra_workdays: list[Day] | None = None


class Squad(Spec):
    """A patrol squad (巡查中队); communities name it as their responsibility area."""

    id: str
    name: str


class Community(Spec):
    """A community (社区): 3-digit code and its 2-digit grid cells."""

    code: digits(3)
    name: str
    squad: str | None = None
    cells: list[CellCode]


class Street(Spec):
    """A street (街道): 3-digit code and its communities."""

    code: digits(3)
    name: str
    communities: list[Community]


class District(Spec):
    """A county or district (区县): 6-digit GB/T 2260 code and its streets."""

    code: digits(6)
    name: str
    streets: list[Street]


class BigClass(Spec):
    """A big class: 2-digit code, name and small classes (2-digit code: name)."""

    code: digits(2)
    name: str
    small: Annotated[dict[digits(2), Annotated[str, AfterValidator(_small_name)]],
                     keys({"pattern": r"^\d{2}$"})]
    resolve_requires_photo: StrictBool | None = Field(
        None, description="true: resolving (处置) a case of this class needs at least one "
                          "after-photo from the evidence store (a sha256: ref)")


class Categories(Spec):
    """Case categories: components (部件, C…) and events (事件, E…)."""

    components: list[BigClass] | None = None
    events: list[BigClass] | None = None


class Unit(Spec):
    """A member unit (成员单位); group "4" is a core unit of 4+X."""

    id: str
    name: str
    short: str | None = None
    group: one_of(("4", "X"), "must be '4' (core unit of 4+X) or 'X'") = "X"


class Route(Spec):
    """A routing rule (确责): category prefix × area → unit, by law, precedent or proposal."""

    id: str
    category: str = "*"
    area: str = "*"
    unit: str
    kind: one_of(("law", "precedent", "proposal"), "must be one of law, precedent, proposal") = "law"
    basis: str = ""


class Limit(Spec):
    """A time limit in working time for a step; the most specific rule wins. `assist`
    (协办反馈, optional) is an assisting unit's own limit; without it, the resolve limit."""

    step: one_of((*STEPS, "assist"))
    limit: Duration
    category: str = "*"
    urgency: one_of(("*", *URGENCIES), f"must be one of {', '.join(URGENCIES)} or '*'") = "*"


class User(Spec):
    """A user: login id, role, and the unit (unit members only) or squad."""

    id: str
    name: str | None = None
    role: one_of(ROLES)
    unit: str | None = None
    squad: str | None = None


class Band(Spec):
    """A grade and its floor: a score at least `min` gets the grade."""

    grade: str
    min: number("must be a number")


def _group(v: str) -> str:
    if v not in DEFAULT_WEIGHTS:
        raise ValueError(f"is not one of {', '.join(DEFAULT_WEIGHTS)}")
    return v


def _term(v: str) -> str:
    if not valid_term(v):
        raise ValueError("is not a rate name or '1-<rate name>'")
    return v


def _terms(v):
    if not isinstance(v, dict) or not v:
        raise ValueError("must map indicator terms to points")
    return v


Points = number("points must be a positive number", 0, exclusive=True)
Terms = Annotated[dict[Annotated[str, AfterValidator(_term)], Points], BeforeValidator(_terms)]


class Scoring(Spec):
    """Grade bands (best first) and weights per dimension group."""

    bands: list[Band] | None = None
    weights: Annotated[dict[Annotated[str, AfterValidator(_group)], Terms] | None,
                       keys({"enum": list(DEFAULT_WEIGHTS)})] = None


def _history_from(v):
    try:
        return parse_day(str(v), "intake.history_from", floor=FLOOR_DAY)
    except ValidationError as e:
        raise ValueError(e.rule) from None


SKEW = re.compile(r"(\d+)(s|m|h)")
SKEW_UNITS = {"s": ("seconds", 86400), "m": ("minutes", 1440), "h": ("hours", 24)}


def _skew(v) -> timedelta:
    m = SKEW.fullmatch(str(v).strip())
    if not m or int(m.group(1)) > SKEW_UNITS[m.group(2)][1]:
        raise ValueError("must be like '30s', '5m' or '1h', at most a day")
    return timedelta(**{SKEW_UNITS[m.group(2)][0]: int(m.group(1))})


Bound = whole(1, 100_000, "must be a whole number from 1 to 100000")


class Intake(Closed):
    """What the city accepts (受理边界): earliest time, clock skew, text bounds."""

    history_from: checked(_history_from, {"type": "string", "format": "date"}, Any) = None
    future_skew: checked(_skew, {"type": "string", "pattern": r"^\d+(s|m|h)$"}, Any) = None
    max_extension: Duration | None = None
    max_description: Bound | None = None
    max_reason: Bound | None = None
    max_evidence: Bound | None = None
    max_url: Bound | None = None


def _text500(v):
    if not isinstance(v, str) or not v.strip() or len(v) > 500:
        raise ValueError("must be a non-empty string (at most 500)")
    return v.strip()


def _jurisdiction(v):
    v = _text500(v)
    if not re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", v):
        raise ValueError("must be letters, digits and . _ : - only")
    return v


Text500 = checked(_text500, {"type": "string", "minLength": 1, "maxLength": 500}, str)


class Address(Spec):
    """An address text placed on a grid cell."""

    name: str
    cell: str


class Open311(Closed):
    """What Open311 GeoReport v2 publishes."""

    jurisdiction_id: checked(_jurisdiction, {"type": "string",
                                             "pattern": r"^[A-Za-z0-9._:-]{1,128}$"},
                             str) | None = None
    public_channels: list[one_of((*CHANNELS, OPEN311))] | None = None
    public_fields: list[one_of(FIELDS)] | None = None
    coordinate_decimals: whole(0, 6, "must be a whole number from 0 to 6") | None = None
    staff_accounts: list[str] | None = None
    step_reasons: one_of(REASONS, f"must be one of {', '.join(REASONS)}") | None = None
    addresses: list[Address] | None = None
    contact: Text500 | None = None
    key_service: Text500 | None = None


class Callback(Closed):
    """回访 (the callback after closure): what an unsatisfied answer does."""

    reopen_unsatisfied: StrictBool | None = Field(
        None, description="an unsatisfied callback reopens the case to its unit for rework "
                          "(返工); default false")


Section = dict[str, Any] | None


class CityFile(Spec):
    """A city file. Keys it does not name are kept (`config show`) and otherwise ignored."""

    model_config = ConfigDict(title="casegrid city file", extra="allow")

    city: CityName
    calendar: Calendar
    scoring: Scoring | None = None
    squads: list[Squad] | None = None
    districts: list[District]
    categories: Categories
    units: list[Unit]
    routing: list[Route] | None = None
    time_limits: list[Limit]
    users: list[User]
    open311: Open311 | None = None
    intake: Intake | None = None
    patrol: Section = Field(None, description="daily patrol reports (docs/reports.md)")
    policy: Section = Field(None, description="an inline rewards policy (policy.schema.json)")
    map: MapSection | None = None
    duplicates: DuplicatesSection | None = None
    notifications: NotificationsSection | None = None
    callback: Callback | None = None
