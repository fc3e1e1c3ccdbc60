"""Every request's log line, latency histogram and security headers, as one plain ASGI
middleware (Starlette's `@app.middleware("http")` runs each request in an extra task with
memory streams: two of them cost more than a cached answer itself).
"""

from __future__ import annotations

import os
import time

import structlog
from starlette.datastructures import MutableHeaders

from adapters.metrics import REQUEST_SECONDS

log = structlog.get_logger("casegrid.http")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _Headers:
    def __init__(self, headers: MutableHeaders):
        self.headers = headers


class RequestLog:
    """Log (method, path, status, ms, user, role, case_id), observe the latency by route
    template and status class, apply the security headers; `pid_header` answers with this
    process's id (tests of several processes)."""

    def __init__(self, app, headers, pid_header: bool = False):
        self.app = app
        self.headers = headers
        self.pid = str(os.getpid()).encode() if pid_header else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        structlog.contextvars.clear_contextvars()
        ctx = scope["cg_log"] = {}  # filled by the endpoint: user, role, case_id
        t0 = time.perf_counter()
        status = [500]

        async def send_wrapped(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                h = MutableHeaders(scope=message)
                self.headers.apply(_Headers(h))
                if self.pid is not None:
                    message["headers"].append((b"x-casegrid-pid", self.pid))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapped)
        finally:  # a line that cannot be written is dropped by the output (adapters/logs.py)
            self._done(scope, ctx, status[0], time.perf_counter() - t0)

    def _done(self, scope, ctx: dict, status: int, seconds: float) -> None:
        path = scope.get("path", "")
        if path.startswith("/static"):
            return
        method = scope.get("method", "")
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        REQUEST_SECONDS.labels(method if method in METHODS else "other", template,
                               f"{status // 100}xx").observe(seconds)
        log.info("request", method=method, path=path, status=status, ms=round(seconds * 1000, 1),
                 **{k: ctx[k] for k in ("user", "role", "case_id") if k in ctx})
