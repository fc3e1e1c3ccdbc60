"""The city's configuration: grid, categories, units, routing, time limits, calendar, users.

Built from one plain mapping (the YAML file, read by adapters) and validated here;
every error names the dotted key that broke a rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.calendar import WorkCalendar, parse_hours
from domain.errors import ConfigError, ValidationError
from domain.indicators import DEFAULT_BANDS, DEFAULT_WEIGHTS, valid_term
from domain.validate import DEFAULT_INTAKE, Intake

ROLES = (
    "supervisor",  # 监督员 / 网格员
    "channel",  # 公众渠道, 12345 热线 (machine or operator account)
    "acceptor",  # 受理员
    "duty_chief",  # 值班长
    "dispatcher",  # 派遣员
    "unit_member",  # 成员单位人员
    "inspector",  # 纪检监察 (read-only)
    "system",  # 系统
)
STEPS = ("verify", "file", "dispatch", "resolve", "check", "close")  # steps with a clock
URGENCIES = ("normal", "urgent")
CATEGORY_KINDS = {"components": "C", "events": "E"}  # 部件, 事件
GRID_RE = re.compile(r"^\d{14}$")


@dataclass(frozen=True)
class Cell:
    """单元网格: 6-digit county + 3 street + 3 community + 2 cell."""

    code: str
    community: str  # 12-digit community code
    street: str  # 9-digit street code
    district: str  # 6-digit county/district code
    squad: str | None  # responsibility area (责任区) of a patrol squad


@dataclass(frozen=True)
class Category:
    code: str  # 'E0102': kind letter + big class + small class
    name: str
    kind: str  # 'component' (部件) | 'event' (事件)
    big_code: str  # 'E01'
    big_name: str


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    short: str
    group: str  # '4' (core of 4+X) | 'X'


@dataclass(frozen=True)
class RoutingRule:
    """确责: category × area → unit, by law, precedent (判例) or the office's proposal."""

    id: str
    category: str  # exact code, big-class code ('E01') or '*'
    area: str  # '*', a code prefix (district/street/community/cell) or 'squad:<id>'
    unit: str
    kind: str  # law | precedent | proposal
    basis: str

    def matches(self, category: str, cell: Cell) -> bool:
        if self.category != "*" and not category.startswith(self.category):
            return False
        if self.area == "*":
            return True
        if self.area.startswith("squad:"):
            return cell.squad == self.area[6:]
        return cell.code.startswith(self.area)


@dataclass(frozen=True)
class TimeLimit:
    step: str
    minutes: float
    category: str = "*"
    urgency: str = "*"

    @property
    def specificity(self) -> tuple[int, int]:
        return (0 if self.category == "*" else len(self.category), self.urgency != "*")


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: str
    unit: str | None = None
    squad: str | None = None


