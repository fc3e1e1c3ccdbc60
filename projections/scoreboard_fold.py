"""The scoreboard's writes (考评计分): batches folded into each case's row (`cg_sb_case`)
and the net change of every count cell (`cg_sb_counts`, per month `cg_sb_months`).

Following the log, every batch writes the rows of the cases it touched and the change of
their cells, so the tables match the tracking position after each batch. A shard of a
rebuild (`begin_shard`, projections/shards.py) has no reader until the rebuild ends, so
it writes a case once, when the case leaves the cases held in memory (the least recently
touched, beyond `hold`) or when the shard ends (`end_shard`), however many batches
touched it: a case's cells are worked out once instead of once per batch.
"""

from __future__ import annotations

import itertools

from domain.case import Case
from domain.case_base import CaseEvent  # every case event, in case.py or a step's module
from domain.city import City
from projections.case_facts import fold, new_row, pack, unpack
from projections.contributions import cells, delta
from projections.ports import Cur, Sql

_NONE: dict = {}  # the cells of a case not yet written


class Scoreboard:
    name = "scoreboard"
    tables = ("cg_sb_case", "cg_sb_counts", "cg_sb_months")
    version = 7  # 2: accurate dispatch counted for grids and areas (was 0.0%);
    # 4: a merged duplicate counts in discovery only (合并); 5: 回访 (the rows' callbacks);
    # 6: 协办 (the rows' assisting units: assist_on_time, assist_missed); 7: cg_sb_months
    # its count cells add up the changes of every case: shards of a rebuild
    adds_up = True  # (projections/shards.py) add to the same rows, in one order

    def __init__(self, city: City, hold: int = 40_000):
        self.city = city
        self.hold = hold  # cases whose rows stay in memory between batches
        self.deferred = False  # a shard of a rebuild: write a case when it leaves memory
        # case -> (its packed row, the cells the tables hold for it (None: those of the
        # packed row, as stored), the position of its last event, written since its last
        # event). A packed row is ~0.4 KB; the cells are shared count dicts.
        self._held: dict[str, tuple[str, dict | None, int, bool]] = {}
        # deferred: the cases the batch before wrote as they left (its transaction may not
        # be committed while this batch is prepared: they are not read back from the table)
        self._leaving: dict[str, tuple[str, dict | None, int, bool]] = {}
        self._at: int | None = None  # the position `_held` is valid at
        self._last_touched = 0  # cases the batch before touched

    def create(self, cur: Cur) -> None:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS cg_sb_case (case_id TEXT PRIMARY KEY, day TEXT NOT NULL,"
            " unit TEXT, position BIGINT NOT NULL, row TEXT NOT NULL)" + cur.updated_often()
        )
        cur.execute("CREATE INDEX IF NOT EXISTS cg_sb_case_day ON cg_sb_case (day)")
        cur.execute(
            "CREATE TABLE IF NOT EXISTS cg_sb_counts (day TEXT NOT NULL, dim TEXT NOT NULL,"
            " key TEXT NOT NULL, name TEXT NOT NULL, n BIGINT NOT NULL,"
            " PRIMARY KEY (dim, day, key, name))" + cur.updated_often()
        )
        cur.execute(
            "CREATE TABLE IF NOT EXISTS cg_sb_months (month TEXT NOT NULL, dim TEXT NOT NULL,"
            " key TEXT NOT NULL, name TEXT NOT NULL, n BIGINT NOT NULL,"
            " PRIMARY KEY (dim, month, key, name))" + cur.updated_often()
        )

    def begin_shard(self, of: int) -> None:
        """This runner folds one shard of a rebuild (about 1/`of` of the cases)."""
        self.forget()
        self.deferred = True

    def end_shard(self) -> tuple[list, list, list, list]:
        """The shard is done: the writes of every case still held and not yet written;
        back to writing every batch."""
        changes: dict = {}
        rows: tuple[list, list] = ([], [])
        for cid, (packed, written, pos, clean) in self._held.items():
            if not clean:
                self._settle(cid, unpack(packed), packed, written, pos, changes, rows)
        self.forget()
        self.deferred = False
        return (*rows, *_cells(changes))

    def forget(self) -> None:
        self._held.clear()
        self._leaving.clear()
        self._at = None
        self._last_touched = 0

    def prepare(self, sql: Sql, items: list, start: int, end: int) -> tuple[list, ...]:
        """Fold the batch into each touched case's row; the rows to write (stored before,
        and new) and the net change of every cell.

        The rows of recently touched cases are held between batches (`_held`, at most
        `hold` cases), valid while this runner applied every batch up to `start` itself;
        others are read from `cg_sb_case`.
        """
        held, leaving = self._held, self._leaving
        if start != self._at:
            if self.deferred and self._at is not None:
                raise RuntimeError(f"a shard's batches follow each other: {start} after"
                                   f" {self._at} would lose the cases not yet written")
            self.forget()
        self._at = None  # until this batch is prepared
        city = self.city
        items = [it for it in items if isinstance(it[0], CaseEvent)]  # patrol days etc.
        missing = sorted({cid for e, _t, _p, cid in items if cid not in held
                          and cid not in leaving and type(e) is not Case.Reported})
        for i in range(0, len(missing), 1000):
            chunk = missing[i:i + 1000]
            for cid, r in sql.query("SELECT case_id, row FROM cg_sb_case WHERE case_id IN"
                                    f" ({','.join('?' * len(chunk))})", chunk):
                held[cid] = (r, None, 0, True)
        touched: dict[str, list] = {}  # case -> [row, the cells the tables hold, position]
        for e, _t, pos, cid in items:
            got = touched.get(cid)
            if got is None:
                if type(e) is Case.Reported:
                    touched[cid] = [new_row(e, city), _NONE, pos]
                    continue
                kept = held.pop(cid, None) or leaving.pop(cid, None)
                if kept is None:  # cannot happen: a case's Reported comes first in the log
                    continue
                row = unpack(kept[0])
                got = touched[cid] = [row, cells(row, city) if kept[1] is None else kept[1],
                                      pos]
            fold(got[0], e)
            got[2] = pos
        changes: dict = {}  # (day, (dimension, key)) -> the cases' changes, tallied
        rows: tuple[list, list] = ([], [])  # rows stored before (updated), new rows
        if self.deferred:
            for cid, (row, written, pos) in touched.items():
                held[cid] = (pack(row), written, pos, False)  # the most recently touched last
            self._leaving = {}
            for cid in list(itertools.islice(held, max(0, len(held) - self.hold))):
                packed, written, pos, clean = held.pop(cid)
                after = written if clean else self._settle(
                    cid, unpack(packed), packed, written, pos, changes, rows)
                self._leaving[cid] = (packed, after, pos, True)
        else:
            for cid, (row, written, pos) in touched.items():
                packed = pack(row)
                after = self._settle(cid, row, packed, written, pos, changes, rows)
                held[cid] = (packed, after, pos, True)  # re-inserted: the most recently last
            # the rows of the batch before may not be committed yet: never drop those (they,
            # then this batch's, are the last in `held`)
            keep = max(self.hold, self._last_touched + len(touched))
            for cid in list(itertools.islice(held, max(0, len(held) - keep))):
                del held[cid]
        self._last_touched = len(touched)
        self._at = end
        return (*rows, *_cells(changes))

    def _settle(self, cid: str, row: dict, packed: str, written: dict, pos: int,
                changes: dict, rows: tuple[list, list]) -> dict:
        """A case's row to write (to rows[1] if never stored) and the change of its cells
        from `written`; its cells."""
        after = cells(row, self.city)
        day = row["day"]
        for key, names in after.items():
            was = written.get(key)
            if names is not was and key[1] is not None:  # the same shared counts: none
                _change(changes, day, key, was, names)
        for key, was in written.items():
            if key not in after and key[1] is not None:
                _change(changes, day, key, was, None)
        rows[written is _NONE].append((cid, day, row["unit"], pos, packed))
        return after

    def write(self, cur: Cur, ops: tuple[list, ...]) -> None:
        rows, new, changes, months = ops
        cur.copy_rows("cg_sb_case", ("case_id", "day", "unit", "position", "row"), new)
        cur.insert_values(
            "INSERT INTO cg_sb_case (case_id, day, unit, position, row)", rows,
            "ON CONFLICT (case_id) DO UPDATE SET unit = excluded.unit,"
            " position = excluded.position, row = excluded.row",
            types=("text", "text", "text", "bigint", "text"),
        )
        cur.insert_values(
            "INSERT INTO cg_sb_counts (day, dim, key, name, n)", changes,
            "ON CONFLICT (dim, day, key, name) DO UPDATE SET n = cg_sb_counts.n + excluded.n",
            types=("text", "text", "text", "text", "bigint"),
        )
        cur.insert_values(
            "INSERT INTO cg_sb_months (month, dim, key, name, n)", months,
            "ON CONFLICT (dim, month, key, name) DO UPDATE SET n = cg_sb_months.n + excluded.n",
            types=("text", "text", "text", "text", "bigint"),
        )


def _change(changes: dict, day: str, key: tuple, was: dict | None, now: dict | None) -> None:
    """Note one case's change from counts `was` to `now` under (day, key). The count dicts
    are shared, so equal changes are tallied by identity and worked out once (`_cells`)."""
    pairs = changes.get((day, key))
    if pairs is None:
        pairs = changes[(day, key)] = {}
    got = pairs.get((id(was), id(now)))
    if got is None:
        pairs[(id(was), id(now))] = [was, now, 1]  # the dicts held: their ids stay theirs
    else:
        got[2] += 1


def _cells(changes: dict) -> tuple[list, list]:
    """The cells' rows and the months' rows of `changes`, each sorted: row locks are taken
    in one order, so concurrent shards never deadlock."""
    out, months = [], {}
    for (day, (dim, key)), pairs in changes.items():
        month = day[:7]
        names: dict[str, int] = {}
        for was, now, times in pairs.values():
            for name, d in delta(was, now):
                names[name] = names.get(name, 0) + d * times
        for name, n in names.items():
            if n:
                out.append((day, dim, key, name, n))
                k = (month, dim, key, name)
                months[k] = months.get(k, 0) + n
    out.sort()
    return out, sorted((*k, n) for k, n in months.items() if n)
