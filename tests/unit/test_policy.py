"""The rewards-and-penalties policy as a pure function: rule boundaries, to the yuan.

Facts are built by hand (no store): the 24-hour rule at 23:59 / 24:00 / 24:01 in wall
and in working time, the next-month double at the month edge, pending windows, citizen
rewards by nature, collector entries, the no-major-incident year, grades and 同奖同罚,
and the policy file's validation messages.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from adapters.config.policy_file import build_policy
from adapters.policies import SAMPLE_POLICY, load_policy
from domain.errors import ConfigError
from domain.policy import CaseFact, Inputs, evaluate
from tests.support import SH, city

OCT = (date(2026, 10, 1), date(2026, 10, 31))
NOW = datetime(2026, 11, 5, 8, 0, tzinfo=SH)
NIGANG, YULONG = "44030301000101", "44030301000301"  # 坭岗 (sup_zhang), 玉龙 (sup_huang)


def fact(cid: str, at: datetime, *, channel="patrol", category="E0101", grid=NIGANG,
         handled: datetime | None = None, description="", reasons=(), urgency="normal",
         confirmed=None, filed=True, voided=False, reporter="sup_zhang",
         reporter_role="supervisor") -> CaseFact:
    c = city().cells[grid]
    f = CaseFact(case_id=cid, reported_at=at, day=at.astimezone(SH).date(), channel=channel,
                 category=category, grid=grid, community=c.community, street=c.street,
                 squad=c.squad, reporter=reporter, reporter_role=reporter_role, urgency=urgency,
                 description=description, confirmed=confirmed, filed=filed, voided=voided,
                 reasons=list(reasons))
    if handled:
        f.first["Resolved"] = handled
    return f


def policy(*rules, officers=None, scoring=None):
    raw = {"id": "t", "name": "test", "rules": list(rules),
           "officers": officers if officers is not None else {"440303010001": "sup_zhang",
                                                              "440303010003": "sup_huang"}}
    if scoring:
        raw["scoring"] = scoring
    return build_policy(raw, city())


def run(pol, cases, *, start=OCT[0], end=OCT[1], now=NOW, **kw):
    return evaluate(pol, Inputs(city=city(), start=start, end=end, now=now, cases=cases, **kw))


def ic(**params):
    return {"id": "IC", "source": "000 四(七)一", "kind": "illegal_construction_24h", "params": params}


def amounts(led):
    return sorted((ln["who"], ln["amount"], tuple(ln["case_ids"])) for ln in led["lines"])


T = datetime(2026, 10, 13, 9, 0, tzinfo=SH)  # a Tuesday, in working hours


@pytest.mark.parametrize("after, penalised", [
    (timedelta(hours=23, minutes=59), False),
    (timedelta(hours=24), False),  # exactly 24 hours is within
    (timedelta(hours=24, minutes=1), True),
])
def test_24_hours_wall_time(after, penalised):
    led = run(policy(ic()), [fact("a", T, handled=T + after)])
    if not penalised:
        assert led["lines"] == []
        return
    assert amounts(led) == [("440303010001", -4000, ("a",)), ("sup_zhang", -500, ("a",))]
    line = led["lines"][0]
    assert line["rule_id"] == "IC" and line["source"] == "000 四(七)一"
    assert "24.02 小时" in line["explanation"]


def test_24_hours_working_time_boundaries():
    pol = policy(ic(clock="working"))
    cal = city().calendar
    end = cal.add(T, 24 * 60)  # 24 working hours after Tuesday 09:00 (7.5 h days)
    assert end == datetime(2026, 10, 16, 10, 30, tzinfo=SH)  # Tue 7 h + Wed, Thu 15 h + Fri 2 h
    assert run(pol, [fact("a", T, handled=end - timedelta(minutes=1))])["lines"] == []
    assert run(pol, [fact("a", T, handled=end)])["lines"] == []
    late = run(pol, [fact("a", T, handled=end + timedelta(minutes=1))])
    assert sum(ln["amount"] for ln in late["lines"]) == -4500
    assert "24.02 工作小时" in late["lines"][0]["explanation"]
    # the same 24:01 of wall time is well inside 24 working hours
    assert run(pol, [fact("a", T, handled=T + timedelta(hours=24, minutes=1))])["lines"] == []
    # a report on Friday 17:00 handled Monday 16:00: 71 wall hours, 6.5 working hours
    fri = datetime(2026, 10, 16, 17, 0, tzinfo=SH)
    mon = datetime(2026, 10, 19, 16, 0, tzinfo=SH)
    assert run(pol, [fact("a", fri, handled=mon)])["lines"] == []
    assert len(run(policy(ic()), [fact("a", fri, handled=mon)])["lines"]) == 2


def test_unhandled_pending_then_penalised():
    f = fact("a", T)
    pending = run(policy(ic()), [f], now=T + timedelta(hours=23, minutes=59))
    assert pending["lines"] == [] and [p["case_id"] for p in pending["pending"]] == ["a"]
    late = run(policy(ic()), [f], now=T + timedelta(hours=24, minutes=1))
    assert late["pending"] == [] and sum(ln["amount"] for ln in late["lines"]) == -4500
    assert "仍未处置" in late["lines"][0]["explanation"]


def test_found_by_others_and_the_next_month_double_at_the_month_edge():
    first = datetime(2026, 10, 1, 0, 30, tzinfo=SH)
    last = datetime(2026, 10, 31, 23, 59, tzinfo=SH)
    cases = [
        # started 30 Sep, found by a citizen 1 Oct: missed in its month → double
        fact("dbl", first, channel="citizen", reporter="citizen_app", reporter_role="channel",
             confirmed=True, reasons=["现场核实属实，始建：2026-09-30"]),
        # started 1 Oct, found by an inspection 31 Oct 23:59: same month → single
        fact("same", last, channel="inspection", grid=YULONG, reporter="acc_wang",
             reporter_role="acceptor", description="暗访发现 始建:2026-10-01"),
        # no start recorded: no evidence for the double → single
        fact("none", first, channel="hotline", reporter="hotline_12345", reporter_role="channel",
             confirmed=True),
        # found by others but never filed (a false report): nothing
        fact("false", first, channel="citizen", filed=False, confirmed=False),
    ]
    got = amounts(run(policy(ic()), cases))
    assert got == sorted([
        ("440303010001", -8000, ("dbl",)), ("sup_zhang", -1000, ("dbl",)),
        ("440303010003", -4000, ("same",)), ("sup_huang", -500, ("same",)),
        ("440303010001", -4000, ("none",)), ("sup_zhang", -500, ("none",)),
    ])
    # the case found on 1 November that started on 31 October belongs to November's ledger
    nov = fact("nov", datetime(2026, 11, 1, 0, 0, tzinfo=SH), channel="citizen", confirmed=True,
               description="始建:2026-10-31")
    led = run(policy(ic()), [nov], start=date(2026, 11, 1), end=date(2026, 11, 30),
              now=datetime(2026, 12, 5, tzinfo=SH))
    assert sum(ln["amount"] for ln in led["lines"]) == -9000


def test_person_falls_back_to_the_squads_only_supervisor_or_the_squad():
    qsh = "44030301000501"  # 清水河, squad patrol-2: only sup_li
    got = amounts(run(policy(ic(), officers={}), [fact("a", T, grid=qsh, channel="inspection"),
                                                  fact("b", T, channel="inspection")]))
    assert ("sup_li", -500, ("a",)) in got
    assert ("patrol-1", -500, ("b",)) in got  # two supervisors in patrol-1, none named


def test_citizen_reward_by_nature_and_area():
    rule = {"id": "R", "source": "000 四(四)", "kind": "citizen_report_reward", "params": {
        "categories": ["E0101"], "default_amount": 200,
        "amounts": [{"category": "E0101", "urgency": "urgent", "amount": 500},
                    {"category": "E0101", "area": "440303010003", "amount": 300}]}}
    cases = [fact("u", T, channel="citizen", urgency="urgent", confirmed=True),
             fact("y", T, channel="hotline", grid=YULONG, confirmed=True),
             fact("d", T, channel="citizen", confirmed=True),
             fact("no", T, channel="citizen", confirmed=False, filed=False),
             fact("void", T, channel="citizen", confirmed=True, voided=True),
             fact("p", T)]
    got = {ln["case_ids"][0]: ln["amount"] for ln in run(policy(rule), cases)["lines"]}
    assert got == {"u": 500, "y": 300, "d": 200}
    # a second reward rule that also matches pays nothing more for the same report
    again = {**rule, "id": "R2", "params": {"categories": ["E01"], "default_amount": 100}}
    led = run(policy(rule, again), cases + [fact("other", T, channel="citizen", category="E0102",
                                                 confirmed=True)])
    assert sorted((ln["rule_id"], ln["amount"]) for ln in led["lines"]) == [
        ("R", 200), ("R", 300), ("R", 500), ("R2", 100)]
    assert [(t["who_name"], t["net"]) for t in led["totals"]] == [("举报人（合计）", 1100)]


def test_collector_entries():
    rule = {"id": "C", "source": "002 附件四 三(四)", "kind": "collector_entries", "params": {}}
    cases = [fact("e1", T, category="E0102"), fact("e2", T, category="E0102"),
             fact("bad", T, category="E0102", voided=True),
             fact("h1", T, grid=YULONG, reporter="sup_huang"),
             fact("miss", T, channel="citizen", category="E0102", confirmed=True),
             fact("notmiss", T, channel="citizen", category="E0102", filed=False)]
    got = amounts(run(policy(rule), cases))
    assert got == sorted([("sup_zhang", 6, ("bad", "e1", "e2")), ("sup_zhang", -10, ("bad",)),
                          ("sup_huang", 2, ("h1",)), ("sup_zhang", -5, ("miss",))])


def test_no_major_incident_year():
    rule = {"id": "Y", "source": "002 附件四 三(五)", "kind": "no_major_incident_year",
            "params": {"month": 12}}
    qsh = "44030301000501"
    year = [fact("major", datetime(2026, 3, 2, 9, tzinfo=SH), category="E0401", urgency="urgent",
                 grid=qsh, reporter="sup_li"),
            fact("minor", datetime(2026, 6, 2, 9, tzinfo=SH), category="E0401", urgency="normal")]
    dec = (date(2026, 12, 1), date(2026, 12, 31))
    led = run(policy(rule), [], start=dec[0], end=dec[1], year_cases=year)
    assert amounts(led) == sorted([("patrol-1", 3000, ()), ("sup_zhang", 1000, ()),
                                   ("sup_huang", 1000, ())])  # patrol-2 had a major case
    assert run(policy(rule), [], year_cases=year)["lines"] == []  # only settled in December
    # a major case that is older than the 12 months does not count
    old = [fact("old", datetime(2025, 12, 31, 9, tzinfo=SH), category="E0401", urgency="urgent",
                grid=qsh, reporter="sup_li")]
    assert "sup_li" in {ln["who"] for ln in run(policy(rule), [], start=dec[0], end=dec[1],
                                                  year_cases=[f for f in old if f.day >= date(2026, 1, 1)])["lines"]}


def test_grade_award_and_joint():
    rules = [ic(), {"id": "G", "source": "000 四(二)", "kind": "grade_award",
                    "params": {"by": "community", "amounts": {"A": 4000, "D": -2000}}},
             {"id": "J", "source": "000 四(七)二", "kind": "joint",
              "params": {"applies_to": ["IC", "G"], "parties": {"street": {"factor": 0.25},
                                                                "squad": {"amount": 300}}}}]
    boards = {"community": [{"key": "440303010001", "grade": "A", "score": 91.0, "rank": 1},
                            {"key": "440303010003", "grade": "D", "score": 50.0, "rank": 2}]}
    got = amounts(run(policy(*rules), [fact("late", T, channel="citizen", confirmed=True)],
                      boards=boards))
    assert got == sorted([
        ("440303010001", -4000, ("late",)), ("sup_zhang", -500, ("late",)),
        ("440303010001", 4000, ("late",)), ("440303010003", -2000, ()),
        ("440303010", -1000, ("late",)), ("patrol-1", -300, ("late",)),  # joint on IC
        ("440303010", 1000, ("late",)), ("patrol-1", 300, ("late",)),  # joint on 坭岗's A
        ("440303010", -500, ()), ("patrol-1", -300, ()),  # joint on 玉龙's D
    ])


def test_sample_policy_loads_and_its_rules_cite_the_seeds():
    pol = load_policy(None, city())
    assert pol.id == "sample-2026" and pol.path == str(SAMPLE_POLICY)
    kinds = {r.kind for r in pol.rules}
    assert kinds == {"illegal_construction_24h", "citizen_report_reward", "collector_entries",
                     "no_major_incident_year", "grade_award", "joint"}
    assert all(r.source.startswith(("000_", "002_")) for r in pol.rules)


@pytest.mark.parametrize("mutate, field, rule", [
    (lambda r: r["rules"][0].update(kind="lottery"), "policy.rules[0].kind", "is not one of"),
    (lambda r: r["rules"][0]["params"].update(community_amount=4000.5),
     "policy.rules[0].params.community_amount", "whole number of yuan"),
    (lambda r: r["rules"][0]["params"].update(categories=["E9999"]),
     "policy.rules[0].params.categories", "matches no category code"),
    (lambda r: r["rules"][0]["params"].update(clock="lunar"), "policy.rules[0].params.clock",
     "'wall' or 'working'"),
    (lambda r: r["rules"][0]["params"].update(speed=1), "policy.rules[0].params.speed",
     "is not a parameter"),
    (lambda r: r["rules"][1].update(id=r["rules"][0]["id"]), "policy.rules[1].id", "appears twice"),
    (lambda r: r["rules"][-1]["params"].update(applies_to=["NOPE"]),
     "policy.rules[6].params.applies_to", "no earlier rule"),
    (lambda r: r["officers"].update({"440303010001": "nobody"}), "policy.officers.440303010001",
     "unknown user"),
    (lambda r: r.update(scoring={"bands": [{"grade": "A", "min": 50}, {"grade": "B", "min": 60}]}),
     "policy.scoring.bands[1].min", "floors must fall"),
])
def test_policy_validation_names_the_field(mutate, field, rule):
    raw = yaml.safe_load(Path(SAMPLE_POLICY).read_text(encoding="utf-8"))
    mutate(raw)
    with pytest.raises(ConfigError) as e:
        build_policy(raw, city())
    assert e.value.field == field and rule in e.value.rule


def test_policy_inline_in_the_city_file_is_the_default(tmp_path):
    from dataclasses import replace

    raw = yaml.safe_load(Path(SAMPLE_POLICY).read_text(encoding="utf-8"))
    raw["id"] = "inline-1"
    c = replace(city(), raw={**city().raw, "policy": raw})
    assert load_policy(None, c).id == "inline-1"
    assert load_policy(SAMPLE_POLICY, c).id == "sample-2026"  # --policy still wins
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_policy(bad, city())
    assert e.value.field == "policy" and "not valid YAML" in e.value.rule
