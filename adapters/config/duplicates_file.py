"""The city file's `duplicates` section (重复案件候选): radius, time window, how many shown."""

from __future__ import annotations

from pydantic import Field

from adapters.config.types import Closed, checked, whole
from domain.duplicates import DuplicateRule


def _between(lo: float, hi: float, what: str):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
            raise ValueError(f"must be a number of {what} from {lo:g} to {hi:g}")
        return float(v)

    return checked(check, {"type": "number", "minimum": lo, "maximum": hi}, float)


class DuplicatesSection(Closed):
    """Open cases of the same category within radius_m metres (or the same grid cell
    without coordinates) reported within window_hours are a report's possible duplicates."""

    radius_m: _between(1, 10_000, "metres") | None = Field(None, description="default 100")
    window_hours: _between(0.5, 24 * 90, "hours") | None = Field(None, description="default 72")
    limit: whole(1, 50, "must be a whole number from 1 to 50") | None = Field(
        None, description="candidates shown at most, nearest first; default 10")


def duplicate_rule(sec: DuplicatesSection | None) -> DuplicateRule:
    if sec is None:
        return DuplicateRule()
    given = {k: getattr(sec, k) for k in ("radius_m", "window_hours", "limit")
             if getattr(sec, k) is not None}
    return DuplicateRule(**given)
