"""Dead letters onto the dead-letter topic: bounded, and never blocked by one of them.

The database keeps every dead letter's original bytes (cg_kafka_dead_letters.payload).
What is published is bounded by DEAD_LETTER_MAX_BYTES (half the producer's
max_request_size), whatever came in: the original bytes when they fit, else a preview
of their first bytes, with the original's length and sha256 and a pointer to the
stored row (`stored`). A dead letter whose send fails for good (e.g. too large for the
broker) is parked with its error and the ones behind it go on; a broker that is away
stops the round, to be retried after a back-off.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import structlog

from adapters.kafka.failures import describe, is_transient
from adapters.kafka.outbound import MAX_REQUEST_BYTES, outcome
from adapters.kafka.store import (
    mark_dead_letters_published,
    park_dead_letters,
    unpublished_dead_letters,
)
from adapters.storage.sql import Sql

log = structlog.get_logger("casegrid.kafka.dead_letter")

DEAD_LETTER_MAX_BYTES = MAX_REQUEST_BYTES // 2  # key + value of a published dead letter
PREVIEW_BYTES = (64 * 1024, 4 * 1024, 0)  # tried in turn when the whole original does not fit
KEY_MAX_BYTES = 1024
ERROR_MAX_CHARS = 2000
STORED_TABLE = "cg_kafka_dead_letters"
PAGE = 100  # rows read at a time: each holds its original bytes, perhaps megabytes


def _key(key: str | None) -> tuple[str | None, bool]:
    if key is None or len(key.encode("utf-8")) <= KEY_MAX_BYTES:
        return key, False
    cut = key[:KEY_MAX_BYTES]
    while len(cut.encode("utf-8")) > KEY_MAX_BYTES:
        cut = cut[:-1]
    return cut, True


def _text(raw: bytes, n: int) -> str | None:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return raw[:n].decode("utf-8", "ignore")  # valid UTF-8: only a cut character at the end


def dead_letter_value(row: tuple, limit: int = DEAD_LETTER_MAX_BYTES) -> tuple[bytes | None, bytes]:
    """A stored dead letter → (key, value) for the dead-letter topic (schema dead-letter.v1),
    key and value together at most `limit` bytes."""
    group, topic, part, offset, key, payload, kind, fld, error, recorded_at = row
    raw = base64.b64decode(payload)
    error = str(error)[:ERROR_MAX_CHARS]
    rule = error.split(": ", 1)[1] if fld and ": " in error else None
    key, key_cut = _key(key)
    kbytes = key.encode("utf-8") if key is not None else None
    base = {
        "schema": "casegrid.dead-letter.v1", "source_topic": topic, "source_partition": int(part),
        "source_offset": int(offset), "group_id": group,
        "error": {"kind": kind, "field": fld, "rule": rule, "message": error},
        "key": key, "recorded_at": recorded_at,
        "payload_bytes": len(raw), "payload_sha256": hashlib.sha256(raw).hexdigest(),
        "stored": {"table": STORED_TABLE, "group_id": group, "topic": topic,
                   "partition": int(part), "offset": int(offset)},
    }
    if key_cut:
        base["key_truncated"] = True
    budget = limit - (len(kbytes) if kbytes else 0)
    for n in (len(raw), *(p for p in PREVIEW_BYTES if p < len(raw))):
        head = raw[:n]
        doc = {**base, "payload_base64": base64.b64encode(head).decode("ascii"),
               "payload_text": _text(raw, n), "payload_truncated": n < len(raw)}
        value = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        if len(value) <= budget:
            return kbytes, value
    small = {**base, "error": {"kind": kind, "field": None, "rule": None,
                               "message": error[:200]}, "group_id": str(group)[:200],
             "payload_base64": "", "payload_text": None, "payload_truncated": True}
    return kbytes, json.dumps(small, ensure_ascii=False).encode("utf-8")  # a few KB at most


def publish_dead_letters(sql: Sql, producer: Any, topic: str, *, timeout: float = 30.0) -> int:
    """Send unpublished dead letters, flush, mark the sent ones; park the ones that failed for
    good. A broker that is away raises (after marking what went out). Returns how many went out."""
    total, handled = 0, set()
    while True:
        rows = unpublished_dead_letters(sql, PAGE)
        if not rows or all(tuple(r[:4]) in handled for r in rows):
            return total
        handled.update(tuple(r[:4]) for r in rows)
        sent, parked, transient, futures = [], [], None, []
        for row in rows:
            try:
                k, v = dead_letter_value(row)
                futures.append((row, producer.send(topic, key=k, value=v)))
            except Exception as e:  # noqa: BLE001 - classified: retried or parked
                if is_transient(e):
                    transient = e
                    break
                parked.append((tuple(row[:4]), describe(e)))
        try:
            producer.flush(timeout=timeout)
        except Exception as e:  # noqa: BLE001 - the futures say which went out
            transient = transient or e
        for row, f in futures:
            err = outcome(f)
            if err is None:
                sent.append(row)
            elif is_transient(err):
                transient = transient or err
            else:
                parked.append((tuple(row[:4]), describe(err)))
        if sent:
            mark_dead_letters_published(sql, [tuple(r[:4]) for r in sent])
        for r in sent:
            log.warning("dead_letter", topic=r[1], partition=int(r[2]), offset=int(r[3]),
                        error_kind=r[6], field=r[7], error=r[8], dead_letter_topic=topic)
        if parked:
            park_dead_letters(sql, parked)
        for (g, t, p, o), error in parked:
            log.error("dead_letter_parked", group=g, topic=t, partition=int(p), offset=int(o),
                      dead_letter_topic=topic, error=error)
        total += len(sent)
        if transient is not None:
            raise transient
