"""The sample city configuration, the validator's error paths, and the working-time calendar."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.config.city_build import build_city
from domain.calendar import WorkCalendar, parse_hours
from domain.city import ROLES, STEPS, City
from domain.errors import ConfigError

SAMPLE = Path(__file__).resolve().parents[2] / "adapters/cities/sample.yaml"
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def city(raw: dict) -> City:
    return build_city(copy.deepcopy(raw))


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=TZ)


# ---------------------------------------------------------------- the sample city


def test_sample_loads(city: City) -> None:
    assert "清水河街道" in city.name
    assert city.tz.key == "Asia/Shanghai"
    assert city.calendar.hours == ((time(8, 30), time(12)), (time(14), time(18)))
    assert city.calendar.workdays == frozenset({1, 2, 3, 4, 5})
    assert city.calendar.day_minutes == 450
    assert city.shifts == {"early": (time(7), time(15)), "late": (time(15), time(23))}
    assert city.squads == {"patrol-1": "巡查一中队（西片）", "patrol-2": "巡查二中队（东片）"}


def test_seven_communities_in_two_squads(city: City) -> None:
    communities = {code: name for code, name in city.areas.items() if len(code) == 12}
    assert len(communities) == 7
    by_squad: dict[str | None, set[str]] = {}
    for cell in city.cells.values():
        by_squad.setdefault(cell.squad, set()).add(communities[cell.community])
    assert by_squad == {
        "patrol-1": {"坭岗社区", "梅园社区", "玉龙社区", "银湖社区"},
        "patrol-2": {"清水河社区", "草埔西社区", "龙湖社区"},
    }
    assert city.areas["440303"] == "罗湖区"
    assert city.areas["440303010"] == "清水河街道"


def test_cells_are_14_digit_codes_4_to_6_per_community(city: City) -> None:
    per_community: dict[str, int] = {}
    for code, cell in city.cells.items():
        assert len(code) == 14 and code.isdigit() and not code.endswith("00")
        assert code.startswith(cell.community) and cell.community.startswith(cell.street)
        assert cell.district == "440303" and cell.street == "440303010"
        per_community[cell.community] = per_community.get(cell.community, 0) + 1
    assert sorted(per_community) == [f"440303010{n:03d}" for n in range(1, 8)]
    assert all(4 <= n <= 6 for n in per_community.values())


def test_categories(city: City) -> None:
    e07 = [c for c in city.categories.values() if c.big_code == "E07"]
    assert len(e07) >= 21
    assert {c.name for c in e07} >= {"违法建设", "无证无照经营", "非法殡葬经营", "其他授权事项"}
    assert city.categories["E0101"].name == "违法搭建"
    assert city.categories["E0102"].name == "暴露垃圾"
    assert city.categories["E0201"].name == "非法小广告"
    assert city.categories["E0401"].name == "路面塌陷"
    assert city.categories["C0101"].name == "上水井盖"
    assert city.categories["C0101"].kind == "component"
    assert city.categories["E0102"].kind == "event"
    bigs = {c.big_code: c.big_name for c in city.categories.values() if c.kind == "component"}
    assert bigs == {
        "C01": "公用设施",
        "C02": "道路交通",
        "C03": "市容环境",
        "C04": "园林绿化",
        "C05": "房屋土地",
        "C06": "其他设施",
    }


def test_units_are_4_plus_x(city: City) -> None:
    core = {u.id for u in city.units.values() if u.group == "4"}
    assert core == {"cgj", "gaj", "scjg", "zjj"}
    assert {"jtj", "jj", "swj", "qsh-zf"} <= {u.id for u in city.units.values() if u.group == "X"}


def test_at_least_one_user_per_role(city: City) -> None:
    roles = {u.role for u in city.users.values()}
    assert set(ROLES) <= roles
    assert city.users["system"].role == "system"
    assert city.users["sup_zhang"].squad == "patrol-1"
    assert city.users["sup_li"].squad == "patrol-2"


def test_every_unit_has_a_member(city: City) -> None:
    members = {u.unit for u in city.users.values() if u.role == "unit_member"}
    assert members == set(city.units)


def test_every_category_routes_in_every_cell(city: City) -> None:
    missing = [
        (cat, cell.code)
        for cat in city.categories
        for cell in city.cells.values()
        if city.route(cat, cell) is None
    ]
    assert missing == []


def test_routing_kinds_and_first_match_order(city: City) -> None:
    kinds = [r.kind for r in city.routing]
    assert kinds.count("precedent") >= 2
    assert kinds.count("proposal") >= 1
    assert all(r.basis for r in city.routing)
    west = city.cell("44030301000101")  # 坭岗, 巡查一中队
    east = city.cell("44030301000602")  # 草埔西, 巡查二中队
    assert city.route("E0201", east).id == "R-E0201-east"
    assert city.route("E0201", east).unit == "qsh-zf"
    assert city.route("E0201", west).unit == "hw"
    assert city.route("C0101", west).unit == "gs"
    assert city.route("C0105", west).id == "R-C01"
    assert city.route("E0503", west).unit == "jj"
    assert city.route("E0715", east).id == "R-E07"


@pytest.mark.parametrize(
    ("step", "category", "urgency", "minutes"),
    [
        ("verify", "E0102", "normal", 30),
        ("file", "E0102", "normal", 30),
        ("dispatch", "C0301", "normal", 30),
        ("resolve", "E0302", "normal", 450),  # default 1d
        ("check", "E0102", "normal", 30),
        ("close", "E0102", "normal", 60),
        ("resolve", "E0102", "normal", 240),  # 暴露垃圾 4h
        ("resolve", "E0102", "urgent", 60),
        ("resolve", "E0104", "normal", 180),  # 道路不洁 3h
        ("resolve", "E0101", "normal", 20 * 450),  # 违法搭建 20d
        ("resolve", "E0101", "urgent", 240),  # stop work within 4h
        ("resolve", "E0201", "normal", 450),  # 非法小广告 1d
        ("resolve", "E0401", "normal", 120),  # 路面塌陷 2h
        ("resolve", "E0401", "urgent", 30),
        ("resolve", "E0402", "urgent", 60),  # big class E04 + urgent
        ("resolve", "C0102", "normal", 240),  # 井盖: big class C01
        ("resolve", "C0102", "urgent", 60),
        ("resolve", "C0119", "urgent", 240),  # exact small class beats C01 + urgent
        ("resolve", "C0402", "urgent", 240),  # '*' + urgent
    ],
)
def test_time_limits(city: City, step: str, category: str, urgency: str, minutes: float) -> None:
    assert city.limit(step, category, urgency) == minutes


def test_every_step_has_a_limit_for_every_category(city: City) -> None:
    for step in STEPS:
        for cat in city.categories:
            for urgency in ("normal", "urgent"):
                assert city.limit(step, cat, urgency) is not None


def test_sample_calendar_2026_holidays(city: City) -> None:
    cal = city.calendar
    assert not cal.is_workday(date(2026, 1, 1))
    assert cal.is_workday(date(2026, 1, 4))  # Sunday, 调休
    assert not cal.is_workday(date(2026, 2, 17))  # 春节
    assert cal.is_workday(date(2026, 2, 14))  # Saturday, 调休
    assert cal.is_workday(date(2026, 2, 28))
    assert not cal.is_workday(date(2026, 5, 5))
    assert cal.is_workday(date(2026, 5, 9))
    assert not cal.is_workday(date(2026, 6, 19))
    assert not cal.is_workday(date(2026, 9, 25))
    assert not cal.is_workday(date(2026, 10, 7))
    assert cal.is_workday(date(2026, 9, 20)) and cal.is_workday(date(2026, 10, 10))
    assert not cal.is_workday(date(2027, 1, 1))
    assert not cal.is_workday(date(2027, 2, 8))


# ---------------------------------------------------------------- broken configurations

DELETE = object()


def _put(raw: dict, path: tuple, value) -> None:
    *head, last = path
    node = raw
    for key in head:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value


COMMUNITY = ("districts", 0, "streets", 0, "communities")


@pytest.mark.parametrize(
    ("path", "value", "field", "rule"),
    [
        pytest.param(
            (*COMMUNITY, 2, "cells", 1),
            "1",
            "districts[0].streets[0].communities[2].cells[1]",
            "'1' must be exactly 2 digits",
            id="cell-not-2-digits",
        ),
        pytest.param(
            (*COMMUNITY, 2, "cells", 1),
            "00",
            "districts[0].streets[0].communities[2].cells[1]",
            "reserved for the community",
            id="cell-00",
        ),
        pytest.param(
            (*COMMUNITY, 2, "cells", 1),
            "01",
            "districts[0].streets[0].communities[2].cells[1]",
            "appears twice",
            id="cell-twice",
        ),
        pytest.param(
            (*COMMUNITY, 1, "code"),
            "001",
            "districts[0].streets[0].communities[1].code",
            "community '440303010001' appears twice",
            id="community-twice",
        ),
        pytest.param(
            (*COMMUNITY, 0, "squad"),
            "patrol-9",
            "districts[0].streets[0].communities[0].squad",
            "unknown squad 'patrol-9'",
            id="community-unknown-squad",
        ),
        pytest.param(
            ("districts", 0, "streets", 0, "code"),
            8,  # what YAML makes of an unquoted 010
            "districts[0].streets[0].code",
            "'8' must be exactly 3 digits",
            id="street-octal",
        ),
        pytest.param(
            ("users", 3, "role"),
            "boss",
            "users[3].role",
            "'boss' is not one of",
            id="user-role",
        ),
        pytest.param(
            ("users", 3, "unit"),
            "cgj",
            "users[3].unit",
            "only unit members belong to a unit",
            id="non-member-with-unit",
        ),
        pytest.param(
            ("users", 0, "squad"),
            ["patrol-1"],
            "users[0].squad",
            "must be a string",  # a squad id, not a list of them
            id="user-squad-list",
        ),
        pytest.param(
            ("time_limits", 0, "limit"),
            "30 minutes",
            "time_limits[0].limit",
            "is not a duration",
            id="limit-text",
        ),
        pytest.param(
            ("time_limits", 0, "limit"),
            [30],
            "time_limits[0].limit",
            "must be a string or number",
            id="limit-list",
        ),
        pytest.param(
            ("time_limits", 0, "limit"),
            "0m",
            "time_limits[0].limit",
            "must be positive",
            id="limit-zero",
        ),
        pytest.param(
            ("time_limits", 1, "category"),
            "E99",
            "time_limits[1].category",
            "'E99' matches no category code",
            id="limit-category",
        ),
        pytest.param(
            ("time_limits", 3),
            DELETE,
            "time_limits",
            "needs a default rule for step 'resolve'",
            id="no-default-resolve",
        ),
        pytest.param(
            ("routing", 2, "unit"),
            "nobody",
            "routing[2].unit",
            "unknown member unit 'nobody'",
            id="routing-unit",
        ),
        pytest.param(
            ("routing", 0, "area"),
            "440303999",
            "routing[0].area",
            "is no district, street, community or cell",
            id="routing-area",
        ),
        pytest.param(
            ("routing", 0, "area"),
            "squad:patrol-3",
            "routing[0].area",
            "unknown squad 'patrol-3'",
            id="routing-squad",
        ),
        pytest.param(
            ("routing", 1, "kind"),
            "custom",
            "routing[1].kind",
            "must be one of law, precedent, proposal",
            id="routing-kind",
        ),
        pytest.param(
            ("routing", 1, "id"),
            "R-C0101",
            "routing[1].id",
            "rule id 'R-C0101' appears twice",
            id="routing-id-twice",
        ),
        pytest.param(
            ("city", "timezone"),
            "Mars/Olympus_Mons",
            "city.timezone",
            "unknown time zone",
            id="timezone",
        ),
        pytest.param(
            ("city", "name"),
            DELETE,
            "city.name",
            "is required",
            id="city-name",
        ),
        pytest.param(
            ("calendar", "hours"),
            [["12:00", "08:30"]],
            "calendar.hours",
            "ends before it starts",
            id="hours-reversed",
        ),
        pytest.param(
            ("calendar", "hours"),
            [["08:30", "12:00"], ["11:00", "18:00"]],
            "calendar.hours",
            "overlaps",
            id="hours-overlap",
        ),
        pytest.param(
            ("calendar", "hours"),
            [["08:30", 1080]],  # what YAML makes of an unquoted 18:00
            "calendar.hours",
            "'1080' is not a clock time HH:MM",
            id="hours-sexagesimal",
        ),
        pytest.param(
            ("calendar", "workdays"),
            [1, 2, 8],
            "calendar.workdays",
            "ISO weekdays",
            id="workdays",
        ),
        pytest.param(
            ("calendar", "shifts"),
            [["07:00", "15:00"]],
            "calendar.shifts",
            "must be a mapping",
            id="shifts-list",
        ),
        pytest.param(
            ("calendar", "shifts", "late"),
            ["23:00", "07:00"],
            "calendar.shifts.late",
            "ends before it starts",
            id="shift-overnight",
        ),
        pytest.param(
            ("calendar", "holidays", 1),
            "2026-13-01",
            "calendar.holidays[1]",
            "is not a date",
            id="holiday-date",
        ),
        pytest.param(
            ("categories", "events", 0, "small", "01"),
            " ",
            "categories.events[0].small.01",
            "needs a name",
            id="category-name",
        ),
        pytest.param(
            ("units", 0, "group"),
            "5",
            "units[0].group",
            "must be '4'",
            id="unit-group",
        ),
    ],
)
def test_broken_config(raw: dict, path: tuple, value, field: str, rule: str) -> None:
    broken = copy.deepcopy(raw)
    _put(broken, path, value)
    with pytest.raises(ConfigError) as err:
        build_city(broken)
    assert err.value.field == field
    assert rule in err.value.rule
    assert err.value.to_dict()["error"] == "config"


def test_top_level_must_be_mapping() -> None:
    with pytest.raises(ConfigError) as err:
        build_city([])  # type: ignore[arg-type]
    assert err.value.field == "(file)"


def test_category_code_from_unquoted_yaml_key(raw: dict) -> None:
    broken = copy.deepcopy(raw)
    broken["categories"]["events"][1]["small"][1] = "x"  # YAML reads `01:` as 1
    with pytest.raises(ConfigError) as err:
        build_city(broken)
    assert err.value.field == "categories.events[1].small.1"


# ---------------------------------------------------------------- working-time calendar


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    """08:30-12:00 + 14:00-18:00 Mon-Fri; 国庆 2026-10-01..07 off, Sat 2026-10-10 worked."""
    return WorkCalendar(
        tz=TZ,
        hours=parse_hours([["08:30", "12:00"], ["14:00", "18:00"]]),
        holidays=frozenset(date(2026, 10, d) for d in range(1, 8)),
        extra_workdays=frozenset({date(2026, 10, 10)}),
    )


@pytest.mark.parametrize(
    ("start", "minutes", "end"),
    [
        pytest.param(at(2026, 3, 2, 9), 30, at(2026, 3, 2, 9, 30), id="same-interval"),
        pytest.param(at(2026, 3, 2, 11, 30), 60, at(2026, 3, 2, 14, 30), id="across-lunch"),
        pytest.param(at(2026, 3, 2, 8, 30), 210, at(2026, 3, 2, 12), id="ends-at-interval-end"),
        pytest.param(at(2026, 3, 2, 8, 30), 450, at(2026, 3, 2, 18), id="one-day-from-opening"),
        pytest.param(at(2026, 3, 2, 10), 450, at(2026, 3, 3, 10), id="one-day-mid-morning"),
        pytest.param(at(2026, 3, 6, 17), 90, at(2026, 3, 9, 9), id="across-weekend"),
        pytest.param(at(2026, 9, 30, 17, 30), 60, at(2026, 10, 8, 9), id="across-holiday"),
        pytest.param(at(2026, 10, 9, 17, 30), 60, at(2026, 10, 10, 9), id="make-up-saturday"),
        pytest.param(at(2026, 3, 2, 6), 30, at(2026, 3, 2, 9), id="before-opening"),
        pytest.param(at(2026, 3, 2, 12, 30), 30, at(2026, 3, 2, 14, 30), id="in-lunch-break"),
        pytest.param(at(2026, 3, 2, 19), 30, at(2026, 3, 3, 9), id="after-closing"),
        pytest.param(at(2026, 3, 7, 22), 30, at(2026, 3, 9, 9), id="on-saturday-night"),
        pytest.param(at(2026, 10, 3, 10), 15, at(2026, 10, 8, 8, 45), id="on-a-holiday"),
        pytest.param(at(2026, 3, 2, 6), 0, at(2026, 3, 2, 8, 30), id="zero-off-hours"),
        pytest.param(at(2026, 3, 2, 8, 30), 20 * 450, at(2026, 3, 27, 18), id="twenty-days"),
    ],
)
def test_add(cal: WorkCalendar, start: datetime, minutes: float, end: datetime) -> None:
    assert cal.add(start, minutes) == end


def test_add_naive_and_foreign_zone(cal: WorkCalendar) -> None:
    assert cal.add(datetime(2026, 3, 2, 9), 30) == at(2026, 3, 2, 9, 30)
    utc = datetime(2026, 3, 2, 1, tzinfo=UTC)  # 09:00 in Shanghai
    assert cal.add(utc, 30) == at(2026, 3, 2, 9, 30)
    assert cal.add(utc, 30).tzinfo == TZ


def test_add_without_any_working_day_fails() -> None:
    never = WorkCalendar(tz=TZ, hours=parse_hours([["09:00", "17:00"]]), workdays=frozenset())
    with pytest.raises(ValueError, match="runs past"):
        never.add(at(2026, 3, 2, 9), 30)


@pytest.mark.parametrize(
    ("start", "end", "minutes"),
    [
        (at(2026, 3, 2, 11, 30), at(2026, 3, 2, 14, 30), 60),
        (at(2026, 3, 6, 17), at(2026, 3, 9, 9), 90),
        (at(2026, 9, 30, 17, 30), at(2026, 10, 8, 9), 60),
        (at(2026, 3, 7, 8), at(2026, 3, 8, 20), 0),  # a weekend
        (at(2026, 3, 2, 12), at(2026, 3, 2, 14), 0),  # the lunch break
        (at(2026, 3, 2, 8), at(2026, 3, 3, 8), 450),
    ],
)
def test_between(cal: WorkCalendar, start: datetime, end: datetime, minutes: float) -> None:
    assert cal.between(start, end) == minutes
    assert cal.between(end, start) == -minutes


@settings(max_examples=300, deadline=None)
@given(
    offset=st.integers(min_value=0, max_value=400 * 24 * 60),
    minutes=st.integers(min_value=1, max_value=30 * 450),
)
def test_between_is_inverse_of_add(offset: int, minutes: int) -> None:
    cal = WorkCalendar(
        tz=TZ,
        hours=parse_hours([["08:30", "12:00"], ["14:00", "18:00"]]),
        holidays=frozenset(date(2026, 10, d) for d in range(1, 8)),
        extra_workdays=frozenset({date(2026, 10, 10)}),
    )
    start = at(2026, 1, 1) + timedelta(minutes=offset)
    end = cal.add(start, minutes)
    assert end > start
    assert cal.between(start, end) == minutes
    # the deadline is the earliest such moment: one minute less is not enough
    assert cal.between(start, end - timedelta(minutes=1)) == minutes - 1


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("30m", 30),
        ("30min", 30),
        (" 2 h ", 120),
        ("4h", 240),
        ("1.5h", 90),
        ("1d", 450),
        ("0.5d", 225),
        ("20d", 9000),
        (45, 45),
        (7.5, 7.5),
    ],
)
def test_parse_duration(cal: WorkCalendar, text, minutes: float) -> None:
    assert cal.parse_duration(text) == minutes


@pytest.mark.parametrize("text", ["0m", "-5m", "30M", "1w", "", "m", "4 hours", True, 0, -1])
def test_parse_duration_refuses(cal: WorkCalendar, text) -> None:
    with pytest.raises(ValueError):
        cal.parse_duration(text)


def test_day_unit_follows_working_hours() -> None:
    short = WorkCalendar(tz=TZ, hours=parse_hours([["09:00", "12:00"], ["13:00", "17:00"]]))
    assert short.day_minutes == 420
    assert short.parse_duration("1d") == 420