@dataclass(frozen=True)
class City:
    name: str
    calendar: WorkCalendar
    cells: dict[str, Cell]
    areas: dict[str, str]  # code -> name for districts, streets, communities
    squads: dict[str, str]  # id -> name
    shifts: dict[str, tuple]
    categories: dict[str, Category]
    units: dict[str, Unit]
    routing: tuple[RoutingRule, ...]
    time_limits: tuple[TimeLimit, ...]
    users: dict[str, User]
    raw: dict = field(repr=False, compare=False, default_factory=dict)
    bands: tuple[tuple[str, float], ...] = DEFAULT_BANDS  # grade names and floors, best first
    weights: dict[str, dict[str, float]] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    intake: Intake = DEFAULT_INTAKE  # bounds on business time and command fields
    open311: Open311 = field(default_factory=lambda: _open311({}, {}))  # noqa: F821 (domain/open311.py)

    @property
    def tz(self) -> ZoneInfo:
        return self.calendar.tz

    def cell(self, code: str, field_name: str = "grid") -> Cell:
        if not isinstance(code, str) or not GRID_RE.match(code):
            raise ValidationError(field_name, f"'{code}' is not a 14-digit grid cell code")
        if code.endswith("00"):
            raise ValidationError(field_name, f"'{code}' is a community-level code; give a cell")
        try:
            return self.cells[code]
        except KeyError:
            raise ValidationError(field_name, f"unknown grid cell '{code}'") from None

    def category(self, code: str, field_name: str = "category") -> Category:
        try:
            return self.categories[code]
        except KeyError:
            raise ValidationError(field_name, f"unknown category code '{code}'") from None

    def unit(self, unit_id: str, field_name: str = "unit") -> Unit:
        try:
            return self.units[unit_id]
        except KeyError:
            raise ValidationError(field_name, f"unknown member unit '{unit_id}'") from None

    def user(self, user_id: str, field_name: str = "actor") -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise ValidationError(field_name, f"unknown user '{user_id}'") from None

    def route(self, category: str, cell: Cell) -> RoutingRule | None:
        """The first routing rule, in file order, that matches."""
        return next((r for r in self.routing if r.matches(category, cell)), None)

    def limit(self, step: str, category: str, urgency: str) -> float | None:
        """Working minutes allowed for a step; the most specific matching rule wins."""
        best: TimeLimit | None = None
        for lim in self.time_limits:
            if lim.step != step:
                continue
            if lim.category != "*" and not category.startswith(lim.category):
                continue
            if lim.urgency not in ("*", urgency):
                continue
            if best is None or lim.specificity > best.specificity:
                best = lim
        return best.minutes if best else None


# ---------------------------------------------------------------- loading


def _need(d: dict, key: str, path: str, kind=str):
    if not isinstance(d, dict):
        raise ConfigError(path, "must be a mapping")
    if key not in d or d[key] is None:
        raise ConfigError(f"{path}.{key}".lstrip("."), "is required")
    v = d[key]
    if kind is str and isinstance(v, (int, float)) and not isinstance(v, bool):
        v = str(v)
    if not isinstance(v, kind):
        raise ConfigError(f"{path}.{key}".lstrip("."), f"must be a {_kind_name(kind)}")
    return v


def _kind_name(kind) -> str:
    names = {str: "string", list: "list", dict: "mapping", int: "whole number"}
    return names.get(kind, "string or number" if isinstance(kind, tuple) else str(kind))


def _digits(v: str, n: int, path: str) -> str:
    if not re.fullmatch(rf"\d{{{n}}}", v):
        raise ConfigError(path, f"'{v}' must be exactly {n} digits")
    return v


def _dates(items, path: str) -> frozenset[date]:
    out = set()
    for i, x in enumerate(items or []):
        if isinstance(x, date):
            out.add(x)
            continue
        try:
            out.add(date.fromisoformat(str(x)))
        except ValueError:
            raise ConfigError(f"{path}[{i}]", f"'{x}' is not a date YYYY-MM-DD") from None
    return frozenset(out)


def _calendar(raw: dict) -> tuple[WorkCalendar, dict]:
    city = _need(raw, "city", "", dict)
    tzname = _need(city, "timezone", "city")
    try:
        tz = ZoneInfo(tzname)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("city.timezone", f"unknown time zone '{tzname}'") from None
    cal = _need(raw, "calendar", "", dict)
    try:
        hours = parse_hours(_need(cal, "hours", "calendar", list))
    except ValueError as e:
        raise ConfigError("calendar.hours", str(e)) from None
    workdays = cal.get("workdays", [1, 2, 3, 4, 5])
    if not isinstance(workdays, list) or not all(
        isinstance(d, int) and 1 <= d <= 7 for d in workdays
    ):
        raise ConfigError("calendar.workdays", "must be a list of ISO weekdays 1 (Mon) to 7 (Sun)")
    shifts = {}
    if not isinstance(cal.get("shifts") or {}, dict):
        raise ConfigError("calendar.shifts", "must be a mapping of name: [start, end]")
    for name, pair in (cal.get("shifts") or {}).items():
        try:
            shifts[str(name)] = parse_hours([pair])[0]
        except ValueError as e:
            raise ConfigError(f"calendar.shifts.{name}", str(e)) from None
    return (
        WorkCalendar(
            tz=tz,
            hours=hours,
            workdays=frozenset(workdays),
            holidays=_dates(cal.get("holidays"), "calendar.holidays"),
            extra_workdays=_dates(cal.get("extra_workdays"), "calendar.extra_workdays"),
        ),
        shifts,
    )


