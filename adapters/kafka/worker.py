"""The Kafka worker: consume reports and unit updates, publish case events and dead letters.

One process, one loop of three independent parts: poll a batch → apply it in one
database transaction (events, inbox, dead letters, next offsets) → commit the Kafka
offsets; publish dead letters; publish the next outbound events. A part that fails is
logged and backed off alone (its own `Backoff`); the others go on. Items a part cannot
handle are parked (dead letters, parked events) and never block the ones behind them.
Our database is the authority on positions: on every partition assignment, and after an
inbound failure, the consumer seeks to the offset stored there, so a broker that lost its
committed offsets (Tansu keeps them in memory) or a crash between our commit and
Kafka's changes nothing. SIGTERM / SIGINT finish the batch in hand and leave the group
cleanly.

Settings, highest first: command-line options, environment variables
(CASEGRID_KAFKA_BOOTSTRAP, CASEGRID_KAFKA_GROUP, CASEGRID_KAFKA_TOPIC_REPORTS,
CASEGRID_KAFKA_TOPIC_UNIT_UPDATES, CASEGRID_KAFKA_TOPIC_CASE_EVENTS,
CASEGRID_KAFKA_TOPIC_DEAD_LETTER, CASEGRID_KAFKA_BATCH, CASEGRID_KAFKA_SESSION_TIMEOUT_MS,
CASEGRID_KAFKA_PARTITIONS, CASEGRID_KAFKA_MAX_MESSAGE_BYTES), the `kafka:` mapping of the YAML file named by
--kafka-config / CASEGRID_KAFKA_CONFIG, then the defaults below.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import structlog
from kafka import ConsumerRebalanceListener

from adapters.kafka.dead_letters import publish_dead_letters
from adapters.kafka.failures import Backoff, describe
from adapters.kafka.inbound import InboundProcessor
from adapters.kafka.messages import Record
from adapters.kafka.outbound import OutboundPublisher, producer_config
from adapters.kafka.settings import (  # noqa: F401 - DEFAULT_TOPICS, open_store: the worker's API
    DEFAULT_TOPICS,
    KafkaSettings,
    ensure_topics,
    open_store,
)
from adapters.kafka.store import (
    clear_part_error,
    record_part_error,
    stored_offsets,
)
from adapters.storage.lease import Lease
from adapters.storage.sql import Sql
from workflows.service import CaseApplication, CaseService

log = structlog.get_logger("casegrid.kafka")

LEASES = {"outbound": "kafka-outbound", "dead_letters": "kafka-dead-letters"}


class KafkaWorker:
    def __init__(self, app: CaseApplication, service: CaseService, settings: KafkaSettings, *,
                 inbound: bool = True, outbound: bool = True, singleton: bool = False,
                 lease_retry: float = 0.5):
        self.app, self.service, self.settings = app, service, settings
        self.sql = Sql(app.recorder)
        self.inbound, self.outbound = inbound, outbound
        self.stop_event = threading.Event()
        self.consumer = None
        self.producer = None
        self.processor = InboundProcessor(
            service, group=settings.group, topics=settings.topics,
            channel_actors=settings.channel_actors, max_message_bytes=settings.max_message_bytes,
        )
        self.publisher: OutboundPublisher | None = None
        self.stats = {"applied": 0, "duplicates": 0, "dead": 0, "published": 0,
                      "dead_letters_published": 0}
        self.parts = {name: Backoff(name) for name in ("inbound", "dead_letters", "outbound")}
        self._rewind = False  # after an inbound failure: seek back to our stored offsets
        self.highwater: dict[tuple[str, int], int] = {}  # the broker's end, as fetches saw it
        self.name = f"{settings.client_id}@{socket.gethostname()}:{os.getpid()}"
        self._started = time.monotonic()
        # singleton parts (单例): published by the holder of their lease only
        self.leases = {part: PartLease(Lease(self.sql, name), lease_retry)
                       for part, name in LEASES.items()} if singleton else {}

    # ------------------------------------------------------------ setup / teardown

    def start(self) -> None:
        from kafka import KafkaConsumer, KafkaProducer

        s = self.settings
        self._started = time.monotonic()
        if s.create_topics:
            try:
                ensure_topics(s)
            except Exception as e:  # noqa: BLE001 - no admin rights is fine if the topics exist
                log.warning("topics_not_created", error=f"{type(e).__name__}: {e}")
        self.producer = KafkaProducer(**producer_config(s.bootstrap, s.client_id))
        if self.outbound:
            self.publisher = OutboundPublisher(self.app, self.producer, s.topics["case_events"],
                                               batch=max(s.batch, 100), source=s.source)
        if self.inbound:
            self.consumer = KafkaConsumer(
                bootstrap_servers=s.bootstrap, group_id=s.group, client_id=s.client_id,
                enable_auto_commit=False, auto_offset_reset="earliest",
                session_timeout_ms=s.session_timeout_ms,
                heartbeat_interval_ms=min(s.heartbeat_interval_ms, s.session_timeout_ms // 3),
                max_poll_records=s.batch,
            )
            self.consumer.subscribe([s.topics["reports"], s.topics["unit_updates"],
                                     s.topics["callbacks"]],
                                    listener=_SeekToStored(self))
        log.info("kafka_worker_started", bootstrap=s.bootstrap, group=s.group,
                 inbound=self.inbound, outbound=self.outbound, topics=s.topics)

    def close(self) -> None:
        if self.consumer is not None:
            try:
                self.consumer.close(autocommit=False)
            except Exception as e:  # noqa: BLE001 - closing: log and go on
                log.warning("consumer_close_failed", error=str(e))
            self.consumer = None
        if self.producer is not None:
            try:
                self.producer.flush(timeout=10)
                self.producer.close(timeout=10)
            except Exception as e:  # noqa: BLE001
                log.warning("producer_close_failed", error=str(e))
            self.producer = None
        for held in self.leases.values():
            held.lease.release()

    def install_signal_handlers(self) -> None:
        def stop(signum, _frame):
            log.info("kafka_worker_stopping", signal=signal.Signals(signum).name)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    # ------------------------------------------------------------ the loop

    def poll_once(self, timeout_ms: int | None = None) -> int:
        """Poll, apply, commit. Returns how many records were handled."""
        from kafka.structs import OffsetAndMetadata

        if self.consumer is None:
            return 0
        if self._rewind:
            self.rewind()
        polled = self.consumer.poll(timeout_ms=self.settings.poll_ms if timeout_ms is None else timeout_ms,
                                    max_records=self.settings.batch)
        records = [
            Record(tp.topic, tp.partition, m.offset, m.key, m.value)
            for tp, msgs in sorted(polled.items(), key=lambda kv: (kv[0].topic, kv[0].partition))
            for m in msgs
        ]
        if not records:
            return 0
        result = self.processor.process(records)  # our transaction commits here
        self.stats["applied"] += result.applied
        self.stats["duplicates"] += result.duplicates
        self.stats["dead"] += result.dead
        commits = {tp: OffsetAndMetadata(msgs[-1].offset + 1, "", -1) for tp, msgs in polled.items() if msgs}
        try:
            self.consumer.commit(commits)  # only after our own commit
        except Exception as e:  # noqa: BLE001 - our database has the position; log and go on
            log.warning("kafka_commit_failed", error=str(e))
        for tp, msgs in polled.items():
            if not msgs:
                continue
            hw = self.consumer.highwater(tp)
            nxt = msgs[-1].offset + 1
            if hw is not None:
                self.highwater[(tp.topic, tp.partition)] = hw  # for the lag gauge (metrics.py)
            log.info("inbound_batch", topic=tp.topic, partition=tp.partition,
                     offset=msgs[-1].offset, first_offset=msgs[0].offset, records=len(msgs),
                     lag=max(0, hw - nxt) if hw is not None else None)
        log.info("inbound_applied", records=len(records), applied=result.applied,
                 duplicates=result.duplicates, dead=result.dead, fallback=result.fallback)
        return len(records)

    def rewind(self) -> None:
        """Seek every assigned partition back to the offset our database stored: records
        polled but not applied (the transaction failed) are read again."""
        stored = stored_offsets(self.sql, self.settings.group)
        for tp in self.consumer.assignment():
            nxt = stored.get((tp.topic, tp.partition))
            if nxt is None:
                nxt = self.consumer.committed(tp)
            if nxt is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, nxt)
        self._rewind = False
        log.info("inbound_rewound", partitions=len(self.consumer.assignment()))

    def publish_dead_letters_once(self) -> int:
        n = publish_dead_letters(self.sql, self.producer, self.settings.topics["dead_letter"])
        self.stats["dead_letters_published"] += n
        return n

    def publish_events_once(self) -> int:
        k = self.publisher.step()
        self.stats["published"] += k
        return k

    def publish_once(self) -> int:
        """Dead letters, then case events, each guarded on its own (one failing does not stop
        the other); returns how many went out."""
        n = 0
        if self.producer is not None and self.inbound:
            n += self._guarded("dead_letters", self.publish_dead_letters_once)
        if self.publisher is not None:
            n += self._guarded("outbound", self.publish_events_once)
        return n

    def _guarded(self, part: str, fn) -> int:
        """Run one part unless it is backing off; a failure backs off that part alone."""
        backoff = self.parts[part]
        if not backoff.ready() or (part in self.leases and not self.leases[part].holds()):
            return 0
        try:
            n = fn()
        except Exception as e:  # noqa: BLE001 - logged, backed off; the other parts go on
            delay = backoff.failed(e)
            self.stats[f"{part}_errors"] = self.stats.get(f"{part}_errors", 0) + 1
            if part == "inbound":
                self._rewind = True
            log.error(f"{part}_failed", part=part, error=backoff.last_error,
                      failures=backoff.failures, retry_in=delay)
            self._note(record_part_error, part, self.settings.group, backoff.last_error,
                       backoff.failures)
            return 0
        if backoff.failures:
            log.info(f"{part}_recovered", part=part, failures=backoff.failures)
            backoff.ok()
            self._note(clear_part_error, part)
        return n

    def _note(self, write, part: str, *args) -> None:
        """Record a part's failure or recovery for `kafka status`; the store may be what fails."""
        try:
            write(self.sql, self.name, part, *args)
        except Exception as e:  # noqa: BLE001 - best effort: the log line has it anyway
            log.warning("part_state_not_recorded", part=part, error=describe(e))

    def _joining(self, now: float) -> bool:
        """The group has not given us a partition yet, and may still: a join takes about half
        of session_timeout_ms on Tansu, longer on a loaded machine (seen: over 5 s with
        2 s sessions); past five times that, or 10 s, no assignment is idleness."""
        if self.consumer is None or self.consumer.assignment():
            return False
        return now - self._started < max(5 * self.settings.session_timeout_ms / 1000, 10.0)

    def run(self, *, idle_exit: float | None = None, max_seconds: float | None = None) -> dict:
        self.start()
        started = last_work = time.monotonic()
        try:
            while not self.stop_event.is_set():
                polling = self.consumer is not None and self.parts["inbound"].ready()
                got = self._guarded("inbound", self.poll_once) if polling else 0
                sent = self.publish_once()
                now = time.monotonic()
                if got or sent or self._joining(now):
                    last_work = now
                if idle_exit is not None and now - last_work >= idle_exit:
                    log.info("kafka_worker_idle_exit", idle_seconds=idle_exit,
                             assigned=bool(self.consumer and self.consumer.assignment()))
                    break
                if max_seconds is not None and now - started >= max_seconds:
                    break
                if not got and not sent and not polling:
                    self.stop_event.wait(self.settings.poll_ms / 1000)
        finally:
            self.close()
            failing = {n: b.last_error for n, b in self.parts.items() if b.failures}
            if failing:
                self.stats["failing"] = failing  # parts whose last attempt failed
            log.info("kafka_worker_stopped", **self.stats)
        return self.stats


