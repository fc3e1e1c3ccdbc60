"""No inbound message stops the consumer, on SQLite and PostgreSQL (no broker needed):
oversized messages, ids the database cannot store, unforeseen failures; and every
dead letter's published form is bounded whatever came in."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3

import pytest
from jsonschema import Draft202012Validator

from adapters.kafka.dead_letters import DEAD_LETTER_MAX_BYTES, dead_letter_value
from adapters.kafka.failures import is_transient
from adapters.kafka.inbound import InboundProcessor
from adapters.kafka.messages import Record, report_case_id, schema
from adapters.kafka.store import stored_offsets
from adapters.kafka.worker import DEFAULT_TOPICS, KafkaSettings, open_store
from domain.errors import ConfigError
from tests.integration.kafka_support import report, unit_update
from tests.support import NOW, T0, city, drive

REPORTS, UPDATES = DEFAULT_TOPICS["reports"], DEFAULT_TOPICS["unit_updates"]


@pytest.fixture
def store(store_env):
    app, svc, sql = open_store(env=store_env, city=city(), clock=lambda: NOW)
    yield app, svc, sql
    app.close()


def rec(offset: int, doc, key: bytes | None = None) -> Record:
    return Record(REPORTS, 0, offset, key, doc if isinstance(doc, bytes) else json.dumps(doc).encode())


def dead(sql) -> dict[int, tuple]:
    rows = sql.query("SELECT kafka_offset, error_kind, error_field, error FROM cg_kafka_dead_letters")
    return {int(o): (k, f, e) for o, k, f, e in rows}


def test_ids_the_database_cannot_store_are_dead_letters_and_the_batch_goes_on(store):
    app, svc, sql = store
    p = InboundProcessor(svc, group="g", topics=DEFAULT_TOPICS)
    res = p.process([
        rec(0, report(1, message_id="m\ud800")),  # an unpaired surrogate: not UTF-8
        rec(1, report(2, message_id="m\u0000")),  # NUL: PostgreSQL text refuses it
        rec(2, b"{bad", key=b"k\x00"),  # NUL in the key, kept in the dead-letter row
        rec(3, report(4)),
    ])
    assert (res.applied, res.dead) == (1, 3)
    d = dead(sql)
    assert d[0][:2] == ("malformed", "message_id") and "unpaired surrogate U+D800" in d[0][2]
    assert d[1][:2] == ("malformed", "message_id") and "control character U+0000" in d[1][2]
    assert d[2][:2] == ("malformed", "(message)")
    assert svc.get(report_case_id("szcg", "SZ-000004")).version == 1
    assert stored_offsets(sql, "g") == {(REPORTS, 0): 4}


def test_an_oversized_message_is_refused_naming_its_size_and_the_bound(store):
    app, svc, sql = store
    p = InboundProcessor(svc, group="g", topics=DEFAULT_TOPICS, max_message_bytes=2048)
    big = json.dumps(report(1, description="x" * 3000)).encode()
    res = p.process([rec(0, big, key=b"SZ-000001"), rec(1, report(2))])
    assert (res.applied, res.dead) == (1, 1)
    assert dead(sql)[0] == ("malformed", "(message)", f"(message): is {len(big) + 9} bytes (key and "
                            "value), more than max_message_bytes (2048)")
    (payload,) = sql.query("SELECT payload FROM cg_kafka_dead_letters")[0]
    assert base64.b64decode(payload) == big


class _Flaky(InboundProcessor):
    """A processor with a bug that strikes one message."""

    def _apply(self, msg, cases, *rest):
        if msg.message_id == "r-2":
            raise RuntimeError("boom")
        return super()._apply(msg, cases, *rest)


def test_a_message_that_fails_unforeseen_is_isolated_as_a_dead_letter(store):
    app, svc, sql = store
    p = _Flaky(svc, group="g", topics=DEFAULT_TOPICS)
    res = p.process([rec(0, report(1)), rec(1, report(2)), rec(2, report(3))])
    assert res.fallback and (res.applied, res.dead) == (2, 1)
    assert dead(sql) == {1: ("error", None, "error: RuntimeError: boom")}
    assert svc.get(report_case_id("szcg", "SZ-000003")).version == 1
    assert stored_offsets(sql, "g") == {(REPORTS, 0): 3}


def test_a_busy_store_fails_the_batch_and_the_retry_applies_it_once(tmp_path):
    """A transient failure (the database locked) stores nothing and leaves no changed copy
    behind: the batch read again applies exactly once."""
    db = tmp_path / "events.sqlite"
    app, svc, sql = open_store(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                    "SQLITE_DBNAME": str(db), "SQLITE_LOCK_TIMEOUT": "1"},
                               city=city(), clock=lambda: NOW)
    try:
        case = drive(svc, "dispatched", T0)  # the service keeps this copy
        v0 = case.version
        p = InboundProcessor(svc, group="g", topics=DEFAULT_TOPICS)
        batch = [Record(UPDATES, 0, 0, None, json.dumps(unit_update(case.id, 1)).encode())]
        blocker = sqlite3.connect(db)
        blocker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(Exception) as caught:
            p.process(batch)
        assert is_transient(caught.value), caught.value
        blocker.rollback()
        blocker.close()
        res = p.process(batch)
        assert (res.applied, res.dead) == (1, 0)
        assert [type(e).__name__ for e in svc.timeline(case.id)].count("Resolved") == 1
        assert svc.get(case.id).version == v0 + 1
    finally:
        app.close()


def test_max_message_bytes_setting():
    s = KafkaSettings.load(None, env={"CASEGRID_KAFKA_MAX_MESSAGE_BYTES": "65536"})
    assert s.max_message_bytes == 65536
    assert KafkaSettings.load(None, env={}).max_message_bytes == 256 * 1024
    with pytest.raises(ConfigError, match="max_message_bytes: must be between 1024 and 1048576"):
        KafkaSettings.load(None, env={"CASEGRID_KAFKA_MAX_MESSAGE_BYTES": "100"})


@pytest.mark.parametrize("raw", [
    b"x" * 2_000_000,
    b"\x01" * 1_000_000,  # six bytes each as JSON text
    "路".encode() * 700_000,
    os.urandom(1_500_000),  # not UTF-8: no text
    b'{"ok": 1}',
])
def test_a_published_dead_letter_is_bounded_whatever_came_in(raw):
    row = ("g", REPORTS, 0, 5, "k" * 5000, base64.b64encode(raw).decode(), "malformed", "(message)",
           "(message): " + "e" * 5000, "2026-11-20T04:00:00.000000Z")
    key, value = dead_letter_value(row)
    assert len(key) + len(value) <= DEAD_LETTER_MAX_BYTES
    doc = json.loads(value)
    Draft202012Validator(schema("dead-letter.v1.json")).validate(doc)
    assert doc["payload_sha256"] == hashlib.sha256(raw).hexdigest()
    assert doc["payload_bytes"] == len(raw) and doc["key_truncated"] is True
    assert doc["stored"] == {"table": "cg_kafka_dead_letters", "group_id": "g", "topic": REPORTS,
                             "partition": 0, "offset": 5}
    preview = base64.b64decode(doc["payload_base64"])
    assert raw.startswith(preview)
    assert doc["payload_truncated"] is (len(preview) < len(raw))
    if len(raw) < 100:
        assert preview == raw and doc["payload_text"] == raw.decode()