def _grid(raw: dict, squads: dict) -> tuple[dict[str, Cell], dict[str, str]]:
    cells: dict[str, Cell] = {}
    areas: dict[str, str] = {}
    for di, d in enumerate(_need(raw, "districts", "", list)):
        dp = f"districts[{di}]"
        dcode = _digits(_need(d, "code", dp), 6, f"{dp}.code")
        areas[dcode] = _need(d, "name", dp)
        for si, s in enumerate(_need(d, "streets", dp, list)):
            sp = f"{dp}.streets[{si}]"
            scode = dcode + _digits(_need(s, "code", sp), 3, f"{sp}.code")
            areas[scode] = _need(s, "name", sp)
            for ci, c in enumerate(_need(s, "communities", sp, list)):
                cp = f"{sp}.communities[{ci}]"
                ccode = scode + _digits(_need(c, "code", cp), 3, f"{cp}.code")
                if ccode in areas:
                    raise ConfigError(f"{cp}.code", f"community '{ccode}' appears twice")
                areas[ccode] = _need(c, "name", cp)
                squad = c.get("squad")
                if squad is not None and (not isinstance(squad, str) or squad not in squads):
                    raise ConfigError(f"{cp}.squad", f"unknown squad '{squad}'")
                for ki, k in enumerate(_need(c, "cells", cp, list)):
                    kp = f"{cp}.cells[{ki}]"
                    kcode = _digits(str(k), 2, kp)
                    if kcode == "00":
                        raise ConfigError(kp, "cell code 00 is reserved for the community itself")
                    code = ccode + kcode
                    if code in cells:
                        raise ConfigError(kp, f"grid cell '{code}' appears twice")
                    cells[code] = Cell(code, ccode, scode, dcode, squad)
    if not cells:
        raise ConfigError("districts", "defines no grid cells")
    return cells, areas


def _categories(raw: dict) -> dict[str, Category]:
    cats = _need(raw, "categories", "", dict)
    out: dict[str, Category] = {}
    for group, letter in CATEGORY_KINDS.items():
        for bi, big in enumerate(cats.get(group) or []):
            bp = f"categories.{group}[{bi}]"
            bcode = letter + _digits(_need(big, "code", bp), 2, f"{bp}.code")
            bname = _need(big, "name", bp)
            small = _need(big, "small", bp, dict)
            for scode, sname in small.items():
                sp = f"{bp}.small.{scode}"
                code = bcode + _digits(str(scode), 2, sp)
                if code in out:
                    raise ConfigError(sp, f"category '{code}' appears twice")
                if not isinstance(sname, str) or not sname.strip():
                    raise ConfigError(sp, "needs a name")
                kind = "component" if letter == "C" else "event"
                out[code] = Category(code, sname, kind, bcode, bname)
    if not out:
        raise ConfigError("categories", "defines no categories (components or events)")
    return out


def _routing(raw: dict, cats, units, cells, areas, squads) -> tuple[RoutingRule, ...]:
    out = []
    seen = set()
    for i, r in enumerate(raw.get("routing") or []):
        p = f"routing[{i}]"
        rid = _need(r, "id", p)
        if rid in seen:
            raise ConfigError(f"{p}.id", f"rule id '{rid}' appears twice")
        seen.add(rid)
        cat = str(r.get("category", "*"))
        if cat != "*" and not any(c.startswith(cat) for c in cats):
            raise ConfigError(f"{p}.category", f"'{cat}' matches no category code")
        area = str(r.get("area", "*"))
        if area.startswith("squad:"):
            if area[6:] not in squads:
                raise ConfigError(f"{p}.area", f"unknown squad '{area[6:]}'")
        elif area != "*" and area not in areas and area not in cells:
            raise ConfigError(f"{p}.area", f"'{area}' is no district, street, community or cell")
        unit = _need(r, "unit", p)
        if unit not in units:
            raise ConfigError(f"{p}.unit", f"unknown member unit '{unit}'")
        kind = r.get("kind", "law")
        if kind not in ("law", "precedent", "proposal"):
            raise ConfigError(f"{p}.kind", "must be one of law, precedent, proposal")
        out.append(RoutingRule(rid, cat, area, unit, kind, str(r.get("basis", ""))))
    return tuple(out)


