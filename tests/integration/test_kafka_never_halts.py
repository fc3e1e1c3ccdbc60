"""No Kafka pipeline halts on one item (issue 10, item 7), against a real broker (Tansu).

An oversized report becomes a bounded dead letter and the message behind it goes
through; an event or dead letter the producer cannot send is parked with its error and
the ones behind it go out; `kafka status` shows what is parked; in the combined worker,
dead-letter publishing failing does not stop case events; --idle-exit fires without an
assignment. Each test runs its worker in this process, a few seconds each; the parking
tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import subprocess
import sys
import threading
import time

import pytest
import structlog
import structlog.testing
from jsonschema import Draft202012Validator
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaTimeoutError

from adapters.kafka.dead_letters import DEAD_LETTER_MAX_BYTES, publish_dead_letters
from adapters.kafka.failures import is_transient
from adapters.kafka.inbound import InboundProcessor
from adapters.kafka.messages import Record, report_case_id, schema
from adapters.kafka.outbound import OutboundPublisher, producer_config
from adapters.kafka.status import status
from adapters.kafka.store import parked_events, unpark_dead_letters
from adapters.kafka.worker import KafkaSettings, KafkaWorker, open_store
from deploy.tansu import ThrowawayBroker, create_topics
from tests.integration.kafka_support import (
    drain,
    open_sqlite_store,
    report,
    topics_for,
    unique_tag,
    worker_env,
)
from tests.support import T0, city
from workflows.commands import ReportCase

pytestmark = pytest.mark.kafka


def _settings(broker, topics: dict, tag: str, **over) -> KafkaSettings:
    return KafkaSettings(bootstrap=broker.bootstrap, group=f"{tag}-g", topics=topics,
                         session_timeout_ms=2000, heartbeat_interval_ms=500, poll_ms=100,
                         partitions=1, **over)


def _send(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    p = KafkaProducer(bootstrap_servers=bootstrap, max_request_size=4 * 1024 * 1024, acks="all",
                      max_in_flight_requests_per_connection=1)
    for key, value in messages:
        p.send(topic, key=key, value=value)
    p.flush()
    p.close()


def _patrol_report(svc, i: int, description: str = "路口垃圾堆积"):
    return svc.report(ReportCase(channel="patrol", category="E0102", grid="44030301000101",
                                 actor="sup_zhang", occurred_at=T0, external_id=f"nh-{i}",
                                 description=description))


def test_oversized_report_is_a_bounded_dead_letter_and_the_next_goes_through(broker, tmp_path):
    tag = unique_tag()
    topics = topics_for(tag)
    create_topics(broker.bootstrap, list(topics.values()), partitions=1)
    big = json.dumps(report(1, description="路" * 350_000), ensure_ascii=False).encode()
    assert len(big) > 1_000_000
    _send(broker.bootstrap, topics["reports"], [
        (b"SZ-000001", big), (b"SZ-000002", json.dumps(report(2)).encode())])
    app, svc, sql = open_sqlite_store(tmp_path / "data")
    try:
        worker = KafkaWorker(app, svc, _settings(broker, topics, tag))
        stats = worker.run(idle_exit=1.5, max_seconds=30)
        assert (stats["applied"], stats["dead"]) == (1, 1)
        (row,) = sql.query("SELECT payload, error_kind, error_field, error, published_at, parked_at"
                           " FROM cg_kafka_dead_letters")
        payload, kind, fld, error, published_at, parked_at = row
        assert base64.b64decode(payload) == big  # the original bytes stay in our database
        assert (kind, fld) == ("malformed", "(message)")
        assert f"is {len(big) + 9} bytes" in error and "max_message_bytes (262144)" in error
        assert published_at is not None and parked_at is None
        assert svc.get(report_case_id("szcg", "SZ-000002")).version == 1
    finally:
        app.close()

    (dl,) = drain(broker.bootstrap, topics["dead_letter"], expect=1, quiet=0.5)
    assert len(dl.value) + len(dl.key) <= DEAD_LETTER_MAX_BYTES
    doc = json.loads(dl.value)
    Draft202012Validator(schema("dead-letter.v1.json")).validate(doc)
    assert doc["payload_sha256"] == hashlib.sha256(big).hexdigest()
    assert doc["payload_bytes"] == len(big) and doc["payload_truncated"] is True
    preview = base64.b64decode(doc["payload_base64"])
    assert 0 < len(preview) < len(big) and big.startswith(preview)
    assert big.decode().startswith(doc["payload_text"])
    assert doc["stored"] == {"table": "cg_kafka_dead_letters", "group_id": f"{tag}-g",
                             "topic": topics["reports"], "partition": 0, "offset": 0}
    events = drain(broker.bootstrap, topics["case_events"], expect=1, quiet=0.5)
    assert [json.loads(r.value)["case_id"] for r in events] == [
        str(report_case_id("szcg", "SZ-000002"))]


def test_an_event_the_producer_refuses_is_parked_and_the_ones_behind_it_go_out(broker, store_env):
    tag = unique_tag()
    topics = topics_for(tag)
    create_topics(broker.bootstrap, [topics["case_events"]], partitions=1)
    app, svc, sql = open_store(env=store_env, city=city())
    strict = KafkaProducer(**producer_config(broker.bootstrap, "strict") | {"max_request_size": 4096})
    normal = KafkaProducer(**producer_config(broker.bootstrap, "normal"))
    try:
        a = _patrol_report(svc, 1)
        b = _patrol_report(svc, 2, description="路" * 2000)  # an envelope over 4096 bytes
        c = _patrol_report(svc, 3)
        d = _patrol_report(svc, 4, description="桥" * 2000)
        pub = OutboundPublisher(app, strict, topics["case_events"])
        assert pub.catch_up() == 4 and pub.position() == 4  # moved past the parked ones
        parked = parked_events(sql, pub.name)
        assert [(p["position"], p["case_id"], p["attempts"]) for p in parked] == [
            (2, str(b.id), 1), (4, str(d.id), 1)]
        assert all(p["error"].startswith("MessageSizeTooLargeError") for p in parked)
        out = drain(broker.bootstrap, topics["case_events"], expect=2, quiet=0.5)
        assert [json.loads(r.value)["case_id"] for r in out] == [str(a.id), str(c.id)]

        st = status(app, _settings(broker, topics, tag))
        assert st["outbound"] == {"topic": topics["case_events"], "position": 4, "head": 4,
                                  "lag_events": 0, "parked": 2}
        assert st["parked"]["events_count"] == 2
        assert [e["error"] for e in st["parked"]["events"]] == [p["error"] for p in parked]

        again = OutboundPublisher(app, normal, topics["case_events"])
        assert again.retry_parked(page=1) == {"published": 2, "failed": 0}
        assert parked_events(sql, pub.name) == []
        out = drain(broker.bootstrap, topics["case_events"], expect=4, quiet=0.5)
        assert [json.loads(r.value)["case_id"] for r in out][-2:] == [str(b.id), str(d.id)]
    finally:
        strict.close()
        normal.close()
        app.close()


def test_a_dead_letter_the_producer_refuses_is_parked_and_the_others_go_out(broker, store_env):
    tag = unique_tag()
    topics = topics_for(tag)
    app, svc, sql = open_store(env=store_env, city=city())
    strict = KafkaProducer(**producer_config(broker.bootstrap, "strict") | {"max_request_size": 4096})
    normal = KafkaProducer(**producer_config(broker.bootstrap, "normal"))
    try:
        proc = InboundProcessor(svc, group="g", topics=topics)
        proc.process([Record(topics["reports"], 0, o, None, v)
                      for o, v in enumerate([b"{not json", b"[" + b"7," * 1500 + b"7", b"nope"])])
        assert publish_dead_letters(sql, strict, topics["dead_letter"]) == 2
        assert publish_dead_letters(sql, strict, topics["dead_letter"]) == 0  # parked: not retried
        st = status(app, _settings(broker, topics, tag))
        (row,) = st["parked"]["dead_letters"]
        assert (row["offset"], row["attempts"]) == (1, 1)
        assert row["error"].startswith("MessageSizeTooLargeError")
        assert st["dead_letters"] == [{"topic": topics["reports"], "kind": "malformed", "count": 3,
                                       "unpublished": 1, "parked": 1}]
        assert [(r["offset"], r["kind"], r["published_at"] is None)
                for r in st["recent_dead_letters"]] == [(2, "malformed", False), (1, "malformed", True),
                                                        (0, "malformed", False)]
        assert st["recent_dead_letters"][2]["error"].startswith("(message): is not JSON")
        out = drain(broker.bootstrap, topics["dead_letter"], expect=2, quiet=0.5)
        assert sorted(json.loads(r.value)["source_offset"] for r in out) == [0, 2]

        assert unpark_dead_letters(sql) == 1
        assert publish_dead_letters(sql, normal, topics["dead_letter"]) == 1
        assert status(app, _settings(broker, topics, tag))["parked"]["dead_letters_count"] == 0
    finally:
        strict.close()
        normal.close()
        app.close()


def _worker_with_events(broker, tmp_path, tag, topics, **over):
    """A combined worker over two bad inbound messages, one good one and a stored case."""
    create_topics(broker.bootstrap, [t for t in topics.values() if " " not in t], partitions=1)
    _send(broker.bootstrap, topics["reports"], [
        (b"bad-1", b"{not json"), (b"SZ-000001", json.dumps(report(1)).encode()), (b"bad-2", b"[]")])
    app, svc, sql = open_sqlite_store(tmp_path / "data")
    _patrol_report(svc, 9)
    return app, svc, sql, KafkaWorker(app, svc, _settings(broker, topics, tag, create_topics=False,
                                                          **over))


def test_combined_worker_publishes_case_events_when_dead_letters_cannot_go_out(broker, tmp_path):
    """Every dead-letter send fails (the topic name is illegal): each is parked, and inbound
    and outbound go on."""
    tag = unique_tag()
    topics = topics_for(tag) | {"dead_letter": f"{tag} dead letters"}
    app, svc, sql, worker = _worker_with_events(broker, tmp_path, tag, topics)
    try:
        stats = worker.run(idle_exit=1.5, max_seconds=30)
        assert (stats["applied"], stats["dead"], stats["dead_letters_published"]) == (1, 2, 0)
        parked = sql.query("SELECT kafka_offset, publish_error FROM cg_kafka_dead_letters"
                           " WHERE parked_at IS NOT NULL ORDER BY kafka_offset")
        assert [o for o, _ in parked] == [0, 2]
        assert all(e.startswith("ValueError: Topic name") for _, e in parked)
        head = app.recorder.max_notification_id()
    finally:
        app.close()
    assert head == 2
    out = drain(broker.bootstrap, topics["case_events"], expect=2, quiet=0.5)
    assert sorted(json.loads(r.value)["position"] for r in out) == [1, 2]


def test_combined_worker_backs_off_a_failing_part_alone(broker, tmp_path):
    """Dead-letter publishing raises every time (a broker-side timeout): that part backs off;
    reports are applied, case events published, and --idle-exit still fires."""
    tag = unique_tag()
    topics = topics_for(tag)
    app, svc, sql, worker = _worker_with_events(broker, tmp_path, tag, topics)

    def broken() -> int:
        raise KafkaTimeoutError("dead-letter topic unavailable")

    worker.publish_dead_letters_once = broken
    try:
        t0 = time.monotonic()
        stats = worker.run(idle_exit=1.5, max_seconds=30)
        assert time.monotonic() - t0 < 15
        assert (stats["applied"], stats["dead"]) == (1, 2)
        assert 1 <= stats["dead_letters_errors"] <= 6  # backed off, not spinning
        assert worker.parts["dead_letters"].last_error.startswith("KafkaTimeoutError")
        assert sql.query("SELECT COUNT(*) FROM cg_kafka_dead_letters WHERE published_at IS NULL"
                         )[0][0] == 2  # still queued for the next run
        assert stats["failing"] == {"dead_letters": worker.parts["dead_letters"].last_error}
        (failing,) = status(app, worker.settings)["failing"]  # what `kafka status` shows
        assert (failing["worker"], failing["part"]) == (worker.name, "dead_letters")
        assert failing["error"] == "KafkaTimeoutError: dead-letter topic unavailable"
        assert failing["failures"] == stats["dead_letters_errors"]
    finally:
        app.close()
    out = drain(broker.bootstrap, topics["case_events"], expect=2, quiet=0.5)
    assert sorted(json.loads(r.value)["position"] for r in out) == [1, 2]


def test_idle_exit_fires_when_the_group_gives_no_partition(broker, tmp_path):
    """Another member holds the only partitions: the worker never gets one, and still exits."""
    tag = unique_tag()
    topics = topics_for(tag)
    create_topics(broker.bootstrap, list(topics.values()), partitions=1)
    holder = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=f"{tag}-g",
                           client_id="aaa-holder", session_timeout_ms=6000,  # a loaded
                           heartbeat_interval_ms=500, enable_auto_commit=False)  # machine:
    # the holder's heartbeats may lag; its session must not expire, or the worker is given
    # the partitions (seen once in a full run beside other work)
    holder.subscribe([topics["reports"], topics["unit_updates"]])
    stop = threading.Event()

    def hold():
        while not stop.is_set():
            holder.poll(timeout_ms=100)

    t = threading.Thread(target=hold, daemon=True)
    t.start()
    app, svc, sql = open_sqlite_store(tmp_path / "data")
    try:
        deadline = time.monotonic() + 15
        while not holder.assignment() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert holder.assignment()
        worker = KafkaWorker(app, svc, _settings(broker, topics, tag, create_topics=False))
        t0 = time.monotonic()
        with structlog.testing.capture_logs() as logs:
            worker.run(idle_exit=1.0, max_seconds=30)
        assert time.monotonic() - t0 < 12  # join grace (2 × session timeout) + idle, not forever
        (idle,) = [e for e in logs if e["event"] == "kafka_worker_idle_exit"]
        assert idle["assigned"] is False
    finally:
        stop.set()
        t.join(5)
        holder.close(autocommit=False)
        app.close()


def test_status_cli_shows_parked_items(broker, tmp_path):
    tag = unique_tag()
    topics = topics_for(tag)
    app, svc, sql = open_sqlite_store(tmp_path / "data")
    strict = KafkaProducer(**producer_config(broker.bootstrap, "strict") | {"max_request_size": 2048})
    try:
        _patrol_report(svc, 1, description="路" * 1000)
        OutboundPublisher(app, strict, topics["case_events"]).catch_up()
        proc = InboundProcessor(svc, group=f"{tag}-g", topics=topics)
        proc.process([Record(topics["reports"], 0, 0, None, b"[" + b"7," * 1000 + b"7")])
        publish_dead_letters(sql, strict, topics["dead_letter"])
    finally:
        strict.close()
        app.close()
    env = worker_env(broker.bootstrap, topics, f"{tag}-g")
    cli = [sys.executable, "-m", "adapters.cli", "--data-dir", str(tmp_path / "data"), "kafka", "status"]
    st = json.loads(subprocess.run([*cli, "--json"], env=env, capture_output=True, text=True,
                                   timeout=60, check=True).stdout)
    assert st["parked"]["events_count"] == 1 and st["parked"]["dead_letters_count"] == 1
    assert st["parked"]["events"][0]["error"].startswith("MessageSizeTooLargeError")
    assert st["parked"]["dead_letters"][0]["error"].startswith("MessageSizeTooLargeError")
    text = subprocess.run(cli, env=env | {"COLUMNS": "200"}, capture_output=True, text=True,
                          timeout=60, check=True).stdout
    assert "parked case events (1)" in text and "parked dead letters (1)" in text
    assert "MessageSizeTooLargeError" in text and "kafka retry-parked" in text
    retry = subprocess.run(cli[:-1] + ["retry-parked", "--json"], env=env, capture_output=True,
                           text=True, timeout=60, check=True)
    assert json.loads(retry.stdout) == {"events": {"published": 1, "failed": 0},
                                        "dead_letters": {"requeued": 1, "published": 1}}
    st = json.loads(subprocess.run([*cli, "--json"], env=env, capture_output=True, text=True,
                                   timeout=60, check=True).stdout)
    assert st["parked"] == {"events": [], "events_count": 0, "dead_letters": [],
                            "dead_letters_count": 0}


def test_a_broker_that_is_away_parks_nothing_and_the_position_waits(tmp_path):
    """A retriable failure (the broker gone) is not the event's fault: nothing is parked,
    the position stays before it, and the publisher resumes from there."""
    topic = f"{unique_tag()}.case-events.v1"
    app, svc, sql = open_sqlite_store(tmp_path / "data")
    with ThrowawayBroker() as away:
        create_topics(away.bootstrap, [topic], partitions=1)
        prod = KafkaProducer(**producer_config(away.bootstrap, "p") | {
            "request_timeout_ms": 1000, "max_block_ms": 2000})
        try:
            pub = OutboundPublisher(app, prod, topic, send_timeout=2)
            _patrol_report(svc, 1)
            assert pub.step() == 1
            _patrol_report(svc, 2)
            away.proc.kill()  # gone at once (a polite stop waits for the clients)
            away.proc.wait()
            with pytest.raises(Exception) as caught:
                pub.step()
            assert is_transient(caught.value), caught.value
            assert pub.position() == 1 and parked_events(sql, pub.name) == []
        finally:
            with contextlib.suppress(KafkaTimeoutError):  # kafka-python flushes before closing
                prod.close(timeout=1)
            prod._sender.force_close()  # the unsent record can never go: let it be
            prod._closed = True
            app.close()


def test_restarted_combined_worker_joins_and_goes_on_after_an_oversized_report(broker, tmp_path):
    """The reported failure, end to end: a combined worker gets a 1 MB report; a new worker
    (a restart: a new member of the group) with a new report waiting joins the group,
    applies it, publishes its events and stops on --idle-exit."""
    tag = unique_tag()
    topics = topics_for(tag)
    create_topics(broker.bootstrap, list(topics.values()), partitions=1)
    big = json.dumps(report(1, description="路" * 350_000), ensure_ascii=False).encode()
    _send(broker.bootstrap, topics["reports"], [(b"SZ-000001", big)])
    runs = []
    for i in (2, 3):
        _send(broker.bootstrap, topics["reports"], [(b"k", json.dumps(report(i)).encode())])
        app, svc, sql = open_sqlite_store(tmp_path / "data")
        try:
            worker = KafkaWorker(app, svc, _settings(broker, topics, tag, create_topics=False))
            with structlog.testing.capture_logs() as logs:
                stats = worker.run(idle_exit=1.0, max_seconds=20)
        finally:
            app.close()
        assigned = sum(1 for e in logs if e["event"] == "partition_assigned")
        runs.append((stats["applied"], stats["dead"], assigned, "failing" in stats))
    inbound = 3  # partitions assigned: reports, unit updates and callbacks, one each
    assert runs == [(1, 1, inbound, False), (1, 0, inbound, False)]
    out = drain(broker.bootstrap, topics["case_events"], expect=2, quiet=0.5)
    assert sorted(json.loads(r.value)["case_id"] for r in out) == sorted(
        str(report_case_id("szcg", f"SZ-00000{i}")) for i in (2, 3))
    assert len(drain(broker.bootstrap, topics["dead_letter"], expect=1, quiet=0.5)) == 1
