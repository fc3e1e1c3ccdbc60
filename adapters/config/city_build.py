"""The city file, checked by its models (city_file.py), made into the domain's City. The
rules checked here need the whole file: codes that appear once, references between
sections, a default time limit per step. Every error names the dotted key."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from adapters.config.city_file import CityFile, Scoring
from adapters.config.duplicates_file import duplicate_rule
from adapters.config.errors import config_error
from adapters.config.map_file import city_map
from adapters.config.notify_file import notifying
from domain.calendar import WorkCalendar
from domain.city import (
    CATEGORY_KINDS,
    STEPS,
    Category,
    Cell,
    City,
    RoutingRule,
    TimeLimit,
    Unit,
    User,
)
from domain.errors import ConfigError
from domain.indicators import DEFAULT_BANDS, DEFAULT_WEIGHTS
from domain.open311 import Open311, Place, normalize_address
from domain.validate import Intake


def build_city(raw) -> City:
    """Validate a city mapping (the YAML file's content) and build the City; raises
    ConfigError naming the key that broke a rule."""
    if not isinstance(raw, dict):
        raise ConfigError("(file)", "must be a mapping at the top level")
    try:
        f = CityFile.model_validate(raw)
    except ValidationError as e:
        raise config_error(e, raw) from None
    c = f.calendar
    cal = WorkCalendar(tz=ZoneInfo(f.city.timezone), hours=c.hours, workdays=c.workdays,
                       holidays=frozenset(c.holidays or ()),
                       extra_workdays=frozenset(c.extra_workdays or ()))
    bands, weights = scoring(f.scoring)
    squads = {s.id: s.name for s in f.squads or ()}
    cells, areas = _grid(f, squads)
    cats = _categories(f)
    units: dict[str, Unit] = {}
    for i, u in enumerate(f.units):
        if u.id in units:
            raise ConfigError(f"units[{i}].id", f"unit '{u.id}' appears twice")
        units[u.id] = Unit(u.id, u.name, u.short or u.id, u.group)
    users = _users(f, units, squads)
    return City(name=f.city.name, calendar=cal, cells=cells, areas=areas, squads=squads,
                shifts=dict((c.shifts or {}).items()), categories=cats, units=units,
                routing=_routing(f, cats, units, cells, areas, squads),
                time_limits=_time_limits(f, cal, cats), users=users, raw=raw, bands=bands,
                weights=weights, intake=_intake(f, cal), open311=_open311(f, cells, users),
                map=city_map(f.map, cells), duplicates=duplicate_rule(f.duplicates),
                notify=notifying(f.notifications, cal, units),
                callback_reopens=bool(f.callback and f.callback.reopen_unsatisfied))


def scoring(spec: Scoring | None, prefix: str = "") -> tuple[tuple, dict]:
    """Grade bands (floors falling, best first) and weights over the defaults."""
    if spec is None:
        return DEFAULT_BANDS, dict(DEFAULT_WEIGHTS)
    bands: list[tuple[str, float]] = []
    for i, b in enumerate(spec.bands or ()):
        if bands and b.min >= bands[-1][1]:
            raise ConfigError(f"{prefix}scoring.bands[{i}].min",
                              "bands go from the best grade down: floors must fall")
        bands.append((b.grade, float(b.min)))
    weights = dict(DEFAULT_WEIGHTS)
    for group, terms in (spec.weights or {}).items():
        weights[group] = {t: float(w) for t, w in terms.items()}
    return tuple(bands) or DEFAULT_BANDS, weights


def _grid(f: CityFile, squads: dict) -> tuple[dict[str, Cell], dict[str, str]]:
    cells: dict[str, Cell] = {}
    areas: dict[str, str] = {}
    for di, d in enumerate(f.districts):
        areas[d.code] = d.name
        for si, s in enumerate(d.streets):
            scode = d.code + s.code
            areas[scode] = s.name
            for ci, c in enumerate(s.communities):
                cp = f"districts[{di}].streets[{si}].communities[{ci}]"
                ccode = scode + c.code
                if ccode in areas:
                    raise ConfigError(f"{cp}.code", f"community '{ccode}' appears twice")
                areas[ccode] = c.name
                if c.squad is not None and c.squad not in squads:
                    raise ConfigError(f"{cp}.squad", f"unknown squad '{c.squad}'")
                for ki, k in enumerate(c.cells):
                    code = ccode + k
                    if code in cells:
                        raise ConfigError(f"{cp}.cells[{ki}]", f"grid cell '{code}' appears twice")
                    cells[code] = Cell(code, ccode, scode, d.code, c.squad)
    if not cells:
        raise ConfigError("districts", "defines no grid cells")
    return cells, areas


def _categories(f: CityFile) -> dict[str, Category]:
    out: dict[str, Category] = {}
    for group, letter in CATEGORY_KINDS.items():
        for bi, big in enumerate(getattr(f.categories, group) or ()):
            bcode = letter + big.code
            for scode, sname in big.small.items():
                code = bcode + scode
                if code in out:
                    raise ConfigError(f"categories.{group}[{bi}].small.{scode}",
                                      f"category '{code}' appears twice")
                kind = "component" if letter == "C" else "event"
                out[code] = Category(code, sname, kind, bcode, big.name,
                                     resolve_requires_photo=bool(big.resolve_requires_photo))
    if not out:
        raise ConfigError("categories", "defines no categories (components or events)")
    return out


def category_prefix(cat: str, cats, path: str) -> str:
    """'*' or a code prefix that matches a configured category."""
    if cat != "*" and not any(c.startswith(cat) for c in cats):
        raise ConfigError(path, f"'{cat}' matches no category code")
    return cat


def _routing(f: CityFile, cats, units, cells, areas, squads) -> tuple[RoutingRule, ...]:
    out, seen = [], set()
    for i, r in enumerate(f.routing or ()):
        p = f"routing[{i}]"
        if r.id in seen:
            raise ConfigError(f"{p}.id", f"rule id '{r.id}' appears twice")
        seen.add(r.id)
        category_prefix(r.category, cats, f"{p}.category")
        if r.area.startswith("squad:"):
            if r.area[6:] not in squads:
                raise ConfigError(f"{p}.area", f"unknown squad '{r.area[6:]}'")
        elif r.area != "*" and r.area not in areas and r.area not in cells:
            raise ConfigError(f"{p}.area", f"'{r.area}' is no district, street, community or cell")
        if r.unit not in units:
            raise ConfigError(f"{p}.unit", f"unknown member unit '{r.unit}'")
        out.append(RoutingRule(r.id, r.category, r.area, r.unit, r.kind, r.basis))
    return tuple(out)


def minutes(cal: WorkCalendar, value, path: str) -> float:
    """A duration in working minutes of this calendar."""
    try:
        return cal.parse_duration(value)
    except ValueError as e:
        raise ConfigError(path, str(e)) from None


def _time_limits(f: CityFile, cal: WorkCalendar, cats) -> tuple[TimeLimit, ...]:
    out = []
    for i, t in enumerate(f.time_limits):
        mins = minutes(cal, t.limit, f"time_limits[{i}].limit")
        category_prefix(t.category, cats, f"time_limits[{i}].category")
        out.append(TimeLimit(t.step, mins, t.category, t.urgency))
    for step in STEPS:
        if not any(t.step == step and t.category == "*" and t.urgency == "*" for t in out):
            raise ConfigError("time_limits", f"needs a default rule for step '{step}'")
    return tuple(out)


def _users(f: CityFile, units, squads) -> dict[str, User]:
    out: dict[str, User] = {}
    for i, u in enumerate(f.users):
        p = f"users[{i}]"
        if u.id in out:
            raise ConfigError(f"{p}.id", f"user '{u.id}' appears twice")
        if u.role == "unit_member":
            if u.unit not in units:
                raise ConfigError(f"{p}.unit", f"a unit member needs a known unit, not '{u.unit}'")
        elif u.unit is not None:
            raise ConfigError(f"{p}.unit", "only unit members belong to a unit")
        if u.squad is not None and u.squad not in squads:
            raise ConfigError(f"{p}.squad", f"unknown squad '{u.squad}'")
        out[u.id] = User(u.id, u.name or u.id, u.role, u.unit, u.squad)
    return out


def _intake(f: CityFile, cal: WorkCalendar) -> Intake:
    sec = f.intake
    if sec is None:
        return Intake()
    out: dict = {k: getattr(sec, k) for k in ("future_skew", "max_description", "max_reason",
                                              "max_evidence", "max_url")
                 if getattr(sec, k) is not None}
    if sec.history_from is not None:
        out["history_from"] = datetime.combine(sec.history_from, datetime.min.time(), cal.tz)
    if sec.max_extension is not None:
        out["max_extension_minutes"] = minutes(cal, sec.max_extension, "intake.max_extension")
    return Intake(**out)


def _open311(f: CityFile, cells, users) -> Open311:
    sec = f.open311
    if sec is None:
        return Open311()
    out: dict = {k: getattr(sec, k) for k in ("jurisdiction_id", "contact", "key_service",
                                              "coordinate_decimals", "step_reasons")
                 if getattr(sec, k) is not None}
    for key in ("public_channels", "public_fields"):
        if getattr(sec, key) is not None:
            out[key] = tuple(dict.fromkeys(getattr(sec, key)))
    if sec.staff_accounts is not None:
        channels = [u.id for u in users.values() if u.role == "channel"]
        for i, x in enumerate(sec.staff_accounts):
            if x not in channels:
                raise ConfigError(f"open311.staff_accounts[{i}]",
                                  f"'{x}' is not one of {', '.join(channels)}")
        out["staff_accounts"] = tuple(dict.fromkeys(sec.staff_accounts))
    places, seen = [], {}
    for i, a in enumerate(sec.addresses or ()):
        p = f"open311.addresses[{i}]"
        key = normalize_address(a.name)
        if not key:
            raise ConfigError(f"{p}.name", "must not be empty")
        if key in seen:
            raise ConfigError(f"{p}.name", f"'{a.name}' appears twice (also at [{seen[key]}])")
        seen[key] = i
        if a.cell not in cells:
            raise ConfigError(f"{p}.cell", f"'{a.cell}' is no grid cell of the city")
        places.append(Place(a.name, a.cell, key))
    out["addresses"] = tuple(places)
    return Open311(**out)
