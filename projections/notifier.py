"""The notifier (通知): a tracked follower of the event log that turns case events into
notifications by the city's rules (domain/notify.py), once each.

It runs in a ProjectionRunner of its own (adapters/notify/worker.py), so its position is a
row of `cg_tracking` moved in the transaction that inserts the batch's notifications: a
worker killed mid-batch leaves nothing, and a notification's id is deterministic —
uuid5(case, version, rule) — so a batch applied again inserts nothing new. It is never
rebuilt with the read models (the notifications' read marks and deliveries live here).

Tables: cg_notifications (projections/notifications.py reads and marks them),
cg_notify_followers (a merged duplicate's reporter follows the original's notices) and
cg_notify_cases, what the rules need of each case (number, unit, holder, running step and
its due time, whether the reporter left contact: the ContactGiven event, its values never copied here).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from domain.case import Case
from domain.case_base import CaseEvent
from domain.city import City
from domain.notify import NotifyRule
from domain.times import local_format
from projections.ports import Cur
from projections.times import ts

NOTIFY_NS = uuid5(NAMESPACE_URL, "casegrid:notification")
ASSIST = ("AssistRequested", "AssistDeadlineMissed")  # 协办: domain/case_assist.py
HAPPENINGS = {"Reported": "received", "Dispatched": "dispatched", "DeadlineMissed": "overdue",
              "Urged": "urged", "Closed": "closed"}
CASE_COLS = ("case_id", "number", "category", "grid", "unit", "held_by", "state", "step",
             "due_at", "contact")
COLS = ("id", "recipient_kind", "recipient_id", "case_id", "case_number", "rule", "happening",
        "text_zh", "text_en", "channels", "at", "created_at", "read_at", "read_by",
        "kafka_due", "kafka_at", "sms_due", "sms_at")


def happening_of(event: Any) -> str | None:
    """What a case event is, for the rules; a callback (回访) step's events by their name."""
    name = type(event).__name__
    if name in HAPPENINGS:
        return HAPPENINGS[name]
    if name.startswith(("Callback", "CalledBack")):
        return "callback"
    return None


def notification_id(*parts: Any) -> str:
    return str(uuid5(NOTIFY_NS, ":".join(str(p) for p in parts)))


def create_tables(cur: Cur) -> None:
    cur.execute(
        "CREATE TABLE IF NOT EXISTS cg_notifications ("
        " id TEXT PRIMARY KEY, recipient_kind TEXT NOT NULL, recipient_id TEXT NOT NULL,"
        " case_id TEXT NOT NULL, case_number TEXT, rule TEXT NOT NULL, happening TEXT NOT NULL,"
        " text_zh TEXT NOT NULL, text_en TEXT NOT NULL, channels TEXT NOT NULL,"
        " at TEXT NOT NULL, created_at TEXT NOT NULL, read_at TEXT, read_by TEXT,"
        " kafka_due INTEGER NOT NULL, kafka_at TEXT, sms_due INTEGER NOT NULL, sms_at TEXT)")
    cur.execute("CREATE INDEX IF NOT EXISTS cg_notifications_to ON cg_notifications"
                " (recipient_kind, recipient_id, created_at)")
    cur.execute("CREATE INDEX IF NOT EXISTS cg_notifications_kafka ON cg_notifications"
                " (kafka_due, created_at)")
    cur.execute("CREATE INDEX IF NOT EXISTS cg_notifications_sms ON cg_notifications"
                " (sms_due, created_at)")
    cur.execute(
        "CREATE TABLE IF NOT EXISTS cg_notify_cases ("
        " case_id TEXT PRIMARY KEY, number TEXT, category TEXT NOT NULL, grid TEXT NOT NULL,"
        " unit TEXT, held_by TEXT, state TEXT NOT NULL, step TEXT, due_at TEXT,"
        " contact INTEGER NOT NULL)")
    cur.execute("CREATE INDEX IF NOT EXISTS cg_notify_cases_due ON cg_notify_cases (due_at)")
    # a merged duplicate (重复案件) whose reporter left contact follows its original's notices
    cur.execute("CREATE TABLE IF NOT EXISTS cg_notify_followers (case_id TEXT NOT NULL,"
                " follower TEXT NOT NULL, PRIMARY KEY (case_id, follower))")


