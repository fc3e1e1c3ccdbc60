"""The import mapping as the importer uses it, built from a file checked by
adapters/config/mapping_file.py (docs/import/README.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from adapters.config.mapping_file import Create, check_mapping
from domain.errors import ConfigError

DEFAULT_ACTORS = {"verify": "sup_zhang", "file": "acc_wang", "dispatch": "disp_chen",
                  "check": "sup_zhang", "close": "acc_wang", "refuse": "acc_wang"}


@dataclass
class Mapping:
    source: str
    format: str
    tz: ZoneInfo
    time_formats: list[str]
    fields: dict[str, Any]
    channels: dict[str, str]
    categories: dict[str, str]
    units: dict[str, str]
    grid: dict[str, Any]
    statuses: dict[str, str]
    rules: list[dict]
    steps: dict[str, list[str]]
    notes: dict[str, Any] | None
    actors: dict[str, str]
    create: dict[str, str]
    raw: dict
    tolerance: float = 0.0
    history_from: datetime | None = None  # the mapping's own earliest business time

    def columns(self) -> dict[str, list[str]]:
        """Every source column (CSV) or path (JSON lines) the mapping names → the mapping
        keys that name it, e.g. {'requesttype': ['fields.category', 'fields.description']}."""
        out: dict[str, list[str]] = {}

        def add(col: Any, key: str) -> None:
            if isinstance(col, str) and col:
                keys = out.setdefault(col, [])
                if key not in keys:
                    keys.append(key)

        for key, col in self.fields.items():
            for c in ([col] if isinstance(col, str) else col or []):
                add(c, f"fields.{key}")
        add(self.grid.get("field"), "grid.field")
        add(self.raw.get("refuse_reason_field"), "refuse_reason_field")
        for i, r in enumerate(self.rules):
            for c in r["when"]:
                add(c, f"rules[{i}].when")
        for step, cols in self.steps.items():
            for c in cols:  # a step names a field key (closed_at) or a column of its own
                if c != "reported_at" and c not in self.fields:
                    add(c, f"steps.{step}")
        if self.notes:
            add(self.notes.get("field", "notes"), "notes.field")
        return out

    @classmethod
    def load(cls, path: str | Path) -> Mapping:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("mapping", f"no such file '{path}'") from None
        except yaml.YAMLError as e:
            raise ConfigError("mapping", f"'{path}' is not valid YAML: {e}") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError("mapping", f"cannot read '{path}': {e}") from None
        return cls.build(raw)

    @classmethod
    def build(cls, raw: Any) -> Mapping:
        m = check_mapping(raw)  # adapters/config/mapping_file.py: ConfigError naming mapping.<key>
        tz = ZoneInfo(m.timezone)
        return cls(
            source=m.source, format=m.format, tz=tz, time_formats=list(m.time_formats or []),
            fields=dict(raw["fields"]), channels=dict(m.channels or {}),
            categories=dict(m.categories or {}), units=dict(m.units or {}),
            grid=m.grid.model_dump(exclude_none=True) if m.grid else {"method": "hash"},
            statuses=dict(m.statuses or {}), rules=[r.model_dump() for r in m.rules or []],
            steps=dict(m.steps or {}), notes=raw.get("notes"),
            actors={**DEFAULT_ACTORS, **(m.actors or {})},
            create=(m.create or Create()).model_dump(), raw=raw,
            tolerance=float(m.tolerance_seconds or 0),
            history_from=m.history_from and datetime.combine(m.history_from, datetime.min.time(), tz),
        )

