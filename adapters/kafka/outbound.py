"""Outbound: every case event onto `casegrid.case-events.v1`, at least once, in order per case.

The publisher follows the application's notification log (all events, in commit order)
from a position kept in `cg_kafka_publish` in our own database. For each batch it sends
every event keyed by case id (one case → one partition → its order kept; the producer
allows one request in flight, so a retry cannot reorder), flushes, checks every send, and
only then moves the position (compare-and-set). A crash after the flush and before the
move repeats those events with the same `id`; nothing is ever skipped.

An event whose send fails for good (too large for the broker, cannot be encoded, …) is
parked in `cg_kafka_parked_events` with its error, in the transaction that moves the
position past it: it is never silently lost (`kafka status` lists it, `kafka
retry-parked` sends it again) and never blocks the events behind it. A broker that is
away stops the batch at the first event it did not take; the position moves up to just
before it and the caller backs off. Dead letters: adapters/kafka/dead_letters.py.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import structlog
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from adapters.kafka.failures import describe, is_transient
from adapters.kafka.store import (
    advance_publish_position,
    parked_events,
    publish_position,
    settle_parked_event,
)
from adapters.storage.sql import Sql
from adapters.views import jsonable
from domain.case import Case
from domain.case_callback import PROTECTED
from domain.times import as_zone

log = structlog.get_logger("casegrid.kafka.out")

EVENT_NS = uuid5(NAMESPACE_URL, "casegrid:case-event")
SCHEMA_VERSION = 1
DATASCHEMA = "urn:casegrid:schema:case-event:1"
CASE_TOPIC = f"{Case.__module__}:{Case.__qualname__}."


def _case_topics() -> frozenset[str]:
    """The stored topics of every case event, the mixins' too (签收 `Accepted` is stored as
    `domain.case_accept:Accepting.Accepted`, not under `domain.case:Case.`)."""
    found = set()
    for klass in Case.__mro__:
        for value in vars(klass).values():
            if isinstance(value, type) and issubclass(value, Aggregate.Event) \
                    and value.__module__.startswith("domain."):
                found.add(get_topic(value))
    return frozenset(found)


CASE_TOPICS = _case_topics()
# not in the envelope's data: the event's own bookkeeping, and the protected contact
# (domain/case_callback.py: a ContactGiven goes out with its place in the stream only)
_HIDDEN = ("originator_id", "originator_version", "timestamp", "originator_topic", *PROTECTED)
MAX_REQUEST_BYTES = 1024 * 1024  # the producer's max_request_size (kafka-python's default, pinned)


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
        "max_request_size": MAX_REQUEST_BYTES,
        "max_block_ms": 10000,  # a broker that is away fails a send in 10 s, not 60
    }


def outcome(future: Any) -> BaseException | None:
    """A send's result after the flush: None if the broker has it, else the error."""
    from kafka.errors import KafkaTimeoutError

    if not future.is_done:
        return KafkaTimeoutError("the broker did not acknowledge the send before the flush timed out")
    return None if future.succeeded() else future.exception


