"""Inbound processing without a broker, on SQLite and PostgreSQL: idempotency, dead letters,
and the inbox/offset rows committed in the same transaction as the events (or not at all)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from adapters.kafka.inbound import InboundProcessor
from adapters.kafka.messages import Record, decode, report_case_id, schema
from adapters.kafka.store import KWARG, KafkaRows, stored_offsets
from adapters.kafka.worker import DEFAULT_TOPICS, KafkaSettings, open_store
from domain.errors import ConfigError
from tests.integration.kafka_support import report, unit_update
from tests.support import NOW, T0, city, drive
from workflows.commands import CaseAction
from workflows.service import CaseService

REPORTS, UPDATES = DEFAULT_TOPICS["reports"], DEFAULT_TOPICS["unit_updates"]


@pytest.fixture
def store(store_env):
    app, svc, sql = open_store(env=store_env, city=city(), clock=lambda: NOW)
    yield app, svc, sql, InboundProcessor(svc, group="g", topics=DEFAULT_TOPICS)
    app.close()


def rec(topic: str, offset: int, doc, partition: int = 0) -> Record:
    value = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return Record(topic, partition, offset, None, value)


def dead(sql) -> dict[int, tuple[str, str | None]]:
    rows = sql.query("SELECT kafka_offset, error_kind, error_field FROM cg_kafka_dead_letters")
    return {int(o): (k, f) for o, k, f in rows}


def test_reports_are_idempotent_by_message_id_and_external_id(store):
    app, svc, sql, p = store
    r1 = p.process([rec(REPORTS, 0, report(1)), rec(REPORTS, 1, report(2))])
    assert (r1.applied, r1.duplicates, r1.dead) == (2, 0, 0)
    again = p.process([
        rec(REPORTS, 2, report(1)),  # same message id
        rec(REPORTS, 3, report(2, message_id="resent")),  # same external id, new message id
        rec(REPORTS, 4, report(2, message_id="resent")),
    ])
    assert (again.applied, again.duplicates, again.dead) == (0, 3, 0)
    case = svc.get(report_case_id("szcg", "SZ-000001"))
    assert case.version == 1 and case.external_id == "SZ-000001"
    assert case.channel == "hotline" and case.reporter == "hotline_12345"
    assert stored_offsets(sql, "g") == {(REPORTS, 0): 5}


def test_unit_updates_apply_once_and_refusals_become_dead_letters(store):
    app, svc, sql, p = store
    case = drive(svc, "dispatched", T0)  # E0102 → unit hw
    other = drive(svc, "pending_check", T0)
    v0 = case.version
    upd = unit_update(case.id, 1, "resolve")
    res = p.process([
        rec(UPDATES, 0, unit_update(case.id, 0, "accept")),
        rec(UPDATES, 1, upd),
        rec(UPDATES, 2, upd),  # the same message again in the batch
        rec(UPDATES, 3, unit_update(other.id, 3, "return", reason="不属于本单位")),  # refused
        rec(UPDATES, 4, unit_update(case.id, 4, "resolve", actor="cg_liu")),  # not a member of hw
        rec(UPDATES, 5, unit_update("00000000-0000-0000-0000-000000000001", 5)),  # no such case
        rec(UPDATES, 6, {**unit_update(case.id, 6, "request_extension"), "reason": "x"}),  # no extra
    ])
    assert (res.applied, res.duplicates, res.dead) == (2, 1, 4)
    events = [type(e).__name__ for e in svc.timeline(case.id)]
    assert events.count("Resolved") == 1 and events.count("Accepted") == 1  # 签收 recorded
    assert dead(sql) == {3: ("refused", None), 4: ("invalid", "actor"),
                         5: ("not_found", None), 6: ("malformed", "extra")}
    outcomes = dict(sql.query("SELECT message_id, outcome FROM cg_kafka_inbox"))
    assert outcomes == {"u-0": "accepted", "u-1": "applied"}
    # a later repeat of the applied update changes nothing
    later = p.process([rec(UPDATES, 7, upd)])
    assert (later.applied, later.duplicates) == (0, 1)
    assert svc.get(case.id).version == v0 + 2  # Accepted, Resolved


def test_malformed_messages_name_field_and_rule(store):
    app, svc, sql, p = store
    bad = [
        b"\x00\x01",
        b"[1, 2]",
        json.dumps({**report(1), "grid": "4403"}).encode(),
        json.dumps({k: v for k, v in report(2).items() if k != "occurred_at"}).encode(),
        json.dumps({**report(3), "colour": "red"}).encode(),
        json.dumps({**report(4), "occurred_at": "2026-10-12T09:00:00"}).encode(),
        json.dumps({**report(5), "schema": "casegrid.unit-update.v1"}).encode(),
    ]
    res = p.process([rec(REPORTS, i, b) for i, b in enumerate(bad)])
    assert res.dead == len(bad) and res.applied == 0
    rows = {int(o): (f, e) for o, f, e in sql.query(
        "SELECT kafka_offset, error_field, error FROM cg_kafka_dead_letters")}
    assert rows[0][1].startswith("(message): is not")
    assert rows[1][1] == "(message): must be a JSON object, not list"
    assert rows[2][0] == "grid" and "pattern" in rows[2][1]
    assert rows[3] == ("occurred_at", "occurred_at: is required")
    assert rows[4][0] == "colour"
    assert rows[5][0] == "occurred_at" and "zone offset" in rows[5][1]
    assert rows[6][0] == "schema"
    payload = sql.query("SELECT payload FROM cg_kafka_dead_letters WHERE kafka_offset = 0")[0][0]
    import base64

    assert base64.b64decode(payload) == b"\x00\x01"  # the original bytes, unchanged


def _urge(case_id, hour: int) -> CaseAction:
    return CaseAction(case_id, "urge", "chief_zhao", T0.replace(hour=hour), reason="催办")


def test_inbox_and_offsets_commit_with_the_events_or_not_at_all(store):
    """A save that fails on a version conflict leaves no inbox row and no offset."""
    app, svc, sql, p = store
    case = drive(svc, "dispatched", T0)
    stale = app.repository.get(case.id)
    svc.act(_urge(case.id, 10))  # another writer moves the case on
    svc.apply(stale, _urge(case.id, 11))  # an event on the stale copy
    rows = KafkaRows(inbox=[("s", "m", str(case.id), "applied", UPDATES, 0, 0)],
                     offsets={("g", UPDATES, 0): 1})
    with pytest.raises(IntegrityError):
        app.save(stale, **{KWARG: rows})
    assert sql.query("SELECT COUNT(*) FROM cg_kafka_inbox")[0][0] == 0
    assert stored_offsets(sql, "g") == {}


def test_conflicting_batch_falls_back_to_one_by_one(store):
    app, svc, sql, p = store
    case = drive(svc, "dispatched", T0)  # the service caches this copy
    other = CaseService(app, city(), clock=lambda: NOW)  # another process
    other.act(_urge(case.id, 10))  # behind the first service's back: its copy is stale
    res = p.process([rec(UPDATES, 0, unit_update(case.id, 1)), rec(REPORTS, 0, report(9))])
    assert res.fallback and (res.applied, res.dead) == (2, 0)
    assert [type(e).__name__ for e in svc.timeline(case.id)][-1] == "Resolved"
    assert stored_offsets(sql, "g") == {(UPDATES, 0): 1, (REPORTS, 0): 1}


def test_schemas_in_docs_equal_the_packaged_ones():
    docs = Path(__file__).resolve().parents[2] / "docs" / "schemas"
    pkg = Path(__file__).resolve().parents[2] / "adapters" / "schemas"
    names = sorted(p.name for p in pkg.glob("*.json"))
    assert names == ["audit-head.v1.json", "callback.v1.json", "case-event.v1.json",
                     "dead-letter.v1.json",
                     "notification.v1.json", "report.v1.json", "unit-update.v1.json"]
    for name in names:
        assert json.loads((docs / name).read_text()) == json.loads((pkg / name).read_text()), name
    assert schema("report.v1.json")["$id"] == "urn:casegrid:schema:report:1"
    assert decode(json.dumps(report(1)).encode(), "casegrid.report.v1")["external_id"] == "SZ-000001"


def test_outbound_envelope_matches_its_schema(store):
    from jsonschema import Draft202012Validator

    from adapters.kafka.outbound import envelope, event_id

    app, svc, sql, p = store
    case = drive(svc, "closed", T0)
    v = Draft202012Validator(schema("case-event.v1.json"))
    notes = app.recorder.select_notifications(start=1, limit=100)
    envs = [envelope(app.mapper.to_domain_event(n), n.id) for n in notes]
    for e in envs:
        v.validate(e)
    assert [e["stream_version"] for e in envs] == list(range(1, case.version + 1))
    assert envs[0]["id"] == event_id(case.id, 1) and envs[0]["type"] == "casegrid.case.Reported.v1"
    assert envs[0]["occurred_at"] == T0.isoformat()


def test_settings_precedence_and_errors(tmp_path):
    f = tmp_path / "k.yaml"
    f.write_text("kafka:\n  bootstrap: file:9092\n  group: from-file\n  topics: {reports: r.v1}\n")
    s = KafkaSettings.load(f, env={"CASEGRID_KAFKA_GROUP": "from-env"}, bootstrap="opt:1")
    assert (s.bootstrap, s.group, s.topics["reports"]) == ("opt:1", "from-env", "r.v1")
    assert s.topics["case_events"] == "casegrid.case-events.v1"
    f.write_text("kafka:\n  topics: {repots: x}\n")
    with pytest.raises(ConfigError, match="unknown topic role"):
        KafkaSettings.load(f, env={})
    with pytest.raises(ConfigError, match="whole number"):
        KafkaSettings.load(None, env={"CASEGRID_KAFKA_BATCH": "many"})


class _Sent:
    is_done, exception = True, None

    def get(self, timeout=None):
        return None

    def succeeded(self):
        return True


class _FakeProducer:
    def __init__(self):
        self.sent = []

    def send(self, topic, key=None, value=None):
        self.sent.append((topic, key, json.loads(value)))
        return _Sent()

    def flush(self, timeout=None):
        pass


class _NotACase(Aggregate):
    def __init__(self, name: str):
        self.name = name


def test_publisher_sends_case_events_only_and_resumes_from_its_position(store):
    from adapters.kafka.outbound import OutboundPublisher

    app, svc, sql, p = store
    first = drive(svc, "pending_dispatch", T0)
    app.save(_NotACase(name="a patrol day, say"))  # another aggregate in the same log
    drive(svc, "pending_filing", T0)
    fake = _FakeProducer()
    pub = OutboundPublisher(app, fake, "out", batch=2)
    assert pub.catch_up() == app.recorder.max_notification_id() == 4
    assert [(e["case_id"], e["stream_version"]) for _, _, e in fake.sent] == [
        (str(first.id), 1), (str(first.id), 2), (fake.sent[2][2]["case_id"], 1)]
    assert all(k.decode() == e["case_id"] for _, k, e in fake.sent)
    assert pub.position() == 4 and pub.step() == 0
    svc.act(CaseAction(first.id, "dispatch", "disp_chen", T0.replace(hour=10)))
    assert pub.step() == 2  # DeadlineMissed (dispatch was due 09:31), then Dispatched
    assert [e["type"] for _, _, e in fake.sent[-2:]] == [
        "casegrid.case.DeadlineMissed.v1", "casegrid.case.Dispatched.v1"]
