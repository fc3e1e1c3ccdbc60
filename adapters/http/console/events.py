"""Live alerts as server-sent events (GET /console/events, text/event-stream, the console's
cookie session): the viewer's alerts (adapters/http/alerts.py) every few seconds.

The stream is an async generator: it waits with `asyncio.sleep`, reads the store in the
thread pool, stops when the browser goes away (`request.is_disconnected()`) and after
`LIFETIME` seconds at most (the browser reconnects by itself, sending the last event id,
the watermark), so no connection holds a worker thread and none outlives a test server.
"""

from __future__ import annotations

import asyncio
import json
import time

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from adapters.http.access import Forbidden
from adapters.http.alerts import Watch, head, listens
from adapters.http.console.pages import cgrid, router, viewer
from domain.errors import ValidationError
from domain.times import local_format

EVERY = 3.0  # seconds between two reads of the store, per connection
LIFETIME = 300.0  # seconds a stream lasts before the browser reconnects
KEEP_ALIVE = 15.0  # a comment line this often keeps proxies from closing the stream


def watermark(raw: str | None) -> int | None:
    """`after` (or the Last-Event-ID header): an event position, a whole number ≥ 0."""
    if raw is None or raw == "":
        return None
    if len(raw) > 18 or not raw.isascii() or not raw.isdigit():
        raise ValidationError("after", "must be a whole number from 0 (an event position)")
    return int(raw)


def message(event: str, data, ident: int | None = None) -> str:
    head_line = f"id: {ident}\n" if ident is not None else ""
    return f"{head_line}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.get("/console/events")
async def alert_stream(request: Request):
    user = viewer(request)
    if not listens(user):
        raise Forbidden("live alerts are for the center and the units", role=user.role)
    cg = cgrid(request)
    asked = watermark(request.query_params.get("after") or request.headers.get("last-event-id"))
    settings = request.app.state
    every = float(getattr(settings, "alerts_every", EVERY))
    lifetime = float(getattr(settings, "alerts_lifetime", LIFETIME))

    def start() -> Watch:
        settings.follower.ensure()
        top = head(cg.sql)
        after = top if asked is None else min(asked, top)
        return Watch(user, cg.city, after).begin(cg.sql)

    def poll(watch: Watch) -> list[dict]:
        settings.follower.ensure()
        alerts = watch.poll(cg.sql, cg.service.clock())
        for a in alerts:
            a["due_local"] = local_format(a["due_at"], cg.city.tz, "%H:%M") if a["due_at"] else ""
        return alerts

    watch = await run_in_threadpool(start)

    async def stream():
        yield f"retry: 3000\n{message('hello', {'after': watch.after}, watch.after)}"
        ends, quiet = time.monotonic() + lifetime, time.monotonic()
        while time.monotonic() < ends:
            await asyncio.sleep(every)
            if await request.is_disconnected():
                return
            alerts = await run_in_threadpool(poll, watch)
            if alerts:
                yield message("alerts", {"after": watch.after, "alerts": alerts}, watch.after)
                quiet = time.monotonic()
            elif time.monotonic() - quiet > KEEP_ALIVE:
                yield ": keep-alive\n\n"
                quiet = time.monotonic()

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
