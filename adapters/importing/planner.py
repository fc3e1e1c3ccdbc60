"""One source record → the plan of its case (RowPlan): its outcome, the time of each step,
category, unit, grid cell and actors, or SkipRow with the reason; and, with
--create-unknown, the unmapped categories and units added to the city."""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapters.config.city_build import build_city
from adapters.importing.mapping import Mapping
from adapters.importing.readers import ABSENT, Rows, value_at
from adapters.kafka.messages import report_case_id
from domain.city import City
from domain.errors import ConfigError
from domain.lifecycle import CHANNELS
from workflows.commands import CaseAction, ReportCase
from workflows.service import CaseService

# outcome -> the steps after the report, in order
PATH = {
    "reported": [],
    "filed": ["verify", "file"],
    "dispatched": ["verify", "file", "dispatch"],
    "resolved": ["verify", "file", "dispatch", "resolve"],
    "closed": ["verify", "file", "dispatch", "resolve", "check", "close"],
    "refused": ["refuse"],
}
CHANNEL_ACTORS = {"citizen": "citizen_app", "hotline": "hotline_12345", "camera": "system",
                  "inspection": "acc_wang", "patrol": "sup_zhang"}


def text_of(v: Any) -> str:
    """A source value as text, stripped ('' for none or absent)."""
    return "" if v is None or v is ABSENT else str(v).strip()


_str = text_of


class SkipRow(Exception):
    """A row that cannot be imported: the field and the reason."""

    def __init__(self, field: str, rule: str):
        self.field, self.rule = field, rule
        super().__init__(f"{field}: {rule}")


@dataclass
class RowPlan:
    row: int
    external_id: str
    outcome: str
    report: ReportCase
    actions: list[CaseAction]
    partial: str | None = None  # why the path stops short of the outcome


