"""The evidence store on the local disk: `<data_dir>/evidence/ab/cd/<hex>…`. Every object
is written to a temporary file in its folder, flushed and renamed over its name, so a
reader never sees half a photo and a crash leaves at most a stray `.tmp-*` file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from adapters.evidence.photos import Limits
from adapters.evidence.store import EvidenceStore


class FileStore(EvidenceStore):
    kind = "file"

    def __init__(self, root: str | Path, limits: Limits | None = None):
        super().__init__(limits)
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key

    def _write(self, key: str, data: bytes, content_type: str) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _read(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    def _has(self, key: str) -> bool:
        return self.path(key).is_file()
