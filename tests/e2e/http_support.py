"""Helpers for the HTTP tests: a live server on a free 127.0.0.1 port, logins, case paths."""

from __future__ import annotations

import re
import socket
import threading
import time

import httpx
import uvicorn

from adapters.bootstrap import Casegrid
from adapters.http import create_app

PASSWORD = "demo"
CITIZEN_TOKEN = "citizen-app-demo-token"
GRID = "44030301000101"  # 坭岗社区 cell 01
CATEGORY = "E0102"  # 暴露垃圾 -> hw (环卫所) by rule R-E0102
UNIT = "hw"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The real app under uvicorn in a background thread, following projections live."""

    def __init__(self, cg: Casegrid, *, tick_every: float = 0.0):
        self.cg = cg
        self.app = create_app(cg, follow=True, tick_every=tick_every)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="casegrid-test-server",
                                       daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def login(client: httpx.Client, user: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/login", json={"user": user, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def form_token(html: str) -> str:
    """The csrf_token hidden field of a console page."""
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no csrf_token in the page"
    return m.group(1)


def console_login(client: httpx.Client, user: str, password: str = PASSWORD,
                  next_: str = "/") -> httpx.Response:
    """Log the client's cookie jar in through the console's form, as a browser would:
    the login page's token, and this server as the Origin."""
    token = form_token(client.get("/login").text)
    return client.post("/login", data={"user": user, "password": password, "next": next_,
                                       "csrf_token": token},
                       headers={"Origin": str(client.base_url).rstrip("/")})
