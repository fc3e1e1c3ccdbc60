"""Open311 GeoReport v2 (JSON and XML), so existing citizen apps can report into casegrid.

    GET  /open311/v2/discovery.json|.xml               endpoints, formats, contact
    GET  /open311/v2/services.json|.xml                service codes = our categories
    GET  /open311/v2/services/{service_code}.json|.xml definition (attribute: urgency)
    POST /open311/v2/requests.json|.xml                api_key + service_code + location → case
    GET  /open311/v2/requests.json|.xml                filters: service_request_id, service_code,
                                                       start_date, end_date, status (open, closed)
    GET  /open311/v2/requests/{id}.json|.xml
    GET  /open311/v2/tokens/{token}.json|.xml          token → service_request_id

No suffix means JSON. Every answer, errors included, is in the format the path asks for;
errors are GeoReport's `[{"code": 400, "description": "field: rule"}]` /
`<errors><error><code/><description/></error></errors>`.

Writing: `api_key` must be a channel account's API token from the credentials file (a
console session token is not an api_key). Reports go in through the `citizen` channel and
so wait for verification (核实); first_name, last_name and phone are kept as the reporter's
protected contact (for 回访, never in an answer: domain/case_callback.py); email,
device_id and account_id are not stored. The
location is `address_id` (a 14-digit grid cell), else `lat`/`long` placed on the grid
(adapters/http/geo.py), else `address_string` placed by the city's `open311.addresses`.
The body is bounded (64 KiB, 413) and parsed strictly (adapters/http/open311_input.py).
The POST answers a `token` as well; the case exists at once, so `tokens/{token}` names it.

Reading: what is published is the city's `open311` section (domain/open311.py, applied by
adapters/http/open311_publish.py): the channels listed, the fields listed, descriptions
with personal data redacted, coordinates rounded, no step reasons. A staff channel
account's `api_key` sees every field with the full description and exact coordinates;
reasons only where `step_reasons` says so.
`jurisdiction_id`, where given, must be the city's (else 404).
"""

from __future__ import annotations

import functools
import re
import secrets
from datetime import timedelta
from uuid import uuid5

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.routing import Match

from adapters.bootstrap import Casegrid
from adapters.http import geo
from adapters.http.access import Forbidden
from adapters.http.auth import AuthError, hash_token
from adapters.http.open311_input import kind_of, number, post_params, query_params, text
from adapters.http.open311_publish import CHANNEL, CLOSED, channel_clause, published, request_view
from adapters.http.open311_render import answer, path_format, split_format
from adapters.http.open311_render import error as open311_error
from domain.case_callback import contact
from domain.city import User
from domain.errors import CasegridError, NotFoundError, ValidationError
from domain.glossary import STATE, zh
from domain.open311 import OPEN311
from domain.times import optional_time
from projections.times import ts
from workflows.commands import ReportCase
from workflows.service import EXTERNAL_NS

# GeoReport answers in JSON or XML by the path's suffix; errors too (400, 403, 404, 413, …)
_BOTH = {"content": {"application/json": {}, "text/xml": {}}}
FORMATS: dict = {200: _BOTH, 201: _BOTH, 400: _BOTH, 403: _BOTH, 404: _BOTH, 413: _BOTH,
                 415: _BOTH, 422: _BOTH}
router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"])
MAX_REQUESTS = 1000
MAX_IDS = 100  # service_request_id values in one GET
DEFAULT_DAYS = 90
URGENCY = [{"key": "normal", "name": "一般 normal"}, {"key": "urgent", "name": "紧急 urgent"}]
ATTRIBUTES = ("urgency",)
# POST parameters of the specification: text when given (a JSON list or object is a 400)
TEXT_PARAMS = ("api_key", "jurisdiction_id", "service_code", "address_string", "address_id",
               "email", "device_id", "account_id", "first_name", "last_name", "phone",
               "description", "media_url")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CHANGESET = "2026-06-01T00:00:00Z"  # when this endpoint list last changed
SPEC = "http://wiki.open311.org/GeoReport_v2"
STATUS = {"invalid": 400, "config": 400, "refused": 403, "forbidden": 403, "not_found": 404,
          "conflict": 409, "unavailable": 503, "unauthorized": 403, "too_large": 413,
          "unsupported": 415}


