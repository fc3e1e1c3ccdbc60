"""Notifications (通知) as people and the outbound channels read them: a recipient's list and
unread count, read marks, the due-soon notices (the notifier's time half) and the outbox
of the Kafka and SMS channels. Tables: projections/notifier.py."""

from __future__ import annotations

from datetime import datetime

from domain.city import City, User
from domain.errors import NotFoundError
from projections.notifier import COLS, insert, notification_id, recipient, row
from projections.ports import Sql
from projections.times import from_ts, ts

SHOWN = ("id", "recipient_kind", "recipient_id", "case_id", "case_number", "rule", "happening",
         "text_zh", "text_en", "channels", "at", "created_at", "read_at")
OUTBOX = {"kafka": ("kafka_due", "kafka_at"), "sms": ("sms_due", "sms_at")}
VIEW_CHANNELS = ("console", "field")


def recipients_of(user: User) -> list[tuple[str, str]]:
    """Whose notifications a user reads: their unit's, or their center role's."""
    if user.role == "unit_member":
        return [("unit", user.unit)] if user.unit else []
    return [("role", user.role)]


def _where(user: User, channel: str, unread: bool) -> tuple[str, list]:
    who = recipients_of(user) or [("none", "")]
    cond = " OR ".join("(recipient_kind = ? AND recipient_id = ?)" for _ in who)
    params: list = [x for pair in who for x in pair]
    sql = f"({cond}) AND channels LIKE ?"
    params.append(f"%{channel}%")
    if unread:
        sql += " AND read_at IS NULL"
    return sql, params


def listing(sql: Sql, user: User, *, channel: str = "console", unread: bool = False,
            limit: int = 50, offset: int = 0) -> dict:
    """A user's notifications on a channel (console or field), newest first, with the
    total and the unread count."""
    if channel not in VIEW_CHANNELS:
        raise ValueError(channel)
    cond, params = _where(user, channel, unread)
    rows = sql.query(f"SELECT {', '.join(SHOWN)} FROM cg_notifications WHERE {cond}"
                     " ORDER BY created_at DESC, at DESC, id LIMIT ? OFFSET ?",
                     [*params, limit, offset])
    total = sql.query(f"SELECT COUNT(*) FROM cg_notifications WHERE {cond}", params)[0][0]
    return {"items": [dict(zip(SHOWN, r, strict=True)) for r in rows], "total": int(total),
            "unread": unread_count(sql, user, channel)}


def unread_count(sql: Sql, user: User, channel: str = "console") -> int:
    cond, params = _where(user, channel, True)
    return int(sql.query(f"SELECT COUNT(*) FROM cg_notifications WHERE {cond}", params)[0][0])


def mark_read(sql: Sql, user: User, nid: str | None, now: datetime,
              channel: str = "console") -> int:
    """Mark one notification (or, with `nid` None, all) of the user's read; a notification
    that is not the user's is not found (404), whoever else it belongs to."""
    cond, params = _where(user, channel, True)
    if nid is not None:
        mine = sql.query(f"SELECT read_at FROM cg_notifications WHERE id = ? AND "
                         f"{_where(user, channel, False)[0]}",
                         [nid, *_where(user, channel, False)[1]])
        if not mine:
            raise NotFoundError(f"no notification '{nid}' for you")
        cond, params = f"id = ? AND {cond}", [nid, *params]
    with sql.transaction() as cur:
        return cur.execute(f"UPDATE cg_notifications SET read_at = ?, read_by = ? WHERE {cond}",
                           [ts(now), user.id, *params])


