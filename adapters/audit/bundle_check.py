"""`verify-bundle` (证据包核验): a bundle from `audit export` checked offline, against the
keys the inspector trusts (not the key inside the bundle), with no database.

It holds when the head is signed by a trusted key within that key's validity, every
event's recomputed leaf is in the signed tree by its inclusion proof, the manifest's
signature matches the scope, head and events as they are, and the events fit the scope:
a case's versions 1, 2, 3 … with none missing; a period's consecutive positions, its
first and last event recorded inside the period."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature

from adapters.audit.bundle import FORMAT, MAX_BUNDLE_BYTES, manifest_bytes, recorded_at
from adapters.audit.heads import Head
from adapters.audit.keys import Keyring
from adapters.audit.proofs import verify_inclusion
from adapters.audit.rows import Row
from domain.errors import ValidationError


def _field(obj: Any, key: str, kind: type, where: str) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValidationError("bundle", f"{where}.{key} must be a {kind.__name__}")
    return value


def _hex(text: str, where: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError as e:
        raise ValidationError("bundle", f"{where} is not hex") from e


def parse(data: bytes) -> dict:
    if len(data) > MAX_BUNDLE_BYTES:
        raise ValidationError("bundle", f"at most {MAX_BUNDLE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValidationError("bundle", "not UTF-8 text") from e
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        ends_early = e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated")
        cut = " (the file ends early: truncated?)" if ends_early else ""
        raise ValidationError("bundle", f"not complete JSON{cut}: {str(e)[:120]}") from e
    except RecursionError as e:
        raise ValidationError("bundle", "JSON nested too deeply") from e
    except ValueError as e:  # a number of thousands of digits
        raise ValidationError("bundle", f"unreadable JSON: {str(e)[:120]}") from e
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValidationError("bundle", f"not a {FORMAT} bundle")
    return doc


def _head(doc: dict) -> Head:
    h = _field(doc, "head", dict, "bundle")
    return Head(_field(h, "size", int, "head"), _hex(_field(h, "root_hash", str, "head"), "root"),
                _field(h, "at", str, "head"), _hex(_field(h, "signature", str, "head"), "signature"),
                _field(h, "key_id", str, "head"))


def _row(e: Any, where: str) -> Row:
    try:
        state = base64.b64decode(_field(e, "state", str, where), validate=True)
    except binascii.Error as err:
        raise ValidationError("bundle", f"{where}.state is not base64") from err
    return Row(_field(e, "notification_id", int, where), _field(e, "originator_id", str, where),
               _field(e, "version", int, where), _field(e, "topic", str, where), state)


def _manifest(doc: dict, head: dict, entries: list, keys: Keyring) -> list[str]:
    m = doc.get("manifest")
    if not isinstance(m, dict) or not isinstance(m.get("signature"), str):
        return ["manifest: missing (events may have been left out or added)"]
    known = keys.by_id.get(m["key_id"]) if isinstance(m.get("key_id"), str) else None
    if not known:
        return ["manifest: signed by another key (not a known key)"]
    signed = manifest_bytes(doc.get("scope"), head, entries)
    if not _verify(known[0].public, _hex(m["signature"], "manifest.signature"), signed):
        return ["manifest: does not match the events (an event changed, left out or added)"]
    return []


def _verify(public: Any, signature: bytes, message: bytes) -> bool:
    try:
        public.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _scope_problems(doc: dict, rows: list[tuple[int, Row]]) -> list[str]:
    scope = _field(doc, "scope", dict, "bundle")
    out = []
    if "case_id" in scope:
        case_id = _field(scope, "case_id", str, "scope")
        for i, (_p, row) in enumerate(rows):
            if row.originator_id != case_id:
                out.append(f"events[{i}]: an event of another case")
            if row.version != i + 1:
                out.append(f"events[{i}]: version {row.version} where {i + 1} belongs (one missing?)")
        return out
    try:
        start = datetime.fromisoformat(_field(scope, "from", str, "scope"))
        until = datetime.fromisoformat(_field(scope, "until", str, "scope"))
    except ValueError as e:
        raise ValidationError("bundle", "scope.from and scope.until must be ISO 8601 times") from e
    if start.tzinfo is None or until.tzinfo is None:
        raise ValidationError("bundle", "scope.from and scope.until must carry their UTC offset")
    for i, ((p, _), (q, _)) in enumerate(zip(rows, rows[1:], strict=False)):
        if q != p + 1:
            out.append(f"events[{i + 1}]: position {q} after {p} (events in between left out)")
    for i in {0, len(rows) - 1} if rows else ():
        t = recorded_at(rows[i][1].state)
        if t is None or not start <= t < until:
            out.append(f"events[{i}]: recorded {t.isoformat() if t else '(unknown)'}, outside the period")
    return out


def verify_bundle(data: bytes, keys: Keyring) -> list[str]:
    """What is wrong with a bundle, checked against the keys the inspector trusts
    (empty: it holds). Unreadable bundles raise ValidationError naming what is wrong."""
    doc = parse(data)
    head = _head(doc)
    problems = []
    why = keys.refusal(head)
    if why is not None:
        problems.append(f"head: {why}")
    events = _field(doc, "events", list, "bundle")
    rows, entries = [], []
    for i, e in enumerate(events):
        where = f"events[{i}]"
        row = _row(e, where)
        position = _field(e, "position", int, where)
        path = [_hex(x, where) if isinstance(x, str) else b""
                for x in _field(e, "inclusion", list, where)]
        if not verify_inclusion(row.leaf(), position, head.size, path, head.root_hash):
            problems.append(f"{where} (case {row.originator_id} v{row.version}):"
                            " not in the signed tree")
        rows.append((position, row))
        entries.append((position, row.notification_id, row.leaf().hex()))
    if "scope" not in doc and isinstance(doc.get("case_id"), str):
        doc["scope"] = {"case_id": doc["case_id"]}
    problems += _scope_problems(doc, rows)
    problems += _manifest(doc, _field(doc, "head", dict, "bundle"), entries, keys)
    if not rows:
        problems.append("no events")
    return [shown(p) for p in problems]


def shown(text: str) -> str:
    """Text from a bundle made safe to print: control characters (a terminal escape
    sequence), lone surrogates and other unprintables written as escapes."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
