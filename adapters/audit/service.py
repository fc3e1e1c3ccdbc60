"""The audit log of one store, wired: its tables, its follower, heads and verify."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from adapters.audit.heads import Head, sign_head
from adapters.audit.keys import Keyring, as_keyring
from adapters.audit.log import create_tables, follow, last_leaf
from adapters.audit.rows import EventRows
from adapters.audit.verify import Report, verify
from adapters.storage.sql import Sql


class AuditLog:
    def __init__(self, recorder: Any, sql: Sql):
        self.sql = sql
        self.events = EventRows(recorder, sql)
        create_tables(sql)

    def follow(self, limit: int | None = None) -> int:
        """Log every stored event not logged yet; returns how many."""
        return follow(self.sql, self.events, limit=limit)

    def sign(self, private: Ed25519PrivateKey, now: datetime | None = None) -> Head:
        """Log what is new, then sign the head of the whole tree."""
        self.follow()
        return sign_head(self.sql, private, now)

    def signed_size(self) -> int:
        """The size of the largest head stored (0: none yet)."""
        rows = self.sql.query("SELECT MAX(size) FROM cg_audit_heads")
        return int(rows[0][0] or 0) if rows else 0

    def sign_if_grown(self, private: Ed25519PrivateKey, now: datetime | None = None) -> Head | None:
        """Log what is new; sign a head only when the tree grew past the last head."""
        self.follow()
        size, _ = last_leaf(self.sql)
        if size <= self.signed_size():
            return None
        return sign_head(self.sql, private, now)

    def verify(self, keys: Keyring | Ed25519PublicKey) -> Report:
        return verify(self.sql, self.events, as_keyring(keys))


def audit_log(cg: Any) -> AuditLog:
    """The audit log of a bootstrapped Casegrid."""
    return AuditLog(cg.app.recorder, cg.sql)