def due_soon(sql: Sql, city: City, now: datetime) -> int:
    """Notices for running steps due within each due_soon rule's working minutes; one per
    case, rule and due time (its id says so), however often this runs. Returns how many
    were new."""
    rules = city.notify.on("due_soon")
    made = 0
    for rule in rules:
        try:
            horizon = city.calendar.add(now, rule.minutes_before or 0)
        except ValueError:
            continue
        rows = sql.query("SELECT case_id, number, category, grid, unit, held_by, state, due_at,"
                         " contact FROM cg_notify_cases WHERE step IS NOT NULL AND due_at > ?"
                         " AND due_at <= ? ORDER BY due_at", (ts(now), ts(horizon)))
        notes = []
        for cid, number, cat, grid, unit, held, state, due, contact in rows:
            holder = held[5:] if held and held.startswith("unit:") else None
            to = recipient(rule, holder, cid, bool(contact))
            if to is None:
                continue
            case = {"case_id": cid, "number": number, "category": cat, "grid": grid,
                    "state": state, "unit": unit}
            left = round(city.calendar.between(now, from_ts(due)))
            notes.append(row(city, rule, notification_id(cid, "due_soon", rule.id, due), to,
                             case, "due_soon", ts(now), ts(now),
                             {"unit_id": holder, "due": from_ts(due), "minutes": str(left)}))
        if notes:
            ids = [n[0] for n in notes]
            known = {r[0] for r in sql.query(
                f"SELECT id FROM cg_notifications WHERE id IN ({', '.join('?' * len(ids))})", ids)}
            with sql.transaction() as cur:
                insert(cur, notes)
            made += len(set(ids) - known)
    return made


def pending(sql: Sql, channel: str, limit: int = 500) -> list[dict]:
    """Notifications the channel (kafka, sms) has still to deliver, oldest first."""
    due, _at = OUTBOX[channel]
    rows = sql.query(f"SELECT {', '.join(COLS)} FROM cg_notifications WHERE {due} = 1"
                     " ORDER BY created_at, at, id LIMIT ?", (limit,))
    return [dict(zip(COLS, r, strict=True)) for r in rows]


def delivered(sql: Sql, channel: str, ids: list[str], now: datetime) -> None:
    mark(sql, channel, ids, now, 0)


def mark(sql: Sql, channel: str, ids: list[str], now: datetime, state: int) -> None:
    """Set the channel's state of these notices (0 delivered, 2 parked) and its time."""
    if not ids:
        return
    due, at = OUTBOX[channel]
    with sql.transaction() as cur:
        cur.executemany(f"UPDATE cg_notifications SET {due} = ?, {at} = ? WHERE id = ?",
                        [(state, ts(now), i) for i in ids])


CLAIMED = 3  # a worker is sending it now


def claim(sql: Sql, channel: str, nid: str, now: datetime) -> bool:
    """Take a pending notice for sending; False when another worker took it first."""
    due, at = OUTBOX[channel]
    with sql.transaction() as cur:
        return cur.execute(f"UPDATE cg_notifications SET {due} = ?, {at} = ? WHERE id = ?"
                           f" AND {due} = 1", (CLAIMED, ts(now), nid)) == 1


def release(sql: Sql, channel: str, nid: str) -> None:
    due, at = OUTBOX[channel]
    with sql.transaction() as cur:
        cur.execute(f"UPDATE cg_notifications SET {due} = 1, {at} = NULL WHERE id = ?"
                    f" AND {due} = ?", (nid, CLAIMED))


def reclaim(sql: Sql, channel: str, before: datetime) -> int:
    """Claims older than `before` (their worker died mid-send) are pending again."""
    due, at = OUTBOX[channel]
    if not sql.query(f"SELECT 1 FROM cg_notifications WHERE {due} = ? LIMIT 1", (CLAIMED,)):
        return 0  # the usual case: no write at all
    with sql.transaction() as cur:
        return cur.execute(f"UPDATE cg_notifications SET {due} = 1, {at} = NULL WHERE"
                           f" {due} = ? AND {at} < ?", (CLAIMED, ts(before)))


def parked(sql: Sql, channel: str, ids: list[str], now: datetime) -> None:
    """Notices the channel refused for good: kept, marked 2, no longer tried."""
    mark(sql, channel, ids, now, 2)


def counts(sql: Sql) -> dict:
    """How many notices there are, unread, and waiting or parked per outbound channel."""
    out = {"total": 0, "unread": 0}
    for total, unread in sql.query("SELECT COUNT(*), SUM(CASE WHEN read_at IS NULL THEN 1"
                                   " ELSE 0 END) FROM cg_notifications"):
        out = {"total": int(total), "unread": int(unread or 0)}
    for channel, (due, _at) in OUTBOX.items():
        rows = dict(sql.query(f"SELECT {due}, COUNT(*) FROM cg_notifications GROUP BY {due}"))
        out[channel] = {"pending": int(rows.get(1, 0)), "parked": int(rows.get(2, 0))}
    return out
