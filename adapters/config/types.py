"""Field types shared by the configuration files' models: each checks one value, says
what is wrong in the project's wording, and shows editors the same rule in the schema."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema


class Spec(BaseModel):
    """A section of a file: numbers stand for strings (YAML reads `440303` as a number)."""

    model_config = ConfigDict(coerce_numbers_to_str=True, frozen=True)


class Closed(Spec):
    """A section that refuses keys it does not know."""

    model_config = ConfigDict(extra="forbid")


def checked(fn, schema: dict, base: Any = Any):
    """A value checked by `fn` (raising ValueError with the message), published as `schema`."""
    return Annotated[base, BeforeValidator(fn), WithJsonSchema(schema)]


def keys(schema: dict):
    """Publish the rule a mapping's keys follow (JSON Schema `propertyNames`)."""
    return Field(json_schema_extra={"propertyNames": schema})


def digits(n: int):
    """A code of exactly `n` digits (a number is read as its digits)."""

    def check(v: str) -> str:
        if not re.fullmatch(rf"\d{{{n}}}", v):
            raise ValueError(f"'{v}' must be exactly {n} digits")
        return v

    return Annotated[str, AfterValidator(check),
                     WithJsonSchema({"type": "string", "pattern": rf"^\d{{{n}}}$"})]


def one_of(options, message: str | None = None):
    """A string from `options`; `message` replaces "'X' is not one of a, b"."""
    options = tuple(options)

    def check(v: str) -> str:
        if v not in options:
            raise ValueError(message or f"'{v}' is not one of {', '.join(options)}")
        return v

    return Annotated[str, AfterValidator(check), WithJsonSchema({"enum": list(options)})]


def _nonblank(v: str) -> str:
    if not v.strip():
        raise ValueError("is required")
    return v


NonBlank = Annotated[str, AfterValidator(_nonblank),
                     WithJsonSchema({"type": "string", "pattern": r"\S"})]


def _zone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone '{v}'") from None
    return v


TimeZone = Annotated[str, AfterValidator(_zone),
                     WithJsonSchema({"type": "string", "description": "IANA zone, e.g. Asia/Shanghai"})]


def _date(v) -> date:
    if isinstance(v, date):
        return v
    try:
        return date.fromisoformat(str(v))
    except ValueError:
        raise ValueError(f"'{v}' is not a date YYYY-MM-DD") from None


Day = checked(_date, {"type": "string", "format": "date"}, date)

DURATION_SCHEMA = {"anyOf": [
    {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(m|min|h|d)\s*$"},
    {"type": "number", "exclusiveMinimum": 0}]}


def _duration(v):
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise ValueError("must be a string or number")
    if not isinstance(v, str) and not -1e12 < v < 1e12:  # also NaN and huge ints
        raise ValueError(f"{v!r:.40} is not a number of minutes up to 10^12")
    return v


Duration = checked(_duration, DURATION_SCHEMA, str | int | float)  # parsed by the city's calendar


def _strings(v) -> list[str]:
    if isinstance(v, str):
        return [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError("must be a list of strings")
    return v


Strings = checked(_strings, {"anyOf": [{"type": "string"},
                                       {"type": "array", "items": {"type": "string"}}]},
                  list[str])


def whole(lo: int, hi: int, message: str):
    """A whole number (not a boolean, not 2.0) within lo..hi."""

    def check(v):
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(message)
        return v

    return checked(check, {"type": "integer", "minimum": lo, "maximum": hi}, int)


def number(message: str, minimum: float | None = None, exclusive: bool = False):
    """A number (not a boolean) at least (or above) `minimum`."""

    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not -1e15 < v < 1e15:
            raise ValueError(message)  # also NaN, infinities and huge whole numbers
        if minimum is not None and (v <= minimum if exclusive else v < minimum):
            raise ValueError(message)
        return v

    schema: dict = {"type": "number"}
    if minimum is not None:
        schema["exclusiveMinimum" if exclusive else "minimum"] = minimum
    return checked(check, schema, int | float)
