"""The rewards-and-penalties policy file (docs/reports.md) as pydantic models, one
parameter model per rule kind, and the Policy built from it: references to the city
(categories, areas, users, earlier rules) are checked here, naming the dotted key."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from adapters.config.city_build import category_prefix, minutes, scoring
from adapters.config.city_file import Scoring
from adapters.config.errors import config_error
from adapters.config.types import (
    Closed,
    Duration,
    NonBlank,
    Spec,
    Strings,
    checked,
    keys,
    number,
    one_of,
)
from domain.city import City
from domain.errors import ConfigError
from domain.policy import CHANNELS, GRADE_DIMS, HANDLED_EVENTS, KIND_ZH, KINDS, Policy, Rule

URGENCY = one_of(("*", "normal", "urgent"), "must be normal, urgent or '*'")
Channels = list[one_of(CHANNELS)]
OTHERS = ["citizen", "hotline", "inspection"]


def _yuan(v, negative: bool = False):
    if isinstance(v, bool) or not isinstance(v, int) or (v < 0 and not negative):
        raise ValueError(f"'{v}' must be a whole number of yuan" + ("" if negative else " (0 or more)"))
    return v


Yuan = checked(_yuan, {"type": "integer", "minimum": 0}, int)
SignedYuan = checked(lambda v: _yuan(v, True), {"type": "integer"}, int)


def _channels(v):
    return [v] if isinstance(v, str) else v


class Params(Closed):
    """A rule's parameters: the ones left out take the defaults of docs/reports.md."""

    model_config = ConfigDict(coerce_numbers_to_str=False)


OwnChannels = Annotated[Channels, BeforeValidator(_channels)]


class IllegalConstruction(Params):
    """illegal_construction_24h: 违法建设24小时发现处置."""

    categories: Strings = ["E0101"]
    own_channels: OwnChannels = ["patrol"]
    others_channels: OwnChannels = OTHERS
    window: Duration = "24h"
    clock: one_of(("wall", "working"), "must be 'wall' or 'working'") = "wall"
    handled_by: one_of(HANDLED_EVENTS, f"must be one of {', '.join(HANDLED_EVENTS)}") = "Resolved"
    community_amount: Yuan = 4000
    person_amount: Yuan = 500
    next_month_factor: number("must be a number ≥ 1", 1) = 2
    start_marker: str = "始建"


class Amount(Spec):
    """A reward by category, area and urgency."""

    category: str = "*"
    area: str = "*"
    urgency: URGENCY = "*"
    amount: Yuan


class CitizenReward(Params):
    """citizen_report_reward: 群众举报查实奖励."""

    channels: OwnChannels = ["citizen", "hotline"]
    categories: Strings = ["*"]
    amounts: list[Amount] = []
    default_amount: Yuan = 200


class CollectorEntries(Params):
    """collector_entries: 信息采集奖惩."""

    per_entry: Yuan = 2
    wrong_entry: Yuan = 10
    missed_entry: Yuan = 5
    own_channels: OwnChannels = ["patrol"]
    others_channels: OwnChannels = OTHERS
    categories: Strings = ["*"]


def _month(v):
    if v != "*" and (isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 12):
        raise ValueError("must be a month number 1–12 or '*'")
    return v


class NoMajorIncident(Params):
    """no_major_incident_year: 全年无重大案件奖励."""

    major_categories: Strings = ["E04"]
    major_urgency: URGENCY = "urgent"
    month: checked(_month, {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 12},
                                      {"const": "*"}]}, Any) = 12
    unit_amount: Yuan = 3000
    person_amount: Yuan = 1000


def _nonempty(message: str):
    def check(v):
        if not isinstance(v, dict) or not v:
            raise ValueError(message)
        return v
    return BeforeValidator(check)


class GradeAward(Params):
    """grade_award: 考评等次奖惩 (grade name: yuan)."""

    by: one_of(GRADE_DIMS, f"must be one of {', '.join(GRADE_DIMS)}") = "community"
    amounts: Annotated[dict[str, SignedYuan], _nonempty("must map grade names to yuan")] = {}


class Party(Closed):
    """A joint party's share: a factor of the base amount, or a fixed amount."""

    factor: number("must be a number") | None = None
    amount: Yuan | None = None

    @model_validator(mode="after")
    def _one(self):
        if (self.factor is None) == (self.amount is None):
            raise ValueError("must be {factor: F} or {amount: yuan}")
        return self


class Joint(Params):
    """joint: 同奖同罚, street and squad share earlier rules' lines."""

    applies_to: Strings = []
    parties: Annotated[dict[one_of(("street", "squad"), "is not one of street, squad"), Party],
                       _nonempty("must map street / squad to {factor} or {amount}"),
                       keys({"enum": ["street", "squad"]})] = {}


