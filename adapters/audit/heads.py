"""Signed tree heads (签名树头): (size, root hash, time) signed with Ed25519.

The key is a PEM file outside the repository (`CASEGRID_AUDIT_KEY`, made by
`casegrid audit keygen`); its public half sits beside it as FILE.pub. The signed bytes
are b"casegrid.audit.v1" ‖ size (8 bytes, big-endian) ‖ root (32 bytes) ‖ time (ISO
8601 UTC, ASCII)."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from adapters.audit.log import leaves, unhex
from adapters.audit.merkle import Tree
from adapters.storage.sql import Sql
from domain.errors import ValidationError

CONTEXT = b"casegrid.audit.v1"
KEY_ENV = "CASEGRID_AUDIT_KEY"
MAX_KEY_BYTES = 16_384


@dataclass(frozen=True)
class Head:
    size: int
    root_hash: bytes
    at: str
    signature: bytes
    key_id: str

    def message(self) -> bytes:
        return signed_bytes(self.size, self.root_hash, self.at)

    def as_dict(self) -> dict:
        return {"size": self.size, "root_hash": self.root_hash.hex(), "at": self.at,
                "signature": self.signature.hex(), "key_id": self.key_id}


def signed_bytes(size: int, root_hash: bytes, at: str) -> bytes:
    """ValueError for a size outside 0 .. 2**64-1 (no head of ours has one)."""
    if not isinstance(size, int) or not 0 <= size < 2**64:
        raise ValueError("head size out of range")
    return CONTEXT + struct.pack(">Q", size) + root_hash + at.encode("ascii", "replace")


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def keygen(out: Path) -> tuple[Path, str]:
    """A new private key at `out` (mode 0600, never overwritten) and its public key at
    out.pub; returns (public key path, key id)."""
    if out.exists():
        raise ValidationError("out", f"'{str(out)[:200]}' exists; refusing to overwrite a key")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub = out.with_name(out.name + ".pub")
    pub.write_bytes(public_pem(private.public_key()))
    return pub, key_id(private.public_key())


def _read_key_file(path: str | Path | None, field: str) -> bytes:
    if not path:
        raise ValidationError(field, f"no key: give a file or set {KEY_ENV}")
    p = Path(path)
    if not p.is_file():
        raise ValidationError(field, f"no such file '{str(path)[:200]}'")
    if p.stat().st_size > MAX_KEY_BYTES:
        raise ValidationError(field, f"a key file is at most {MAX_KEY_BYTES} bytes")
    return p.read_bytes()


def load_private(path: str | Path | None = None) -> Ed25519PrivateKey:
    data = _read_key_file(path or os.environ.get(KEY_ENV), "key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise ValidationError("key", "not an unencrypted PEM private key") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise ValidationError("key", "must be an Ed25519 key")
    return key


def load_public(path: str | Path | None = None) -> Ed25519PublicKey:
    """The public key file, or the public half of the private key in CASEGRID_AUDIT_KEY."""
    if not path:
        return load_private().public_key()
    data = _read_key_file(path, "key")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        return load_private(path).public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise ValidationError("key", "must be an Ed25519 key")
    return key


def sign_head(sql: Sql, private: Ed25519PrivateKey, now: datetime | None = None) -> Head:
    """Sign the tree of every leaf logged so far, and store the head."""
    stored = [leaf.leaf_hash for leaf in leaves(sql)]
    root_hash = Tree(stored).root()
    at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
    size = len(stored)
    head = Head(size, root_hash, at, private.sign(signed_bytes(size, root_hash, at)),
                key_id(private.public_key()))
    with sql.transaction() as cur:
        cur.execute("INSERT INTO cg_audit_heads (size, root_hash, at, signature, key_id)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (size, root_hash.hex(), at, head.signature.hex(), head.key_id))
    return head


def stored_heads(sql: Sql) -> list[Head]:
    rows = sql.query("SELECT size, root_hash, at, signature, key_id FROM cg_audit_heads"
                     " ORDER BY size, at")
    return [_stored(*row) for row in rows]


def _stored(s, r, a, g, k) -> Head:
    """A head row as stored; a size or time edited into another type is kept so that
    the signature check refuses it (never coerced, never a crash)."""
    return Head(s, unhex(r), a if isinstance(a, str) else str(a), unhex(g),
                k if isinstance(k, str) else repr(k))


def unpublished(sql: Sql) -> list[Head]:
    """The stored heads not yet on casegrid.audit.v1, oldest first (by time, then size)."""
    rows = sql.query("SELECT size, root_hash, at, signature, key_id FROM cg_audit_heads"
                     " WHERE published_at IS NULL ORDER BY at, size")
    return [_stored(*row) for row in rows]


def mark_published(sql: Sql, head: Head, now: datetime | None = None) -> None:
    at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
    with sql.transaction() as cur:
        cur.execute("UPDATE cg_audit_heads SET published_at = ? WHERE size = ? AND at = ?"
                    " AND published_at IS NULL", (at, head.size, head.at))


def signature_ok(head: Head, public: Ed25519PublicKey) -> bool:
    try:
        public.verify(head.signature, head.message())
    except (InvalidSignature, ValueError, TypeError):  # TypeError: a non-bytes signature
        return False
    return True