def insert(cur: Cur, rows: list[tuple]) -> None:
    """Insert notifications; one already there (same id) is left as it is."""
    marks = ", ".join("?" * len(COLS))
    cur.executemany(f"INSERT INTO cg_notifications ({', '.join(COLS)}) VALUES ({marks})"
                    " ON CONFLICT (id) DO NOTHING", rows)


def recipient(rule: NotifyRule, unit: str | None, case_id: str,
              contact: bool) -> tuple[str, str] | None:
    """(kind, id) the rule tells, or None when there is nobody: no unit holds the case, or
    the reporter left no contact (their phone stays on the case, never here)."""
    if rule.to == "unit":
        return ("unit", unit) if unit else None
    if rule.to == "reporter":
        return ("reporter", case_id) if contact else None
    return ("role", rule.to.partition(":")[2])


def row(city: City, rule: NotifyRule, nid: str, to: tuple[str, str], case: dict,
        happening: str, at: str, now: str, values: dict) -> tuple:
    """One notification row, its text in both languages."""
    cat = city.categories.get(case["category"])
    unit = city.units.get(values.get("unit_id") or "")
    vals = {"number": case["number"] or case["case_id"][:8],
            "category": cat.name if cat else case["category"], "grid": case["grid"],
            "unit": unit.name if unit else "", "state": case["state"],
            "due": local_format(values.get("due"), city.tz) if values.get("due") else "",
            "minutes": values.get("minutes", "")}
    kafka, sms = "kafka" in rule.channels, "sms" in rule.channels
    return (nid, to[0], to[1], case["case_id"], case["number"], rule.id, happening,
            rule.render("zh", vals), rule.render("en", vals), ",".join(rule.channels), at, now,
            None, None, int(kafka), None, int(sms), None)


