"""Inbound Kafka messages: bytes → a schema-valid message and its case command.

Three message types, each with a JSON Schema (adapters/schemas, copied to docs/schemas):
  * casegrid.report.v1       (topic casegrid.reports.v1): a new problem (上报)
  * casegrid.unit-update.v1  (topic casegrid.unit-updates.v1): a member unit's accept,
    return (退回), resolution feedback (处置反馈), extension (延期) or shelve (挂账) request
  * casegrid.callback.v1     (topic casegrid.callbacks.v1): the 12345 hotline's 回访 of a
    closed case (satisfaction and comment)

A message that is too large, not JSON, not valid against its schema, or carries ids the
database could not store is refused here (BadMessage) and becomes a dead letter; the
batch processor (adapters/kafka/inbound.py) applies the rest.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from uuid import UUID, uuid5

import fastjsonschema
import orjson
from jsonschema import Draft202012Validator

from domain.errors import CasegridError, ValidationError
from domain.validate import identifier
from workflows.commands import CaseAction, ReportCase
from workflows.service import EXTERNAL_NS

SCHEMA_DIR = Path(__file__).parent.parent / "schemas"
REPORT, UNIT_UPDATE = "casegrid.report.v1", "casegrid.unit-update.v1"
CALLBACK = "casegrid.callback.v1"  # topic casegrid.callbacks.v1: 回访 from the 12345 hotline
SCHEMA_FILES = {REPORT: "report.v1.json", UNIT_UPDATE: "unit-update.v1.json",
                CALLBACK: "callback.v1.json"}
CALLBACK_ACTOR = "hotline_12345"  # the account a callback stands for when it names none
ACTION_TRIGGER = {
    "return": "return",
    "resolve": "resolve",
    "request_extension": "request_extension",
    "request_shelve": "request_shelve",
}
DEFAULT_CHANNEL_ACTORS = {"citizen": "citizen_app", "hotline": "hotline_12345", "camera": "system"}
MAX_MESSAGE_BYTES = 256 * 1024  # key + value of one inbound message (setting max_message_bytes)


@cache
def schema(name: str) -> dict:
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


@cache
def validator(message_type: str) -> Draft202012Validator:
    return Draft202012Validator(schema(SCHEMA_FILES[message_type]))


@cache
def fast_check(message_type: str) -> Callable[[dict], object]:
    """The schema compiled to Python (fastjsonschema, ~20× jsonschema): the fast path for
    the messages that pass. It only ever *accepts*: a message it refuses is judged again by
    jsonschema, which names the field and the rule (and is the authority). Defaults are
    not filled in and formats not asserted, as jsonschema's Draft 2020-12 validator does."""
    return fastjsonschema.compile(schema(SCHEMA_FILES[message_type]), use_default=False,
                                  use_formats=False)


def report_case_id(source: str, external_id: str) -> UUID:
    """The case a (source, external id) pair becomes; the same for Kafka and the importer."""
    return uuid5(EXTERNAL_NS, f"source:{source}:{external_id}")


