"""Outbound: every case event onto `casegrid.case-events.v1`, at least once, in order per case.

The publisher follows the application's notification log (all events, in commit order)
from a position kept in `cg_kafka_publish` in our own database. For each batch it sends
every event keyed by case id (one case → one partition → its order kept; the producer
allows one request in flight, so a retry cannot reorder), flushes, checks every send, and
only then moves the position (compare-and-set). A crash after the flush and before the
move repeats those events with the same `id`; nothing is ever skipped.

Dead letters leave the same way: rows of `cg_kafka_dead_letters` with `published_at IS
NULL` are sent to the dead-letter topic, flushed, then marked.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import structlog

from adapters.kafka_in import dead_letter_value
from adapters.kafka_store import (
    advance_publish_position,
    mark_dead_letters_published,
    publish_position,
    sql_for,
    unpublished_dead_letters,
)
from adapters.views import jsonable
from domain.case import Case
from domain.times import as_zone
from projections.sql import Sql

log = structlog.get_logger("casegrid.kafka.out")

EVENT_NS = uuid5(NAMESPACE_URL, "casegrid:case-event")
SCHEMA_VERSION = 1
DATASCHEMA = "urn:casegrid:schema:case-event:1"
CASE_TOPIC = f"{Case.__module__}:{Case.__qualname__}."
_HIDDEN = ("originator_id", "originator_version", "timestamp", "originator_topic")


def event_id(case_id: UUID | str, version: int) -> str:
    return str(uuid5(EVENT_NS, f"{case_id}:{version}"))


def envelope(event: Any, position: int, source: str = "urn:casegrid") -> dict:
    """A stored case event → the case-event.v1 envelope (CloudEvents names where they fit)."""
    cid = str(event.originator_id)
    version = int(event.originator_version)
    recorded = as_zone(event.timestamp, UTC).isoformat()
    data = {k: jsonable(v) for k, v in vars(event).items() if k not in _HIDDEN}
    return {
        "specversion": "1.0",
        "id": event_id(cid, version),
        "source": source,
        "type": f"casegrid.case.{type(event).__name__}.v{SCHEMA_VERSION}",
        "subject": cid,
        "time": recorded,
        "datacontenttype": "application/json",
        "dataschema": DATASCHEMA,
        "case_id": cid,
        "stream_version": version,
        "occurred_at": jsonable(getattr(event, "occurred_at", event.timestamp)),
        "recorded_at": recorded,
        "schema_version": SCHEMA_VERSION,
        "position": int(position),
        "data": data,
    }


def producer_config(bootstrap: str, client_id: str) -> dict:
    return {
        "bootstrap_servers": bootstrap,
        "client_id": client_id,
        "acks": "all",
        "retries": 10,
        "max_in_flight_requests_per_connection": 1,  # a retry cannot overtake: per-case order
        "linger_ms": 5,
        "batch_size": 256 * 1024,
        "request_timeout_ms": 15000,
    }


class OutboundPublisher:
    def __init__(self, app: Any, producer: Any, topic: str, *, name: str | None = None,
                 batch: int = 1000, source: str = "urn:casegrid", send_timeout: float = 30.0):
        self.app = app
        self.sql = sql_for(app)
        self.producer = producer
        self.topic = topic
        self.name = name or f"kafka:{topic}"
        self.batch = batch
        self.source = source
        self.send_timeout = send_timeout

    def position(self) -> int:
        return publish_position(self.sql, self.name)

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def step(self) -> int:
        """Publish the next batch; returns how many log entries it moved past (0: caught up)."""
        pos = self.position()
        notes = self.app.recorder.select_notifications(start=pos + 1, limit=self.batch)
        if not notes:
            return 0
        to_event = self.app.mapper.to_domain_event
        futures = []
        for note in notes:
            if not note.topic.startswith(CASE_TOPIC):
                continue  # other aggregates share the log (e.g. patrol days): not case events
            ev = to_event(note)
            value = json.dumps(envelope(ev, note.id, self.source), ensure_ascii=False)
            futures.append(self.producer.send(
                self.topic, key=str(ev.originator_id).encode(), value=value.encode("utf-8")))
        self.producer.flush(timeout=self.send_timeout)
        for f in futures:
            f.get(timeout=self.send_timeout)  # raises if the broker did not take it
        moved = advance_publish_position(self.sql, self.name, pos, notes[-1].id)
        head = self.head()
        log.info("outbound_batch", topic=self.topic, offset=notes[-1].id, position=notes[-1].id,
                 events=len(futures), skipped=len(notes) - len(futures), lag=head - notes[-1].id,
                 moved=moved)
        return len(notes)

    def catch_up(self, max_batches: int | None = None) -> int:
        done = 0
        n = 0
        while max_batches is None or n < max_batches:
            k = self.step()
            if k == 0:
                break
            done += k
            n += 1
        return done


def publish_dead_letters(sql: Sql, producer: Any, topic: str, *, timeout: float = 30.0) -> int:
    """Send unpublished dead letters, flush, then mark them; a crash in between repeats them."""
    total = 0
    while True:
        rows = unpublished_dead_letters(sql)
        if not rows:
            return total
        futures = []
        for row in rows:
            key, value = dead_letter_value(row)
            futures.append(producer.send(topic, key=key, value=value))
        producer.flush(timeout=timeout)
        for f in futures:
            f.get(timeout=timeout)
        mark_dead_letters_published(sql, [tuple(r[:4]) for r in rows])
        for r in rows:
            log.warning("dead_letter", topic=r[1], partition=int(r[2]), offset=int(r[3]),
                        error_kind=r[6], field=r[7], error=r[8], dead_letter_topic=topic)
        total += len(rows)
