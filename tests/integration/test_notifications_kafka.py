"""Notifications onto `casegrid.notifications.v1` against a real broker (Tansu): the worker
(`casegrid notifications run`, its own process) publishes each notification once, valid
against its schema, also when it is killed (SIGKILL) and started again."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from adapters.bootstrap import bootstrap
from deploy.tansu import create_topics
from tests.integration.kafka_support import drain, unique_tag, worker_env
from tests.integration.lease_support import start_cli
from tests.support import T0, act, city, drive

pytestmark = pytest.mark.kafka
SCHEMA = Path(__file__).resolve().parents[2] / "adapters" / "schemas" / "notification.v1.json"


def notify(data: Path, env: dict, *args: str, log: Path) -> subprocess.Popen:
    return start_cli(data, env, "notifications", "run", *args, log=log)


def made(data: Path) -> list[str]:
    cg = bootstrap(data_dir=data, city=city())
    try:
        return [r[0] for r in cg.sql.query("SELECT id FROM cg_notifications WHERE"
                                           " channels LIKE '%kafka%' ORDER BY id")]
    finally:
        cg.close()


def cases(data: Path, n: int, start: int = 0) -> None:
    cg = bootstrap(data_dir=data, city=city())
    try:
        for i in range(start, start + n):
            case = drive(cg.service, "dispatched", at=T0 + timedelta(minutes=10 * i))
            act(cg.service, case, "urge", "chief_zhao", T0 + timedelta(minutes=10 * i + 5),
                reason="尽快")
    finally:
        cg.close()


def test_each_notification_once_on_the_topic_across_a_kill(broker, tmp_path):
    topic = f"{unique_tag()}.notifications.v1"
    create_topics(broker.bootstrap, [topic], partitions=2)
    data, log = tmp_path / "data", tmp_path / "notify.log"
    data.mkdir()
    env = worker_env(broker.bootstrap, {}, "unused", {"CASEGRID_NOTIFICATIONS_TOPIC": topic})
    cases(data, 5)
    p = notify(data, env, "--json", log=log)
    assert p.wait(60) == 0, log.read_text()[-2000:]
    first = made(data)
    assert len(first) == 10  # each case: dispatched-unit and urged-unit

    loop = notify(data, env, "--loop", "--interval", "0.3", log=log)  # nothing new to send
    cases(data, 5, start=5)
    deadline = time.monotonic() + 60
    while len(drain(broker.bootstrap, topic, timeout=3, quiet=0.5)) < 20:
        assert time.monotonic() < deadline and loop.poll() is None, log.read_text()[-2000:]
        time.sleep(0.5)
    loop.send_signal(signal.SIGKILL)
    loop.wait(10)
    cases(data, 2, start=10)
    p = notify(data, env, log=log)
    assert p.wait(60) == 0, log.read_text()[-2000:]
    p = notify(data, env, log=log)  # and once more: nothing left to publish
    assert p.wait(60) == 0

    ids = made(data)
    assert len(ids) == 24
    records = drain(broker.bootstrap, topic, expect=24, timeout=30)
    docs = [json.loads(r.value) for r in records]
    check = Draft202012Validator(json.loads(SCHEMA.read_text()))
    for d in docs:
        assert not list(check.iter_errors(d)), d
    assert sorted(d["id"] for d in docs) == sorted(ids)  # each once: no repeat, none missing
    assert all(r.key.decode() == d["case_id"] for r, d in zip(records, docs, strict=True))
    assert {d["happening"] for d in docs} == {"dispatched", "urged"}
    assert all(d["recipient"] == {"kind": "unit", "id": "hw"} for d in docs)
