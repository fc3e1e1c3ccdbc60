"""The public keys a verifier trusts (审计公钥环), each with its validity, so the signing
key can be rotated: heads name their key id, and a head verifies when a known key of
that id checks its signature and its time lies in that key's validity.

A keyring file (JSON, public: hand it to inspectors):

    {"format": "casegrid.audit.keys.v1", "keys": [
      {"key_id": "…", "public_key": "-----BEGIN PUBLIC KEY-----…",
       "valid_from": "2026-01-01T00:00:00+00:00", "valid_until": "2026-12-03T08:00:00+00:00"},
      {"key_id": "…", "public_key": "…", "valid_from": "2026-12-03T08:00:00+00:00",
       "valid_until": null}]}

Wherever a key is asked for, a single `.pub` (or private) PEM file is a keyring of one
key, valid at any time."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from adapters.audit.heads import (
    MAX_KEY_BYTES,
    Head,
    key_id,
    load_public,
    public_pem,
    signature_ok,
)
from domain.errors import ValidationError
from domain.times import parse_time

KEYS_FORMAT = "casegrid.audit.keys.v1"
MAX_KEYS = 100


@dataclass(frozen=True)
class Known:
    """One trusted public key and the times it may sign at: [valid_from, valid_until)."""

    public: Ed25519PublicKey
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def valid_at(self, at: datetime) -> bool:
        return ((self.valid_from is None or self.valid_from <= at)
                and (self.valid_until is None or at < self.valid_until))

    def as_dict(self) -> dict:
        return {"key_id": self.key_id, "public_key": public_pem(self.public).decode("ascii"),
                "valid_from": self.valid_from.isoformat() if self.valid_from else None,
                "valid_until": self.valid_until.isoformat() if self.valid_until else None}


class Keyring:
    """Trusted keys by id; `refusal(head)` says why a head is not accepted (None: it is)."""

    def __init__(self, keys: list[Known]):
        self.keys = keys
        self.by_id: dict[str, list[Known]] = {}
        for k in keys:
            self.by_id.setdefault(k.key_id, []).append(k)

    @classmethod
    def of(cls, public: Ed25519PublicKey) -> Keyring:
        return cls([Known(public)])

    def refusal(self, head: Head) -> str | None:
        known = self.by_id.get(head.key_id)
        if not known:
            return f"signed by another key (key id {head.key_id[:16]!r} is not a known key)"
        if not signature_ok(head, known[0].public):
            return "signature does not match (an edited head)"
        try:
            at = datetime.fromisoformat(head.at)
        except ValueError:
            return "its time is unreadable"
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        if not any(k.valid_at(at) for k in known):
            spans = ", ".join(f"{_t(k.valid_from)} .. {_t(k.valid_until)}" for k in known)
            return f"signed at {head.at} by key {head.key_id}, outside its validity ({spans})"
        return None

    def accepts(self, head: Head) -> bool:
        return self.refusal(head) is None

    def as_dict(self) -> dict:
        return {"format": KEYS_FORMAT, "keys": [k.as_dict() for k in self.keys]}


def as_keyring(keys: Keyring | Ed25519PublicKey) -> Keyring:
    """A keyring as given, or one key valid at any time."""
    return keys if isinstance(keys, Keyring) else Keyring.of(keys)


def _t(t: datetime | None) -> str:
    return t.isoformat() if t else "…"


def _when(value, field: str) -> datetime | None:
    if value is None:
        return None
    return parse_time(value, field, UTC)


def parse_keyring(doc: dict) -> Keyring:
    """A keyring from its JSON document; every field checked, the key ids recomputed."""
    keys = doc.get("keys")
    if not isinstance(keys, list) or not 0 < len(keys) <= MAX_KEYS:
        raise ValidationError("keys", f"a keyring lists 1–{MAX_KEYS} keys")
    out = []
    for i, k in enumerate(keys):
        where = f"keys[{i}]"
        if not isinstance(k, dict) or not isinstance(k.get("public_key"), str):
            raise ValidationError(where, "must be an object with a public_key (PEM)")
        try:
            public = serialization.load_pem_public_key(k["public_key"].encode("ascii"))
        except (ValueError, UnicodeEncodeError) as e:
            raise ValidationError(f"{where}.public_key", "not a PEM public key") from e
        if not isinstance(public, Ed25519PublicKey):
            raise ValidationError(f"{where}.public_key", "must be an Ed25519 key")
        known = Known(public, _when(k.get("valid_from"), f"{where}.valid_from"),
                      _when(k.get("valid_until"), f"{where}.valid_until"))
        if k.get("key_id") not in (None, known.key_id):
            raise ValidationError(f"{where}.key_id", f"is not the id of its key ({known.key_id})")
        if known.valid_from and known.valid_until and known.valid_from >= known.valid_until:
            raise ValidationError(f"{where}.valid_until", "must be after valid_from")
        out.append(known)
    return Keyring(out)


def load_keys(path: str | Path | None = None) -> Keyring:
    """A keyring file, or one PEM key file (public, or the public half of a private one;
    without a path: CASEGRID_AUDIT_KEY's)."""
    if path and Path(path).is_file() and Path(path).stat().st_size <= MAX_KEY_BYTES * MAX_KEYS:
        data = Path(path).read_bytes()
        if data.lstrip()[:1] == b"{":
            try:
                doc = json.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError) as e:
                raise ValidationError("key", "a keyring file must be UTF-8 JSON") from e
            if not isinstance(doc, dict) or doc.get("format") != KEYS_FORMAT:
                raise ValidationError("key", f"not a {KEYS_FORMAT} keyring")
            return parse_keyring(doc)
    return Keyring.of(load_public(path))


def _existing_ring(path: Path) -> Keyring:
    """The keyring already at `path`; anything else there (a folder, a key, other JSON)
    is refused by name, never replaced."""
    if not path.is_file():
        raise ValidationError("keyring", f"'{str(path)[:200]}' is not a file")
    small = path.stat().st_size <= MAX_KEY_BYTES * MAX_KEYS
    if not small or path.read_bytes().lstrip()[:1] != b"{":
        raise ValidationError("keyring", f"'{str(path)[:200]}' is not a {KEYS_FORMAT} keyring"
                                         " (refusing to replace it)")
    try:
        return load_keys(path)
    except ValidationError as e:
        raise ValidationError("keyring", f"unreadable: {e.field}: {e.rule}") from e


def add_key(path: Path, public: Ed25519PublicKey, valid_from: datetime) -> Keyring:
    """Introduce a new key from `valid_from` on: every key still open (no valid_until)
    is closed at that time. Creates the file when it does not exist."""
    ring = _existing_ring(path) if path.exists() else Keyring([])
    new = Known(public, valid_from)
    if new.key_id in ring.by_id:
        raise ValidationError("pub", f"key {new.key_id} is already in the keyring")
    keys = []
    for k in ring.keys:
        if k.valid_until is None:
            if k.valid_from is not None and k.valid_from >= valid_from:
                raise ValidationError("from", f"must be after {k.key_id}'s valid_from"
                                              f" {k.valid_from.isoformat()}")
            k = Known(k.public, k.valid_from, valid_from)
        keys.append(k)
    ring = Keyring([*keys, new])
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(ring.as_dict(), indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return ring
