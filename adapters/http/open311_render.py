"""GeoReport v2 answers as JSON or XML, errors included, in the specification's shapes.

    <services><service>…</service></services>
    <service_definition><service_code/><attributes><attribute>…<values><value>…
    <service_requests><request>…</request></service_requests>
    <discovery>…<endpoints><endpoint>…<formats><format/>…
    <errors><error><code/><description/></error></errors>
"""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

from fastapi.responses import JSONResponse, Response

from domain.errors import ValidationError

FORMATS = ("json", "xml")
XML = "text/xml; charset=utf-8"
JSON = "application/json; charset=utf-8"
# a list under one of these tags holds children with the singular tag
SINGULAR = {"attributes": "attribute", "values": "value", "endpoints": "endpoint",
            "formats": "format", "services": "service", "service_requests": "request",
            "errors": "error"}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def split_format(value: str, field: str = "format") -> tuple[str, str]:
    """'E0102.xml' -> ('E0102', 'xml'); no suffix is JSON; another suffix is a 400."""
    stem, dot, fmt = value.rpartition(".")
    if not dot:
        return value, "json"
    if fmt not in FORMATS:
        raise ValidationError(field, f"'{fmt[:20]}' is not supported; use .json or .xml")
    return stem, fmt


def path_format(path: str) -> str:
    """The format a path asks for, for answering errors: xml only for a .xml suffix."""
    return "xml" if path.rstrip("/").endswith(".xml") else "json"


def _fill(el: ET.Element, value) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _fill(ET.SubElement(el, k), v)
    elif isinstance(value, (list, tuple)):
        tag = SINGULAR.get(el.tag, "item")
        for v in value:
            _fill(ET.SubElement(el, tag), v)
    elif value is None:
        return
    elif isinstance(value, bool):
        el.text = "true" if value else "false"
    else:
        el.text = _NOT_XML.sub("\ufffd", str(value))


def to_xml(root: str, value) -> bytes:
    el = ET.Element(root)
    _fill(el, value)
    return ET.tostring(el, encoding="utf-8", xml_declaration=True)


def answer(fmt: str, root: str, value, status: int = 200) -> Response:
    """`value` as JSON, or as XML under `root` (a list's items get the singular tag)."""
    if fmt == "xml":
        return Response(to_xml(root, value), status_code=status, media_type=XML)
    return JSONResponse(value, status_code=status, media_type=JSON)


def error(status: int, message: str, fmt: str = "json") -> Response:
    """GeoReport v2 error shape; bad input is 400 and a bad api_key 403, as the spec has it."""
    status = {422: 400, 401: 403}.get(status, status)
    return answer(fmt, "errors", [{"code": status, "description": message}], status)
