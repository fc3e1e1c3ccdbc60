"""Schema versions of our own tables (数据库版本): ordered steps, each applied once.

`cg_schema_versions` holds one row per step applied (version, name, when). `upgrade`
applies the steps a store lacks, in order, each in one transaction with its version row,
under the setup lock: PostgreSQL's advisory lock (the one every CREATE of ours takes),
SQLite's write lock taken first thing. A second process waits, then finds the step done.
Steps are written to be safe on a store that already has their effect (IF NOT EXISTS,
columns added only when missing), so a store built before versions existed is brought
forward in place, its rows kept. The steps themselves live in adapters/storage/steps.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from adapters.storage.sql import Cur, Sql
from domain.errors import CasegridError

log = structlog.get_logger("casegrid.migrations")

VERSIONS_DDL = ("CREATE TABLE IF NOT EXISTS cg_schema_versions ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")


class SchemaBehind(CasegridError):
    """The store lacks schema steps of this release and may not apply them itself."""

    kind = "schema_behind"


@dataclass(frozen=True)
class Step:
    """One change of our tables; `apply` runs inside the step's transaction."""

    version: int
    name: str
    apply: Callable[[Cur], None]
    # run before the step's transaction opens: slow work such as imports must not sit
    # inside it (PostgreSQL ends a session idle in a transaction after a few seconds)
    before: Callable[[], None] | None = None


@dataclass(frozen=True)
class Status:
    applied: list[tuple[int, str, str]]  # (version, name, applied_at)
    pending: list[tuple[int, str]]
    unknown: list[int]  # applied here but not known to this release (a newer one ran)

    @property
    def current(self) -> int:
        return max((v for v, _, _ in self.applied), default=0)

    def as_dict(self) -> dict:
        return {"current": self.current,
                "latest": max([self.current, *(v for v, _ in self.pending)]),
                "applied": [{"version": v, "name": n, "applied_at": a} for v, n, a in self.applied],
                "pending": [{"version": v, "name": n} for v, n in self.pending],
                "unknown": self.unknown}


def check_steps(steps: Sequence[Step]) -> None:
    """Versions 1, 2, 3 … in order, each once: a gap or a repeat is a release bug."""
    want = list(range(1, len(steps) + 1))
    got = [s.version for s in steps]
    if got != want:
        raise ValueError(f"migration steps must be numbered {want}, not {got}")


def ensure_table(sql: Sql) -> None:
    with sql.transaction() as cur:
        cur.setup_lock()
        cur.execute(VERSIONS_DDL)


def status(sql: Sql, steps: Sequence[Step]) -> Status:
    ensure_table(sql)
    rows = sql.query("SELECT version, name, applied_at FROM cg_schema_versions ORDER BY version")
    applied = [(int(v), n, a) for v, n, a in rows]
    done = {v for v, _, _ in applied}
    known = {s.version for s in steps}
    return Status(applied, [(s.version, s.name) for s in steps if s.version not in done],
                  sorted(done - known))


def require_current(sql: Sql, steps: Sequence[Step]) -> None:
    """Refuse a store that lacks a step (read only: nothing is created here), naming the
    command that applies them; a step applied by a newer release is no reason."""
    have = set(tables(sql))
    done = set() if "cg_schema_versions" not in have else {
        int(r[0]) for r in sql.query("SELECT version FROM cg_schema_versions")}
    missing = [s.version for s in steps if s.version not in done]
    if missing:
        raise SchemaBehind(
            f"the store lacks schema steps {missing} of this release and"
            " CASEGRID_AUTO_MIGRATE=0 leaves them to an operator: run `casegrid db upgrade`"
            " (`casegrid db status` lists them), then start again")


def lock(cur: Cur) -> None:
    """Hold the store's setup lock until this transaction ends."""
    if cur.dialect == "postgres":
        cur.setup_lock()
    else:  # SQLite: a write statement first takes the RESERVED lock (waits on busy)
        cur.execute("DELETE FROM cg_schema_versions WHERE 0 = 1")


def upgrade(sql: Sql, steps: Sequence[Step], *, to: int | None = None) -> list[int]:
    """Apply the steps this store lacks (up to version `to`); the versions applied now."""
    check_steps(steps)
    st = status(sql, steps)
    if st.unknown:
        log.warning("schema_newer_than_release", unknown=st.unknown, current=st.current)
    wanted = [s for s in steps if (to is None or s.version <= to)
              and s.version in {v for v, _ in st.pending}]
    done: list[int] = []
    for step in wanted:
        if step.before is not None:
            step.before()
        with sql.transaction() as cur:
            lock(cur)
            cur.execute("SELECT version FROM cg_schema_versions WHERE version = ?",
                        (step.version,))
            if cur.fetchone() is not None:
                continue  # another process applied it while we waited
            step.apply(cur)
            cur.execute("INSERT INTO cg_schema_versions (version, name, applied_at)"
                        " VALUES (?, ?, ?)", (step.version, step.name,
                                              datetime.now(UTC).isoformat(timespec="seconds")))
        log.info("schema_step_applied", version=step.version, step=step.name,
                 store=sql.dialect)
        done.append(step.version)
    return done


def columns(cur: Cur, table: str) -> set[str]:
    """The column names `table` has now (empty if it does not exist)."""
    if cur.dialect == "postgres":
        cur.execute("SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = ?", (table,))
        return {r[0] for r in cur.fetchall()}
    cur.execute(f"PRAGMA table_info({table})")
    return {r[1] for r in cur.fetchall()}


def add_columns(cur: Cur, table: str, cols: Sequence[tuple[str, str]]) -> list[str]:
    """ALTER TABLE … ADD COLUMN for each (name, declaration) the table lacks."""
    have = columns(cur, table)
    added = [name for name, _ in cols if name not in have]
    for name, decl in cols:
        if name in added:
            cur.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
    return added


def tables(sql: Sql) -> list[str]:
    """Our tables (cg_*) in this store, by name."""
    if sql.dialect == "postgres":
        q = ("SELECT table_name FROM information_schema.tables WHERE table_schema ="
             " current_schema() AND substr(table_name, 1, 3) = 'cg_' ORDER BY table_name")
    else:
        q = ("SELECT name FROM sqlite_master WHERE type = 'table'"
             " AND substr(name, 1, 3) = 'cg_' ORDER BY name")
    return [r[0] for r in sql.query(q)]
