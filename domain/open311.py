"""What the city publishes through Open311 GeoReport v2 (city file, section `open311`).

A city decides which channels' cases the anonymous `GET requests` lists, which request
fields it shows, how coarse the published coordinates are, whether step reasons are ever
shown, which channel accounts' keys see the staff view, and which address texts
(`address_string`) it can place on its grid. Personal data a citizen typed into a
description (mobile and landline numbers, ID numbers, e-mail addresses) is redacted
before a description is published. Built from the city file by adapters/config/city_build.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import ValidationError

# The GeoReport v2 request fields casegrid answers, in the specification's order.
FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code",
          "description", "agency_responsible", "service_notice", "requested_datetime",
          "updated_datetime", "expected_datetime", "address", "address_id", "zipcode",
          "lat", "long", "media_url")
ALWAYS = ("service_request_id", "status")  # every published request has these
DEFAULT_PUBLIC_FIELDS = tuple(f for f in FIELDS if f not in ("media_url", "address_id"))
OPEN311 = "open311"  # pseudo-channel: the citizen cases reported through this endpoint
REASONS = ("none", "staff", "public")
REDACTED = "[已隐去]"


@dataclass(frozen=True)
class Place:
    """A known address text (a community, a landmark) and the grid cell it is placed in."""

    name: str
    cell: str
    key: str  # the name normalized for matching


@dataclass(frozen=True)
class Open311:
    jurisdiction_id: str | None = None  # None: the parameter is not checked
    public_channels: tuple[str, ...] = (OPEN311,)
    public_fields: tuple[str, ...] = DEFAULT_PUBLIC_FIELDS
    coordinate_decimals: int = 3
    staff_accounts: tuple[str, ...] | None = None  # None: every channel account
    step_reasons: str = "none"  # none | staff | public
    addresses: tuple[Place, ...] = ()
    contact: str = ""
    key_service: str = ""

    def fields(self, staff: bool) -> tuple[str, ...]:
        if staff:
            return FIELDS
        return tuple(f for f in FIELDS if f in ALWAYS or f in self.public_fields)

    def reasons(self, staff: bool) -> bool:
        return self.step_reasons == "public" or (staff and self.step_reasons == "staff")

    def is_staff(self, user_id: str) -> bool:
        return self.staff_accounts is None or user_id in self.staff_accounts

    def place(self, address: str, field: str = "address_string") -> str:
        """The grid cell of an address text: the longest configured name the text
        contains (after normalization) wins; two different cells at that length are
        ambiguous. No match is a ValidationError naming `field`."""
        if not self.addresses:
            raise ValidationError(field, "this city places no address by name; give lat and "
                                         "long, or address_id (a 14-digit grid cell code)")
        key = normalize_address(address)
        hits = [p for p in self.addresses if p.key and p.key in key]
        if not hits:
            shown = address if len(address) <= 60 else address[:60] + "…"
            raise ValidationError(field, f"'{shown}' is not a known address; give lat and long, "
                                         "address_id, or an address naming one of: "
                                         + ", ".join(p.name for p in self.addresses[:20]))
        longest = max(len(p.key) for p in hits)
        cells = {p.cell for p in hits if len(p.key) == longest}
        if len(cells) > 1:
            names = sorted(p.name for p in hits if len(p.key) == longest)
            raise ValidationError(field, f"is ambiguous: it names {', '.join(names)}; "
                                         "give lat and long or address_id")
        return cells.pop()


DEFAULT_OPEN311 = Open311()

# full-width digits, letters and the signs used in numbers and addresses -> ASCII
_WIDE = {0xFF10 + i: 0x30 + i for i in range(10)}
_WIDE |= {0xFF21 + i: 0x41 + i for i in range(26)} | {0xFF41 + i: 0x61 + i for i in range(26)}
_WIDE |= {0xFF20: ord("@"), 0xFF0D: ord("-"), 0xFF0B: ord("+"), 0xFF0E: ord("."),
          0xFF08: ord("("), 0xFF09: ord(")"), 0x3000: ord(" "), 0x2014: ord("-"),
          0x2012: ord("-"), 0x2013: ord("-"), 0xFE63: ord("-")}


def normalize_address(text: str) -> str:
    return re.sub(r"\s+", "", text.translate(_WIDE)).casefold()


_SEP = r"[-\s.]?"
_PATTERNS = [
    # e-mail addresses (ASCII local part and domain, so adjacent Chinese text stays)
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),
    # 18-character resident ID numbers (and the old 15-digit ones)
    re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])"),
    # mainland mobile numbers, with or without +86 / 0086 and separators
    re.compile(rf"(?<!\d)(?:(?:\+|00)?86{_SEP})?1[3-9]\d(?:{_SEP}\d{{4}}){{2}}(?!\d)"),
    # landlines: (0755) 1234 5678, 0755-12345678, +86 755 12345678, with an extension
    re.compile(rf"(?<!\d)(?:(?:\+|00)86{_SEP}\(?\d{{2,3}}\)?|\(0\d{{2,3}}\)|0\d{{2,3}})"
               rf"{_SEP}\d{{3,4}}{_SEP}\d{{4}}(?:\s?(?:转|ext\.?|x|-)\s?\d{{1,6}})?(?!\d)"),
    # a bare local number right after a word that says it is one
    re.compile(r"(?:电话|手机|座机|联系|微信|tel|phone)([:：\s]*)\d[\d\s-]{5,}\d", re.IGNORECASE),
]


def redact(text: str | None) -> str | None:
    """The text with personal data replaced by [已隐去]: e-mail addresses, ID numbers,
    mobile and landline numbers. Matched on a copy with full-width digits and signs made
    ASCII (one character for one, so the spans fit the original, which is kept as typed)."""
    if not text:
        return text
    wide = text.translate(_WIDE)
    spans = []
    for p in _PATTERNS:
        for m in p.finditer(wide):
            spans.append((m.end(1) if m.groups() else m.start(), m.end()))
    if not spans:
        return text
    out, at = [], 0
    for start, end in sorted(spans):
        if end <= at:
            continue
        start = max(start, at)
        out.append(text[at:start])
        if not out[-1].endswith(REDACTED) or start > at:
            out.append(REDACTED)
        at = end
    out.append(text[at:])
    return "".join(out)
