"""`kafka run --metrics-port P`: a worker process serves Prometheus metrics — the group's
inbound lag per partition (broker end offset − our stored position), dead letters, parked
events, and its own counts."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from deploy.tansu import create_topics, free_port
from tests.integration.kafka_support import (
    producer,
    report,
    start_worker,
    topics_for,
    unique_tag,
    worker_env,
)
from tests.integration.lease_support import REPO

pytestmark = pytest.mark.kafka
N = 30


def scrape(port: int, timeout: float = 20.0) -> dict[tuple, float]:
    """{(name, sorted labels…): value} from the worker's /metrics, once it answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    out = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            out[(s.name, *sorted(s.labels.items()))] = s.value
    return out


def _lag(m: dict, topic: str) -> float:
    return sum(v for k, v in m.items() if k[0] == "casegrid_kafka_inbound_lag" and ("topic", topic) in k)


def test_worker_metrics_lag_dead_letters_and_counts(broker, tmp_path):
    tag = unique_tag()
    topics = topics_for(tag)
    create_topics(broker.bootstrap, list(topics.values()), partitions=2)
    p = producer(broker.bootstrap)
    for i in range(N):  # one record per batch: Tansu's end offset is then exact
        doc = report(i)
        p.send(topics["reports"], key=doc["external_id"].encode(), value=json.dumps(doc).encode())
        p.flush()
    for _ in range(2):
        p.send(topics["reports"], key=b"bad", value=b"{not json")
        p.flush()
    p.close()
    data = tmp_path / "data"
    env = worker_env(broker.bootstrap, topics, f"{tag}-g")
    out_port, in_port = free_port(), free_port()
    procs = [start_worker(data, env, "--out", "--metrics-port", str(out_port), log=tmp_path / "out.log")]
    try:
        held = ("casegrid_kafka_lease_held", ("lease", "kafka-outbound"))
        deadline = time.monotonic() + 30  # the first scrape can come before the lease is taken
        while (m := scrape(out_port)).get(held) != 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        # no inbound worker yet: the whole backlog is lag
        assert m[("casegrid_kafka_broker_up",)] == 1 and m[("casegrid_kafka_store_up",)] == 1
        assert _lag(m, topics["reports"]) == N + 2
        assert m[held] == 1
        procs.append(start_worker(data, env, "--in", "--metrics-port", str(in_port),
                                  log=tmp_path / "in.log"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            m = scrape(in_port)
            if m.get(("casegrid_kafka_worker_messages_total", ("outcome", "applied"))) == N:
                break
            time.sleep(0.3)
        assert m[("casegrid_kafka_worker_messages_total", ("outcome", "applied"))] == N
        assert m[("casegrid_kafka_worker_messages_total", ("outcome", "dead"))] == 2
        assert _lag(m, topics["reports"]) == 0
        positions = sum(v for k, v in m.items() if k[0] == "casegrid_kafka_inbound_position")
        assert positions == N + 2
        dead = sum(v for k, v in m.items() if k[0] == "casegrid_kafka_dead_letters"
                   and ("topic", topics["reports"]) in k and ("kind", "malformed") in k)
        assert dead == 2
        publisher = ("publisher", f"kafka:{topics['case_events']}")
        assert m[("casegrid_kafka_parked_events", publisher)] == 0
        deadline = time.monotonic() + 30  # the publisher catches up: outbound lag 0
        while scrape(out_port)[("casegrid_kafka_outbound_lag_events", publisher)] and \
                time.monotonic() < deadline:
            time.sleep(0.3)
        assert scrape(out_port)[("casegrid_kafka_outbound_lag_events", publisher)] == 0
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)


def test_metrics_port_taken_or_absurd_is_refused(tmp_path):
    held = socket.socket()
    held.bind(("0.0.0.0", 0))
    held.listen()
    port = held.getsockname()[1]
    env = worker_env("127.0.0.1:1", topics_for("x"), "g")
    base = [sys.executable, "-m", "adapters.cli", "--data-dir", str(tmp_path / "d"), "kafka", "run"]
    try:
        r = subprocess.run([*base, "--metrics-port", str(port)], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and f"--metrics-port {port}" in r.stderr, r.stderr
    finally:
        held.close()
    for bad in ("0", "70000", "http"):
        r = subprocess.run([*base, "--metrics-port", bad], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "--metrics-port" in r.stderr, r.stderr


def test_scrape_while_the_broker_is_away(tmp_path):
    """The store part still answers; broker_up says 0 (a bounded wait, no hang)."""
    from adapters.kafka.metrics import registry_for
    from adapters.kafka.settings import KafkaSettings, open_store
    from adapters.kafka.worker import KafkaWorker
    from tests.support import city

    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "s.sqlite")}
    app, svc, _ = open_store(env=env, city=city())
    try:
        settings = KafkaSettings(bootstrap=f"127.0.0.1:{free_port()}", topics=topics_for("y"))
        worker = KafkaWorker(app, svc, settings, inbound=False, outbound=False)
        from adapters.kafka.store import create_tables

        create_tables(worker.sql)
        from prometheus_client import generate_latest

        t0 = time.monotonic()
        text = generate_latest(registry_for(worker)).decode()
        assert time.monotonic() - t0 < 15
        assert "casegrid_kafka_broker_up 0.0" in text
        assert "casegrid_kafka_store_up 1.0" in text
        assert "casegrid_kafka_inbound_lag{" not in text
    finally:
        app.close()

