"""Headless Chromium (Debian's package) driven by Playwright, for the console's browser tests.

The fixtures `browser` (one persistent Chromium per test module, 1366×900, zh-CN) and
`page` (a new tab that fails its test on any request leaving the server, any CSP violation
and any script error) are in tests/e2e/conftest.py; a module defines its own `server`
fixture (a tests.e2e.http_support.LiveServer) and marks itself `pytestmark = BROWSER`.
`shot` saves a full-page screenshot to artifacts/screenshots/; `login` logs a demo user
in by the form; `wait_js` polls an expression from the test (the CSP forbids eval).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CASEGRID_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]

BROWSER = pytest.mark.skipif(os.environ.get("CASEGRID_SKIP_BROWSER") == "1",
                             reason="browser tests disabled by CASEGRID_SKIP_BROWSER=1")


def shot(pg, name: str) -> None:
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def login(pg, user: str, password: str = "demo") -> None:
    pg.context.clear_cookies()
    pg.goto(pg.base + "/login")
    pg.fill("#user", user)
    pg.fill("#password", password)
    pg.click("#login-submit")
    pg.wait_for_selector("#whoami")
    assert pg.get_attribute("#whoami", "data-user") == user


def wait_js(pg, expression: str, seconds: float = 15) -> None:
    """Poll `expression` from the test (page.wait_for_function evaluates a string in the page,
    which the Content-Security-Policy rightly refuses: no eval)."""
    import time

    deadline = time.monotonic() + seconds
    while not pg.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.1)


