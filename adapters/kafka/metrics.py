"""Prometheus metrics of a Kafka worker process (指标), served by `kafka run --metrics-port P`.

Read at each scrape, so they are right whichever worker of the group did the work:
  casegrid_kafka_inbound_lag{topic,partition}       broker end offset − our stored position
  casegrid_kafka_inbound_position{topic,partition}  our stored next offset (cg_kafka_offsets)
  casegrid_kafka_dead_letters{topic,kind,state}     dead letters: published / unpublished / parked
  casegrid_kafka_parked_events{publisher}           case events the publisher parked
  casegrid_kafka_outbound_lag_events{publisher}     events stored but not yet published
  casegrid_kafka_broker_up, casegrid_kafka_store_up 1 when they answer
and this process's own counts:
  casegrid_kafka_worker_messages_total{outcome}     applied / duplicate / dead, since start
  casegrid_kafka_worker_published_total{what}       events / dead_letters, since start
  casegrid_kafka_worker_part_failing{part}          1 while a part is backing off
  casegrid_kafka_lease_held{lease}                  1 while this process holds the lease
plus the process-wide counters of adapters/metrics.py (commands by trigger and outcome).

The end offset is the larger of the broker's answer (ListOffsets) and the high-water mark
this worker's fetches saw: on Tansu the former is the last batch's first offset + 1, which
reads low when the last batch held several records.
"""

from __future__ import annotations

import threading
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from adapters.kafka.failures import describe
from adapters.kafka.store import count_parked_events, dead_letter_counts, stored_offsets
from adapters.metrics import REGISTRY

log = structlog.get_logger("casegrid.kafka.metrics")
INBOUND_ROLES = ("reports", "unit_updates", "callbacks")


