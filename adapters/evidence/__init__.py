"""Photo evidence (证据材料), stored and content-addressed: the store (store.py) over the
local disk (files.py) or S3 (s3.py), the upload checks (photos.py), and `evidence_store`,
which picks the backend from the settings."""

from __future__ import annotations

import os
from pathlib import Path

from adapters.evidence.errors import TooLarge, Unsupported
from adapters.evidence.files import FileStore
from adapters.evidence.photos import MAX_BYTES, MAX_PIXELS, Limits, Stored
from adapters.evidence.s3 import PREFIX, S3Store
from adapters.evidence.store import Blob, EvidenceStore, ref_of
from domain.errors import ConfigError

__all__ = ["Blob", "EvidenceStore", "FileStore", "Limits", "S3Store", "Stored", "TooLarge",
           "Unsupported", "evidence_store", "limits_from", "ref_of"]


def limits_from(env: dict) -> Limits:
    """CASEGRID_EVIDENCE_MAX_BYTES / _MAX_PIXELS, else the defaults (10 MB, 60 M pixels)."""
    out = {}
    for name, field, default in (("MAX_BYTES", "max_bytes", MAX_BYTES),
                                 ("MAX_PIXELS", "max_pixels", MAX_PIXELS)):
        raw = env.get(f"CASEGRID_EVIDENCE_{name}", "")
        if not raw:
            out[field] = default
            continue
        if not raw.isdigit() or not 1 <= int(raw) <= 10**9:
            raise ConfigError(f"CASEGRID_EVIDENCE_{name}", "must be a whole number from 1 "
                                                           "to 1000000000")
        out[field] = int(raw)
    return Limits(**out)


def evidence_store(data_dir: str | Path | None = None, env: dict | None = None) -> EvidenceStore:
    """S3 when CASEGRID_EVIDENCE_S3_URL is set (in `env` or the environment), else files
    under `<data dir>/evidence` (the argument, $CASEGRID_DATA_DIR, the folder of
    $SQLITE_DBNAME, else ./data)."""
    merged = {**os.environ, **(env or {})}
    limits = limits_from(merged)
    if merged.get(PREFIX + "URL"):
        return S3Store.from_env(merged, limits)
    folder = data_dir or merged.get("CASEGRID_DATA_DIR")
    db = merged.get("SQLITE_DBNAME", "")
    if not folder and db and db != ":memory:" and not db.startswith("file:"):
        folder = Path(db).parent  # beside the SQLite store it belongs to
    return FileStore(Path(folder or "data") / "evidence", limits)
