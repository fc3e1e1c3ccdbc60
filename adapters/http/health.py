"""`/healthz`: is this process up, can it reach the store, and is any read model stalled.

200 while the store answers (`status` "ok", or "degraded" when a projection is stalled on
an event it cannot fold, naming the projection, the event id and the error); 503 when
the store does not answer. No login: it shows no case data.

`/livez`: the process answers, nothing else (no store access): a liveness probe, and the
trivial endpoint benchmarks/api.py measures the HTTP stack's own ceiling with.

`/readyz`: may a load balancer send traffic here? 200 only when the store answers and no
projection is stalled; 503 otherwise (same body as /healthz). /healthz stays 200 while
degraded so that an orchestrator does not restart a process a restart cannot fix.
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

router = APIRouter(tags=["operations"])
log = structlog.get_logger("casegrid.health")


@router.get("/healthz")
def healthz(request: Request):
    cg = request.app.state.cg
    try:
        rows = cg.projections.status()
    except Exception as e:  # the store itself is unreachable
        log.warning("healthz_store_error", error=repr(e))
        return JSONResponse({"status": "down", "error": f"{type(e).__name__}: {e}"[:500]},
                            status_code=503)
    stalled = [{"projection": r["projection"], **(r["error"] or {})}
               for r in rows if r.get("error")]
    return {"status": "degraded" if stalled else "ok",
            "head": rows[0]["head"] if rows else 0,
            "projections": [{k: r[k] for k in ("projection", "position", "lag_events", "state")}
                            for r in rows],
            "stalled": stalled}


@router.get("/livez", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
async def livez():
    return PlainTextResponse("ok")


@router.get("/readyz")
def readyz(request: Request):
    answer = healthz(request)
    if isinstance(answer, JSONResponse):  # the store is down: already 503
        return answer
    return JSONResponse(answer, status_code=503 if answer["stalled"] else 200)
