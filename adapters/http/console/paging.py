"""Paging a list held in memory (the trail's misses, a unit's inbox): the page asked for,
checked by name, with the total; and the same list as XLSX when `format=xlsx`."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from adapters.http.case_filters import MAX_PAGE, number
from domain.errors import ValidationError

PAGE_SIZE = 50


@dataclass
class Paged:
    rows: list
    total: int
    page: int
    pages: int
    first: int  # 1-based number of the first row shown (0 when none)
    last: int
    params: dict

    def link(self, page: int) -> str:
        return "?" + urlencode({**self.params, "page": str(page)})

    def export_link(self) -> str:
        return "?" + urlencode({**self.params, "format": "xlsx"})


def page_number(raw) -> int:
    return number({"page": raw}, "page", 1, 1, MAX_PAGE)


def wants_xlsx(raw) -> bool:
    if raw in (None, "", "html"):
        return False
    if raw != "xlsx":
        raise ValidationError("format", "must be html or xlsx")
    return True


def paged(rows: list, query, size: int = PAGE_SIZE) -> Paged:
    """One page of `rows` (the page number from the query string, `page`)."""
    page = page_number(query.get("page"))
    total = len(rows)
    pages = max(1, -(-total // size))
    start = (page - 1) * size
    shown = rows[start:start + size]
    params = {k: v for k, v in query.items() if k not in ("page", "format") and v}
    return Paged(shown, total, page, pages, start + 1 if shown else 0, start + len(shown),
                 params)
