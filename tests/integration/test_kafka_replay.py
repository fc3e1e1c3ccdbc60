"""`casegrid kafka replay-dlq`: dead letters fed through the inbound path again after a
mapping fix (a channel's default account, `channel_actors` in the Kafka settings file).

A fixed one becomes its case once and its dead letter goes (in the same transaction); one
still bad stays a dead letter with its new error, unpublished again; replaying twice
changes nothing more; --dry-run stores nothing; a bad choice is refused naming the field.
No broker is needed: the dead letters are made by the same processor the worker runs.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from adapters.cli.app import app as cli
from adapters.kafka.inbound import InboundProcessor
from adapters.kafka.messages import Record, report_case_id
from adapters.kafka.store import create_tables, mark_dead_letters_published
from adapters.kafka.worker import DEFAULT_TOPICS, open_store
from tests.integration.kafka_support import report
from tests.support import city

TOPIC = DEFAULT_TOPICS["reports"]


def _records() -> list[Record]:
    docs = [report(1), report(2),
            report(3, channel="patrol"),  # no actor and no default account for patrol: dead
            report(4, channel="patrol"),
            report(5, channel="patrol", category="E9999")]  # after the fix: unknown category
    recs = [Record(TOPIC, 0, i, d["external_id"].encode(), json.dumps(d).encode())
            for i, d in enumerate(docs)]
    return [*recs, Record(TOPIC, 1, 0, b"bad", b"{not json")]


def _dead(sql) -> dict[str, tuple]:
    rows = sql.query("SELECT topic, partition_id, kafka_offset, error_kind, error_field, error,"
                     " published_at FROM cg_kafka_dead_letters")
    return {f"{t}:{p}:{o}": (k, f, e, pub) for t, p, o, k, f, e, pub in rows}


def _reported(app) -> list[str]:
    notes = app.recorder.select_notifications(start=1, limit=100000)
    return [str(n.originator_id) for n in notes if n.topic.endswith(":Case.Reported")]


@pytest.fixture
def fed(store_env):
    app, svc, sql = open_store(env=store_env, city=city())
    create_tables(sql)
    proc = InboundProcessor(svc, group="casegrid", topics=DEFAULT_TOPICS)
    res = proc.process(_records())
    assert (res.applied, res.dead) == (2, 4)
    yield app, sql, store_env
    app.close()


def _run(env, tmp_path, *args, fixed=True):
    cfg = tmp_path / "kafka.yaml"
    cfg.write_text("kafka:\n  channel_actors:\n    patrol: sup_zhang\n" if fixed else "kafka: {}\n",
                   encoding="utf-8")
    env = {**env, "CASEGRID_KAFKA_CONFIG": str(cfg), "CASEGRID_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    r = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "unused"), "kafka", "replay-dlq",
                                 *args], env=env)
    return r


def test_replay_after_a_mapping_fix(fed, tmp_path):
    app, sql, env = fed
    mark_dead_letters_published(sql, [("casegrid", TOPIC, 0, 4)])  # the DLQ topic had it
    before = _dead(sql)
    assert len(before) == 4 and before[f"{TOPIC}:0:2"][1] == "actor"
    assert before[f"{TOPIC}:0:4"][3] is not None

    r = _run(env, tmp_path, "--all", "--dry-run", "--json")
    assert r.exit_code == 0, r.output
    dry = json.loads(r.stdout)
    assert (dry["selected"], dry["applied"], dry["still_dead"]) == (4, 2, 2)
    assert {it["id"]: it["outcome"] for it in dry["items"]} == {
        f"{TOPIC}:0:2": "would_apply", f"{TOPIC}:0:3": "would_apply",
        f"{TOPIC}:0:4": "still_dead", f"{TOPIC}:1:0": "still_dead"}
    assert _dead(sql) == before and len(_reported(app)) == 2, "a dry run stores nothing"

    r = _run(env, tmp_path, "--all", "--json")
    assert r.exit_code == 0, r.output
    done = json.loads(r.stdout)
    assert (done["applied"], done["duplicates"], done["still_dead"]) == (2, 0, 2)
    after = _dead(sql)
    assert set(after) == {f"{TOPIC}:0:4", f"{TOPIC}:1:0"}
    kind, field, error, published = after[f"{TOPIC}:0:4"]
    assert (kind, field) == ("invalid", "category") and "E9999" in error, after
    assert published is None, "the new error goes to the dead-letter topic again"
    assert after[f"{TOPIC}:1:0"][:3] == before[f"{TOPIC}:1:0"][:3]
    ids = _reported(app)
    assert len(ids) == len(set(ids)) == 4
    assert {str(report_case_id("szcg", f"SZ-{i:06d}")) for i in (3, 4)} <= set(ids)
    inbox = sql.query("SELECT topic, partition_id, kafka_offset, outcome FROM cg_kafka_inbox"
                      " WHERE message_id IN ('r-3', 'r-4') ORDER BY kafka_offset")
    assert inbox == [(TOPIC, 0, 2, "applied"), (TOPIC, 0, 3, "applied")]

    r = _run(env, tmp_path, "--topic", TOPIC, "--json")  # again: nothing more happens
    again = json.loads(r.stdout)
    assert (again["selected"], again["applied"], again["still_dead"]) == (2, 0, 2)
    assert len(_reported(app)) == 4
    assert sql.query("SELECT COUNT(*) FROM cg_kafka_offsets") == [(2,)]  # replays move none


def test_a_dead_letter_whose_message_came_again_is_a_duplicate(fed, tmp_path):
    """The sender re-sent it with its actor before the mapping was fixed and the dead letter
    replayed: the replay finds its message id in the inbox; one case, not two."""
    app, sql, env = fed
    doc = report(3, channel="patrol", actor="sup_zhang")
    proc_app, svc, _ = open_store(env=env, city=city())
    try:
        InboundProcessor(svc, group="casegrid", topics=DEFAULT_TOPICS).process(
            [Record(TOPIC, 0, 10, b"k", json.dumps(doc).encode())])
    finally:
        proc_app.close()
    r = _run(env, tmp_path, "--id", f"{TOPIC}:0:2", "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert (res["applied"], res["duplicates"], res["still_dead"]) == (0, 1, 0)
    assert f"{TOPIC}:0:2" not in _dead(sql)
    assert len(_reported(app)) == 3


@pytest.mark.parametrize("args, field", [
    ((), "all"),
    (("--all", "--topic", TOPIC), "all"),
    (("--id", "nonsense"), "id"),
    (("--id", f"{TOPIC}:0:999"), "id"),
    (("--id", "a\x00b:0:1"), "id"),
    (("--id", f"{TOPIC}:0:1" + "9" * 30), "id"),
    (("--topic", "x" * 300), "topic"),
    (("--topic", "bad topic"), "topic"),
    (("--topic", "other", "--id", f"{TOPIC}:0:2"), "id"),
])
def test_a_bad_choice_is_refused_naming_the_field(fed, tmp_path, args, field):
    _, sql, env = fed
    before = _dead(sql)
    r = _run(env, tmp_path, *args, "--json")
    assert r.exit_code == 2, r.output
    err = json.loads(r.stderr.strip().splitlines()[-1])
    assert err["error"] == "invalid" and err["field"] == field, err
    assert _dead(sql) == before