class OutboundPublisher:
    def __init__(self, app: Any, producer: Any, topic: str, *, name: str | None = None,
                 batch: int = 1000, source: str = "urn:casegrid", send_timeout: float = 30.0,
                 max_transient: int = 5):
        self.app = app
        self.sql = Sql(app.recorder)
        self.producer = producer
        self.topic = topic
        self.name = name or f"kafka:{topic}"
        self.batch = batch
        self.source = source
        self.send_timeout = send_timeout
        self.max_transient = max_transient  # retriable failures of one event while others go out
        self._transient: dict[int, int] = {}

    def position(self) -> int:
        return publish_position(self.sql, self.name)

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def _send(self, note: Any) -> Any:
        ev = self.app.mapper.to_domain_event(note)
        value = json.dumps(envelope(ev, note.id, self.source), ensure_ascii=False)
        return self.producer.send(self.topic, key=str(ev.originator_id).encode(),
                                  value=value.encode("utf-8"))

    @staticmethod
    def _parked(note: Any, e: BaseException) -> tuple:
        return (note.id, str(note.originator_id), int(note.originator_version), describe(e))

    def step(self) -> int:
        """Publish the next batch; returns how many log entries it moved past (0: caught up).
        Events that fail for good are parked; a broker that is away raises, after the
        position has moved up to the first event it did not take."""
        pos = self.position()
        notes = self.app.recorder.select_notifications(start=pos + 1, limit=self.batch)
        if not notes:
            return 0
        futures, parked, stop_at, transient = [], [], None, None
        for note in notes:
            if note.topic not in CASE_TOPICS:
                continue  # other aggregates share the log (e.g. patrol days): not case events
            try:
                futures.append((note, self._send(note)))
            except Exception as e:  # noqa: BLE001 - classified: retried or parked
                if is_transient(e):
                    stop_at, transient = note.id, e
                    break
                parked.append(self._parked(note, e))
        try:
            self.producer.flush(timeout=self.send_timeout)
        except Exception as e:  # noqa: BLE001 - the futures say which went out
            transient = transient or e
        results = [(note, outcome(f)) for note, f in futures]
        sent = sum(1 for _, err in results if err is None)
        for note, err in results:
            if err is None:
                continue
            if not is_transient(err):
                parked.append(self._parked(note, err))
            elif sent and self._count(note.id) >= self.max_transient:
                parked.append(self._parked(note, err))  # keeps failing while others go out
            else:
                stop_at = note.id if stop_at is None else min(stop_at, note.id)
                transient = transient or err
        new = notes[-1].id if stop_at is None else stop_at - 1
        parked = [p for p in parked if p[0] <= new]  # beyond the stop: tried again next round
        moved = new > pos and advance_publish_position(self.sql, self.name, pos, new, parked)
        if moved:
            self._transient = {k: v for k, v in self._transient.items() if k > new}
            for p, cid, version, error in parked:
                log.error("outbound_parked", topic=self.topic, position=p, case_id=cid,
                          stream_version=version, error=error)
        log.info("outbound_batch", topic=self.topic, offset=new, position=new, events=sent,
                 parked=len(parked) if moved else 0, lag=self.head() - new, moved=moved)
        if transient is not None:
            raise transient
        return len(notes)

    def _count(self, position: int) -> int:
        self._transient[position] = self._transient.get(position, 0) + 1
        return self._transient[position]

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

    def retry_parked(self, page: int = 500) -> dict:
        """Send the parked events again, a page at a time; the ones the broker takes are
        marked published, the others get one more attempt and their new error."""
        done = failed = after = 0
        while items := parked_events(self.sql, self.name, page, after):
            d, f = self._retry(items)
            done, failed, after = done + d, failed + f, items[-1]["position"]
        log.info("outbound_retry_parked", topic=self.topic, published=done, failed=failed)
        return {"published": done, "failed": failed}

    def _retry(self, items: list[dict]) -> tuple[int, int]:
        futures = []
        for item in items:
            p = item["position"]
            notes = self.app.recorder.select_notifications(start=p, limit=1)
            try:
                if not notes or notes[0].id != p:
                    raise LookupError(f"position {p} is not in the event log")
                futures.append((p, self._send(notes[0])))
            except Exception as e:  # noqa: BLE001 - recorded on the parked row
                futures.append((p, e))
        try:
            self.producer.flush(timeout=self.send_timeout)
        except Exception as e:  # noqa: BLE001 - the futures say which went out
            log.warning("retry_parked_flush_failed", error=describe(e))
        done = failed = 0
        for p, f in futures:
            err = f if isinstance(f, BaseException) else outcome(f)
            settle_parked_event(self.sql, self.name, p, None if err is None else describe(err))
            done, failed = done + (err is None), failed + (err is not None)
        return done, failed
