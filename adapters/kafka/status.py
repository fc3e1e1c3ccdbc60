"""`casegrid kafka status`: positions and lag, dead letters, and every parked item with its error."""

from __future__ import annotations

from typing import Any

from adapters.kafka.store import (
    count_parked_events,
    create_tables,
    dead_letter_counts,
    parked_dead_letters,
    parked_events,
    part_errors,
    publish_position,
    recent_dead_letters,
    stored_offsets,
)
from adapters.storage.sql import Sql

SHOWN = 50  # parked items listed one by one (all are counted)


def status(app: Any, settings: Any, *, timeout_ms: int = 5000) -> dict:
    sql = Sql(app.recorder)
    create_tables(sql)
    stored = stored_offsets(sql, settings.group)
    head = app.recorder.max_notification_id() or 0
    publisher = f"kafka:{settings.topics['case_events']}"
    out_pos = publish_position(sql, publisher)
    inbound = [
        {"topic": t, "partition": p, "next_offset": n, "end_offset": None, "kafka_committed": None,
         "lag": None}
        for (t, p), n in sorted(stored.items())
    ]
    broker = _broker_side(settings, inbound, timeout_ms)
    inbound.sort(key=lambda r: (r["topic"], r["partition"]))
    counts = dead_letter_counts(sql)
    return {
        "bootstrap": settings.bootstrap,
        "group": settings.group,
        "broker": broker,
        "inbound": inbound,
        "outbound": {"topic": settings.topics["case_events"], "position": out_pos, "head": head,
                     "lag_events": head - out_pos, "parked": count_parked_events(sql, publisher)},
        "dead_letters": counts,
        "dead_letter_topic": settings.topics["dead_letter"],
        "recent_dead_letters": recent_dead_letters(sql),
        "failing": part_errors(sql, settings.group),
        "parked": {
            "events": parked_events(sql, publisher, SHOWN),
            "events_count": count_parked_events(sql, publisher),
            "dead_letters": parked_dead_letters(sql, SHOWN),
            "dead_letters_count": sum(r["parked"] for r in counts),
        },
    }


def _broker_side(settings: Any, inbound: list[dict], timeout_ms: int) -> str:
    """Fill end offsets, Kafka's committed offsets and lag in `inbound`; returns the broker state."""
    try:
        from kafka import KafkaConsumer, TopicPartition

        c = KafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=settings.group,
                          enable_auto_commit=False, request_timeout_ms=max(timeout_ms, 2000) + 1000,
                          bootstrap_timeout_ms=timeout_ms)
        try:
            tps = []
            for role in ("reports", "unit_updates"):
                parts = c.partitions_for_topic(settings.topics[role]) or set()
                tps += [TopicPartition(settings.topics[role], p) for p in sorted(parts)]
            ends = c.end_offsets(tps) if tps else {}
            rows = {(r["topic"], r["partition"]): r for r in inbound}
            for tp in tps:
                row = rows.get((tp.topic, tp.partition))
                if row is None:
                    row = {"topic": tp.topic, "partition": tp.partition, "next_offset": 0,
                           "end_offset": None, "kafka_committed": None, "lag": None}
                    inbound.append(row)
                row["end_offset"] = ends.get(tp)
                row["kafka_committed"] = c.committed(tp)
                if row["end_offset"] is not None:
                    row["lag"] = max(0, row["end_offset"] - row["next_offset"])
        finally:
            c.close(autocommit=False)
    except Exception as e:  # noqa: BLE001 - the database part is still worth showing
        return f"unreachable: {type(e).__name__}: {e}"
    return "ok"
