"""The readable case number (案件编号): `YYYY-MM-NNNNNN`, the year and month a case was
reported in the city's zone and its place in that year's sequence (workflows/numbering.py
hands them out)."""

from __future__ import annotations

import re
from datetime import datetime

NUMBER_RE = re.compile(r"(\d{4})-(\d{2})-(\d{6,})")


def number_text(local: datetime, seq: int) -> str:
    return f"{local.year:04d}-{local.month:02d}-{seq:06d}"


def is_number(text) -> bool:
    return isinstance(text, str) and NUMBER_RE.fullmatch(text.strip()) is not None
