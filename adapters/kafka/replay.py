"""`casegrid kafka replay-dlq`: feed stored dead letters (死信) — parked ones too — through
the inbound path again, after the mapping, the city file or the sender was fixed.

Each selected dead letter's original bytes (cg_kafka_dead_letters.payload: a report's
reporter contact was removed before it was stored) go through InboundProcessor.process
with `replay=True`, in the order they first arrived (topic, partition, offset), in pages:
  * one that now applies becomes its case or step once (inbox row, idempotent as ever)
    and its dead letter is deleted in the same transaction;
  * one whose message id (or report) is already there is a duplicate: its dead letter goes;
  * one still bad stays a dead letter with the new error, unpublished again so the
    dead-letter topic gets the new error too.
No offset moves. `--dry-run` says which of the three each would be and saves nothing.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import structlog

from adapters.kafka.inbound import InboundProcessor
from adapters.kafka.messages import Record
from adapters.kafka.store import DEAD_LETTER_COLS, stored_dead_letter
from domain.errors import ValidationError

log = structlog.get_logger("casegrid.kafka.replay")
PAGE = 200
MAX_IDS = 10_000
ID = re.compile(r"(?P<topic>[A-Za-z0-9._-]{1,249}):(?P<partition>\d{1,9}):(?P<offset>\d{1,18})")


def parse_id(text: str) -> tuple[str, int, int]:
    """'topic:partition:offset' → its parts, or an error naming the rule."""
    m = ID.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValidationError("id", f"'{text}' must be TOPIC:PARTITION:OFFSET "
                                    "(as `kafka status` lists them), e.g. casegrid.reports.v1:0:42")
    return m["topic"], int(m["partition"]), int(m["offset"])


def select(sql: Any, group: str, *, topic: str | None = None, ids: list[str] | None = None,
           every: bool = False) -> list[tuple]:
    """The dead letters to replay (rows of DEAD_LETTER_COLS), oldest first; ValidationError
    if the choice is empty, contradictory, or names one that is not there."""
    if every and (topic or ids):
        raise ValidationError("all", "replays every dead letter: not with --topic or --id")
    if not (every or topic or ids):
        raise ValidationError("all", "say which: --topic T, --id TOPIC:PARTITION:OFFSET, or --all")
    if topic is not None and not re.fullmatch(r"[A-Za-z0-9._-]{1,249}", topic):
        raise ValidationError("topic", f"'{topic}' is not a Kafka topic name ([A-Za-z0-9._-], 1–249)")
    if ids:
        if len(ids) > MAX_IDS:
            raise ValidationError("id", f"at most {MAX_IDS} at once, not {len(ids)}")
        rows = []
        for text in dict.fromkeys(ids):
            t, p, o = parse_id(text)
            if topic is not None and t != topic:
                raise ValidationError("id", f"'{text}' is not on --topic {topic}")
            row = stored_dead_letter(sql, (group, t, p, o))
            if row is None:
                raise ValidationError("id", f"no dead letter '{text}' in group '{group}'")
            rows.append(row)
        return sorted(rows, key=lambda r: (r[1], int(r[2]), int(r[3])))
    where, args = "group_id = ?", [group]
    if topic is not None:
        where, args = where + " AND topic = ?", [*args, topic]
    return sql.query(f"SELECT {DEAD_LETTER_COLS} FROM cg_kafka_dead_letters WHERE {where}"
                     " ORDER BY topic, partition_id, kafka_offset", tuple(args))


def record(row: tuple) -> Record:
    group, topic, part, offset, key, payload, *_ = row
    return Record(topic, int(part), int(offset), key.encode("utf-8") if key is not None else None,
                  base64.b64decode(payload))


def replay(processor: InboundProcessor, rows: list[tuple], *, dry_run: bool = False) -> dict:
    """Feed the rows again (or only check them); counts and, per dead letter, what became of it."""
    items: list[dict] = []
    done = {"applied": 0, "duplicates": 0, "still_dead": 0}
    for i in range(0, len(rows), PAGE):
        records = [record(r) for r in rows[i : i + PAGE]]
        if dry_run:
            for r, what, err in processor.check(records):
                outcome = {"apply": "would_apply", "duplicate": "duplicate", "dead": "still_dead"}[what]
                items.append(_item(r, outcome, err))
                done[{"apply": "applied", "duplicate": "duplicates", "dead": "still_dead"}[what]] += 1
            continue
        result = processor.process(records, replay=True)
        done["applied"] += result.applied
        done["duplicates"] += result.duplicates
        left = {(r[1], int(r[2]), int(r[3])): r for r in _still_there(processor, records)}
        done["still_dead"] += len(left)
        for r in records:
            row = left.get((r.topic, r.partition, r.offset))
            items.append(_item(r, "resolved", None) if row is None
                         else _item(r, "still_dead", None, row))
    log.info("dead_letters_replayed", dry_run=dry_run, selected=len(rows), **done)
    return {"dry_run": dry_run, "selected": len(rows), **done, "items": items}


def _still_there(processor: InboundProcessor, records: list[Record]) -> list[tuple]:
    rows = [stored_dead_letter(processor.sql, (processor.group, r.topic, r.partition, r.offset))
            for r in records]
    return [r for r in rows if r is not None]


def _item(r: Record, outcome: str, err: Any, row: tuple | None = None) -> dict:
    item = {"id": f"{r.topic}:{r.partition}:{r.offset}", "outcome": outcome}
    if row is not None:
        item.update(kind=row[6], field=row[7], error=row[8])
    elif err is not None:
        item.update(kind=err.kind, field=getattr(err, "field", None), error=str(err))
    return item
