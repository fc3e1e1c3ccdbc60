"""The one validated edge for command fields (受理校验), shared by every channel.

HTTP, CLI, console, Open311, Kafka and import all build commands and hand them to the
case service, which checks every field here before anything is recorded. A bad value
raises ValidationError naming the field and the rule; nothing is stored.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.errors import ValidationError
from domain.times import FLOOR


@dataclass(frozen=True)
class Intake:
    """Bounds a city sets on what it accepts (city file, section `intake`)."""

    history_from: datetime = datetime(2000, 1, 1, tzinfo=UTC)  # earliest business time
    future_skew: timedelta = timedelta(minutes=5)  # live channels' clock ahead of ours
    max_description: int = 2000  # characters
    max_reason: int = 1000
    max_evidence: int = 20  # references per step
    max_url: int = 2048  # characters per reference
    max_extension_minutes: float = 30 * 450.0  # working minutes (30 working days of 7.5 h)


DEFAULT_INTAKE = Intake()
EARLIEST_HISTORY = FLOOR  # no city or mapping may accept business time before this
URL_RE = re.compile(r"^(https?|s3|file)://[^\s\x00-\x1f\x7f]+$")
PHOTO_RE = re.compile(r"^sha256:[0-9a-f]{64}$")  # a photo in the evidence store (its hash)
ID_MAX = 128
# Unicode's Cc (control: U+0000–U+001F, U+007F–U+009F) and Cs (surrogates), one regex
# search instead of a category per character; tabs and newlines only where multiline
_BAD_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def text(value, field: str, *, limit: int, required: bool = False,
         multiline: bool = True) -> str | None:
    """Trimmed text: a string, within `limit` characters, no control characters (no
    NUL; newlines and tabs only where `multiline`), no unpaired surrogates."""
    if value is None:
        if required:
            raise ValidationError(field, "is required")
        return None
    if not isinstance(value, str):
        raise ValidationError(field, f"must be text, not {_kind(value)}")
    value = value.strip()
    if not value:
        if required:
            raise ValidationError(field, "must not be empty")
        return None
    if len(value) > limit:
        raise ValidationError(field, f"is {len(value)} characters; at most {limit}")
    bad = (_BAD_MULTILINE if multiline else _BAD_LINE).search(value)
    if bad is not None:
        i, ch = bad.start(), bad.group()
        if unicodedata.category(ch) == "Cs":
            raise ValidationError(field, f"has an unpaired surrogate U+{ord(ch):04X} at {i} "
                                         "(not valid UTF-8)")
        raise ValidationError(field, f"has a control character U+{ord(ch):04X} at {i}")
    return value


def identifier(value, field: str, *, required: bool = False) -> str | None:
    """A code or id: one line of at most 128 characters."""
    return text(value, field, limit=ID_MAX, required=required, multiline=False)


KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


def key(value, field: str = "idempotency_key") -> str | None:
    """A client's idempotency key (幂等键): 1–64 of A–Z a–z 0–9 _ -, or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not KEY.fullmatch(value):
        shown = _kind(value) if not isinstance(value, str) else f"{len(value)} characters"
        raise ValidationError(field, f"must be 1-64 of A-Z a-z 0-9 _ - ({shown} given)")
    return value


def choice(value, field: str, options) -> str:
    if not isinstance(value, str) or value not in options:
        shown = value if isinstance(value, str) and len(value) <= 40 else _kind(value)
        raise ValidationError(field, f"'{shown}' is not one of {', '.join(options)}")
    return value


def flag(value, field: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ValidationError(field, f"must be true or false, not {_kind(value)}")


def evidence(refs, field: str = "evidence", intake: Intake = DEFAULT_INTAKE) -> list[str]:
    """Evidence references (photos, documents), bounded in count and length: URLs, or
    `sha256:<64 lowercase hex>`, a photo in the evidence store named by its hash."""
    if refs is None:
        return []
    if isinstance(refs, str) or not isinstance(refs, (list, tuple)):
        raise ValidationError(field, f"must be a list of URLs, not {_kind(refs)}")
    if len(refs) > intake.max_evidence:
        raise ValidationError(field, f"has {len(refs)} references; at most {intake.max_evidence}")
    out = []
    for i, ref in enumerate(refs):
        f = f"{field}[{i}]"
        if not isinstance(ref, str):
            raise ValidationError(f, f"must be a URL, not {_kind(ref)}")
        if len(ref) > intake.max_url:
            raise ValidationError(f, f"is {len(ref)} characters; at most {intake.max_url}")
        if ref.startswith("sha256:"):
            if not PHOTO_RE.match(ref):
                raise ValidationError(f, f"'{ref[:80]}' is not sha256: and 64 lowercase hex "
                                         "characters")
        elif not URL_RE.match(ref):
            raise ValidationError(f, f"'{ref[:80]}' is neither a URL (http, https, s3, file) "
                                     "nor a stored photo (sha256:<hex>)")
        out.append(ref)
    return out


def photos(refs) -> list[str]:
    """The stored photos among evidence references."""
    return [r for r in refs or () if isinstance(r, str) and PHOTO_RE.match(r)]


def location(lat, lon) -> tuple[float | None, float | None]:
    """Both WGS-84 coordinates or neither; finite numbers in range."""
    if lat is None and lon is None:
        return None, None
    if lat is None or lon is None:
        raise ValidationError("lat" if lat is None else "lon", "give both lat and lon, or neither")
    return coordinate(lat, "lat", 90), coordinate(lon, "lon", 180)


def coordinate(value, field: str, bound: float) -> float:
    if isinstance(value, bool):
        raise ValidationError(field, "must be a number, not a boolean")
    if isinstance(value, str):
        if len(value) > 40:
            raise ValidationError(field, "is not a number")
        try:
            value = float(value)
        except ValueError:
            raise ValidationError(field, f"'{value}' is not a number") from None
    if not isinstance(value, (int, float)):
        raise ValidationError(field, f"must be a number, not {_kind(value)}")
    value = float(value)
    if not math.isfinite(value) or not -bound <= value <= bound:
        raise ValidationError(field, f"{value} is outside -{bound:g}..{bound:g}")
    return value


def duration(minutes: float, field: str, *, most: float) -> float:
    """A parsed working-time duration within the city's maximum."""
    if not math.isfinite(minutes) or minutes > most:
        raise ValidationError(field, f"is more than the most allowed, {most:g} working minutes")
    return minutes


def version(value, field: str = "expected_version") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**31:
        raise ValidationError(field, "must be a positive whole number")
    return value


def _kind(value) -> str:
    return {list: "a list", tuple: "a list", dict: "an object", bool: "a boolean",
            int: "a number", float: "a number", bytes: "bytes"}.get(type(value),
                                                                  type(value).__name__)
