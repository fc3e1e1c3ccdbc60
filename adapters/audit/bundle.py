"""Evidence bundles (审计证据包): stored events with their inclusion proofs, the signed head
that covers them, the public key, and a signed manifest, in one JSON file that
`bundle_check.verify_bundle` checks offline, with no database.

    {"format": "casegrid.audit.bundle.v1",
     "scope": {"case_id": …} | {"from": ISO, "until": ISO, "days": "D..D"},
     "case_id": … (case scope), "head": {size, root_hash, at, signature, key_id},
     "public_key": PEM, "events": [{position, notification_id, originator_id, version,
     topic, state (base64), inclusion: [hex, …]}, …],
     "manifest": {"key_id": …, "signature": hex}}

Two scopes: one case (every event of it), or a period of **recording time** — the run of
the log from the first event recorded at or after `from` to the last recorded before
`until` (the `timestamp` eventsourcing stores in each event, the time casegrid wrote it;
not the business time `occurred_at`, which a back-dated entry can set to any past day).
Recording time follows the log order, so a period is one contiguous run of positions,
and the verifier can check that none in between is missing.

The manifest is the signing key's signature over the scope, the head and every event's
(position, notification id, leaf hash): a bundle with an event dropped, added or
changed no longer matches it, even one cut short consistently by hand."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from hashlib import sha256

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.audit.heads import Head, key_id, public_pem, stored_heads
from adapters.audit.keys import Keyring
from adapters.audit.merkle import Tree
from adapters.audit.proofs import inclusion_path
from adapters.audit.rows import EventRows, Row
from adapters.storage.sql import Sql
from domain.errors import NotFoundError, ValidationError

FORMAT = "casegrid.audit.bundle.v1"
MANIFEST_CONTEXT = b"casegrid.audit.bundle.v1/manifest"
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
_STAMP = re.compile(rb'^\{"timestamp":\{"_type_":"datetime_iso","_data_":"([^"]{1,40})"')


def case_uuid(text: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(text))
    except (ValueError, TypeError, AttributeError) as e:
        raise ValidationError("case", "must be a case id (UUID) or number (2026-12-000123)") from e


def recorded_at(state: bytes) -> datetime | None:
    """When casegrid stored the event (its `timestamp`), from the stored state; None when
    the state does not say (not JSON, or no timestamp)."""
    if not isinstance(state, bytes):  # raw SQL put text or a number there
        return None
    m = _STAMP.match(state)
    text = m.group(1).decode("ascii", "replace") if m else None
    if text is None:
        try:
            doc = json.loads(state)
            text = doc["timestamp"]["_data_"]
        except (ValueError, TypeError, KeyError, RecursionError):
            return None
    try:
        t = datetime.fromisoformat(text)
    except (ValueError, TypeError):
        return None
    return t if t.tzinfo is not None else None


def manifest_bytes(scope: dict, head: dict, entries: list[tuple[int, int, str]]) -> bytes:
    """What the manifest signs: the scope, the head and each (position, notification id,
    leaf hash), in one canonical JSON text, hashed."""
    doc = {"scope": scope, "head": head, "events": [list(e) for e in entries]}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return MANIFEST_CONTEXT + sha256(text.encode("ascii")).digest()


def _latest_head(sql: Sql, keys: Keyring) -> Head:
    stored = stored_heads(sql)
    heads = [h for h in stored if isinstance(h.size, int)]
    if stored and not heads:
        raise ValidationError("head", "every stored head has an edited size: run"
                                      " `casegrid audit verify`")
    if not heads:
        raise ValidationError("head", "no signed head yet: run `casegrid audit head` first")
    head = max(heads, key=lambda h: (h.size, h.at))
    why = keys.refusal(head)
    if why is not None:
        raise ValidationError("key", f"the latest head is refused: {why}")
    return head


def _check_tree(leaves: list[bytes], head: Head) -> Tree:
    tree = Tree(leaves)
    if head.size > len(leaves) or tree.root(head.size) != head.root_hash:
        raise ValidationError("events", "the store no longer matches its signed head:"
                                        " run `casegrid audit verify`")
    return tree


def _document(scope: dict, head: Head, tree: Tree, rows: list[tuple[int, Row]],
              private: Ed25519PrivateKey) -> dict:
    if any(p >= head.size for p, _ in rows):
        raise ValidationError("head", "events in scope that no head covers yet:"
                                      " run `casegrid audit head` first")
    head_doc = head.as_dict()
    entries = [(p, r.notification_id, r.leaf().hex()) for p, r in rows]
    signature = private.sign(manifest_bytes(scope, head_doc, entries))
    doc = {"format": FORMAT, "scope": scope}
    if "case_id" in scope:
        doc["case_id"] = scope["case_id"]
    return doc | {
        "head": head_doc, "public_key": public_pem(private.public_key()).decode("ascii"),
        "events": [{"position": p, "notification_id": r.notification_id,
                    "originator_id": r.originator_id, "version": r.version, "topic": r.topic,
                    "state": base64.b64encode(r.state).decode("ascii"),
                    "inclusion": [h.hex() for h in inclusion_path(tree, p, head.size)]}
                   for p, r in rows],
        "manifest": {"key_id": key_id(private.public_key()), "signature": signature.hex()}}


def _keys(private: Ed25519PrivateKey, keys: Keyring | None) -> Keyring:
    return keys if keys is not None else Keyring.of(private.public_key())


def export_case(sql: Sql, events: EventRows, case_id: str, private: Ed25519PrivateKey,
                keys: Keyring | None = None) -> dict:
    """The bundle of one case under the latest signed head (which `keys`, by default the
    signing key's public half, must accept); refused when the store no longer matches
    that head or the case has events no head covers yet."""
    case_id = case_uuid(case_id)
    head = _latest_head(sql, _keys(private, keys))
    leaves, mine = [], []
    for p, r in enumerate(events.all()):  # only the case's rows keep their state
        leaves.append(r.leaf())
        if r.originator_id == case_id:
            mine.append((p, r))
    tree = _check_tree(leaves, head)
    if not mine:
        raise NotFoundError(f"no events of case {case_id}")
    return _document({"case_id": case_id}, head, tree, mine, private)


def export_period(sql: Sql, events: EventRows, start: datetime, until: datetime, days: str,
                  private: Ed25519PrivateKey, keys: Keyring | None = None) -> dict:
    """The bundle of every event recorded in [start, until): the run of the log from the
    first such event to the last, under the latest signed head."""
    head = _latest_head(sql, _keys(private, keys))
    leaves, ids, inside = [], [], []
    for p, r in enumerate(events.all()):
        leaves.append(r.leaf())
        ids.append(r.notification_id)
        t = recorded_at(r.state)
        if t is not None and start <= t < until:
            inside.append(p)
    tree = _check_tree(leaves, head)
    if not inside:
        raise NotFoundError(f"no events recorded from {start.isoformat()} until"
                            f" {until.isoformat()} (days {days})")
    first, last = inside[0], inside[-1]
    rows = _span(events, ids[first - 1] if first else 0, last - first + 1)
    if [r.leaf() for r in rows] != leaves[first:last + 1]:
        raise ValidationError("events", "the store changed while exporting: try again")
    scope = {"from": start.isoformat(), "until": until.isoformat(), "days": days}
    return _document(scope, head, tree, list(enumerate(rows, start=first)), private)


def _span(events: EventRows, after: int, n: int) -> list[Row]:
    out: list[Row] = []
    for r in events.all(after):
        if len(out) == n:
            break
        out.append(r)
    return out