def _time_limits(raw: dict, cal: WorkCalendar, cats) -> tuple[TimeLimit, ...]:
    out = []
    for i, r in enumerate(_need(raw, "time_limits", "", list)):
        p = f"time_limits[{i}]"
        step = _need(r, "step", p)
        if step not in STEPS:
            raise ConfigError(f"{p}.step", f"'{step}' is not one of {', '.join(STEPS)}")
        try:
            minutes = cal.parse_duration(_need(r, "limit", p, (str, int, float)))
        except ValueError as e:
            raise ConfigError(f"{p}.limit", str(e)) from None
        cat = str(r.get("category", "*"))
        if cat != "*" and not any(c.startswith(cat) for c in cats):
            raise ConfigError(f"{p}.category", f"'{cat}' matches no category code")
        urg = str(r.get("urgency", "*"))
        if urg != "*" and urg not in URGENCIES:
            raise ConfigError(f"{p}.urgency", f"must be one of {', '.join(URGENCIES)} or '*'")
        out.append(TimeLimit(step, minutes, cat, urg))
    for step in STEPS:
        if not any(t.step == step and t.category == "*" and t.urgency == "*" for t in out):
            raise ConfigError("time_limits", f"needs a default rule for step '{step}'")
    return tuple(out)


def _users(raw: dict, units, squads) -> dict[str, User]:
    out: dict[str, User] = {}
    for i, u in enumerate(_need(raw, "users", "", list)):
        p = f"users[{i}]"
        uid = _need(u, "id", p)
        if uid in out:
            raise ConfigError(f"{p}.id", f"user '{uid}' appears twice")
        role = _need(u, "role", p)
        if role not in ROLES:
            raise ConfigError(f"{p}.role", f"'{role}' is not one of {', '.join(ROLES)}")
        unit = u.get("unit")
        if role == "unit_member":
            if not isinstance(unit, str) or unit not in units:
                raise ConfigError(f"{p}.unit", f"a unit member needs a known unit, not '{unit}'")
        elif unit is not None:
            raise ConfigError(f"{p}.unit", "only unit members belong to a unit")
        squad = u.get("squad")
        if squad is not None and (not isinstance(squad, str) or squad not in squads):
            raise ConfigError(f"{p}.squad", f"unknown squad '{squad}'")
        out[uid] = User(uid, str(u.get("name", uid)), role, unit, squad)
    return out


def _scoring(raw: dict) -> tuple[tuple, dict]:
    sc = raw.get("scoring")
    if sc is None:
        return DEFAULT_BANDS, dict(DEFAULT_WEIGHTS)
    if not isinstance(sc, dict):
        raise ConfigError("scoring", "must be a mapping with bands and weights")
    bands = []
    for i, b in enumerate(sc.get("bands") or []):
        p = f"scoring.bands[{i}]"
        name = _need(b, "grade", p)
        floor = _need(b, "min", p, (int, float))
        if bands and floor >= bands[-1][1]:
            raise ConfigError(f"{p}.min", "bands go from the best grade down: floors must fall")
        bands.append((name, float(floor)))
    weights = dict(DEFAULT_WEIGHTS)
    for group, terms in (sc.get("weights") or {}).items():
        p = f"scoring.weights.{group}"
        if group not in DEFAULT_WEIGHTS:
            raise ConfigError(p, f"is not one of {', '.join(DEFAULT_WEIGHTS)}")
        if not isinstance(terms, dict) or not terms:
            raise ConfigError(p, "must map indicator terms to points")
        for term, w in terms.items():
            if not valid_term(str(term)):
                raise ConfigError(f"{p}.{term}", "is not a rate name or '1-<rate name>'")
            if isinstance(w, bool) or not isinstance(w, (int, float)) or w <= 0:
                raise ConfigError(f"{p}.{term}", "points must be a positive number")
        weights[group] = {str(t): float(w) for t, w in terms.items()}
    return tuple(bands) or DEFAULT_BANDS, weights