class Notifier:
    """The event half of the notifier; the time half (due_soon) is in notifications.py."""

    name = "notifications"
    tables = ("cg_notifications", "cg_notify_cases", "cg_notify_followers")
    version = 1

    def __init__(self, city: City, clock: Any = None):
        self.city = city
        self.clock = clock or (lambda: datetime.now(UTC))

    def create(self, cur: Cur) -> None:
        create_tables(cur)

    def forget(self) -> None:
        """Nothing is held between batches."""

    def _known(self, sql: Any, ids: list[str]) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            rows = sql.query(f"SELECT {', '.join(CASE_COLS)} FROM cg_notify_cases WHERE case_id"
                             f" IN ({', '.join('?' * len(part))})", part)
            out.update({r[0]: dict(zip(CASE_COLS, r, strict=True)) for r in rows})
        return out

    def _followers(self, sql: Any, ids: list[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            for cid, f in sql.query("SELECT case_id, follower FROM cg_notify_followers WHERE"
                                    f" case_id IN ({', '.join('?' * len(part))})", part):
                out.setdefault(cid, []).append(f)
        return out

    def prepare(self, sql: Any, items: list, start: int, end: int) -> tuple[list, list, list]:
        ids = sorted({cid for e, _t, _p, cid in items
                      if isinstance(e, CaseEvent) and type(e) is not Case.Reported})
        merged = sorted({e.duplicate_id for e, _t, _p, _c in items
                         if type(e).__name__ == "DuplicateMerged"})
        cases = self._known(sql, sorted(set(ids) | set(merged)))
        followers, new_followers = self._followers(sql, ids), []
        touched: set[str] = set()
        out: list[tuple] = []
        now = ts(self.clock())
        for e, t, _pos, cid in items:
            if not isinstance(e, CaseEvent):
                continue
            case = cases.get(cid)
            if type(e) is Case.Reported or case is None:
                if not hasattr(e, "category"):
                    continue  # a case this notifier never saw reported
                case = cases[cid] = {"case_id": cid, "number": getattr(e, "number", None),
                                     "category": e.category, "grid": e.grid, "unit": None,
                                     "contact": 0}
            held = e.held_by
            if held and held.startswith("unit:"):
                case["unit"] = held[5:]
            case.update(held_by=held, state=e.state, step=e.step, due_at=t.get("due_at"))
            touched.add(cid)
            what = happening_of(e)
            dup = cases.get(getattr(e, "duplicate_id", None) or "")
            if type(e).__name__ == "DuplicateMerged" and dup and dup["contact"]:
                followers.setdefault(cid, []).append(dup["case_id"])
                new_followers.append((cid, dup["case_id"]))
            if type(e).__name__ == "ContactGiven":  # just after Reported: the reporter's
                case["contact"] = int(bool(e.reporter_name or e.reporter_phone))  # 受理 notice
                what = "received" if case["contact"] else None
            if type(e).__name__ in ASSIST:
                out += self._assist(e, t, cid, case, now)
                continue
            if what is None:
                continue
            unit, due = case["unit"], e.due_at
            if what == "dispatched":
                unit = e.unit
            elif what == "overdue":
                unit = e.holder if e.holder_kind == "unit" else None
                due = e.missed_due_at
            elif what == "urged" and not (held or "").startswith("unit:"):
                unit = None
            for rule in self.city.notify.on(what):
                to = recipient(rule, unit, cid, bool(case["contact"]))
                if to is None or (what == "received" and (to[0] == "reporter")
                                  != (type(e).__name__ == "ContactGiven")):
                    continue
                nid = notification_id(cid, e.originator_version, rule.id)
                out.append(row(self.city, rule, nid, to, case, what, t["occurred_at"],
                               now, {"unit_id": unit, "due": due}))
            for rule in self.city.notify.on(what):
                if rule.to != "reporter" or what == "received":
                    continue
                for f in followers.get(cid, ()):  # the reporters of its merged duplicates
                    nid = notification_id(cid, e.originator_version, rule.id, f)
                    out.append(row(self.city, rule, nid, ("reporter", f), case, what,
                                   t["occurred_at"], now, {"unit_id": unit, "due": due}))
        rows = [tuple(cases[c].get(k) for k in CASE_COLS) for c in sorted(touched)]
        return rows, out, new_followers

    def _assist(self, e: Any, t: dict, cid: str, case: dict, now: str) -> list[tuple]:
        """协办: each assisting unit is told of its request (a dispatch to it) and of its
        own miss (overdue, which the center's desks hear of too); never the reporter."""
        missed = type(e).__name__ == "AssistDeadlineMissed"
        what = "overdue" if missed else "dispatched"
        units = [e.assist_unit] if missed else list(e.units)
        due = e.missed_assist_due_at if missed else e.assist_due_at
        out = []
        for rule in self.city.notify.on(what):
            if rule.to == "unit":
                targets = [(("unit", u), u, notification_id(cid, e.originator_version,
                                                            rule.id, u)) for u in units]
            elif rule.to.startswith("role:") and missed:
                targets = [(("role", rule.to[5:]), units[0],
                            notification_id(cid, e.originator_version, rule.id))]
            else:
                continue
            for to, u, nid in targets:
                out.append(row(self.city, rule, nid, to, case, what, t["occurred_at"], now,
                               {"unit_id": u, "due": due}))
        return out

    def write(self, cur: Cur, ops: tuple[list, list, list]) -> None:
        cases, notes, followers = ops
        cur.executemany("INSERT INTO cg_notify_followers (case_id, follower) VALUES (?, ?)"
                        " ON CONFLICT (case_id, follower) DO NOTHING", followers)
        cols = ", ".join(CASE_COLS)
        sets = ", ".join(f"{c} = excluded.{c}" for c in CASE_COLS[1:])
        cur.executemany(f"INSERT INTO cg_notify_cases ({cols}) VALUES"
                        f" ({', '.join('?' * len(CASE_COLS))})"
                        f" ON CONFLICT (case_id) DO UPDATE SET {sets}", cases)
        insert(cur, notes)