class KafkaCollector:
    """The gauges above, for one worker (its settings, store and counts)."""

    def __init__(self, worker: Any, *, timeout_ms: int = 3000):
        self.worker = worker
        self.timeout_ms = timeout_ms
        self._client = None
        self._lock = threading.Lock()  # one scrape at a time uses the broker client

    def collect(self):
        yield from self._own()
        store = GaugeMetricFamily("casegrid_kafka_store_up", "1 when the store answers")
        try:
            stored = stored_offsets(self.worker.sql, self.worker.settings.group)
            gauges = list(self._from_store())
        except Exception as e:  # noqa: BLE001 - the store is down: say so
            log.warning("metrics_store_error", error=describe(e))
            store.add_metric([], 0)
            yield store
            return
        store.add_metric([], 1)
        yield store
        yield from gauges
        yield from self._lag(stored)

    def _own(self):
        w = self.worker
        msgs = CounterMetricFamily("casegrid_kafka_worker_messages",
                                   "Inbound records this process handled, by outcome", labels=["outcome"])
        for outcome, key in (("applied", "applied"), ("duplicate", "duplicates"), ("dead", "dead")):
            msgs.add_metric([outcome], w.stats.get(key, 0))
        pub = CounterMetricFamily("casegrid_kafka_worker_published",
                                  "Records this process published, by what", labels=["what"])
        pub.add_metric(["events"], w.stats.get("published", 0))
        pub.add_metric(["dead_letters"], w.stats.get("dead_letters_published", 0))
        failing = GaugeMetricFamily("casegrid_kafka_worker_part_failing",
                                    "1 while the part is failing and backing off", labels=["part"])
        for part, backoff in w.parts.items():
            failing.add_metric([part], 1 if backoff.failures else 0)
        leases = GaugeMetricFamily("casegrid_kafka_lease_held",
                                   "1 while this process holds the lease (租约)", labels=["lease"])
        for held in w.leases.values():
            leases.add_metric([held.lease.name], 1 if held.lease.held else 0)
        yield from (msgs, pub, failing, leases)

    def _from_store(self):
        sql, s = self.worker.sql, self.worker.settings
        dead = GaugeMetricFamily("casegrid_kafka_dead_letters",
                                 "Kafka dead letters by topic, error kind and state",
                                 labels=["topic", "kind", "state"])
        for r in dead_letter_counts(sql):
            dead.add_metric([r["topic"], r["kind"], "parked"], r["parked"])
            dead.add_metric([r["topic"], r["kind"], "unpublished"], r["unpublished"] - r["parked"])
            dead.add_metric([r["topic"], r["kind"], "published"], r["count"] - r["unpublished"])
        publisher = f"kafka:{s.topics['case_events']}"
        parked = GaugeMetricFamily("casegrid_kafka_parked_events",
                                   "Case events the publisher moved past without publishing",
                                   labels=["publisher"])
        parked.add_metric([publisher], count_parked_events(sql, publisher))
        lag = GaugeMetricFamily("casegrid_kafka_outbound_lag_events",
                                "Events stored but not yet published to Kafka", labels=["publisher"])
        rows = sql.query("SELECT position FROM cg_kafka_publish WHERE publisher = ?", (publisher,))
        head = self.worker.app.recorder.max_notification_id() or 0
        lag.add_metric([publisher], max(head - (int(rows[0][0]) if rows else 0), 0))
        yield from (dead, parked, lag)

    def _lag(self, stored: dict[tuple[str, int], int]):
        up = GaugeMetricFamily("casegrid_kafka_broker_up", "1 when the broker answered this scrape")
        try:
            ends = self._end_offsets()
        except Exception as e:  # noqa: BLE001 - the broker is away: no lag this time
            log.warning("metrics_broker_error", error=describe(e))
            self._drop_client()
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        lag = GaugeMetricFamily("casegrid_kafka_inbound_lag",
                                "Records on the broker not yet stored: end offset − our position",
                                labels=["topic", "partition"])
        pos = GaugeMetricFamily("casegrid_kafka_inbound_position",
                                "Our stored next offset (cg_kafka_offsets)", labels=["topic", "partition"])
        seen = dict(self.worker.highwater)
        for (topic, part), end in sorted(ends.items()):
            end = max(end, seen.get((topic, part), 0))
            nxt = stored.get((topic, part), 0)
            lag.add_metric([topic, str(part)], max(end - nxt, 0))
            pos.add_metric([topic, str(part)], nxt)
        yield from (lag, pos)

    def _end_offsets(self) -> dict[tuple[str, int], int]:
        from kafka import KafkaConsumer, TopicPartition

        s = self.worker.settings
        with self._lock:
            if self._client is None:
                self._client = KafkaConsumer(
                    bootstrap_servers=s.bootstrap, client_id=f"{s.client_id}-metrics",
                    enable_auto_commit=False, request_timeout_ms=self.timeout_ms + 1000,
                    bootstrap_timeout_ms=self.timeout_ms)
            tps = []
            for role in INBOUND_ROLES:
                topic = s.topics.get(role)
                parts = self._client.partitions_for_topic(topic) if topic else None
                tps += [TopicPartition(topic, p) for p in sorted(parts or ())]
            ends = self._client.end_offsets(tps) if tps else {}
        return {(tp.topic, tp.partition): int(n) for tp, n in ends.items() if n is not None}

    def _drop_client(self) -> None:
        with self._lock:
            if self._client is not None:
                try:
                    self._client.close(autocommit=False)
                except Exception as e:  # noqa: BLE001 - closing a broken client
                    log.debug("metrics_client_close_failed", error=describe(e))
                self._client = None


class _ProcessCounters:
    """adapters/metrics.py's registry (commands by trigger and outcome), served alongside."""

    def collect(self):
        yield from REGISTRY.collect()


def registry_for(worker: Any) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(KafkaCollector(worker))
    registry.register(_ProcessCounters())
    return registry


def serve_metrics(worker: Any, port: int, addr: str = "0.0.0.0") -> Any:
    """Start prometheus_client's HTTP server (a daemon thread) on `addr:port`; returns it."""
    server, _thread = start_http_server(port, addr=addr, registry=registry_for(worker))
    log.info("metrics_serving", port=server.server_port, addr=addr)
    return server
