"""One case's audit proof, cheap enough for a page view (the trail page's badge): the
case's live events equal its logged leaves, and every logged leaf up to the latest head
hashes to that head's signed root. It reads the leaf hashes, never the other events."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from adapters.audit.heads import KEY_ENV, stored_heads
from adapters.audit.keys import Keyring, as_keyring, load_keys
from adapters.audit.log import unhex
from adapters.audit.merkle import Tree
from adapters.audit.rows import EventRows
from adapters.storage.sql import Sql
from domain.errors import CasegridError

PUBLIC_KEY_ENV = "CASEGRID_AUDIT_PUBLIC_KEY"


@dataclass(frozen=True)
class CaseProof:
    status: str  # verified, failed, unsigned (no head covers the case yet), off (no key)
    size: int = 0
    at: str = ""


def server_public_key() -> Keyring | None:
    """CASEGRID_AUDIT_PUBLIC_KEY (a .pub file or a keyring), else the public half of
    CASEGRID_AUDIT_KEY; None when neither is set or the file is no key."""
    path = os.environ.get(PUBLIC_KEY_ENV) or os.environ.get(KEY_ENV)
    if not path:
        return None
    try:
        return load_keys(path)
    except CasegridError:
        return None


def case_proof(sql: Sql, events: EventRows, case_id: str,
               public: Keyring | Ed25519PublicKey | None) -> CaseProof:
    if public is None:
        return CaseProof("off")
    heads = stored_heads(sql)
    if not heads:
        return CaseProof("unsigned")
    head = max(heads, key=lambda h: (h.size, h.at))
    if not as_keyring(public).accepts(head):
        return CaseProof("failed", head.size, head.at)
    live = {r.version: r for r in events.of_case(case_id)}
    logged = {int(v): (int(p), unhex(h), int(n)) for p, h, n, v in sql.query(
        "SELECT position, leaf_hash, notification_id, version FROM cg_audit_leaves"
        " WHERE originator_id = ?", (case_id,))}
    if set(logged) - set(live):
        return CaseProof("failed", head.size, head.at)  # a logged event is gone
    for version, row in live.items():
        if version not in logged:
            return CaseProof("unsigned", head.size, head.at)  # not logged yet
        position, leaf, nid = logged[version]
        if position >= head.size:
            return CaseProof("unsigned", head.size, head.at)
        if nid != row.notification_id or leaf != row.leaf():
            return CaseProof("failed", head.size, head.at)
    hashes = [unhex(h) for (h,) in sql.query(
        "SELECT leaf_hash FROM cg_audit_leaves WHERE position < ? ORDER BY position",
        (head.size,))]
    if len(hashes) != head.size or Tree(hashes).root() != head.root_hash:
        return CaseProof("failed", head.size, head.at)
    return CaseProof("verified", head.size, head.at)


def case_audit(cg: Any, case_id: str) -> CaseProof:
    """The badge of a bootstrapped Casegrid's case; `unsigned` where the audit tables
    were never made (the audit log is not in use on this store yet)."""
    public = server_public_key()
    if public is None:
        return CaseProof("off")
    try:
        events = EventRows(cg.app.recorder, cg.sql)
        return case_proof(cg.sql, events, case_id, public)
    except RuntimeError:  # the in-memory store: no audit log
        return CaseProof("off")
    except Exception as e:  # noqa: BLE001 - no audit tables yet: nothing signed
        if cg.sql.is_store_error(e) or "cg_audit" in str(e):
            return CaseProof("unsigned")
        raise