class Planner:
    """One record → a RowPlan (or SkipRow), against the service's city; with
    create_unknown, `prepare` first adds the rows' unmapped categories and units."""

    def __init__(self, service: CaseService, mapping: Mapping, *, create_unknown: bool = False):
        self.service = service
        self.mapping = mapping
        self.create_unknown = create_unknown
        self.city: City = service.city
        self._cells = sorted(self.city.cells)
        self._members = self._unit_members(self.city)
        self.created: dict[str, list] = {"categories": [], "units": []}
        # the earliest business time a row may have: the mapping's own, else the city's
        # (the service enforces the same bound; checked here to name the column)
        if mapping.history_from is not None:
            self.history_from = mapping.history_from
            self._history_from_key = "the mapping's history_from"
        else:
            intake = getattr(self.city, "intake", None)
            self.history_from = getattr(intake, "history_from", None) or datetime(1990, 1, 1, tzinfo=UTC)
            self._history_from_key = ("the city's intake.history_from; a mapping may set its own "
                                      "history_from, not before 1990-01-01")

    # ------------------------------------------------------------ unknown categories/units

    @staticmethod
    def _unit_members(city: City) -> dict[str, str]:
        out: dict[str, str] = {}
        for u in city.users.values():
            if u.role == "unit_member" and u.unit not in out:
                out[u.unit] = u.id
        return out

    def prepare(self, rows: Rows) -> None:
        """With --create-unknown: add unmapped source categories and units to the city."""
        if not self.create_unknown:
            return
        m = self.mapping
        cat_col, unit_col = m.fields.get("category"), m.fields.get("unit")
        new_cats: list[str] = []
        new_units: list[str] = []
        for _, rec, _ in rows:
            if rec is None:
                continue
            c = _str(value_at(rec, cat_col)) if cat_col else ""
            if c and c not in m.categories and c not in new_cats:
                new_cats.append(c)
            u = _str(value_at(rec, unit_col)) if unit_col else ""
            if u and u not in m.units and u not in new_units:
                new_units.append(u)
        if not new_cats and not new_units:
            return
        raw = copy.deepcopy(self.city.raw)
        big = m.create["category_class"]
        events = raw.setdefault("categories", {}).setdefault("events", [])
        cls = next((c for c in events if str(c.get("code")) == big), None)
        if cls is None:
            cls = {"code": big, "name": m.create["category_class_name"], "small": {}}
            events.append(cls)
        by_name = {v: k for k, v in cls["small"].items()}
        for name in sorted(new_cats):  # sorted: the same codes whatever order the rows come in
            if name in by_name:
                code = by_name[name]
            else:
                used = {int(k) for k in cls["small"]}
                free = next((n for n in range(1, 100) if n not in used), None)
                if free is None:
                    raise ConfigError("create.category_class", f"E{big} has no free small class for '{name}'")
                code = f"{free:02d}"
                cls["small"][code] = name
                by_name[name] = code
            m.categories[name] = f"E{big}{code}"
            self.created["categories"].append({"source": name, "code": f"E{big}{code}"})
        units = raw.setdefault("units", [])
        users = raw.setdefault("users", [])
        known_units = {u["id"] for u in units}
        for name in sorted(new_units):
            uid = "imp-" + (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or
                            hashlib.sha1(name.encode()).hexdigest()[:8])[:40]
            if uid not in known_units:
                units.append({"id": uid, "name": name, "short": name[:16], "group": "X"})
                users.append({"id": f"{uid}-staff", "name": f"{name} (imported)", "role": "unit_member",
                              "unit": uid})
                known_units.add(uid)
            m.units[name] = uid
            self.created["units"].append({"source": name, "unit": uid})
        self.city = build_city(raw)
        self.service.city = self.city
        self._cells = sorted(self.city.cells)
        self._members = self._unit_members(self.city)

    # ------------------------------------------------------------ one row → a plan

    def _time(self, rec: dict, column: str) -> datetime | None:
        v = _str(value_at(rec, column))
        if not v:
            return None
        t = None
        try:
            t = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            for fmt in self.mapping.time_formats:
                try:
                    t = datetime.strptime(v, fmt)
                    break
                except ValueError:
                    continue
        if t is None:
            raise SkipRow(column, f"'{v}' is not a time ({', '.join(self.mapping.time_formats) or 'ISO 8601'})")
        return t if t.tzinfo else t.replace(tzinfo=self.mapping.tz)

    @staticmethod
    def _blank(rec: dict, col: str | None, key: str, what: str) -> SkipRow:
        """The reason for a mapped value that is not there: an absent column (path) is told
        from an empty cell."""
        if col and value_at(rec, col) is ABSENT:
            return SkipRow(col, f"is absent: the record has no '{col}' (mapping {key}); {what}")
        return SkipRow(col or key.rsplit(".", 1)[-1], f"is empty: {what}")

    def _outcome(self, rec: dict) -> str:
        m = self.mapping
        for r in m.rules:
            if all(_str(value_at(rec, f)) in ([str(x) for x in v] if isinstance(v, list) else [str(v)])
                   for f, v in r["when"].items()):
                return r["then"]
        col = m.fields.get("status")
        status = _str(value_at(rec, col)) if col else ""
        if status in m.statuses:
            return m.statuses[status]
        if "*" in m.statuses:
            return m.statuses["*"]
        if not status:
            raise self._blank(rec, col, "fields.status", "no source status (and statuses has no '*')")
        raise SkipRow(col or "status", f"source status '{status}' has no mapping in statuses")

    def _grid(self, rec: dict) -> str:
        g = self.mapping.grid
        col = g.get("field") or self.mapping.fields.get("area")
        area = _str(value_at(rec, col)) if col else ""
        if area in [str(x) for x in g.get("empty") or []]:
            area = ""
        if not area:
            raise self._blank(rec, col, "grid.field" if g.get("field") else "fields.area",
                              "no source area to place the case on a grid cell")
        if g["method"] == "map":
            cell = (g.get("map") or {}).get(area) or g.get("default")
            if not cell:
                raise SkipRow(col, f"source area '{area}' has no mapping in grid.map")
            return str(cell)
        digest = hashlib.sha256(f"{self.mapping.source}:{area}".encode()).digest()
        return self._cells[int.from_bytes(digest[:8], "big") % len(self._cells)]

    def _note_times(self, rec: dict) -> dict[str, datetime]:
        """Step times from a list of timestamped notes (e.g. Chicago Open311 `notes`)."""
        spec = self.mapping.notes
        if not spec:
            return {}
        out: dict[str, datetime] = {}
        notes = value_at(rec, spec.get("field", "notes"))
        notes = notes if isinstance(notes, list) else []
        for step, match in (spec.get("match") or {}).items():
            alternatives = match if isinstance(match, list) else [match]
            for alt in alternatives:  # the first alternative that some note matches wins
                hit = next((n for n in notes if isinstance(n, dict) and all(
                    _str(n.get(k)) in ([str(x) for x in v] if isinstance(v, list) else [str(v)])
                    for k, v in alt.items())), None)
                if hit is not None:
                    t = self._time(hit, spec.get("time", "datetime"))
                    if t is not None:
                        out[step] = t
                        break
        return out

    def plan(self, row: int, rec: dict) -> RowPlan:
        m, f = self.mapping, self.mapping.fields
        ext = _str(value_at(rec, f["external_id"]))
        if not ext:
            raise self._blank(rec, f["external_id"], "fields.external_id", "no external id")
        outcome = self._outcome(rec)
        if outcome == "skip":
            raise SkipRow(f.get("status", "status"), "the mapping says to skip this status")
        reported = self._time(rec, f["reported_at"])
        if reported is None:
            raise self._blank(rec, f["reported_at"], "fields.reported_at", "no report time")
        if reported < self.history_from:
            raise SkipRow(f["reported_at"], f"{reported.isoformat()} is before "
                                            f"{self.history_from.date().isoformat()}, the earliest "
                                            f"business time accepted ({self._history_from_key})")
        due = self._time(rec, f["source_due_at"]) if f.get("source_due_at") else None
        src_cat = _str(value_at(rec, f["category"]))
        category = m.categories.get(src_cat) or m.categories.get("*")
        if not category and not src_cat:
            raise self._blank(rec, f["category"], "fields.category",
                              "no source category to map (and categories has no '*')")
        if not category:
            raise SkipRow(f["category"], f"source value '{src_cat}' has no mapping in categories "
                                         "(map it, or import with --create-unknown)")
        unit = None
        if "dispatch" in PATH[outcome]:
            src_unit = _str(value_at(rec, f["unit"])) if f.get("unit") else ""
            unit = m.units.get(src_unit) or m.units.get("*")
            if not unit and not src_unit:
                raise self._blank(rec, f.get("unit"), "fields.unit",
                                  f"no source agency to dispatch the {outcome} case to "
                                  "(and units has no '*')")
            if not unit:
                raise SkipRow(f.get("unit", "unit"), f"source value '{src_unit}' has no mapping in units "
                                                     "(map it, or import with --create-unknown)")
        src_ch = _str(value_at(rec, f["channel"])) if f.get("channel") else ""
        channel = m.channels.get(src_ch) or m.channels.get("*") or "hotline"
        grid = self._grid(rec)
        lat = lon = None
        if f.get("lat") and f.get("lon"):
            la, lo = _str(value_at(rec, f["lat"])), _str(value_at(rec, f["lon"]))
            if la and lo:
                try:
                    lat, lon = float(la), float(lo)
                except ValueError:
                    raise SkipRow(f["lat"], f"'{la}', '{lo}' are not coordinates") from None
        desc_cols = f.get("description") or []
        desc_cols = [desc_cols] if isinstance(desc_cols, str) else desc_cols
        description = " | ".join(v for v in (_str(value_at(rec, c)) for c in desc_cols) if v)[:2000]
        report = ReportCase(
            channel=channel, category=category, grid=grid,
            actor=m.actors.get(f"report_{channel}") or CHANNEL_ACTORS.get(channel, ""),
            occurred_at=reported, description=description, lat=lat, lon=lon,
            external_id=ext, case_id=report_case_id(m.source, ext),
            source_due_at=due, history_from=m.history_from,
        )
        notes = self._note_times(rec)
        actions: list[CaseAction] = []
        last = reported
        partial = None
        steps = [s for s in PATH[outcome] if s != "verify" or CHANNELS[channel]["verify"]]
        for step in steps:
            at = notes.get(step)
            if at is None:
                for col in m.steps.get(step, []):
                    at = self._time(rec, col) if col != "reported_at" else reported
                    if at is None and col in f:
                        at = self._time(rec, f[col])
                    if at is not None:
                        break
            if at is None and not m.steps.get(step):
                at = last  # the source records no separate time for this step
            if at is None:
                partial = f"{step}: no time in the record ({', '.join(m.steps.get(step, []))} empty)"
                break
            if at < last and (last - at).total_seconds() <= m.tolerance:
                at = last  # the source's clocks disagree by a moment: keep the order
            if at < last:
                raise SkipRow(step, f"time {at.isoformat()} is earlier than the step before "
                                    f"({last.isoformat()})")
            last = at
            action = self._action(step, report.case_id, at, unit, rec, outcome)
            action.history_from = m.history_from
            actions.append(action)
        return RowPlan(row, ext, outcome, report, actions, partial)

    def _action(self, step: str, cid, at: datetime, unit: str | None, rec: dict, outcome: str) -> CaseAction:
        m = self.mapping
        f = m.fields
        status = _str(value_at(rec, f["status"])) if f.get("status") else ""
        if step == "verify":
            return CaseAction(cid, "verify", m.actors["verify"], at, passed=True)
        if step == "file":
            return CaseAction(cid, "file", m.actors["file"], at)
        if step == "dispatch":
            src = _str(value_at(rec, f["unit"])) if f.get("unit") else ""
            return CaseAction(cid, "dispatch", m.actors["dispatch"], at, unit=unit,
                              reason=f"imported: source agency '{src}'" if src else "imported")
        if step == "resolve":
            member = self._members.get(unit or "")
            if not member:
                raise SkipRow("unit", f"unit '{unit}' has no member user to record its resolution")
            return CaseAction(cid, "resolve", member, at)
        if step == "check":
            return CaseAction(cid, "check", m.actors["check"], at, passed=True)
        if step == "close":
            return CaseAction(cid, "close", m.actors["close"], at)
        reason_col = m.raw.get("refuse_reason_field")
        detail = _str(value_at(rec, reason_col)) if reason_col else ""
        reason = f"imported: source status '{status}'" + (f" ({detail})" if detail else "")
        return CaseAction(cid, "refuse", m.actors["refuse"], at, reason=reason)
