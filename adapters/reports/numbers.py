"""The number a person reads for a case (案件编号, e.g. 2026-11-000123) by its id: the case
row's readable `number` where the case table has one, else the id's first 8 hex."""

from __future__ import annotations

from collections.abc import Iterable


def case_numbers(sql, case_ids: Iterable[str]) -> dict[str, str]:
    """case id -> the number to show, for every id asked (one query per 500 ids)."""
    ids = [str(i) for i in case_ids]
    out = {i: i[:8] for i in ids}
    for k in range(0, len(ids), 500):
        chunk = ids[k:k + 500]
        try:
            rows = sql.query(f"SELECT case_id, number FROM cg_cases WHERE case_id IN "
                             f"({','.join('?' * len(chunk))})", chunk)
        except Exception:  # a store without readable numbers yet: the short ids stay
            return out
        for cid, number in rows:
            if number:
                out[str(cid)] = str(number)
    return out
