"""Kafka in and out against a real broker process (Tansu, started on a free loopback port).

The worker runs as its own process (`casegrid kafka run`), as in production; these tests
produce messages from this process, kill and restart the worker, and read the topics back.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from adapters.kafka.messages import report_case_id
from adapters.kafka.worker import open_store
from deploy.tansu import create_topics
from tests.integration.kafka_support import (
    dispatch_cases,
    drain,
    log_lines,
    malformed,
    open_sqlite_store,
    producer,
    report,
    reported_ids,
    start_worker,
    tail,
    topics_for,
    unique_tag,
    unit_update,
    worker_env,
)
from tests.support import city

pytestmark = pytest.mark.kafka  # heavy: a real broker process, 10k messages, SIGKILL (~45 s)


def _wait(proc: subprocess.Popen, timeout: float, log: Path) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"worker did not finish in {timeout}s; log tail:\n{tail(log, 20)}")


def test_10k_messages_with_duplicates_and_malformed(broker, tmp_path):
    """10,000 messages, 10% duplicates, 1% malformed → exactly the expected cases and dead letters."""
    tag = unique_tag()
    topics = topics_for(tag)
    create_topics(broker.bootstrap, list(topics.values()), partitions=3)
    rng = random.Random(4)
    total, n_bad, n_dup = 10_000, 100, 1_000
    n_unique = total - n_bad - n_dup
    msgs: list[tuple[bytes, bytes, str]] = []  # key, value, kind
    for i in range(n_unique):
        doc = report(i)
        msgs.append((doc["external_id"].encode(), json.dumps(doc).encode(), "ok"))
    for j in range(n_dup):  # half: the same message again; half: a new message id, same case
        i = rng.randrange(n_unique)
        doc = report(i) if j % 2 else report(i, message_id=f"again-{j}")
        msgs.append((doc["external_id"].encode(), json.dumps(doc).encode(), "dup"))
    bad_expect = {}
    for k in range(n_bad):
        value, kind = malformed(k)
        msgs.append((f"bad-{k}".encode(), value, kind))
    rng.shuffle(msgs)
    p = producer(broker.bootstrap)
    sent = [p.send(topics["reports"], key=key, value=value) for key, value, _ in msgs]
    p.flush()
    bad_bytes = {}
    for (_key, value, kind), fut in zip(msgs, sent, strict=True):
        md = fut.get(timeout=10)
        if kind not in ("ok", "dup"):
            bad_expect[(md.partition, md.offset)] = kind
            bad_bytes[(md.partition, md.offset)] = value
    p.close()

    data, log = tmp_path / "data", tmp_path / "worker.log"
    env = worker_env(broker.bootstrap, topics, f"{tag}-g")
    t0 = time.monotonic()
    proc = start_worker(data, env, "--idle-exit", "4", log=log)
    assert _wait(proc, 180, log) == 0
    elapsed = time.monotonic() - t0

    app, _, sql = open_sqlite_store(data)
    try:
        ids = reported_ids(app)
        expected = {str(report_case_id("szcg", f"SZ-{i:06d}")) for i in range(n_unique)}
        assert len(ids) == n_unique, f"{len(ids)} cases for {n_unique} unique reports"
        assert set(ids) == expected
        dead = sql.query("SELECT partition_id, kafka_offset, error_kind FROM cg_kafka_dead_letters")
        assert {(int(p_), int(o)): k for p_, o, k in dead} == bad_expect
        inbox = sql.query("SELECT outcome, COUNT(*) FROM cg_kafka_inbox GROUP BY outcome")
        assert dict(inbox)["applied"] == n_unique
    finally:
        app.close()

    dl = drain(broker.bootstrap, topics["dead_letter"], expect=n_bad)
    got = {}
    for rec in dl:
        doc = json.loads(rec.value)
        assert doc["source_topic"] == topics["reports"]
        got[(doc["source_partition"], doc["source_offset"])] = doc["error"]["kind"]
        assert doc["error"]["message"]
        original = base64.b64decode(doc["payload_base64"])  # the original bytes, unchanged
        assert original == bad_bytes[(doc["source_partition"], doc["source_offset"])]
    assert len(dl) == n_bad and got == bad_expect

    events = drain(broker.bootstrap, topics["case_events"], expect=n_unique)
    case_ids = [json.loads(r.value)["case_id"] for r in events]
    assert set(case_ids) == expected and len(case_ids) == n_unique
    for r in events[:50]:
        assert r.key.decode() == json.loads(r.value)["case_id"]

    lines = log_lines(log)
    batch = next(line for line in lines if line.get("event") == "inbound_batch")
    assert {"topic", "partition", "offset", "lag"} <= set(batch)
    print(f"\n10k inbound end to end: {elapsed:.1f}s incl. start-up and idle exit")

    st = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "--data-dir", str(data), "kafka", "status", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert st.returncode == 0, st.stderr
    status = json.loads(st.stdout)
    assert status["broker"] == "ok"
    assert sum(r["count"] for r in status["dead_letters"]) == n_bad
    assert all(r["unpublished"] == 0 for r in status["dead_letters"])
    assert status["outbound"]["lag_events"] == 0
    assert sum(r["next_offset"] for r in status["inbound"]) == total
    # Kafka's committed offsets followed ours (committed after our transaction)
    assert all(r["kafka_committed"] == r["next_offset"] for r in status["inbound"]
               if r["topic"] == topics["reports"])


def _dispatched_cases(data: Path, n: int) -> list:
    app, svc, _ = open_sqlite_store(data)
    try:
        return dispatch_cases(svc, n)
    finally:
        app.close()


def test_sigkill_mid_stream_loses_nothing_and_duplicates_nothing(broker, tmp_path):
    tag = unique_tag()
    topics = topics_for(tag)
    create_topics(broker.bootstrap, list(topics.values()), partitions=3)
    data, log = tmp_path / "data", tmp_path / "worker.log"
    dispatched = _dispatched_cases(data, 200)
    n_reports = 6000
    p = producer(broker.bootstrap)
    for i in range(n_reports):
        doc = report(i)
        p.send(topics["reports"], key=doc["external_id"].encode(), value=json.dumps(doc).encode())
        if i % 10 == 0:  # a duplicate now and then
            p.send(topics["reports"], key=doc["external_id"].encode(), value=json.dumps(doc).encode())
    for i, cid in enumerate(dispatched):
        doc = unit_update(cid, i)
        for _ in range(2 if i % 3 == 0 else 1):  # some updates arrive twice
            p.send(topics["unit_updates"], key=str(cid).encode(), value=json.dumps(doc).encode())
    p.flush()
    p.close()

    env = worker_env(broker.bootstrap, topics, f"{tag}-g", {"CASEGRID_KAFKA_BATCH": "200"})
    proc = start_worker(data, env, log=log)
    app, _, sql = open_sqlite_store(data)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            n = sql.query("SELECT COUNT(*) FROM cg_kafka_inbox")[0][0]
            if n >= 1500:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_at = sql.query("SELECT COUNT(*) FROM cg_kafka_inbox")[0][0]
        assert 0 < killed_at < n_reports + len(dispatched), "the kill should land mid-stream"

        proc = start_worker(data, env, log=log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            n = sql.query("SELECT COUNT(*) FROM cg_kafka_inbox")[0][0]
            pos = sql.query("SELECT position FROM cg_kafka_publish")
            head = app.recorder.max_notification_id()
            if n >= n_reports + len(dispatched) and pos and pos[0][0] == head:
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)  # graceful stop
        assert _wait(proc, 30, log) == 0

        ids = reported_ids(app)
        expected = {str(report_case_id("szcg", f"SZ-{i:06d}")) for i in range(n_reports)}
        assert len(ids) == len(set(ids)) == n_reports + len(dispatched)
        assert expected <= set(ids)
        for cid in dispatched:  # each update applied exactly once
            events = list(app.events.get(cid))
            assert [type(e).__name__ for e in events].count("Resolved") == 1
            assert events[-1].state == "pending_check"
        assert sql.query("SELECT COUNT(*) FROM cg_kafka_dead_letters")[0][0] == 0
        head = app.recorder.max_notification_id()
    finally:
        app.close()

    lines = log_lines(log)
    assert any(line.get("event") == "kafka_worker_stopped" for line in lines)
    assert any(line.get("event") == "kafka_worker_stopping" and line.get("signal") == "SIGTERM"
               for line in lines)

    # outbound: every event at least once, each case's events in order
    out = drain(broker.bootstrap, topics["case_events"], expect=head)
    by_case: dict[str, list[int]] = defaultdict(list)
    positions = set()
    for rec in out:
        env_ = json.loads(rec.value)
        assert rec.key.decode() == env_["case_id"]
        by_case[env_["case_id"]].append(env_["stream_version"])
        positions.add(env_["position"])
    assert positions == set(range(1, head + 1)), "an event was skipped"
    for cid, versions in by_case.items():
        seen: list[int] = []
        for v in versions:  # a repeat after a crash is allowed; going backwards to a new one is not
            if v not in seen:
                assert not seen or v == seen[-1] + 1, f"case {cid} out of order: {versions}"
                seen.append(v)
        assert seen == list(range(1, len(seen) + 1))


@pytest.mark.skipif(os.environ.get("CASEGRID_SKIP_KAFKA_CLI") == "1", reason="disabled")
def test_worker_reads_settings_from_a_file(broker, tmp_path):
    """Topics and group from --kafka-config; a unit update flows back out as events."""
    tag = unique_tag()
    topics = topics_for(tag)
    cfg = tmp_path / "kafka.yaml"
    cfg.write_text("kafka:\n  group: " + tag + "-file\n  partitions: 1\n  topics:\n"
                   + "".join(f"    {k}: {v}\n" for k, v in topics.items()), encoding="utf-8")
    data, log = tmp_path / "data", tmp_path / "worker.log"
    (cid,) = _dispatched_cases(data, 1)
    env = worker_env(broker.bootstrap, {}, "unused")
    env.pop("CASEGRID_KAFKA_GROUP")
    proc = start_worker(data, env, "--kafka-config", str(cfg), "--idle-exit", "3", log=log)
    time.sleep(1.0)
    p = producer(broker.bootstrap)
    p.send(topics["unit_updates"], key=str(cid).encode(),
           value=json.dumps(unit_update(cid, 1, "request_extension", extra="2h", reason="需协调车辆",
                                        evidence=[])).encode())
    p.flush()
    p.close()
    assert _wait(proc, 60, log) == 0
    out = drain(broker.bootstrap, topics["case_events"], expect=4)
    types = [json.loads(r.value)["type"] for r in out]
    assert types == ["casegrid.case.Reported.v1", "casegrid.case.Filed.v1",
                     "casegrid.case.Dispatched.v1", "casegrid.case.ExtensionRequested.v1"]
    app, _, sql = open_sqlite_store(data)
    try:
        assert sql.query("SELECT group_id FROM cg_kafka_offsets") == [(f"{tag}-file",)]
    finally:
        app.close()


def test_worker_on_postgres(broker, pg_env, tmp_path):
    """The same worker on PostgreSQL: reports with duplicates and bad ones, end to end."""
    tag = unique_tag()
    topics = topics_for(tag)
    create_topics(broker.bootstrap, list(topics.values()), partitions=2)
    p = producer(broker.bootstrap)
    for i in range(600):
        doc = report(i)
        p.send(topics["reports"], key=doc["external_id"].encode(), value=json.dumps(doc).encode())
        if i % 6 == 0:
            p.send(topics["reports"], key=doc["external_id"].encode(), value=json.dumps(doc).encode())
    for k in range(7):
        p.send(topics["reports"], key=b"bad", value=malformed(k)[0])
    p.flush()
    p.close()
    log = tmp_path / "worker.log"
    env = worker_env(broker.bootstrap, topics, f"{tag}-g", pg_env)
    proc = start_worker(tmp_path / "unused", env, "--idle-exit", "3", log=log)
    assert _wait(proc, 120, log) == 0
    app, _, sql = open_store(env=pg_env, city=city())
    try:
        ids = reported_ids(app)
        assert len(ids) == 600
        assert set(ids) == {str(report_case_id("szcg", f"SZ-{i:06d}")) for i in range(600)}
        assert sql.query("SELECT COUNT(*) FROM cg_kafka_dead_letters")[0][0] == 7
        head = app.recorder.max_notification_id()
    finally:
        app.close()
    out = drain(broker.bootstrap, topics["case_events"], expect=head)
    assert {json.loads(r.value)["position"] for r in out} == set(range(1, head + 1))
    assert len(drain(broker.bootstrap, topics["dead_letter"], expect=7)) == 7
