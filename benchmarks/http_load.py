"""HTTP load for benchmarks/api.py: N keep-alive connections, each sending its next request
as soon as the last answer is in, for a fixed time; throughput, p50/p95 and errors.

`wrk` (C, one thread per core) when it is on PATH (Debian/Ubuntu: `apt-get install wrk`;
macOS: `brew install wrk`), driven by a small Lua script for the method, the headers, the
JSON body and the percentiles; otherwise a Python client of its own (asyncio over raw
sockets, in 2 processes), which costs the shared cores more. Which one ran is printed.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

LUA = """
wrk.method = {method}
wrk.body = {body}
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{{"requests": %d, "seconds": %f, "errors": %d, "p50_ms": %f, "p95_ms": %f}}\\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000))
end
"""


def lua_text(s: str) -> str:
    return " [==[" + s + "]==] " if s else "nil"


def client_name() -> str:
    return "wrk" if shutil.which("wrk") else "python-asyncio"


def load(url: str, *, method: str = "GET", headers: dict | None = None, body: bytes = b"",
         clients: int = 32, seconds: float = 5.0) -> dict:
    """{requests, rps, errors, p50_ms, p95_ms} of `clients` connections for `seconds`."""
    if shutil.which("wrk"):
        return _wrk(url, method, headers or {}, body, clients, seconds)
    return _python(url, method, headers or {}, body, clients, seconds)


def _wrk(url, method, headers, body, clients, seconds) -> dict:
    hdr = "\n".join(f"wrk.headers[{lua_text(k)}] = {lua_text(v)}" for k, v in headers.items())
    with tempfile.TemporaryDirectory() as d:
        script = Path(d) / "load.lua"
        script.write_text(LUA.format(method=lua_text(method), body=lua_text(body.decode()),
                                     headers=hdr))
        out = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{max(1, round(seconds))}s",
                              "--timeout", "10s", "-s", str(script), url],
                             capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("{")), None)
    if line is None:
        raise RuntimeError(f"wrk said: {out.stdout[-1000:]} {out.stderr[-1000:]}")
    got = json.loads(line)
    got["rps"] = got["requests"] / got["seconds"]
    return got


# ---------------------------------------------------------------- the Python client


def _python(url, method, headers, body, clients, seconds) -> dict:
    procs = 2 if clients >= 2 else 1
    shares = [clients // procs + (i < clients % procs) for i in range(procs)]
    with multiprocessing.get_context("spawn").Pool(procs) as pool:
        parts = pool.starmap(_run_part, [(url, method, headers, body, n, seconds) for n in shares])
    lat = sorted(x for p in parts for x in p["lat"])
    wall = max(p["wall"] for p in parts)
    pick = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))] * 1000 if lat else float("nan")  # noqa: E731
    return {"requests": len(lat), "seconds": wall, "rps": len(lat) / wall,
            "errors": sum(p["errors"] for p in parts), "p50_ms": pick(0.5), "p95_ms": pick(0.95)}


def _run_part(url, method, headers, body, clients, seconds) -> dict:
    return asyncio.run(_part(url, method, headers, body, clients, seconds))


async def _part(url, method, headers, body, clients, seconds) -> dict:
    u = urlsplit(url)
    path = u.path + (f"?{u.query}" if u.query else "")
    head = [f"{method} {path} HTTP/1.1", f"Host: {u.netloc}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if body:
        head.append(f"Content-Length: {len(body)}")
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    lat: list[float] = []
    errors = [0]
    stop = time.monotonic() + seconds

    async def one():
        reader, writer = await asyncio.open_connection(u.hostname, u.port)
        try:
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                writer.write(request)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                lat.append(time.perf_counter() - t0)
                if status_line[9:10] not in (b"2", b"3"):
                    errors[0] += 1
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(clients)))
    return {"lat": lat, "errors": errors[0], "wall": time.perf_counter() - t0}
