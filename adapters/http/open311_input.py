"""What an Open311 client sends, read at the edge: a bounded body, parsed strictly.

The body (at most 64 KiB, else 413) is form-encoded, multipart/form-data or JSON. Every
value must be valid UTF-8 text (JSON numbers are taken for `lat`/`long`); a file part, a
nested JSON value, a parameter given twice, invalid JSON or JSON nested too deeply is a
400 naming the field (or `body`). Nothing reaches the case service unless it is the Python
type the command wants; the service then applies the shared field rules (domain/validate).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from domain.errors import CasegridError, ValidationError
from domain.validate import coordinate

MAX_BODY = 64 * 1024
MAX_FIELDS = 200


class TooLarge(CasegridError):
    """413: the request body is larger than the endpoint takes."""

    kind = "too_large"


class Unsupported(CasegridError):
    """415: a body in a format the endpoint does not read."""

    kind = "unsupported"


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    length = request.headers.get("content-length")
    if length is not None:
        if not length.strip().isdigit():
            raise ValidationError("content-length", f"'{length[:20]}' is not a byte count")
        if int(length) > limit:
            raise TooLarge(f"body: {int(length)} bytes; at most {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body: more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _utf8(value: str, field: str) -> str:
    """A string decoded with surrogateescape (or a JSON '\\ud800') has lone surrogates
    where the bytes were not UTF-8."""
    if any("\ud800" <= c <= "\udfff" for c in value):
        raise ValidationError(field, "is not valid UTF-8")
    return value


def _pairs_to_dict(pairs, where: str) -> dict:
    out: dict = {}
    for key, value in pairs:
        key = _utf8(key, f"{where}: a parameter name")
        if key in out:
            raise ValidationError(key, "is given more than once")
        out[key] = value
    return out


def parse_urlencoded(raw: bytes, where: str = "body") -> dict[str, str]:
    """application/x-www-form-urlencoded (or a query string), UTF-8 strictly."""
    text = raw.decode("utf-8", "surrogateescape")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8",
                          errors="surrogateescape", max_num_fields=MAX_FIELDS)
    except ValueError:
        raise ValidationError(where, f"has more than {MAX_FIELDS} parameters") from None
    out = _pairs_to_dict(pairs, where)
    for k, v in out.items():
        _utf8(v, k)
    return out


def parse_multipart(raw: bytes, content_type: str) -> dict[str, str]:
    """multipart/form-data: text parts only (a file part is refused), UTF-8 strictly."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise ValidationError("content-type", "multipart/form-data needs a boundary")
    parts: list[tuple[dict, bytes]] = []
    cur: dict = {}

    def part_begin():
        cur.clear()
        cur.update(headers={}, data=bytearray(), field=b"", value=b"")

    def header_field(data, start, end):
        cur["field"] += data[start:end]

    def header_value(data, start, end):
        cur["value"] += data[start:end]

    def header_end():
        cur["headers"][cur["field"].lower()] = cur["value"]
        cur["field"], cur["value"] = b"", b""

    def part_data(data, start, end):
        cur["data"] += data[start:end]

    def part_end():
        if len(parts) >= MAX_FIELDS:
            raise ValidationError("body", f"has more than {MAX_FIELDS} parts")
        parts.append((cur["headers"], bytes(cur["data"])))

    parser = MultipartParser(boundary, {
        "on_part_begin": part_begin, "on_header_field": header_field,
        "on_header_value": header_value, "on_header_end": header_end,
        "on_part_data": part_data, "on_part_end": part_end})
    try:
        parser.write(raw)
        parser.finalize()
    except ValidationError:
        raise
    except Exception:  # python-multipart's parse errors
        raise ValidationError("body", "is not valid multipart/form-data") from None
    pairs = []
    for headers, data in parts:
        _, disp = parse_options_header(headers.get(b"content-disposition", b""))
        try:
            name = disp.get(b"name", b"").decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("body", "a part's name is not valid UTF-8") from None
        if not name:
            raise ValidationError("body", "a part has no name")
        if b"filename" in disp:
            raise ValidationError(name, "must be text, not a file (send photos as media_url)")
        try:
            pairs.append((name, data.decode("utf-8")))
        except UnicodeDecodeError:
            raise ValidationError(name, "is not valid UTF-8") from None
    out = _pairs_to_dict(pairs, "body")
    for k, v in out.items():
        _utf8(v, k)
    return out


def _no_constant(name: str):
    raise ValidationError("body", f"'{name}' is not a JSON number")


def _object(pairs):
    return _pairs_to_dict(pairs, "body")


def parse_json(raw: bytes) -> dict:
    """A JSON object of scalar values; `attribute` may be an object of them, taken as
    attribute[code]."""
    try:
        body = json.loads(raw, object_pairs_hook=_object, parse_constant=_no_constant)
    except RecursionError:
        raise ValidationError("body", "JSON is nested too deeply") from None
    except UnicodeDecodeError:
        raise ValidationError("body", "is not valid UTF-8") from None
    except json.JSONDecodeError as e:
        raise ValidationError("body", f"is not valid JSON ({e.msg} at {e.pos})") from None
    except ValueError:  # e.g. an integer of more digits than Python converts
        raise ValidationError("body", "is not valid JSON (a number too long)") from None
    if not isinstance(body, dict):
        raise ValidationError("body", "must be a JSON object of parameters")
    out: dict = {}
    for key, value in body.items():
        _utf8(key, "body: a parameter name")
        if key == "attribute" and isinstance(value, dict):
            for code, v in value.items():
                name = f"attribute[{_utf8(code, 'attribute')}]"
                if name in body or name in out:
                    raise ValidationError(name, "is given more than once")
                out[name] = v
            continue
        out[key] = value
    for key, value in out.items():
        if isinstance(value, str):
            _utf8(value, key)
    return out


async def post_params(request: Request) -> dict:
    """The query string and the body's parameters, together (a name in both is refused)."""
    raw = await read_body(request)
    query = parse_urlencoded(request.scope.get("query_string") or b"", "query")
    ctype = request.headers.get("content-type", "")
    kind = ctype.split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        body = parse_json(raw)
    elif kind == "multipart/form-data":
        body = parse_multipart(raw, ctype)
    elif kind in ("application/x-www-form-urlencoded", ""):
        body = parse_urlencoded(raw)
    else:
        raise Unsupported(f"content-type: '{kind[:60]}' is not read here; send "
                          "application/x-www-form-urlencoded, multipart/form-data or JSON")
    for key in body:
        if key in query:
            raise ValidationError(key, "is given more than once")
    return {**query, **body}


def query_params(request: Request) -> dict[str, str]:
    return parse_urlencoded(request.scope.get("query_string") or b"", "query")


def kind_of(value) -> str:
    return {list: "a list", dict: "an object", bool: "a boolean", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def text(params: dict, name: str) -> str | None:
    """A text parameter: None when absent or empty; anything but a string is a 400."""
    v = params.get(name)
    if v is None:
        return None
    if not isinstance(v, str):
        raise ValidationError(name, f"must be text, not {kind_of(v)}")
    return v if v.strip() else None


def number(params: dict, name: str, bound: float) -> float | None:
    """lat / long: text or a JSON number, within ±bound (the shared coordinate rule)."""
    v = params.get(name)
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise ValidationError(name, f"must be a number, not {kind_of(v)}")
    return coordinate(v.strip() if isinstance(v, str) else v, name, bound)