@dataclass(frozen=True)
class Record:
    """One Kafka record, as the worker got it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class BadMessage(CasegridError):
    """The bytes are not a valid message of the expected type (schema, JSON, times)."""

    kind = "malformed"

    def __init__(self, field: str | None, rule: str):
        self.field, self.rule = field, rule
        super().__init__(f"{field}: {rule}" if field else rule)

    def to_dict(self) -> dict:
        return {"error": self.kind, "field": self.field, "rule": self.rule, "message": str(self)}


@dataclass
class Message:
    type: str
    source: str
    message_id: str
    command: ReportCase | CaseAction | None  # None: accept (签收) — checked, no event
    case_id: UUID
    unit: str | None = None
    actor: str | None = None


def _schema_error(err) -> BadMessage:
    path = ".".join(str(p) for p in err.absolute_path)
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return BadMessage(f"{path}.{missing}" if path else missing, "is required")
    if err.validator == "additionalProperties":
        extra = err.message.split("'")[1] if "'" in err.message else ""
        return BadMessage(f"{path}.{extra}" if path else extra, "is not a field of this message")
    if path.startswith("reporter"):  # protected: name the rule, never the value
        return BadMessage(path, f"{err.validator}: {err.schema.get('pattern') or err.schema}")
    rule = err.message if len(err.message) < 300 else err.message[:300] + "…"
    return BadMessage(path or "(message)", f"{err.validator}: {rule}")


def without_contact(value: bytes | None) -> bytes | None:
    """A message's bytes without the reporter's contact (what a dead letter keeps of a
    report: the contact is protected and the dead-letter topic is outbound)."""
    try:
        doc = json.loads((value or b"").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return value
    if not isinstance(doc, dict) or "reporter" not in doc:
        return value
    doc["reporter"] = "(removed: protected contact)"
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def decode(value: bytes | None, expected: str) -> dict:
    """Bytes → a schema-valid dict of the expected message type, or BadMessage."""
    if value is None:
        raise BadMessage("(message)", "is empty (a tombstone), not a JSON object")
    try:
        doc = orjson.loads(value)  # the fast path; what it refuses, json judges and names
    except orjson.JSONDecodeError:
        doc = _slow_json(value)
    if not isinstance(doc, dict):
        raise BadMessage("(message)", f"must be a JSON object, not {type(doc).__name__}")
    return _checked(doc, expected)


def _slow_json(value: bytes) -> object:
    try:
        return json.loads(value.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise BadMessage("(message)", f"is not UTF-8: {e.reason} at byte {e.start}") from None
    except json.JSONDecodeError as e:
        raise BadMessage("(message)", f"is not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None


def _checked(doc: dict, expected: str) -> dict:
    kind = doc.get("schema")
    if kind != expected:
        raise BadMessage("schema", f"must be '{expected}' on this topic, not {kind!r}")
    check = fast_check(expected)
    try:
        check(doc)
        return doc
    except Exception:  # noqa: BLE001 - refused (or choked on): jsonschema judges and names why
        pass
    errors = sorted(validator(expected).iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        raise _schema_error(errors[0])
    return doc


def _time(doc: dict, key: str) -> datetime:
    try:
        t = datetime.fromisoformat(doc[key].replace("Z", "+00:00"))
    except ValueError:
        raise BadMessage(key, f"'{doc[key]}' is not an ISO 8601 time") from None
    if t.tzinfo is None:
        raise BadMessage(key, f"'{doc[key]}' needs a zone offset (e.g. +08:00 or Z)")
    return t


def parse(rec: Record, *, types: dict[str, str], channel_actors: dict[str, str],
          max_message_bytes: int = MAX_MESSAGE_BYTES) -> Message:
    """A record → the message and its command, or BadMessage. `types`: topic → message
    type; `channel_actors`: the account a report's channel stands for when it names none."""
    expected = types.get(rec.topic)
    if expected is None:
        raise BadMessage("(topic)", f"casegrid does not read topic '{rec.topic}'")
    size = len(rec.value or b"") + len(rec.key or b"")
    if size > max_message_bytes:
        raise BadMessage("(message)", f"is {size} bytes (key and value), more than "
                         f"max_message_bytes ({max_message_bytes})")
    doc = decode(rec.value, expected)
    for name in ("message_id", "source"):  # stored in the inbox: must be storable text
        try:
            identifier(doc[name], name, required=True)
        except ValidationError as e:
            raise BadMessage(e.field, e.rule) from None
    at = _time(doc, "occurred_at")
    if expected == REPORT:
        actor = doc.get("actor") or channel_actors.get(doc["channel"])
        if not actor:
            raise BadMessage("actor", f"is required for channel '{doc['channel']}' (no default account)")
        cid = report_case_id(doc["source"], doc["external_id"])
        loc = doc.get("location") or {}
        cmd = ReportCase(
            channel=doc["channel"], category=doc["category"], grid=doc["grid"], actor=actor,
            occurred_at=at, description=doc.get("description", ""),
            urgency=doc.get("urgency", "normal"), lat=loc.get("lat"), lon=loc.get("lon"),
            evidence=list(doc.get("evidence", [])), external_id=doc["external_id"], case_id=cid,
            reporter_name=(doc.get("reporter") or {}).get("name"),
            reporter_phone=(doc.get("reporter") or {}).get("phone"),
        )
        return Message(REPORT, doc["source"], doc["message_id"], cmd, cid)
    try:
        cid = UUID(doc["case_id"])
    except ValueError:
        raise BadMessage("case_id", f"'{doc['case_id']}' is not a UUID") from None
    if expected == CALLBACK:
        actor = doc.get("actor") or CALLBACK_ACTOR
        cmd = CaseAction(case_id=cid, trigger="callback", actor=actor, occurred_at=at,
                         rating=doc["rating"], comment=doc.get("comment"))
        return Message(CALLBACK, doc["source"], doc["message_id"], cmd, cid, actor=actor)
    action = doc["action"]
    if action == "accept":  # 签收: recorded once per dispatch, else an acknowledgement
        cmd = CaseAction(case_id=cid, trigger="accept", actor=doc["actor"], occurred_at=at)
    else:
        cmd = CaseAction(
            case_id=cid, trigger=ACTION_TRIGGER[action], actor=doc["actor"], occurred_at=at,
            reason=doc.get("reason"), evidence=list(doc.get("evidence", [])),
            extra=doc.get("extra"),
        )
    return Message(UNIT_UPDATE, doc["source"], doc["message_id"], cmd, cid, doc["unit"],
                   doc["actor"])
