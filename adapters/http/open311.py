"""Open311 GeoReport v2 (JSON), so existing citizen apps can report into casegrid.

    GET  /open311/v2/services.json                 service codes = our categories
    GET  /open311/v2/services/{service_code}.json  definition (attribute: urgency)
    POST /open311/v2/requests.json                 api_key + service_code + location → case
    GET  /open311/v2/requests.json                 filters: service_request_id, service_code,
                                                   start_date, end_date, status (open, closed)
    GET  /open311/v2/requests/{id}.json

Location: `address_id` may be a 14-digit grid cell code; otherwise `lat`/`long` are placed on
the city's grid (adapters/http/geo.py). The reporter is the user whose API token is the
`api_key` (a channel account such as citizen_app); requests go in through the `citizen`
channel and so wait for verification (核实). Contact fields (email, name, phone) are not
stored. `agency_responsible` is the dispatched unit, `status` is closed once the case is
closed, evaluated or voided, and `status_notes` come from the case's last step. Errors use
GeoReport's shape `[{"code": 400, "description": "field: rule"}]`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from adapters.bootstrap import Casegrid
from adapters.http import geo
from adapters.http.auth import AuthError
from adapters.views import EVENT_ZH
from domain.errors import NotFoundError, ValidationError
from projections.sql import ts
from workflows.commands import ReportCase
from workflows.lifecycle import STATES

router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"])
CLOSED = ("closed", "evaluated", "voided")
PUBLIC_CHANNELS = ("patrol", "citizen", "hotline", "camera", "unit")  # not 督查暗访
MAX_REQUESTS = 1000
URGENCY = [{"key": "normal", "name": "一般 normal"}, {"key": "urgent", "name": "紧急 urgent"}]


def _cg(request: Request) -> Casegrid:
    return request.app.state.cg


def _strip_format(value: str) -> str:
    """'E0102.json' -> 'E0102'; another format suffix (.xml) is refused: this server speaks JSON."""
    stem, dot, fmt = value.rpartition(".")
    if not dot:
        return value
    if fmt != "json":
        raise ValidationError("format", f"'{fmt}' is not supported; use .json")
    return stem


def _service(cg: Casegrid, code: str) -> dict:
    c = cg.city.categories[code]
    return {"service_code": c.code, "service_name": c.name,
            "description": f"{'部件' if c.kind == 'component' else '事件'} / {c.big_name} / {c.name}",
            "metadata": True, "type": "realtime", "keywords": f"{c.big_name},{c.kind}",
            "group": c.big_name}


@router.get("/services.json")
@router.get("/services")
def services(request: Request, jurisdiction_id: str | None = None):
    """Service list: one service per category code (部件 C…, 事件 E…)."""
    cg = _cg(request)
    return [_service(cg, code) for code in sorted(cg.city.categories)]


@router.get("/services/{service_code}")
def service_definition(request: Request, service_code: str):
    """Service definition (also as services/{service_code}.json)."""
    service_code = _strip_format(service_code)
    cg = _cg(request)
    if service_code not in cg.city.categories:
        raise NotFoundError(f"service_code: unknown service '{service_code}'")
    return {"service_code": service_code, "attributes": [{
        "variable": True, "code": "urgency", "datatype": "singlevaluelist", "required": False,
        "datatype_description": "normal or urgent", "order": 1,
        "description": "紧急程度 urgency", "values": URGENCY}]}


async def _params(request: Request) -> dict:
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.json()
        return body if isinstance(body, dict) else {}
    form = await request.form()
    return {k: form.get(k) for k in form}


@router.post("/requests.json")
@router.post("/requests")
async def create_request(request: Request):
    """Create a service request: needs api_key, service_code and a location."""
    params = await _params(request)
    params = {**dict(request.query_params), **params}
    cg = _cg(request)
    user = request.app.state.auth.from_token(params.get("api_key") or "")
    case = await run_in_threadpool(_report, cg, user, params)
    notice = f"已受理，{STATES[case.state]['zh']}（received; {case.state.replace('_', ' ')}）"
    return [{"service_request_id": str(case.id), "service_notice": notice,
             "account_id": None}]


def _report(cg: Casegrid, user, params: dict):
    code = params.get("service_code")
    if not code:
        raise ValidationError("service_code", "is required")
    if code not in cg.city.categories:
        raise ValidationError("service_code", f"unknown service '{code}'")
    lat, lon = _float(params, "lat"), _float(params, "long")
    grid = params.get("address_id") or None
    if grid is not None:
        cg.city.cell(grid, "address_id")
    else:
        if lat is None or lon is None:
            raise ValidationError("lat", "a location is required: lat and long, or address_id "
                                  "(a 14-digit grid cell code)")
        grid = geo.cell_at(cg.city, lat, lon)
        if grid is None:
            raise ValidationError("lat", f"{lat},{lon} lies outside the city's grid")
    urgency = params.get("attribute[urgency]") or "normal"
    media = params.get("media_url")
    description = (params.get("description") or "").strip()
    if params.get("address_string"):
        description = f"{description}（地址：{params['address_string']}）".strip()
    return cg.service.report(ReportCase(
        channel="citizen", category=code, grid=grid, actor=user.id, description=description,
        urgency=urgency, lat=lat, lon=lon, evidence=[media] if media else []))


def _float(params: dict, name: str) -> float | None:
    v = params.get(name)
    if v in (None, ""):
        return None
    try:
        return float(v)
    except ValueError:
        raise ValidationError(name, f"'{v}' is not a number") from None


def _when(value: str | None, name: str, cg: Casegrid) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(name, f"'{value}' is not a w3 date-time like 2026-10-01T00:00:00Z") from None
    return t if t.tzinfo else t.replace(tzinfo=cg.city.tz)


def _local(t: datetime | None, cg: Casegrid) -> str | None:
    return t.astimezone(cg.city.tz).isoformat(timespec="seconds") if t else None


def _view(cg: Casegrid, case) -> dict:
    events = [e for e in cg.app.events.get(case.id, desc=True, limit=4)
              if type(e).__name__ != "DeadlineMissed"]
    last = events[0] if events else None
    notes = None
    if last is not None:
        name = type(last).__name__
        notes = f"{EVENT_ZH.get(name, name)} → {STATES[case.state]['zh']}"
        if last.reason:
            notes += f"：{last.reason}"
    cat = cg.city.categories.get(case.category)
    cell = cg.city.cells.get(case.grid)
    unit = cg.city.units.get(case.unit) if case.unit else None
    return {
        "service_request_id": str(case.id),
        "status": "closed" if case.state in CLOSED else "open",
        "status_notes": notes,
        "service_name": cat.name if cat else case.category,
        "service_code": case.category,
        "description": case.description,
        "agency_responsible": unit.name if unit else None,
        "service_notice": STATES[case.state]["zh"],
        "requested_datetime": _local(case.reported_at, cg),
        "updated_datetime": _local(case.last_at, cg),
        "expected_datetime": _local(case.due_at, cg),
        "address": f"{cg.city.areas.get(cell.community, '')} 网格 {case.grid}" if cell else None,
        "address_id": case.grid,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lon,
        "media_url": case.evidence[0] if case.evidence else None,
    }


@router.get("/requests.json")
@router.get("/requests")
def get_requests(request: Request, service_request_id: str | None = None,
                 service_code: str | None = None, start_date: str | None = None,
                 end_date: str | None = None, status: str | None = None):
    """Requests, newest first; by default the last 90 days, at most 1000."""
    cg = _cg(request)
    request.app.state.follower.ensure()
    if service_request_id:
        out = []
        for rid in service_request_id.split(","):
            try:
                case = cg.service.get(rid.strip())
            except (NotFoundError, ValidationError):
                continue
            if case.channel in PUBLIC_CHANNELS:
                out.append(_view(cg, case))
        return out
    end = _when(end_date, "end_date", cg) or datetime.now(UTC)
    start = _when(start_date, "start_date", cg) or end - timedelta(days=90)
    statuses = [s.strip() for s in (status or "").split(",") if s.strip()]
    for s in statuses:
        if s not in ("open", "closed"):
            raise ValidationError("status", f"'{s}' is not open or closed")
    where = ["reported_at >= ?", "reported_at <= ?",
             f"channel IN ({', '.join('?' for _ in PUBLIC_CHANNELS)})"]
    args: list = [ts(start), ts(end), *PUBLIC_CHANNELS]
    if service_code:
        codes = [c.strip() for c in service_code.split(",")]
        where.append(f"category IN ({', '.join('?' for _ in codes)})")
        args += codes
    if len(statuses) == 1:
        op = "IN" if statuses[0] == "closed" else "NOT IN"
        where.append(f"state {op} ({', '.join('?' for _ in CLOSED)})")
        args += list(CLOSED)
    rows = cg.sql.query(f"SELECT case_id FROM cg_cases WHERE {' AND '.join(where)}"
                        f" ORDER BY reported_at DESC LIMIT {MAX_REQUESTS}", args)
    return [_view(cg, cg.service.get(r[0])) for r in rows]


@router.get("/requests/{service_request_id}")
def get_request(request: Request, service_request_id: str):
    """One request (also as requests/{service_request_id}.json)."""
    service_request_id = _strip_format(service_request_id)
    cg = _cg(request)
    try:
        case = cg.service.get(service_request_id)
    except ValidationError:  # not even a case id: for GeoReport simply an unknown request
        raise NotFoundError(f"service_request_id: no request '{service_request_id}'") from None
    if case.channel not in PUBLIC_CHANNELS:
        raise NotFoundError(f"service_request_id: no request '{service_request_id}'")
    return [_view(cg, case)]


def open311_error(status: int, message: str) -> JSONResponse:
    """GeoReport v2 error shape; bad input is 400 and a bad api_key 403, as the spec has it."""
    status = {422: 400, 401: 403}.get(status, status)
    return JSONResponse([{"code": status, "description": message}], status_code=status)


__all__ = ["router", "open311_error", "AuthError"]
