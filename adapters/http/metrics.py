"""`/metrics` (Prometheus text, 指标): no login, like /healthz; no case data, no personal data.

Two parts:
- this process's counters (adapters/metrics.py): commands by trigger and outcome, deadline
  misses it recorded, and request latency by route *template* (never a raw path with ids);
- read from the store at each scrape, so they are right whichever process did the work:
  projection lag in events and seconds, Kafka dead letters, and missed deadlines in total.
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from adapters.logs import safe_output
from adapters.metrics import REGISTRY, observe

router = APIRouter(tags=["operations"])
log = structlog.get_logger("casegrid.metrics")



class StoreCollector:
    """Gauges read from the store when Prometheus scrapes (each one skipped if its table is absent)."""

    def __init__(self, app: FastAPI):
        self.app = app

    def collect(self):
        cg = self.app.state.cg
        events = GaugeMetricFamily("casegrid_projection_lag_events",
                                   "Events stored but not yet folded, by projection", labels=["projection"])
        seconds = GaugeMetricFamily("casegrid_projection_lag_seconds",
                                    "Age of the oldest event not yet folded, by projection",
                                    labels=["projection"])
        stalled = GaugeMetricFamily("casegrid_projection_stalled",
                                    "1 when the projection is stalled on an event it cannot fold",
                                    labels=["projection"])
        up = GaugeMetricFamily("casegrid_store_up", "1 when the event store answers")
        try:
            rows = cg.projections.status()
            up.add_metric([], 1)
        except Exception as e:  # the store is down: say so, with no other store gauges
            log.warning("metrics_store_error", error=repr(e))
            up.add_metric([], 0)
            yield up
            return
        for r in rows:
            events.add_metric([r["projection"]], r["lag_events"])
            seconds.add_metric([r["projection"]], max(r["lag_seconds"], 0.0))
            stalled.add_metric([r["projection"]], 1 if r["state"] == "stalled" else 0)
        yield from (up, events, seconds, stalled)
        yield from _optional(cg, "casegrid_kafka_dead_letters",
                             "Kafka dead letters by topic, error kind and state",
                             ["topic", "kind", "state"], _dead_letters)
        head = rows[0]["head"] if rows else cg.projections.head()
        yield from _optional(cg, "casegrid_kafka_outbound_lag_events",
                             "Events stored but not yet published to Kafka, by publisher",
                             ["publisher"], lambda cg, g: _outbound_lag(cg, g, head))
        yield from _optional(cg, "casegrid_deadline_misses",
                             "DeadlineMissed events (超时) in the trail, all processes",
                             [], _deadline_misses)


def _dead_letters(cg, g: GaugeMetricFamily) -> None:
    from adapters.kafka.store import dead_letter_counts

    for r in dead_letter_counts(cg.sql):
        g.add_metric([r["topic"], r["kind"], "parked"], r["parked"])
        g.add_metric([r["topic"], r["kind"], "unpublished"], r["unpublished"] - r["parked"])
        g.add_metric([r["topic"], r["kind"], "published"], r["count"] - r["unpublished"])


def _outbound_lag(cg, g: GaugeMetricFamily, head: int) -> None:
    for publisher, position in cg.sql.query("SELECT publisher, position FROM cg_kafka_publish"):
        g.add_metric([publisher], max(head - int(position), 0))


def _deadline_misses(cg, g: GaugeMetricFamily) -> None:
    n = cg.sql.query("SELECT COUNT(*) FROM cg_trail WHERE type = 'DeadlineMissed'")[0][0]
    g.add_metric([], int(n or 0))


def _optional(cg, name: str, doc: str, labels: list[str], fill):
    g = GaugeMetricFamily(name, doc, labels=labels)
    try:
        fill(cg, g)
    except Exception as e:  # table not there (no Kafka worker yet): leave the metric out
        log.debug("metrics_skipped", metric=name, error=repr(e)[:200])
        return
    yield g


@router.get("/metrics", response_class=PlainTextResponse,
            summary="Prometheus metrics (no login; the names are in docs/deploy.md)")
def metrics(request: Request):
    """Prometheus text format 0.0.4, which every Prometheus version reads."""
    body = generate_latest(REGISTRY) + generate_latest(request.app.state.metrics_registry)
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)


def install(app: FastAPI) -> None:
    """Add /metrics and the store gauges to `app`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(app))
    app.state.metrics_registry = registry
    app.include_router(router)
    _observe_logs()
    # the request-latency histogram: adapters/http/request_log.py


def _observe_logs() -> None:
    """An app built without `setup_logging` (embedded, tests) still counts its commands,
    and its log lines to a closed stream fail no request either."""
    config = structlog.get_config()
    if observe not in config["processors"]:
        structlog.configure(processors=[observe, *config["processors"]])
    safe_output()
