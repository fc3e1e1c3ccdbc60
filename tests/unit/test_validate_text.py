"""validate.text's one-regex check refuses exactly what Unicode's categories say: every
control character (Cc; tabs and newlines allowed in multiline text) and every surrogate
(Cs), at its position, and nothing else — checked over every code point."""

from __future__ import annotations

import unicodedata

import pytest

from domain import validate
from domain.errors import ValidationError


@pytest.mark.parametrize("multiline", [True, False])
def test_every_code_point_is_judged_by_its_category(multiline):
    for cp in range(0x110000):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        refused = cat == "Cs" or (cat == "Cc" and not (multiline and ch in "\n\t\r"))
        try:
            validate.text(f"ab{ch}c", "f", limit=10, multiline=multiline)
        except ValidationError as e:
            assert refused, f"U+{cp:04X} refused"
            rule = "unpaired surrogate" if cat == "Cs" else "control character"
            assert e.field == "f" and f"{rule} U+{cp:04X} at 2" in str(e)
        else:
            assert not refused, f"U+{cp:04X} accepted"
