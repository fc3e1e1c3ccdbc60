"""Evidence bundles (审计证据包): one case's stored events with their inclusion proofs,
the signed head that covers them and the public key, in one JSON file that
`verify_bundle` checks offline, with no database.

    {"format": "casegrid.audit.bundle.v1", "case_id": …, "head": {size, root_hash, at,
     signature, key_id}, "public_key": PEM, "events": [{position, notification_id,
     originator_id, version, topic, state (base64), inclusion: [hex, …]}, …]}
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from adapters.audit.heads import Head, key_id, public_pem, signature_ok, stored_heads
from adapters.audit.merkle import Tree
from adapters.audit.proofs import inclusion_path, verify_inclusion
from adapters.audit.rows import EventRows, Row
from adapters.storage.sql import Sql
from domain.errors import NotFoundError, ValidationError

FORMAT = "casegrid.audit.bundle.v1"
MAX_BUNDLE_BYTES = 64 * 1024 * 1024


def case_uuid(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except (ValueError, TypeError, AttributeError) as e:
        raise ValidationError("case", "must be a case id (UUID)") from e


def export_case(sql: Sql, events: EventRows, case_id: str, public: Ed25519PublicKey) -> dict:
    """The bundle of one case under the latest signed head; refused when the store no
    longer matches that head or the case has events no head covers yet."""
    case_id = case_uuid(case_id)
    heads = stored_heads(sql)
    if not heads:
        raise ValidationError("head", "no signed head yet: run `casegrid audit head` first")
    head = max(heads, key=lambda h: (h.size, h.at))
    if not signature_ok(head, public):
        raise ValidationError("key", "the latest head is not signed by this key")
    leaves, mine = [], []
    for p, r in enumerate(events.all()):  # only the case's rows keep their state
        leaves.append(r.leaf())
        if r.originator_id == case_id:
            mine.append((p, r))
    tree = Tree(leaves)
    if head.size > len(leaves) or tree.root(head.size) != head.root_hash:
        raise ValidationError("events", "the store no longer matches its signed head:"
                                        " run `casegrid audit verify`")
    if not mine:
        raise NotFoundError(f"no events of case {case_id}")
    if any(p >= head.size for p, _ in mine):
        raise ValidationError("head", "the case has events no head covers yet:"
                                      " run `casegrid audit head` first")
    return {"format": FORMAT, "case_id": case_id, "head": head.as_dict(),
            "public_key": public_pem(public).decode("ascii"),
            "events": [{"position": p, "notification_id": r.notification_id,
                        "originator_id": r.originator_id, "version": r.version,
                        "topic": r.topic, "state": base64.b64encode(r.state).decode("ascii"),
                        "inclusion": [h.hex() for h in inclusion_path(tree, p, head.size)]}
                       for p, r in mine]}


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
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ValidationError("bundle", "not UTF-8 JSON") from e
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValidationError("bundle", f"not a {FORMAT} bundle")
    return doc


def verify_bundle(data: bytes, public: Ed25519PublicKey) -> list[str]:
    """What is wrong with a bundle, checked against the key the inspector trusts
    (empty: it holds). Unreadable bundles raise ValidationError."""
    doc = parse(data)
    h = _field(doc, "head", dict, "bundle")
    head = Head(_field(h, "size", int, "head"), _hex(_field(h, "root_hash", str, "head"), "root"),
                _field(h, "at", str, "head"), _hex(_field(h, "signature", str, "head"), "signature"),
                _field(h, "key_id", str, "head"))
    problems = []
    if not signature_ok(head, public):
        why = "another key" if head.key_id != key_id(public) else "an edited head"
        problems.append(f"head: signature refused ({why})")
    rows = _field(doc, "events", list, "bundle")
    case_id = _field(doc, "case_id", str, "bundle")
    for i, e in enumerate(rows):
        where = f"events[{i}]"
        try:
            state = base64.b64decode(_field(e, "state", str, where), validate=True)
        except binascii.Error as err:
            raise ValidationError("bundle", f"{where}.state is not base64") from err
        row = Row(_field(e, "notification_id", int, where), _field(e, "originator_id", str, where),
                  _field(e, "version", int, where), _field(e, "topic", str, where), state)
        path = [_hex(x, where) if isinstance(x, str) else b""
                for x in _field(e, "inclusion", list, where)]
        if row.originator_id != case_id:
            problems.append(f"{where}: an event of another case")
        if row.version != i + 1:
            problems.append(f"{where}: version {row.version} where {i + 1} belongs (one missing?)")
        if not verify_inclusion(row.leaf(), _field(e, "position", int, where), head.size, path,
                                head.root_hash):
            problems.append(f"{where} (case {row.originator_id} v{row.version}):"
                            " not in the signed tree")
    if not rows:
        problems.append("no events")
    return problems
