"""A body that is not a command — not JSON, nested too deep, the wrong shape — answers 4xx
naming the field `body` (never a position or `path`) and stores nothing."""

from __future__ import annotations

import httpx
import pytest

from adapters.bootstrap import bootstrap
from tests.e2e.http_support import LiveServer, login
from tests.support import city


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("bodies"), city=city())
    with LiveServer(cg) as s, httpx.Client(base_url=s.url, timeout=30) as c:
        yield cg, c, login(c, "sup_zhang")
    cg.close()


BODIES = {
    "truncated": '{"channel":',
    "not json": "channel=patrol",
    "nested 10,000 deep": '{"a":' * 10_000 + "1" + "}" * 10_000,
    "a list": "[1, 2]",
    "NUL in a key": '{"chan\\u0000nel": "patrol"}',
}


@pytest.mark.parametrize("name", list(BODIES))
def test_a_body_that_is_not_a_command_names_the_body(ctx, name):
    cg, client, headers = ctx
    head = cg.app.recorder.max_notification_id() or 0
    r = client.post("/api/cases", content=BODIES[name].encode(),
                    headers=headers | {"content-type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    body = r.json()
    assert body["field"] not in ("path", "") and not body["field"].isdigit(), body
    if name in ("truncated", "not json", "nested 10,000 deep"):
        assert body["field"] == "body", body
    assert (cg.app.recorder.max_notification_id() or 0) == head
