"""Fixtures of the browser tests (see tests/e2e/browser_support.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.browser_support import ARGS, CHROMIUM, SHOTS

# variables that would send the store elsewhere than --data-dir, change the city or reach
# a broker: the CLI tests run without them (`pytestmark = pytest.mark.usefixtures("cli_env")`)
CLI_ENV = ("PERSISTENCE_MODULE", "SQLITE_DBNAME", "CASEGRID_DATA_DIR", "CASEGRID_CONFIG",
           "CASEGRID_KAFKA_BOOTSTRAP")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: run `bash deploy/install-system-deps.sh`")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM,
            headless=True, args=ARGS, viewport={"width": 1366, "height": 900}, locale="zh-CN")
        yield ctx
        ctx.close()


@pytest.fixture
def page(browser, server):
    pg = browser.new_page()
    pg.set_default_timeout(15_000)
    requests_out: list[str] = []
    pg.on("request", lambda r: None if r.url.startswith(server.url) or r.url.startswith("data:")
          else requests_out.append(r.url))
    # a Content-Security-Policy violation (an inline script, a style the policy blocks)
    # breaks a page silently: Chromium reports it on the console; so does any script error
    broken: list[str] = []
    pg.on("console", lambda m: broken.append(m.text)
          if m.type == "error" and "Content Security Policy" in m.text else None)
    pg.on("pageerror", lambda e: broken.append(f"script error: {e}"))
    pg.base = server.url  # type: ignore[attr-defined]
    yield pg
    assert requests_out == [], f"the console fetched from outside the server: {requests_out}"
    assert broken == [], f"CSP violations or script errors: {broken}"
    pg.close()


@pytest.fixture
def cli_env(monkeypatch):
    """No store, city or broker from the environment (structlog is restored after every
    test by tests/conftest.py)."""
    for name in CLI_ENV:
        monkeypatch.delenv(name, raising=False)
