"""签收 (accept): a unit signs for a case dispatched to it, once per dispatch; the state and
due time do not change; another unit cannot; a new dispatch asks for it again — on both
stores, and through the API with the console's offer of the step."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import RefusedError
from tests.support import MEMBER, T0, act, drive, grid


def test_a_unit_signs_for_each_dispatch_once(store_env):
    cg = grid(store_env)
    case = drive(cg.service, "dispatched")
    due = case.due_at
    case = act(cg.service, case, "accept", MEMBER, T0 + timedelta(minutes=10))
    assert case.state == "dispatched" and case.due_at == due
    assert case.accepted_by == MEMBER and case.accepted_at == T0 + timedelta(minutes=10)
    with pytest.raises(RefusedError, match="already accepted"):
        act(cg.service, case, "accept", MEMBER, T0 + timedelta(minutes=11))
    other = next(u.id for u in cg.city.users.values()
                 if u.role == "unit_member" and u.unit != cg.city.users[MEMBER].unit)
    with pytest.raises(RefusedError):
        act(cg.service, case, "accept", other, T0 + timedelta(minutes=12))
    case = act(cg.service, case, "return", MEMBER, T0 + timedelta(minutes=13), reason="非本单位")
    case = act(cg.service, case, "dispatch", "disp_chen", T0 + timedelta(minutes=14))
    assert case.accepted_at is None  # the new dispatch is signed for again
    case = act(cg.service, case, "accept", MEMBER, T0 + timedelta(minutes=15))
    assert [type(e).__name__ for e in cg.service.timeline(case.id)].count("Accepted") == 2


def test_the_api_offers_accept_until_it_is_done(tmp_path):
    import httpx

    from adapters.bootstrap import bootstrap
    from tests.e2e.http_support import LiveServer, login
    from tests.support import city

    cg = bootstrap(data_dir=tmp_path, city=city())
    case = drive(cg.service, "dispatched")
    with LiveServer(cg) as s, httpx.Client(base_url=s.url) as c:
        h = login(c, MEMBER)
        allowed = [a["trigger"] for a in c.get(f"/api/cases/{case.id}", headers=h).json()["allowed"]]
        assert allowed[0] == "accept" or "accept" in allowed
        r = c.post(f"/api/cases/{case.id}/accept", headers=h, json={})
        assert r.status_code == 200 and r.json()["state"] == "dispatched"
        allowed = [a["trigger"] for a in c.get(f"/api/cases/{case.id}", headers=h).json()["allowed"]]
        assert "accept" not in allowed and "resolve" in allowed
        again = c.post(f"/api/cases/{case.id}/accept", headers=h, json={})
        assert again.status_code == 403 and "already accepted" in again.text
    cg.close()
