"""The city's configuration: grid, categories, units, routing, time limits, calendar, users.

Plain objects, built by the adapters from the city file once it is validated
(adapters/config: the file's models, its JSON Schema and the cross-reference rules).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from domain.calendar import WorkCalendar
from domain.duplicates import DuplicateRule
from domain.errors import ValidationError
from domain.indicators import DEFAULT_BANDS, DEFAULT_WEIGHTS
from domain.notify import Notifying
from domain.open311 import Open311
from domain.validate import DEFAULT_INTAKE, Intake, photos

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
    resolve_requires_photo: bool = False  # 处置 needs an after-photo from the evidence store


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
class MapTiles:
    """The city's own tile server (城市自建地图服务): a {z}/{x}/{y} URL template."""

    url: str
    attribution: str = ""
    max_zoom: int = 18


@dataclass(frozen=True)
class CityMap:
    """The console map (地图): the box, the tile server (None: no tiles) and cell polygons."""

    bbox: tuple[float, float, float, float] | None = None  # south, west, north, east
    tiles: MapTiles | None = None
    polygons: dict[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)


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
    open311: Open311 = field(default_factory=Open311)  # what Open311 publishes
    map: CityMap = field(default_factory=CityMap)  # the console map (tiles, cell polygons)
    duplicates: DuplicateRule = DuplicateRule()  # 重复案件候选 (domain/duplicates.py)
    notify: Notifying = field(default_factory=Notifying)  # notification rules (通知规则)
    callback_reopens: bool = False  # 回访 不满意 reopens the case to rework (city file `callback`)
    # (step, category, urgency) → its limit, once worked out (the city never changes)
    _limits: dict = field(default_factory=dict, init=False, compare=False, hash=False,
                         repr=False)

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

    def check_resolve_photo(self, category: str, evidence: list[str]) -> None:
        """A category whose resolve needs an after-photo (处置后照片): at least one stored
        photo (`sha256:` ref) among the step's evidence, else a ValidationError."""
        cat = self.categories.get(category)
        if cat is not None and cat.resolve_requires_photo and not photos(evidence):
            raise ValidationError("evidence", f"resolving a '{cat.name}' case ({category}) "
                                              "needs at least one after-photo (sha256: ref)")

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
        key = (step, category, urgency)
        got = self._limits.get(key, self)  # self: not worked out yet (None is a limit)
        if got is self:
            if len(self._limits) >= 100_000:  # bounded however many codes come by
                self._limits.clear()
            got = self._limits[key] = self._limit(step, category, urgency)
        return got

    def _limit(self, step: str, category: str, urgency: str) -> float | None:
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