def _cg(request: Request) -> Casegrid:
    return request.app.state.cg


def _georeport(fn):
    """Answer the endpoint's errors in GeoReport's shape, in the path's format."""

    @functools.wraps(fn)
    async def wrapper(request: Request, *args, **kwargs):
        try:
            return await fn(request, *args, **kwargs)
        except AuthError as e:
            return open311_error(403, str(e), path_format(request.url.path))
        except Forbidden as e:
            return open311_error(403, e.to_dict().get("message", str(e)),
                                 path_format(request.url.path))
        except CasegridError as e:
            return open311_error(STATUS.get(e.kind, 400), str(e), path_format(request.url.path))

    return wrapper


def _jurisdiction(cg: Casegrid, params: dict) -> None:
    want = cg.city.open311.jurisdiction_id
    given = text(params, "jurisdiction_id")
    if given is not None and want is not None and given.strip() != want:
        raise NotFoundError(f"jurisdiction_id: unknown jurisdiction '{given[:60]}'; "
                            f"this endpoint serves '{want}'")


def channel_account(request: Request, key: str | None) -> User:
    """The channel account whose API token is `key`. Only the credentials file's API
    tokens count, and only for users with the role `channel`: a console session token
    (or a staff member's token) is not an Open311 api_key."""
    auth = request.app.state.auth
    if not key:
        raise AuthError("api_key: is required (a channel account's key)")
    uid = auth.credentials.tokens.get(hash_token(key))
    user = auth.city.users.get(uid) if uid is not None else None
    if user is None or user.role != "channel":
        raise AuthError("api_key: is not a channel account's key (authorization refused)")
    request.scope.get("cg_log", {}).update(user=user.id, role=user.role)
    return user


def _staff(request: Request, cg: Casegrid, params: dict) -> bool:
    """A GET with an api_key: a wrong key is a 403; a staff channel account sees more."""
    key = text(params, "api_key")
    if key is None:
        return False
    return cg.city.open311.is_staff(channel_account(request, key).id)


# ---------------------------------------------------------------- discovery and services


@router.get("/discovery", responses=FORMATS)
@router.get("/discovery.json", responses=FORMATS)
@router.get("/discovery.xml", responses=FORMATS)
@_georeport
async def discovery(request: Request):
    """Service discovery: this endpoint, its formats, the contact and where keys come from."""
    pub = _cg(request).city.open311
    url = str(request.base_url).rstrip("/") + router.prefix
    return answer(path_format(request.url.path), "discovery", {
        "changeset": CHANGESET, "contact": pub.contact or _cg(request).city.name,
        "key_service": pub.key_service or None,
        "endpoints": [{"specification": SPEC, "url": url, "changeset": CHANGESET,
                       "type": "production", "formats": ["text/xml", "application/json"]}]})


def _service(cg: Casegrid, code: str) -> dict:
    c = cg.city.categories[code]
    return {"service_code": c.code, "service_name": c.name,
            "description": f"{'部件' if c.kind == 'component' else '事件'} / {c.big_name} / {c.name}",
            "metadata": True, "type": "realtime", "keywords": f"{c.big_name},{c.kind}",
            "group": c.big_name}


@router.get("/services", responses=FORMATS)
@router.get("/services.json", responses=FORMATS)
@router.get("/services.xml", responses=FORMATS)
@_georeport
async def services(request: Request):
    """Service list: one service per category code (部件 C…, 事件 E…)."""
    cg = _cg(request)
    _jurisdiction(cg, query_params(request))
    return answer(path_format(request.url.path), "services",
                  [_service(cg, code) for code in sorted(cg.city.categories)])


@router.get("/services/{service_code}", responses=FORMATS)
@_georeport
async def service_definition(request: Request, service_code: str):
    """Service definition (services/{service_code}.json or .xml)."""
    service_code, fmt = split_format(service_code)
    cg = _cg(request)
    _jurisdiction(cg, query_params(request))
    if service_code not in cg.city.categories:
        raise NotFoundError(f"service_code: unknown service '{service_code[:40]}'")
    return answer(fmt, "service_definition", {"service_code": service_code, "attributes": [{
        "variable": True, "code": "urgency", "datatype": "singlevaluelist", "required": False,
        "datatype_description": "normal or urgent", "order": 1,
        "description": "紧急程度 urgency", "values": URGENCY}]})


