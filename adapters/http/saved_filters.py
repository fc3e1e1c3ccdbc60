"""Saved filters (常用查询), per user: a name and the case list's query string, kept in the
store's own database beside the sessions."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.storage.sql import Sql
from domain import validate
from domain.errors import ValidationError

DDL = ("CREATE TABLE IF NOT EXISTS cg_saved_filters (user_id TEXT NOT NULL, name TEXT NOT NULL,"
       " query TEXT NOT NULL, saved_at TEXT NOT NULL, PRIMARY KEY (user_id, name))")
MAX_PER_USER = 20
NAME_MAX = 40
QUERY_MAX = 1000


class SavedFilters:
    def __init__(self, sql: Sql):
        self.sql = sql
        self.ready = False

    def setup(self) -> None:
        if not self.ready:
            with self.sql.transaction() as cur:
                cur.setup_lock()
                cur.execute(DDL)
            self.ready = True

    def list(self, user_id: str) -> list[tuple[str, str]]:
        """(name, query) of the user's saved filters, by name."""
        self.setup()
        rows = self.sql.query("SELECT name, query FROM cg_saved_filters WHERE user_id = ?"
                              " ORDER BY name", (user_id,))
        return [(r[0], r[1]) for r in rows]

    def save(self, user_id: str, name, query: str) -> str:
        """Keep `query` under `name` (replacing one of that name); the name as kept."""
        name = validate.text(name, "name", limit=NAME_MAX, required=True, multiline=False)
        if len(query) > QUERY_MAX:
            raise ValidationError("query", f"is {len(query)} characters; at most {QUERY_MAX}")
        self.setup()
        with self.sql.transaction() as cur:
            cur.execute("SELECT COUNT(*) FROM cg_saved_filters WHERE user_id = ? AND name <> ?",
                        (user_id, name))
            if int(cur.fetchall()[0][0]) >= MAX_PER_USER:
                raise ValidationError("name", f"at most {MAX_PER_USER} saved filters; delete one")
            cur.execute("DELETE FROM cg_saved_filters WHERE user_id = ? AND name = ?",
                        (user_id, name))
            cur.execute("INSERT INTO cg_saved_filters (user_id, name, query, saved_at)"
                        " VALUES (?, ?, ?, ?)",
                        (user_id, name, query, datetime.now(UTC).isoformat()))
        return name

    def delete(self, user_id: str, name) -> None:
        name = validate.text(name, "name", limit=NAME_MAX, required=True, multiline=False)
        self.setup()
        with self.sql.transaction() as cur:
            cur.execute("DELETE FROM cg_saved_filters WHERE user_id = ? AND name = ?",
                        (user_id, name))
