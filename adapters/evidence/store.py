"""The evidence store (证据材料库): content-addressed photos.

    store = FileStore(data_dir / "evidence")   # or S3Store(...), see adapters/evidence/s3.py
    stored = store.put(jpeg_bytes, "image/jpeg")   # Stored(ref="sha256:…", …)
    store.open(stored.ref)    # Blob: the display copy (orientation applied, no metadata)
    store.thumb(stored.ref)   # Blob: the ~320 px JPEG
    store.original(stored.ref)  # Blob: exactly the uploaded bytes
    store.verify(stored.ref)  # False if the original no longer hashes to its reference

One photo is four objects under `ab/cd/<hex>` (ab, cd: the hash's first two byte pairs):
`<hex>` (the original), `<hex>.display`, `<hex>.thumb.jpg` and `<hex>.json` (content type,
size, width, height), the last written last, so a photo exists once its `.json` does. The
same bytes give the same reference and are stored once (a second put writes nothing).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from adapters.evidence.photos import Limits, Prepared, Stored, digest, prepare
from domain.errors import NotFoundError, ValidationError

REF_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
HEX_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Blob:
    """A file to send: its bytes and content type."""

    data: bytes
    content_type: str


def ref_of(value, field: str = "ref") -> str:
    """'sha256:<hex>' from a reference or its bare 64 lowercase hex; 422 naming `field`."""
    if not isinstance(value, str) or len(value) > 80:
        raise ValidationError(field, "must be 64 lowercase hex characters (a SHA-256)")
    if HEX_RE.match(value):
        return "sha256:" + value
    if REF_RE.match(value):
        return value
    raise ValidationError(field, f"'{value[:80]}' is not 64 lowercase hex characters (a SHA-256)")


def key_of(ref: str) -> str:
    """The object key of a reference's original: ab/cd/<hex>."""
    h = ref_of(ref).removeprefix("sha256:")
    return f"{h[:2]}/{h[2:4]}/{h}"


class EvidenceStore:
    """Content-addressed photos over a backend of named objects (`_write`, `_read`, `_has`)."""

    kind = "abstract"

    def __init__(self, limits: Limits | None = None):
        self.limits = limits or Limits()

    # ------------------------------------------------------------------ the backend's part

    def _write(self, key: str, data: bytes, content_type: str) -> None:
        raise NotImplementedError

    def _read(self, key: str) -> bytes | None:
        raise NotImplementedError

    def _has(self, key: str) -> bool:
        return self._read(key) is not None

    # ------------------------------------------------------------------ the store

    def put(self, data: bytes, content_type: str | None = None, field: str = "file") -> Stored:
        """Check and store an upload; the same bytes again return the stored photo.
        `content_type` (what the client declared) is not trusted: the bytes decide."""
        return self.put_all([data], field)[0]

    def put_all(self, uploads: list[bytes], field: str = "file") -> list[Stored]:
        """Several uploads, every one checked before any is stored."""
        ready = [prepare(data, self.limits, field) for data in uploads]
        for r in ready:
            if not (self.exists(r.info.ref) and self.verify(r.info.ref)):
                self.save(r)
        return [r.info for r in ready]

    def save(self, ready: Prepared) -> None:
        key, info = key_of(ready.info.ref), ready.info
        self._write(key, ready.original, info.content_type)
        self._write(key + ".display", ready.display, info.content_type)
        self._write(key + ".thumb.jpg", ready.thumb, "image/jpeg")
        meta = {"content_type": info.content_type, "bytes": info.bytes, "width": info.width,
                "height": info.height}
        self._write(key + ".json", json.dumps(meta).encode(), "application/json")

    def exists(self, ref: str) -> bool:
        return self._has(key_of(ref) + ".json")

    def info(self, ref: str) -> Stored:
        ref = ref_of(ref)
        raw = self._read(key_of(ref) + ".json")
        if raw is None:
            raise NotFoundError(f"ref: no evidence '{ref}'")
        m = json.loads(raw)
        return Stored(ref, int(m["bytes"]), str(m["content_type"]), int(m["width"]),
                      int(m["height"]))

    def open(self, ref: str) -> Blob:
        """The display copy (what a person looks at)."""
        return Blob(self._need(ref, ".display"), self.info(ref).content_type)

    def thumb(self, ref: str) -> Blob:
        return Blob(self._need(ref, ".thumb.jpg"), "image/jpeg")

    def original(self, ref: str) -> Blob:
        """Exactly the uploaded bytes (with the phone's metadata)."""
        return Blob(self._need(ref, ""), self.info(ref).content_type)

    def verify(self, ref: str) -> bool:
        """Whether the stored original still hashes to its reference (False if missing)."""
        ref = ref_of(ref)
        data = self._read(key_of(ref))
        return data is not None and digest(data) == ref

    def missing(self, refs) -> list[str]:
        """The `sha256:` references among `refs` that are not in the store."""
        return [r for r in refs or () if isinstance(r, str) and REF_RE.match(r)
                and not self.exists(r)]

    def _need(self, ref: str, suffix: str) -> bytes:
        data = self._read(key_of(ref) + suffix)
        if data is None:
            raise NotFoundError(f"ref: no evidence '{ref_of(ref)}'")
        return data
