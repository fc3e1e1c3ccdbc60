"""The stored events as the audit reads them: straight from eventsourcing's table
(`stored_events` on SQLite, by rowid; the recorder's own table on PostgreSQL, by
notification_id), and the canonical bytes of one row (规范字节) that become its leaf."""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from adapters.audit.merkle import leaf_hash
from adapters.storage.sql import Sql

BATCH = 2000
UNREADABLE = b"\xff\xffcasegrid.audit: a row with no canonical form: "


def _fits(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value < high


def _state(s: Any) -> Any:
    """The state as stored; text or a number that raw SQL put there is kept as it is
    (with the version, never coerced), so the row's leaf shows the change."""
    return b"" if s is None else bytes(s) if isinstance(s, bytes | bytearray | memoryview) else s


@dataclass(frozen=True)
class Row:
    """One stored event: its notification id, case (or aggregate) id, version, topic, state."""

    notification_id: int
    originator_id: str
    version: int
    topic: str
    state: bytes

    def canonical(self) -> bytes:
        """Fixed-width integers and length-prefixed strings: no two rows share bytes.
        ValueError for a row no writer of ours produces (a version or id outside 64
        bits or not an integer, a state that is not bytes: raw SQL did that)."""
        if not (_fits(self.notification_id, 0, 2**64) and _fits(self.version, -2**63, 2**63)
                and isinstance(self.originator_id, str) and isinstance(self.topic, str)
                and isinstance(self.state, bytes)):
            raise ValueError("not a row casegrid writes")
        parts = [struct.pack(">Q", self.notification_id)]
        for text in (self.originator_id, None, self.topic):
            if text is None:
                parts.append(struct.pack(">q", self.version))
                continue
            b = text.encode("utf-8", "surrogatepass")
            parts.append(struct.pack(">I", len(b)) + b)
        parts.append(struct.pack(">I", len(self.state)) + self.state)
        return b"".join(parts)

    def leaf(self) -> bytes:
        """The row's leaf hash; a row with no canonical form (edited by raw SQL into a
        value out of range or of another type) gets a leaf of its own that no canonical
        row has, so verify reports it as changed instead of stopping."""
        try:
            return leaf_hash(self.canonical())
        except ValueError:
            shown = repr((self.notification_id, self.originator_id, self.version, self.topic,
                          self.state))
            return leaf_hash(UNREADABLE + shown.encode("utf-8", "backslashreplace"))


@dataclass(frozen=True)
class Seen:
    """A stored event without its state: what verify keeps of each row in memory."""

    notification_id: int
    originator_id: str
    version: int
    leaf_hash: bytes

    def leaf(self) -> bytes:
        return self.leaf_hash


def seen(row: Row) -> Seen:
    return Seen(row.notification_id, row.originator_id, row.version, row.leaf())


def canonical_id(value: Any) -> str:
    """A UUID in its hyphenated form whichever way the backend stores it (hex text on
    SQLite, uuid on PostgreSQL); anything else as its text."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text


class EventRows:
    """Reads eventsourcing's stored-events table of one recorder, in log order."""

    def __init__(self, recorder: Any, sql: Sql):
        table = getattr(recorder, "events_table_name", None)
        if sql.datastore is None or not table:
            raise RuntimeError("the audit log needs SQLite or PostgreSQL, not the in-memory store")
        self.sql = sql
        if sql.dialect == "postgres":
            schema = recorder.datastore.schema
            self.table = f'"{schema}"."{table}"'
            self.query = ("SELECT notification_id, originator_id::text, originator_version, topic,"
                          f" state FROM {self.table} WHERE notification_id > ?"
                          " ORDER BY notification_id LIMIT ?")
        else:
            self.table = table
            self.query = ("SELECT rowid, originator_id, originator_version, topic, state"
                          f" FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?")
        self.id_column = "notification_id" if sql.dialect == "postgres" else "rowid"
        self.dialect = sql.dialect

    def after(self, after: int, limit: int = BATCH) -> list[Row]:
        return [Row(int(n), canonical_id(o), v, str(t), _state(s))
                for n, o, v, t, s in self.sql.query(self.query, (after, limit))]

    def of_case(self, case_id: str) -> list[Row]:
        """The live events of one case (or aggregate), in log order."""
        key = case_id if self.dialect == "postgres" else case_id.replace("-", "")
        cut = self.query.index(" WHERE ")
        where = f" WHERE originator_id = ? ORDER BY {self.id_column}"
        return [Row(int(n), canonical_id(o), v, str(t), _state(s))
                for n, o, v, t, s in self.sql.query(self.query[:cut] + where, (key,))]

    def all(self, after: int = 0) -> Iterator[Row]:
        while rows := self.after(after):
            yield from rows
            after = rows[-1].notification_id
