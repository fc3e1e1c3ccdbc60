"""Several inbound workers in one consumer group over 6-partition topics (issue 14 §2).

Two `casegrid kafka run --in` processes share the group; messages are produced while one
of them is SIGKILLed and a third is started. At the end every message's effect is there
exactly once (no lost and no duplicate case or step), with no dead letter, and each
case's unit updates (keyed by case id: one partition) took effect in the order sent.
Runs on SQLite (one machine) and PostgreSQL.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import pytest

from adapters.kafka.messages import report_case_id
from adapters.kafka.worker import open_store
from deploy.tansu import create_topics
from tests.integration.kafka_support import (
    dispatch_cases,
    kill_all,
    log_lines,
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

pytestmark = pytest.mark.kafka

PARTITIONS = 6
REPORTS = 1500
CASES = 30  # dispatched beforehand; each gets accept → request_extension → resolve
STEPS = ("accept", "request_extension", "resolve")
EVENTS = ("Accepted", "ExtensionRequested", "Resolved")


def _dispatch(env: dict, n: int) -> list:
    app, svc, _ = open_store(env=env, city=city())
    try:
        return dispatch_cases(svc, n)
    finally:
        app.close()


def _update(cid, i: int, step: str) -> bytes:
    extra = {"extra": "2h", "reason": "需协调车辆", "evidence": []} if step == "request_extension" else {}
    doc = unit_update(cid, i, step, message_id=f"u-{i}-{step}", **extra)
    return json.dumps(doc, ensure_ascii=False).encode()


def _produce(bootstrap: str, topics: dict, cases: list, resume: threading.Event,
             rounds: int = 20, pause: float = 0.3) -> None:
    """Reports (every tenth sent twice) and each case's three updates in order, in rounds;
    after half of them, waits for `resume` (the kill and the new worker's join happen then)."""
    p = producer(bootstrap)
    per = REPORTS // rounds
    for r in range(rounds):
        if r == rounds // 2:
            resume.wait(timeout=180)
        for i in range(r * per, (r + 1) * per):
            doc = report(i)
            for _ in range(2 if i % 10 == 0 else 1):
                p.send(topics["reports"], key=doc["external_id"].encode(),
                       value=json.dumps(doc, ensure_ascii=False).encode())
        for k, step in enumerate(STEPS):  # case j gets step k in round j // 3 + 4k
            for j, cid in enumerate(cases):
                if j // 3 + 4 * k == r:
                    p.send(topics["unit_updates"], key=str(cid).encode(), value=_update(cid, j, step))
        p.flush()
        time.sleep(pause)
    assert rounds > len(cases) // 3 + 4 * (len(STEPS) - 1), "every step must be sent"
    p.close()


def _count(sql, table: str) -> int:
    return int(sql.query(f"SELECT COUNT(*) FROM {table}")[0][0])


def test_workers_share_partitions_and_survive_a_sigkill(broker, worker_stores, tmp_path):
    env, worker_extra = worker_stores
    tag = unique_tag()
    topics = topics_for(tag)
    create_topics(broker.bootstrap, list(topics.values()), partitions=PARTITIONS)
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    cases = _dispatch(env, CASES)
    wenv = worker_env(broker.bootstrap, topics, f"{tag}-g", {"CASEGRID_KAFKA_BATCH": "100", **worker_extra})
    logs = [tmp_path / f"w{i}.log" for i in range(3)]
    procs = [start_worker(data, wenv, "--in", log=logs[i]) for i in range(2)]
    resume = threading.Event()
    producing = threading.Thread(target=_produce, args=(broker.bootstrap, topics, cases, resume),
                                 daemon=True)
    app, _, sql = open_store(env=env, city=city())
    expected = REPORTS + CASES * len(STEPS)
    try:
        producing.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _assigned(logs[0]):
            time.sleep(0.1)
        while time.monotonic() < deadline and _count(sql, "cg_kafka_inbox") < 300:
            time.sleep(0.05)
        assert _assigned(logs[0]), "worker 0 never got a partition:\n" + tail(logs[0])
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait()
        at_kill = _count(sql, "cg_kafka_inbox")
        procs.append(start_worker(data, wenv, "--in", log=logs[2]))
        deadline = time.monotonic() + 120  # a loaded machine starts a process slowly
        while time.monotonic() < deadline and not _assigned(logs[2]):
            time.sleep(0.1)
        assert _assigned(logs[2]), "the new worker never joined:\n" + tail(logs[2])
        resume.set()  # the second half of the messages: shared by workers 1 and 2
        producing.join(timeout=120)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _count(sql, "cg_kafka_inbox") < expected:
            time.sleep(0.2)
        time.sleep(1.0)  # anything late (a duplicate effect) would land now
        for p in procs[1:]:
            p.send_signal(signal.SIGTERM)
        for p, log in zip(procs[1:], logs[1:], strict=True):
            try:
                assert p.wait(timeout=30) == 0, tail(log)
            except Exception:
                p.kill()
                raise

        assert 0 < at_kill < expected, "the kill should land mid-stream"
        assert _count(sql, "cg_kafka_inbox") == expected, tail(logs[1]) + tail(logs[2])
        assert _count(sql, "cg_kafka_dead_letters") == 0, sql.query(
            "SELECT topic, partition_id, kafka_offset, error FROM cg_kafka_dead_letters LIMIT 5")
        reported = reported_ids(app)
        want = {str(report_case_id("szcg", f"SZ-{i:06d}")) for i in range(REPORTS)}
        assert len(reported) == len(set(reported)) == REPORTS + CASES, "a case reported twice or lost"
        assert want <= set(reported)
        for cid in cases:  # each step once, in the order sent
            names = [type(e).__name__ for e in app.events.get(cid)]
            steps = [n for n in names if n in EVENTS]
            assert steps == list(EVENTS), f"case {cid}: {names}"
        # the group really was shared, and the third worker took over partitions
        assert _assigned(logs[1]) and _assigned(logs[2])
        assert _applied(logs[2]) > 0, tail(logs[2])
        # our stored positions cover every partition that had messages, none past the end
        offsets = sql.query("SELECT topic, partition_id, next_offset FROM cg_kafka_offsets")
        assert {t for t, _, _ in offsets} == {topics["reports"], topics["unit_updates"]}
        assert sum(n for t, _, n in offsets if t == topics["reports"]) == REPORTS + REPORTS // 10
    finally:
        resume.set()  # a failed test must not leave the producer waiting
        kill_all(procs)
        app.close()


def _assigned(log: Path) -> bool:
    return log.exists() and any(line.get("event") == "partition_assigned" for line in log_lines(log))


def _applied(log: Path) -> int:
    return sum(line.get("applied", 0) for line in log_lines(log) if line.get("event") == "inbound_applied")