class PartLease:
    """A worker part's lease: taken when free (tried every `retry` s), checked while held
    (every `retry` s); logs lease_acquired / lease_waiting / lease_lost on each change."""

    def __init__(self, lease: Lease, retry: float = 0.5):
        self.lease, self.retry = lease, retry
        self._next = 0.0
        self._waiting_logged = False

    def holds(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return self.lease.held
        self._next = now + self.retry
        was = self.lease.held
        try:
            have = self.lease.alive() if was else self.lease.acquire()
        except Exception as e:  # noqa: BLE001 - store down: not ours for now
            log.warning("lease_error", name=self.lease.name, error=describe(e))
            self.lease.release()
            have = False
        if was and not have:
            log.warning("lease_lost", name=self.lease.name)
        elif have and not was:
            log.info("lease_acquired", name=self.lease.name, pid=os.getpid())
            self._waiting_logged = False
        elif not have and not self._waiting_logged:
            log.info("lease_waiting", name=self.lease.name, pid=os.getpid())
            self._waiting_logged = True
        return have


class _SeekToStored(ConsumerRebalanceListener):
    """On assignment, start each partition at the offset our database recorded."""

    def __init__(self, worker: KafkaWorker):
        self.worker = worker

    def on_partitions_revoked(self, revoked) -> None:
        log.info("partitions_revoked", partitions=[f"{tp.topic}:{tp.partition}" for tp in revoked])

    def on_partitions_assigned(self, assigned) -> None:
        try:
            stored = stored_offsets(self.worker.sql, self.worker.settings.group)
        except Exception as e:  # noqa: BLE001 - the next poll seeks first (and backs off if it fails)
            self.worker._rewind = True
            log.error("partition_seek_failed", error=describe(e),
                      partitions=[f"{tp.topic}:{tp.partition}" for tp in assigned])
            return
        for tp in assigned:
            nxt = stored.get((tp.topic, tp.partition))
            if nxt is not None:
                self.worker.consumer.seek(tp, nxt)
            log.info("partition_assigned", topic=tp.topic, partition=tp.partition, offset=nxt)