def build_city(raw: dict) -> City:
    """Validate a configuration mapping and build the City; raises ConfigError naming the key."""
    if not isinstance(raw, dict):
        raise ConfigError("(file)", "must be a mapping at the top level")
    cal, shifts = _calendar(raw)
    bands, weights = _scoring(raw)
    squads = {}
    for i, s in enumerate(raw.get("squads") or []):
        squads[_need(s, "id", f"squads[{i}]")] = _need(s, "name", f"squads[{i}]")
    cells, areas = _grid(raw, squads)
    cats = _categories(raw)
    units = {}
    for i, u in enumerate(_need(raw, "units", "", list)):
        p = f"units[{i}]"
        uid = _need(u, "id", p)
        if uid in units:
            raise ConfigError(f"{p}.id", f"unit '{uid}' appears twice")
        group = str(u.get("group", "X"))
        if group not in ("4", "X"):
            raise ConfigError(f"{p}.group", "must be '4' (core unit of 4+X) or 'X'")
        units[uid] = Unit(uid, _need(u, "name", p), str(u.get("short", uid)), group)
    return City(
        name=_need(raw["city"], "name", "city"),
        calendar=cal,
        cells=cells,
        areas=areas,
        squads=squads,
        shifts=shifts,
        categories=cats,
        units=units,
        routing=_routing(raw, cats, units, cells, areas, squads),
        time_limits=_time_limits(raw, cal, cats),
        users=_users(raw, units, squads),
        raw=raw,
        bands=bands,
        weights=weights,
        intake=_intake(raw, cal),
        open311=_open311(raw, cells),
    )


def _intake(raw: dict, cal: WorkCalendar) -> Intake:
    """Section `intake`: the earliest business time, the clock skew allowed into the
    future, and the bounds on text, evidence and extensions."""
    from datetime import datetime, timedelta

    from domain.times import FLOOR_DAY, parse_day

    sec = raw.get("intake") or {}
    if not isinstance(sec, dict):
        raise ConfigError("intake", "must be a mapping")
    out: dict = {}
    if "history_from" in sec:
        try:
            day = parse_day(str(sec["history_from"]), "intake.history_from", floor=FLOOR_DAY)
        except ValidationError as e:
            raise ConfigError("intake.history_from", e.rule) from None
        out["history_from"] = datetime.combine(day, datetime.min.time(), cal.tz)
    if "future_skew" in sec:
        m = re.fullmatch(r"(\d+)(s|m|h)", str(sec["future_skew"]).strip())
        if not m or int(m.group(1)) > {"s": 86400, "m": 1440, "h": 24}[m.group(2)]:
            raise ConfigError("intake.future_skew", "must be like '30s', '5m' or '1h', at most a day")
        n = int(m.group(1))
        out["future_skew"] = timedelta(**{ {"s": "seconds", "m": "minutes", "h": "hours"}[m.group(2)]: n})
    if "max_extension" in sec:
        try:
            out["max_extension_minutes"] = cal.parse_duration(sec["max_extension"])
        except ValueError as e:
            raise ConfigError("intake.max_extension", str(e)) from None
    for key in ("max_description", "max_reason", "max_evidence", "max_url"):
        if key in sec:
            v = sec[key]
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 100_000:
                raise ConfigError(f"intake.{key}", "must be a whole number from 1 to 100000")
            out[key] = v
    unknown = set(sec) - {"history_from", "future_skew", "max_extension", "max_description",
                          "max_reason", "max_evidence", "max_url"}
    if unknown:
        raise ConfigError(f"intake.{sorted(unknown)[0]}", "is not a known key")
    return Intake(**out)