# ---------------------------------------------------------------- writing


@router.post("/requests", responses=FORMATS)
@router.post("/requests.json", responses=FORMATS)
@router.post("/requests.xml", responses=FORMATS)
@_georeport
async def create_request(request: Request):
    """Create a service request: needs api_key, service_code and a location."""
    params = await post_params(request)
    cg = _cg(request)
    _jurisdiction(cg, params)
    user = channel_account(request, text(params, "api_key"))
    case, token = await run_in_threadpool(_report, cg, user, params)
    notice = f"已受理，{zh(STATE, case.state)}（received; {case.state.replace('_', ' ')}）"
    return answer(path_format(request.url.path), "service_requests", [{
        "service_request_id": str(case.id), "token": token, "service_notice": notice,
        "account_id": None}])


def _report(cg: Casegrid, user: User, params: dict):
    for name in TEXT_PARAMS:
        text(params, name)  # each is text or absent, whatever is done with it
    if "attribute" in params:
        raise ValidationError("attribute", f"must be an object of attribute codes, not "
                                           f"{kind_of(params['attribute'])}")
    code = text(params, "service_code")
    if code is None:
        raise ValidationError("service_code", "is required")
    code = code.strip()
    if code not in cg.city.categories:
        raise ValidationError("service_code", f"unknown service '{code[:40]}'")
    for key in params:
        if key.startswith("attribute["):
            name = key[len("attribute["):-1] if key.endswith("]") else None
            if name not in ATTRIBUTES:
                raise ValidationError(key[:60], f"unknown attribute; service {code} has: "
                                                f"{', '.join(ATTRIBUTES)}")
            text(params, key)
    lat, lon = number(params, "lat", 90), number(params, "long", 180)
    if (lat is None) != (lon is None):
        raise ValidationError("long" if lon is None else "lat", "give both lat and long, or neither")
    grid = text(params, "address_id")
    address = text(params, "address_string")
    if grid is not None:
        grid = grid.strip()
        cg.city.cell(grid, "address_id")
    elif lat is not None:
        grid = geo.cell_at(cg.city, lat, lon)
        if grid is None:
            raise ValidationError("lat", f"{lat},{lon} lies outside the city's grid")
    elif address is not None:
        grid = cg.city.open311.place(address, "address_string")
    else:
        raise ValidationError("lat", "a location is required: lat and long, address_id "
                                     "(a 14-digit grid cell code), or an address_string "
                                     "naming a known address")
    urgency = text(params, "attribute[urgency]") or "normal"
    media = text(params, "media_url")
    description = (text(params, "description") or "").strip()
    if address is not None:
        description = f"{description}（地址：{address.strip()}）".strip()
    token = secrets.token_urlsafe(18)
    # the reporter's contact (protected, for 回访; never in an answer): first_name +
    # last_name and phone; an e-mail is not kept (casegrid calls back by phone)
    name = " ".join(n.strip() for n in (text(params, "last_name"), text(params, "first_name"))
                    if n and n.strip()) or None
    try:
        contact(name, text(params, "phone"), CHANNEL)
    except ValidationError as e:  # named as the client sent it
        raise ValidationError("phone" if e.field == "reporter_phone" else "first_name",
                              e.rule) from None
    case = cg.service.report(ReportCase(
        channel=CHANNEL, category=code, grid=grid, actor=user.id, description=description,
        urgency=urgency.strip(), lat=lat, lon=lon, evidence=[media.strip()] if media else [],
        external_id=f"{OPEN311}:{token}", reporter_name=name,
        reporter_phone=text(params, "phone")))
    return case, token


# ---------------------------------------------------------------- reading


@router.get("/requests", responses=FORMATS)
@router.get("/requests.json", responses=FORMATS)
@router.get("/requests.xml", responses=FORMATS)
@_georeport
async def get_requests(request: Request):
    """Requests, newest first; by default the last 90 days, at most 1000."""
    cg = _cg(request)
    params = query_params(request)
    _jurisdiction(cg, params)
    staff = _staff(request, cg, params)
    out = await run_in_threadpool(_requests, request, cg, params, staff)
    return answer(path_format(request.url.path), "service_requests", out)


