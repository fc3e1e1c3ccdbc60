"""重复案件合并 on SQLite and PostgreSQL: a report's possible duplicates (same category,
open, within the radius or the same cell, within the window), the merge of a duplicate
into its original (both events in one transaction, the links both ways, every reporter
kept), the refusals by field, later reports of the duplicate's external id, Open311's
view of the duplicate, the trail and the scoreboard."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from adapters.bootstrap import bootstrap
from adapters.http.open311_publish import request_view
from domain.errors import RefusedError, ValidationError
from projections.duplicates import candidates_of
from projections.scoreboard import scoreboard
from projections.trail import case_trail, missed_deadlines
from tests.e2e.http_support import LiveServer, login
from tests.support import CATEGORY, GRID, T0, act, city, drive, grid, report

LAT, LON = 22.5600, 114.1200
NEAR = (22.5604, 114.1200)  # about 44 m north
FAR = (22.5650, 114.1200)  # about 556 m north
OCT = {"start": date(2026, 10, 1), "end": date(2026, 10, 31)}


def at(minutes: int):
    return T0 + timedelta(minutes=minutes)


def test_candidates_by_radius_cell_category_window_and_state(store_env):
    cg = grid(store_env)
    svc = cg.service
    original = report(svc, "patrol", at(0), lat=LAT, lon=LON)
    near = report(svc, "citizen", at(30), lat=NEAR[0], lon=NEAR[1])
    far = report(svc, "citizen", at(31), lat=FAR[0], lon=FAR[1])
    other_kind = report(svc, "citizen", at(32), lat=LAT, lon=LON, category="E0504")
    no_coords = report(svc, "hotline", at(33))  # same cell, no coordinates
    other_cell = report(svc, "hotline", at(34), grid="44030301000501")
    late = report(svc, "citizen", at(60 * 24 * 4), lat=LAT, lon=LON)  # 4 days: past 72 h
    voided = drive(svc, "voided", at(35))
    cg.projections.catch_up()
    got = {c["case_id"]: c for c in candidates_of(cg.sql, cg.city, svc.get(near.id))}
    assert str(original.id) in got and str(no_coords.id) in got
    for absent in (far, other_kind, other_cell, late, voided, near):
        assert str(absent.id) not in got
    o = got[str(original.id)]
    assert 40 < o["distance_m"] < 50 and o["age_minutes"] == 30
    assert got[str(no_coords.id)]["distance_m"] is None  # a same-cell match
    assert list(got)[0] == str(original.id)  # measured matches first, nearest first


def test_merge_keeps_every_reporter_links_both_ways_in_one_transaction(store_env):
    cg = grid(store_env)
    svc = cg.service
    original = drive(svc, "dispatched")
    dup = report(svc, "hotline", at(10), external_id="12345-0001",
                 evidence=["https://photos.example/a.jpg"])
    merged = act(svc, dup, "merge", "acc_wang", at(20), reason="同一井盖", into=str(original.id))
    assert merged.state == "merged" and merged.merged_into == str(original.id)
    back = svc.get(original.id)
    assert back.state == "dispatched" and back.version == original.version + 1
    (d,) = back.duplicates
    assert (d["case_id"], d["reporter"], d["channel"], d["external_id"]) == (
        str(dup.id), "hotline_12345", "hotline", "12345-0001")
    assert d["evidence"] == ["https://photos.example/a.jpg"] and d["reported_at"] == at(10)
    # one transaction: both events at adjacent positions of the log
    cg.projections.catch_up()
    rows = cg.sql.query("SELECT state FROM cg_cases WHERE case_id = ?", (str(dup.id),))
    assert rows == [("merged",)]
    trail = case_trail(cg.sql, cg.city, str(original.id))
    assert [m["type"] for m in trail["merges"]] == ["DuplicateMerged"]
    assert trail["merges"][0]["duplicate_id"] == str(dup.id)
    assert case_trail(cg.sql, cg.city, str(dup.id))["merges"][0]["original_id"] == str(original.id)
    # a later report of the duplicate's external id is directed to the original
    with pytest.raises(ValidationError) as e:
        report(svc, "hotline", at(30), external_id="12345-0001")
    assert e.value.field == "external_id" and str(original.id) in str(e.value)
    assert svc.original_of(dup.id) == original.id
    # Open311 shows the duplicate with the original's id
    view = request_view(cg, svc.get(dup.id), staff=False)
    assert view["status"] == "closed" and view["merged_into"] == str(original.id)
    assert view["duplicate_of"] == str(original.id) and str(original.id) in view["status_notes"]


def test_merge_refusals_by_field(store_env):
    cg = grid(store_env)
    svc = cg.service
    original = drive(svc, "pending_dispatch")
    closed = drive(svc, "closed")
    a = report(svc, "patrol", at(30))
    b = report(svc, "patrol", at(31))
    act(svc, b, "merge", "chief_zhao", at(40), reason="重复", into=str(original.id))
    cases = [(str(a.id), "into"), (str(b.id), "into"), (str(closed.id), "into"),
             ("not-a-case", "into"), ("", "into"), ("x" * 200, "into"),
             ("00000000-0000-0000-0000-000000000000", "into"), ("a\x00b", "into")]
    for into, field in cases:
        with pytest.raises(ValidationError) as e:
            act(svc, a, "merge", "acc_wang", at(50), reason="重复", into=into)
        assert e.value.field == field, into
    with pytest.raises(ValidationError) as e:
        act(svc, a, "merge", "acc_wang", at(50), into=str(original.id))  # no reason
    assert e.value.field == "reason"
    with pytest.raises(RefusedError):
        act(svc, a, "merge", "disp_chen", at(50), reason="重复", into=str(original.id))
    with pytest.raises(RefusedError):  # a dispatched case is no longer merged
        act(svc, drive(svc, "dispatched"), "merge", "acc_wang", at(50), reason="r",
            into=str(original.id))
    assert svc.get(a.id).version == 1 and svc.get(original.id).version == original.version + 1


def test_merged_reports_count_in_discovery_only(store_env):
    cg = grid(store_env)
    svc = cg.service
    original = drive(svc, "dispatched")
    for i, channel in enumerate(("patrol", "citizen", "hotline")):
        dup = report(svc, channel, at(10 + i))
        act(svc, dup, "merge", "acc_wang", at(20 + i), reason="重复", into=str(original.id))
    cg.projections.catch_up()
    unit = {r["key"]: r for r in scoreboard(cg.sql, cg.city, by="unit", **OCT)["rows"]}["hw"]
    assert unit["counts"]["dispatched"] == 1
    cell = {r["key"]: r for r in scoreboard(cg.sql, cg.city, by="grid", **OCT)["rows"]}[GRID]
    c = cell["counts"]
    assert (c["reported"], c["valid"], c["filed"], c["dispatched"]) == (4, 4, 1, 1)
    sup = {r["key"]: r for r in scoreboard(cg.sql, cg.city, by="supervisor", **OCT)["rows"]}
    assert sup["sup_zhang"]["counts"]["reported"] == 2  # the original and the patrol duplicate
    svc.tick(at(60 * 24 * 10), [original.id])
    cg.projections.catch_up()
    assert missed_deadlines(cg.sql, cg.city, unit="hw", **OCT)["count"] == 1


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("merge-http"), city=city())
    with LiveServer(cg) as s:
        yield s
    cg.close()


def test_api_duplicates_and_merge(server):
    svc = server.cg.service
    original = report(svc, "patrol", at(0), lat=LAT, lon=LON, category=CATEGORY)
    dup = report(svc, "citizen", at(5), lat=NEAR[0], lon=NEAR[1])
    server.cg.projections.catch_up()
    with httpx.Client(base_url=server.url, timeout=20) as c:
        h = login(c, "acc_wang")
        r = c.get(f"/api/cases/{dup.id}/duplicates", headers=h)
        assert r.status_code == 200, r.text
        got = r.json()
        assert [x["case_id"] for x in got["candidates"]] == [str(original.id)]
        assert got["candidates"][0]["distance_m"] > 0 and got["merged_into"] is None
        assert c.get(f"/api/cases/{dup.id}/duplicates",
                     headers=login(c, "hw_luo")).status_code == 403
        bad = c.post(f"/api/cases/{dup.id}/merge", headers=h,
                     json={"into": "2026-01-999999", "reason": "重复"})
        assert bad.status_code == 422 and bad.json()["field"] == "into"
        r = c.post(f"/api/cases/{dup.id}/merge", headers=h,
                   json={"into": original.number, "reason": "同一处垃圾"})
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "merged" and r.json()["merged_into"] == str(original.id)
        links = c.get(f"/api/cases/{original.id}/duplicates", headers=h).json()
        assert [d["case_id"] for d in links["duplicates"]] == [str(dup.id)]
        shown = c.get(f"/api/cases/{original.id}", headers=h).json()["case"]
        assert shown["duplicates"][0]["reporter"] == "citizen_app"


def test_a_kafka_report_repeating_a_merged_duplicate_goes_to_the_original(store_env):
    """The same (source, external id) again, under a new message id: a duplicate, and the
    inbox row names the original the first report was merged into."""
    import json

    from adapters.kafka.inbound import InboundProcessor
    from adapters.kafka.messages import Record, report_case_id
    from adapters.kafka.worker import DEFAULT_TOPICS, open_store
    from tests.integration.kafka_support import report as report_msg

    app, svc, sql = open_store(env=store_env, city=city(), clock=lambda: at(60 * 24 * 2))
    try:
        topic = DEFAULT_TOPICS["reports"]
        p = InboundProcessor(svc, group="g", topics=DEFAULT_TOPICS)
        doc = report_msg(1, category=CATEGORY, grid=GRID)

        def rec(offset, d):
            return Record(topic, 0, offset, None, json.dumps(d, ensure_ascii=False).encode())

        assert p.process([rec(0, doc)]).applied == 1
        dup = svc.get(report_case_id("szcg", "SZ-000001"))
        original = drive(svc, "pending_dispatch")
        act(svc, dup, "merge", "acc_wang", at(30), reason="同一工单", into=str(original.id))
        got = p.process([rec(1, {**doc, "message_id": "r-1-again"})])
        assert (got.applied, got.duplicates, got.dead) == (0, 1, 0)
        rows = sql.query("SELECT case_id, outcome FROM cg_kafka_inbox WHERE message_id = ?",
                         ("r-1-again",))
        assert rows == [(str(original.id), "duplicate")]
    finally:
        app.close()
