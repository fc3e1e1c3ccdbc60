"""Schemathesis over the OpenAPI schema, with a token of every role (issue 10).

For each operation schemathesis generates requests from the schema (valid and not); each
is sent once per role. Every answer: no 5xx, a declared content type, and a body that
matches the documented response schema. Bounded (a few examples per operation) so that
the suite stays fast.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from adapters.bootstrap import bootstrap
from adapters.http import create_app
from tests.e2e.http_support import CITIZEN_TOKEN
from tests.support import USER_OF_ROLE, city, drive

ROLES = ("supervisor", "channel", "acceptor", "duty_chief", "dispatcher", "unit_member",
         "inspector")
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]
SLOW = ("/api/projections/rebuild",  # replays the log: covered by its own tests
        "/api/logout", "/api/users/{user_id}/sessions/revoke")  # would end the tokens used
# here for every later operation: covered by tests/e2e/test_http_security.py


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("schemathesis")
    cg = bootstrap(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                        "SQLITE_DBNAME": str(folder / "st.sqlite")}, city=city(),
                   clock=lambda: datetime(2026, 11, 20, 4, tzinfo=UTC))
    for state in ("dispatched", "pending_check", "closed"):
        drive(cg.service, state)
    cg.projections.catch_up()
    app = create_app(cg, follow=False)
    yield app
    cg.close()


@pytest.fixture(scope="module")
def tokens(served):
    from fastapi.testclient import TestClient

    client = TestClient(served)
    out = {}
    out["channel"] = CITIZEN_TOKEN  # a channel account has a key, not a password
    for role in ROLES:
        if role == "channel":
            continue
        r = client.post("/api/login", json={"user": USER_OF_ROLE[role], "password": "demo"})
        assert r.status_code == 200, r.text
        out[role] = r.json()["token"]
    return out


def _operations(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    for result in schema.get_all_operations():
        yield result.ok()


def test_no_5xx_and_answers_match_the_schema_for_every_role(served, tokens):
    tried = 0
    for op in _operations(served):
        if op.path in SLOW:
            continue

        # the login ignores the caller's token, and each try costs a full password hash
        # (0.3 s, also for an unknown user): once per example, not once per role
        roles = list(tokens.values())[:1] if op.path == "/api/login" else list(tokens.values())

        @given(case=op.as_strategy())
        @settings(max_examples=4, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            for token in roles:  # noqa: B023 - check() runs before the loop moves on
                case.call_and_validate(headers={"Authorization": f"Bearer {token}"},
                                       checks=CHECKS)

        check()
        tried += 1
    assert tried >= 40, tried  # every operation of the schema, not a few