PARAMS: dict[str, type[Params]] = {
    "illegal_construction_24h": IllegalConstruction, "citizen_report_reward": CitizenReward,
    "collector_entries": CollectorEntries, "no_major_incident_year": NoMajorIncident,
    "grade_award": GradeAward, "joint": Joint}


def _rule(kind: str, params: type[Params]):
    """One rule model per kind: `kind` picks the parameters."""
    return type(f"Rule_{kind}", (Spec,), {
        "__annotations__": {"id": NonBlank, "source": NonBlank, "kind": Literal[kind],
                            "title": str | None, "params": Annotated[params, BeforeValidator(
                                lambda v: {} if v is None else v)]},
        "title": None, "params": Field(default_factory=params),
        "__doc__": f"A rule of kind {kind} ({KIND_ZH[kind]}).", "__module__": __name__,
    })


RULES = tuple(_rule(k, PARAMS[k]) for k in KINDS)
AnyRule = Annotated[RULES[0] | RULES[1] | RULES[2] | RULES[3] | RULES[4] | RULES[5],
                    Field(discriminator="kind")]


class PolicyFile(Spec):
    """A policy file (`--policy FILE`), or the `policy:` key of a city file."""

    model_config = ConfigDict(title="casegrid rewards-and-penalties policy", extra="allow")

    id: NonBlank
    name: str | None = None
    rules: Annotated[list[AnyRule], Field(min_length=1)]
    officers: dict[str, str] | None = None
    scoring: Scoring | None = None


def _wording(err: dict) -> str | None:
    loc = err["loc"]
    if err["type"] == "extra_forbidden" and "params" in loc:
        kind = loc[loc.index("params") - 1]
        if kind in PARAMS:
            return f"is not a parameter of kind '{kind}'; one of {', '.join(PARAMS[kind].model_fields)}"
    if loc == ("rules",) and err["type"] in ("list_type", "too_short"):
        return "must be a non-empty list"
    if loc == ("officers",) and err["type"] == "dict_type":
        return "must map a community or cell code to a user id"
    return None


def build_policy(raw, city: City, *, path: str | None = None) -> Policy:
    """Validate a policy mapping (the file's top level, or its `policy:` key) for `city`."""
    if isinstance(raw, dict) and "policy" in raw and "rules" not in raw:
        raw = raw["policy"]
    if not isinstance(raw, dict):
        raise ConfigError("policy", "must be a mapping with id, name and rules")
    try:
        f = PolicyFile.model_validate(raw)
    except ValidationError as e:
        raise config_error(e, raw, "policy", skip=KINDS, rules=_wording) from None
    rules, ids = [], set()
    for i, r in enumerate(f.rules):
        rp = f"policy.rules[{i}]"
        if r.id in ids:
            raise ConfigError(f"{rp}.id", f"rule id '{r.id}' appears twice")
        params = _params(r.kind, r.params, f"{rp}.params", city, ids)
        rules.append(Rule(r.id, r.source, r.kind, r.title or KIND_ZH[r.kind], params))
        ids.add(r.id)
    officers = f.officers or {}
    for code, uid in officers.items():
        if code not in city.areas and code not in city.cells:
            raise ConfigError(f"policy.officers.{code}", "is no community or cell code")
        if uid not in city.users:
            raise ConfigError(f"policy.officers.{code}", f"unknown user '{uid}'")
    scored = scoring(f.scoring, "policy.") if f.scoring is not None else None
    return Policy(f.id.strip(), f.name or f.id.strip(), tuple(rules), dict(officers), scored, path)


def _params(kind: str, spec: Params, path: str, city: City, earlier: set[str]) -> dict:
    """The parameters as the evaluation reads them, checked against the city."""
    p = spec.model_dump(exclude_none=True)
    for key in ("categories", "major_categories"):
        for c in p.get(key, ()):
            category_prefix(c, city.categories, f"{path}.{key}")
    if kind == "illegal_construction_24h":
        mins = minutes(city.calendar, p["window"], f"{path}.window")
        if p["clock"] == "wall" and str(p["window"]).strip().endswith("d"):
            mins = float(str(p["window"]).strip()[:-1]) * 1440  # a wall day is 24 hours
        p["window_minutes"] = mins
    for i, a in enumerate(p.get("amounts") if kind == "citizen_report_reward" else ()):
        category_prefix(a["category"], city.categories, f"{path}.amounts[{i}].category")
        if a["area"] != "*" and a["area"] not in city.areas and a["area"] not in city.cells:
            raise ConfigError(f"{path}.amounts[{i}].area",
                              f"'{a['area']}' is no district, street, community or cell")
    for rid in p.get("applies_to", ()) if kind == "joint" else ():
        if rid not in earlier:
            raise ConfigError(f"{path}.applies_to", f"no earlier rule '{rid}'")
    return p
