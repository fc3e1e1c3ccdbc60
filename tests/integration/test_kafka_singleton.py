"""The outbound publisher as a singleton (单例, issue 14 §2): two `kafka run --out`
processes, one publishes (it holds the 'kafka-outbound' lease), SIGKILL of the holder →
the other takes over. Delivery is at least once: every case event is on the topic, each
case's events in order; an event published twice (the holder died after the broker took a
batch and before its position was stored) carries the same `id` and the same content.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from adapters.kafka.worker import open_store
from deploy.tansu import create_topics
from tests.integration.kafka_support import (
    dispatch_cases,
    drain,
    kill_all,
    logged,
    start_worker,
    topics_for,
    unique_tag,
    worker_env,
)
from tests.support import city

pytestmark = pytest.mark.kafka


def _holder(logs: list[Path]) -> int | None:
    held = [i for i, log in enumerate(logs)
            if any(e.get("name") == "kafka-outbound" for e in logged(log, "lease_acquired"))]
    return held[0] if len(held) == 1 else None


def test_two_publishers_one_publishes_and_the_other_takes_over(broker, worker_stores, tmp_path):
    env, worker_extra = worker_stores
    tag = unique_tag()
    topics = topics_for(tag)
    create_topics(broker.bootstrap, list(topics.values()), partitions=3)
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    app, svc, sql = open_store(env=env, city=city())
    dispatch_cases(svc, 40, prefix="out")
    wenv = worker_env(broker.bootstrap, topics, f"{tag}-g", {"CASEGRID_KAFKA_BATCH": "20", **worker_extra})
    logs = [tmp_path / "p0.log", tmp_path / "p1.log"]
    procs = [start_worker(data, wenv, "--out", log=log) for log in logs]
    writer = threading.Thread(target=dispatch_cases, args=(svc, 60),
                              kwargs={"prefix": "out", "start": 40, "pause": 0.05})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _holder(logs) is None:
            time.sleep(0.1)
        first = _holder(logs)
        assert first is not None, "\n".join(log.read_text(errors="replace")[-2000:] for log in logs)
        other = 1 - first
        while time.monotonic() < deadline and not logged(logs[other], "lease_waiting"):
            time.sleep(0.1)
        assert logged(logs[other], "lease_waiting"), "the second publisher should wait"
        writer.start()
        while time.monotonic() < deadline and not sql.query("SELECT position FROM cg_kafka_publish"):
            time.sleep(0.05)
        time.sleep(0.5)  # mid-stream: the writer is still adding cases
        assert not logged(logs[other], "outbound_batch"), "only the holder publishes"
        procs[first].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        procs[first].wait()
        while time.monotonic() < killed + 20 and not logged(logs[other], "lease_acquired"):
            time.sleep(0.05)
        took_over = time.monotonic() - killed
        assert logged(logs[other], "lease_acquired"), "no takeover:\n" + logs[other].read_text()[-2000:]
        print(f"takeover: {took_over:.2f} s")
        assert took_over < 5.0
        writer.join(timeout=60)
        head = app.recorder.max_notification_id()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pos = sql.query("SELECT position FROM cg_kafka_publish")
            if pos and pos[0][0] == head:
                break
            time.sleep(0.1)
        procs[other].send_signal(signal.SIGTERM)
        assert procs[other].wait(timeout=30) == 0
        assert any(e.get("name") == "kafka-outbound" for e in logged(logs[first], "lease_acquired"))
        assert logged(logs[first], "outbound_batch"), "the first holder published before its death"
        assert logged(logs[other], "outbound_batch"), "the second published after the takeover"
    finally:
        kill_all(procs)
        app.close()

    out = drain(broker.bootstrap, topics["case_events"], expect=head)
    by_id: dict[str, bytes] = {}
    by_case: dict[str, list[int]] = defaultdict(list)
    for rec in out:
        doc = json.loads(rec.value)
        if doc["id"] in by_id:  # a repeat is the same event, byte for byte
            assert by_id[doc["id"]] == rec.value
        by_id[doc["id"]] = rec.value
        by_case[doc["case_id"]].append(doc["stream_version"])
    assert {json.loads(v)["position"] for v in by_id.values()} == set(range(1, head + 1))
    assert len(by_case) == 100
    for cid, versions in by_case.items():
        # a consumer that skips ids it has seen gets each case's events in order
        firsts = list(dict.fromkeys(versions))
        assert firsts == list(range(1, len(firsts) + 1)), f"case {cid} out of order: {versions}"