def _requests(request: Request, cg: Casegrid, params: dict, staff: bool) -> list[dict]:
    ids = text(params, "service_request_id")
    start_text, end_text = text(params, "start_date"), text(params, "end_date")
    tz = cg.city.tz
    end = optional_time(end_text, "end_date", tz)
    start = optional_time(start_text, "start_date", tz)
    if start is not None and end is not None and start > end:
        raise ValidationError("start_date", f"{start_text.strip()} is after end_date "
                                            f"{end_text.strip()}")
    statuses = [s.strip() for s in (text(params, "status") or "").split(",") if s.strip()]
    for s in statuses:
        if s not in ("open", "closed"):
            raise ValidationError("status", f"'{s[:40]}' is not open or closed")
    codes = [c.strip() for c in (text(params, "service_code") or "").split(",") if c.strip()]
    request.app.state.follower.ensure()
    if ids:
        wanted = [r.strip() for r in ids.split(",") if r.strip()]
        if len(wanted) > MAX_IDS:
            raise ValidationError("service_request_id", f"has {len(wanted)} ids; at most {MAX_IDS}")
        out = []
        for rid in wanted:
            try:
                case = cg.service.get(rid)
            except (NotFoundError, ValidationError):
                continue
            if published(cg, case):
                out.append(request_view(cg, case, staff))
        return out
    end = end or cg.service.clock()
    start = start or end - timedelta(days=DEFAULT_DAYS)
    channels, args = channel_clause(cg)
    where = ["reported_at >= ?", "reported_at <= ?", channels]
    args = [ts(start), ts(end), *args]
    if codes:
        where.append(f"category IN ({', '.join('?' for _ in codes)})")
        args += codes
    if len(set(statuses)) == 1:
        op = "IN" if statuses[0] == "closed" else "NOT IN"
        where.append(f"state {op} ({', '.join('?' for _ in CLOSED)})")
        args += list(CLOSED)
    rows = cg.sql.query(f"SELECT case_id FROM cg_cases WHERE {' AND '.join(where)}"
                        f" ORDER BY reported_at DESC LIMIT {MAX_REQUESTS}", args)
    return [request_view(cg, cg.service.get(r[0]), staff) for r in rows]


@router.get("/requests/{service_request_id}", responses=FORMATS)
@_georeport
async def get_request(request: Request, service_request_id: str):
    """One request (requests/{service_request_id}.json or .xml)."""
    rid, fmt = split_format(service_request_id)
    cg = _cg(request)
    params = query_params(request)
    _jurisdiction(cg, params)
    staff = _staff(request, cg, params)

    def one():
        try:
            case = cg.service.get(rid)
        except ValidationError:  # not even a case id: for GeoReport simply an unknown request
            case = None
        if case is None or not published(cg, case):
            raise NotFoundError(f"service_request_id: no request '{rid[:60]}'")
        return [request_view(cg, case, staff)]

    return answer(fmt, "service_requests", await run_in_threadpool(one))


@router.get("/tokens/{token}", responses=FORMATS)
@_georeport
async def get_token(request: Request, token: str):
    """The service_request_id a POST's token stands for (tokens/{token}.json or .xml)."""
    token, fmt = split_format(token)
    cg = _cg(request)
    _jurisdiction(cg, query_params(request))
    missing = NotFoundError(f"token: no request for token '{token[:64]}'")
    if not TOKEN_RE.match(token):
        raise missing
    case_id = uuid5(EXTERNAL_NS, f"{CHANNEL}:{OPEN311}:{token}")

    def lookup():
        try:
            return cg.service.get(case_id)
        except NotFoundError:
            raise missing from None

    case = await run_in_threadpool(lookup)
    return answer(fmt, "service_requests", [{"service_request_id": str(case.id), "token": token}])


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                  include_in_schema=False)
async def unknown(request: Request, rest: str):
    """Anything else under /open311/v2: 404 (405 for a known path), in the path's format."""
    fmt = path_format(request.url.path)
    for route in router.routes:
        if getattr(route, "endpoint", None) is unknown:
            continue
        match, _ = route.matches(request.scope)
        if match == Match.PARTIAL:
            return open311_error(405, f"method: {request.method} is not allowed here", fmt)
    return open311_error(404, f"path: no Open311 endpoint '{rest[:80]}'", fmt)


__all__ = ["router", "open311_error", "AuthError", "channel_account"]