def _open311(raw: dict, cells: dict) -> Open311:  # noqa: F821 (imported below)
    """Section `open311`: the jurisdiction, which channels and request fields the anonymous
    GeoReport reads publish, coordinate rounding, step reasons, the channel accounts whose
    key sees the staff view, and the address texts placed on grid cells (domain/open311.py)."""
    from domain.open311 import FIELDS, OPEN311, REASONS, Open311, Place, normalize_address
    from domain.policy import CHANNELS

    sec = raw.get("open311") or {}
    if not isinstance(sec, dict):
        raise ConfigError("open311", "must be a mapping")
    known = ("jurisdiction_id", "public_channels", "public_fields", "coordinate_decimals",
             "staff_accounts", "step_reasons", "addresses", "contact", "key_service")
    unknown = set(sec) - set(known)
    if unknown:
        raise ConfigError(f"open311.{sorted(unknown, key=str)[0]}", "is not a known key")
    out: dict = {}
    for key in ("jurisdiction_id", "contact", "key_service"):
        if sec.get(key) is not None:
            v = sec[key]
            if not isinstance(v, str) or not v.strip() or len(v) > 500:
                raise ConfigError(f"open311.{key}", "must be a non-empty string (at most 500)")
            if key == "jurisdiction_id" and not re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", v):
                raise ConfigError(f"open311.{key}", "must be letters, digits and . _ : - only")
            out[key] = v.strip()

    def names(key: str, options, what: str) -> tuple[str, ...]:
        v = sec[key]
        if not isinstance(v, list):
            raise ConfigError(f"open311.{key}", f"must be a list of {what}")
        for i, x in enumerate(v):
            if not isinstance(x, str) or x not in options:
                raise ConfigError(f"open311.{key}[{i}]", f"'{x}' is not one of {', '.join(options)}")
        return tuple(dict.fromkeys(v))

    if "public_channels" in sec:
        out["public_channels"] = names("public_channels", (*CHANNELS, OPEN311), "channels")
    if "public_fields" in sec:
        out["public_fields"] = names("public_fields", FIELDS, "GeoReport request fields")
    if "staff_accounts" in sec:
        accounts = [u.get("id") for u in raw.get("users") or []
                    if isinstance(u, dict) and u.get("role") == "channel"]
        out["staff_accounts"] = names("staff_accounts", accounts, "channel account ids")
    if "coordinate_decimals" in sec:
        v = sec["coordinate_decimals"]
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 6:
            raise ConfigError("open311.coordinate_decimals", "must be a whole number from 0 to 6")
        out["coordinate_decimals"] = v
    if "step_reasons" in sec:
        v = sec["step_reasons"]
        if v not in REASONS:
            raise ConfigError("open311.step_reasons", f"must be one of {', '.join(REASONS)}")
        out["step_reasons"] = v
    if sec.get("addresses") is not None and not isinstance(sec["addresses"], list):
        raise ConfigError("open311.addresses", "must be a list of {name, cell}")
    places, seen = [], {}
    for i, a in enumerate(sec.get("addresses") or []):
        p = f"open311.addresses[{i}]"
        name = _need(a, "name", p)
        key = normalize_address(name)
        if not key:
            raise ConfigError(f"{p}.name", "must not be empty")
        if key in seen:
            raise ConfigError(f"{p}.name", f"'{name}' appears twice (also at [{seen[key]}])")
        seen[key] = i
        cell = _need(a, "cell", p)
        if cell not in cells:
            raise ConfigError(f"{p}.cell", f"'{cell}' is no grid cell of the city")
        places.append(Place(name, cell, key))
    out["addresses"] = tuple(places)
    return Open311(**out)
