"""Helpers for the Kafka tests: messages, producing, draining a topic, running the worker."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from adapters.kafka.worker import open_store
from tests.integration.lease_support import log_events, process_env, start_cli
from tests.support import T0, city
from workflows.commands import CaseAction, ReportCase

GRIDS = ["44030301000101", "44030301000202", "44030301000503", "44030301000604"]
CATEGORIES = ["E0102", "E0104", "E0107", "C0101", "E0201"]


def topics_for(tag: str) -> dict[str, str]:
    return {
        "reports": f"{tag}.reports.v1",
        "unit_updates": f"{tag}.unit-updates.v1",
        "callbacks": f"{tag}.callbacks.v1",
        "case_events": f"{tag}.case-events.v1",
        "dead_letter": f"{tag}.dead-letter.v1",
    }


def report(i: int, *, source: str = "szcg", message_id: str | None = None, **over) -> dict:
    doc = {
        "schema": "casegrid.report.v1",
        "message_id": message_id or f"r-{i}",
        "source": source,
        "external_id": f"SZ-{i:06d}",
        "channel": "hotline",
        "category": CATEGORIES[i % len(CATEGORIES)],
        "grid": GRIDS[i % len(GRIDS)],
        "occurred_at": "2026-10-12T09:00:00+08:00",
        "description": f"12345 工单 {i}",
        "location": {"lat": 22.57, "lon": 114.12},
    }
    doc.update(over)
    return doc


def unit_update(case_id, i: int, action: str = "resolve", **over) -> dict:
    doc = {
        "schema": "casegrid.unit-update.v1",
        "message_id": f"u-{i}",
        "source": "hw-erp",
        "case_id": str(case_id),
        "unit": "hw",
        "actor": "hw_luo",
        "action": action,
        "occurred_at": "2026-10-12T11:00:00+08:00",
        "evidence": [f"https://img.example/{i}.jpg"],
    }
    doc.update(over)
    return doc


def malformed(i: int) -> tuple[bytes, str]:
    """Bad messages of several kinds, each with what the dead letter should say."""
    kinds = [
        (b"{not json", "malformed"),
        (b"\xff\xfe binary", "malformed"),
        (json.dumps(report(900000 + i, grid="123")).encode(), "malformed"),  # schema: pattern
        (json.dumps({k: v for k, v in report(900000 + i).items() if k != "category"}).encode(),
         "malformed"),  # schema: required
        (json.dumps(report(900000 + i, category="E9999")).encode(), "invalid"),  # unknown category
        (json.dumps(report(900000 + i, channel="patrol", actor="citizen_app")).encode(),
         "refused"),  # lifecycle: channel patrol takes reports from supervisors
        (json.dumps(report(900000 + i, occurred_at="2030-01-01T00:00:00+08:00")).encode(),
         "invalid"),  # future
    ]
    return kinds[i % len(kinds)]


def producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                         max_in_flight_requests_per_connection=1, batch_size=256 * 1024)


def drain(bootstrap: str, topic: str, *, expect: int | None = None, timeout: float = 30.0,
          quiet: float = 1.5) -> list:
    """Every record of a topic (all partitions, from the start), without a group."""
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                      auto_offset_reset="earliest", consumer_timeout_ms=500)
    try:
        deadline = time.monotonic() + timeout
        parts = None
        while parts is None and time.monotonic() < deadline:
            parts = c.partitions_for_topic(topic)
            if not parts:
                parts = None
                time.sleep(0.2)
        if not parts:
            return []
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        out: list = []
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            got = c.poll(timeout_ms=300, max_records=5000)
            n = sum(len(v) for v in got.values())
            for tp in sorted(got, key=lambda t: t.partition):
                out.extend(got[tp])
            if n:
                last_new = time.monotonic()
            elif (expect is None or len(out) >= expect) and time.monotonic() - last_new > quiet:
                break
        return out
    finally:
        c.close(autocommit=False)


def worker_env(bootstrap: str, topics: dict[str, str], group: str, extra: dict | None = None) -> dict:
    """A worker process's environment: the broker, group and topics, short group timeouts."""
    return process_env(extra={
        "CASEGRID_KAFKA_BOOTSTRAP": bootstrap,
        "CASEGRID_KAFKA_GROUP": group,
        "CASEGRID_KAFKA_SESSION_TIMEOUT_MS": "2000",
        "CASEGRID_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        **{f"CASEGRID_KAFKA_TOPIC_{k.upper()}": v for k, v in topics.items()},
        **(extra or {}),
    })


def start_worker(data_dir: Path, env: dict, *args: str, log: Path) -> subprocess.Popen:
    """`casegrid kafka run ARGS…` in a process of its own, its output added to `log`."""
    return start_cli(data_dir, env, "kafka", "run", *args, log=log)


def kill_all(procs: list[subprocess.Popen]) -> None:
    """SIGKILL every worker a test left running (a failed test must leave none)."""
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def open_sqlite_store(data_dir: Path):
    """(app, service, sql) of the worker's store: SQLite in `data_dir`, the test city."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return open_store(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                           "SQLITE_DBNAME": str(data_dir / "casegrid.sqlite")}, city=city())


def dispatch_cases(svc, n: int, *, prefix: str = "pre", start: int = 0,
                   pause: float = 0.0) -> list:
    """`n` cases reported, filed and dispatched to hw directly through the service."""
    out = []
    for i in range(start, start + n):
        c = svc.report(ReportCase(channel="patrol", category="E0102", grid="44030301000101",
                                  actor="sup_zhang", occurred_at=T0, external_id=f"{prefix}-{i}"))
        svc.act(CaseAction(c.id, "file", "acc_wang", T0 + timedelta(minutes=1)))
        svc.act(CaseAction(c.id, "dispatch", "disp_chen", T0 + timedelta(minutes=2)))
        out.append(c.id)
        time.sleep(pause)
    return out


def reported_ids(app) -> list[str]:
    """The case id of every Case.Reported in the store's log, in log order."""
    ids, start = [], 1
    while notes := app.recorder.select_notifications(start=start, limit=5000):
        ids += [str(n.originator_id) for n in notes if n.topic.endswith(":Case.Reported")]
        start = notes[-1].id + 1
    return ids


def log_lines(log: Path) -> list[dict]:
    """A worker log's JSON lines (lease_support.log_events)."""
    return log_events(log)


def logged(log: Path, name: str) -> list[dict]:
    """The lines of event `name` in a worker's log."""
    return [line for line in log_events(log) if line.get("event") == name]


def tail(log: Path, n: int = 25) -> str:
    """The last `n` lines of a log, for an assertion's message."""
    return "\n".join(log.read_text(errors="replace").splitlines()[-n:]) if log.exists() else ""


def unique_tag() -> str:
    return f"t{uuid.uuid4().hex[:8]}"
