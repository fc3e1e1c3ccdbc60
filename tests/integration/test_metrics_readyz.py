"""`/metrics` (Prometheus text) and `/readyz` (issue 14, part 3).

/metrics names commands by trigger and outcome, deadline misses, projection lag, dead
letters and request latency, with no ids or names in any label; /readyz answers 503 while
a projection is stalled and 200 again once it is fixed, while /healthz stays 200.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from adapters.bootstrap import bootstrap, projection_runner
from adapters.http import create_app
from adapters.logs import setup_logging
from domain.errors import CasegridError
from projections.cases import CaseSummaries
from tests.integration.test_read_models_never_halt import Fragile, store_raw
from tests.support import NOW, act, city, drive, report


def samples(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append(s)
    return out


def value(found: dict, name: str, **labels) -> float:
    return sum(s.value for s in found.get(name, ())
               if all(s.labels.get(k) == v for k, v in labels.items()))


@pytest.fixture
def cg(store_env):
    setup_logging("warning", "json")  # as `casegrid serve` does; conftest restores structlog
    cg = bootstrap(env=store_env, city=city())
    yield cg
    cg.close()


def test_metrics_name_commands_lag_deadlines_and_latency(cg):
    client = TestClient(create_app(cg, follow=False))
    before = samples(client.get("/metrics").text)
    case = drive(cg.service, "dispatched")
    with pytest.raises(CasegridError):
        act(cg.service, case, "close", "hw_luo", NOW)  # a unit member may not close: refused
    missed = cg.service.tick(NOW, [case.id])
    assert missed
    assert client.get("/healthz").status_code == 200

    res = client.get("/metrics")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/plain")
    found = samples(res.text)
    diff = lambda name, **kw: value(found, name, **kw) - value(before, name, **kw)  # noqa: E731
    assert diff("casegrid_commands_total", trigger="report", outcome="recorded") == 1
    assert diff("casegrid_commands_total", trigger="dispatch", outcome="recorded") == 1
    assert diff("casegrid_commands_total", trigger="close", outcome="refused") == 1
    assert diff("casegrid_deadline_misses_recorded_total") == len(missed)
    assert value(found, "casegrid_store_up") == 1
    lag = {s.labels["projection"]: s.value for s in found["casegrid_projection_lag_events"]}
    assert "cases" in lag and lag["cases"] > 0  # nothing follows here: the events wait
    assert "casegrid_projection_lag_seconds" in found
    assert value(found, "casegrid_http_request_seconds_count", route="/healthz", status="2xx") >= 1

    cg.projections.catch_up()
    found = samples(client.get("/metrics").text)
    assert value(found, "casegrid_projection_lag_events", projection="cases") == 0
    assert value(found, "casegrid_deadline_misses") == len(missed)  # read from the trail

    # no case id, user or raw path in any label
    text = client.get(f"/api/cases/{case.id}").text and client.get("/metrics").text
    assert str(case.id) not in text and "hw_luo" not in text and "sup_zhang" not in text
    routes = {s.labels["route"] for s in samples(text)["casegrid_http_request_seconds_count"]}
    assert "/api/cases/{case_id}" in routes  # the template, never the id
    assert not any(re.search(r"[0-9a-f]{8}-[0-9a-f]{4}", r) for r in routes)


def test_metrics_count_dead_letters_when_kafka_tables_exist(cg):
    from adapters.kafka.store import create_tables

    create_tables(cg.sql)
    with cg.sql.transaction() as cur:
        cur.execute("INSERT INTO cg_kafka_dead_letters (group_id, topic, partition_id, kafka_offset,"
                    " msg_key, payload, error_kind, error_field, error, recorded_at)"
                    " VALUES ('g', 'casegrid.reports.v1', 0, 7, 'k', 'x', 'invalid', 'grid',"
                    " 'unknown grid', '2026-10-12T09:00:00+00:00')")
        cur.execute("INSERT INTO cg_kafka_publish (publisher, position, updated_at)"
                    " VALUES ('kafka:casegrid.case-events.v1', 0, '2026-10-12T09:00:00+00:00')")
    report(cg.service)
    found = samples(TestClient(create_app(cg, follow=False)).get("/metrics").text)
    assert value(found, "casegrid_kafka_dead_letters", topic="casegrid.reports.v1",
                 kind="invalid", state="unpublished") == 1
    assert value(found, "casegrid_kafka_outbound_lag_events",
                 publisher="kafka:casegrid.case-events.v1") == cg.projections.head() > 0


def test_readyz_is_503_while_a_projection_is_stalled(cg):
    fragile = Fragile()
    runner = projection_runner(cg.app, [CaseSummaries(), fragile], batch=8)
    app = create_app(cg, follow=False)
    client = TestClient(app)
    report(cg.service)
    runner.catch_up()
    app.state.cg = type(cg)(cg.app, cg.city, cg.service, cg.patrol, runner, runner.sql)
    assert client.get("/readyz").status_code == 200

    store_raw(cg, datetime(2026, 10, 12, 9, tzinfo=UTC), "poison")
    runner.catch_up()  # fragile stalls on it
    res = client.get("/readyz")
    assert res.status_code == 503
    assert res.json()["stalled"][0]["projection"] == "fragile"
    assert client.get("/healthz").status_code == 200  # alive, degraded: no restart
    found = samples(client.get("/metrics").text)
    assert value(found, "casegrid_projection_stalled", projection="fragile") == 1

    fragile.broken = False
    runner.retry_now()
    runner.catch_up()
    assert client.get("/readyz").status_code == 200


def test_readyz_is_503_when_the_store_does_not_answer(cg):
    app = create_app(cg, follow=False)

    class Down:
        def status(self):
            raise OSError("connection refused")

    app.state.cg = type(cg)(cg.app, cg.city, cg.service, cg.patrol, Down(), cg.sql)
    client = TestClient(app)
    assert client.get("/readyz").status_code == 503
    found = samples(client.get("/metrics").text)
    assert value(found, "casegrid_store_up") == 0
