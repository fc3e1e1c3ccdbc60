"""Open311 publication under other `open311` sections than the sample's, over HTTP
(FastAPI's TestClient against the whole app): the `open311` pseudo-channel, configured
fields, step reasons for staff or for everyone, no jurisdiction and no known addresses."""

from __future__ import annotations

import copy

import pytest
from fastapi.testclient import TestClient

from adapters.bootstrap import bootstrap
from adapters.config.city_build import build_city
from adapters.http import create_app
from tests.support import city
from workflows.commands import CaseAction, ReportCase

BASE = "/open311/v2"
CITIZEN, HOTLINE = "citizen-app-demo-token", "hotline-demo-token"
GRID = "44030301000101"
FORM = {"api_key": CITIZEN, "service_code": "E0102", "lat": "22.571234", "long": "114.113321",
        "description": "电话13812345678 门口垃圾", "media_url": "https://img.example/a.jpg"}


@pytest.fixture
def client_for(tmp_path):
    made = []

    def make(section) -> TestClient:
        raw = copy.deepcopy(city().raw)
        raw["open311"] = section
        cg = bootstrap(data_dir=tmp_path / f"cg{len(made)}", city=build_city(raw))
        made.append(cg)
        return TestClient(create_app(cg))

    yield make
    for cg in made:
        cg.close()


def post(c: TestClient, **fields) -> str:
    r = c.post(f"{BASE}/requests.json", data=FORM | fields)
    assert r.status_code == 200, r.text
    return r.json()[0]["service_request_id"]


def listed(c: TestClient, **params) -> set[str]:
    r = c.get(f"{BASE}/requests.json", params=params)
    assert r.status_code == 200, r.text
    return {x["service_request_id"] for x in r.json()}


def test_the_open311_pseudo_channel_publishes_only_what_came_through_open311(client_for):
    c = client_for({"public_channels": ["open311"]})
    cg = c.app.state.cg
    mine = post(c)
    typed_in = cg.service.report(ReportCase(channel="citizen", category="E0102", grid=GRID,
                                            actor="acc_wang", description="受理员录入"))
    hotline = cg.service.report(ReportCase(channel="hotline", category="E0102", grid=GRID,
                                           actor="hotline_12345"))
    assert listed(c) == {mine}
    assert listed(c, api_key=HOTLINE) == {mine}  # staff see more fields, not more cases
    assert c.get(f"{BASE}/requests/{typed_in.id}.json").status_code == 404
    assert c.get(f"{BASE}/requests/{hotline.id}.json").status_code == 404


def test_no_public_channels_publishes_nothing(client_for):
    c = client_for({"public_channels": []})
    rid = post(c)
    assert listed(c) == set() and c.get(f"{BASE}/requests/{rid}.json").status_code == 404
    token = c.post(f"{BASE}/requests.json", data=FORM).json()[0]["token"]
    assert c.get(f"{BASE}/tokens/{token}.json").status_code == 200  # the reporter's own token


def test_public_fields_and_coordinate_decimals_are_the_citys(client_for):
    c = client_for({"public_fields": ["service_code", "lat", "long", "media_url"],
                    "coordinate_decimals": 1})
    rid = post(c)
    [req] = c.get(f"{BASE}/requests/{rid}.json").json()
    assert req == {"service_request_id": rid, "status": "open", "service_code": "E0102",
                   "lat": 22.6, "long": 114.1, "media_url": "https://img.example/a.jpg"}
    [staff] = c.get(f"{BASE}/requests/{rid}.json", params={"api_key": CITIZEN}).json()
    assert staff["lat"] == 22.571234 and staff["description"].startswith("电话13812345678")


def _void(c: TestClient, rid: str) -> None:
    cg = c.app.state.cg
    cg.service.act(CaseAction(rid, "verify", "sup_zhang", passed=False, reason="现场无此问题"))
    cg.service.act(CaseAction(rid, "refuse", "acc_wang", reason="核实不属实"))


def test_step_reasons_staff_shows_reasons_to_staff_keys_only(client_for):
    c = client_for({"step_reasons": "staff", "staff_accounts": ["hotline_12345"]})
    rid = post(c)
    _void(c, rid)
    [anon] = c.get(f"{BASE}/requests/{rid}.json").json()
    [app] = c.get(f"{BASE}/requests/{rid}.json", params={"api_key": CITIZEN}).json()
    [staff] = c.get(f"{BASE}/requests/{rid}.json", params={"api_key": HOTLINE}).json()
    assert "核实不属实" not in anon["status_notes"] and "核实不属实" not in app["status_notes"]
    assert "核实不属实" in staff["status_notes"]


def test_step_reasons_public_shows_reasons_to_everyone(client_for):
    c = client_for({"step_reasons": "public"})
    rid = post(c)
    _void(c, rid)
    [anon] = c.get(f"{BASE}/requests/{rid}.json").json()
    assert anon["status"] == "closed" and "核实不属实" in anon["status_notes"]


def test_without_a_jurisdiction_id_the_parameter_is_not_checked(client_for):
    c = client_for({})
    assert c.get(f"{BASE}/services.json", params={"jurisdiction_id": "any.gov"}).status_code == 200


def test_without_configured_addresses_an_address_string_alone_is_a_clear_400(client_for):
    c = client_for({})
    r = c.post(f"{BASE}/requests.json", data=FORM | {"lat": "", "long": "",
                                                     "address_string": "坭岗社区"})
    assert r.status_code == 400
    d = r.json()[0]["description"]
    assert d.startswith("address_string") and "lat and long" in d


@pytest.mark.parametrize("path", ["requests.json", "requests.xml"])
def test_a_session_token_of_any_user_is_not_an_api_key(client_for, path):
    c = client_for({})
    auth = c.app.state.auth
    for uid in ("citizen_app", "acc_wang", "chief_zhao"):
        session = auth.issue(c.app.state.cg.city.users[uid])
        r = c.post(f"{BASE}/{path}", data=FORM | {"api_key": session})
        assert r.status_code == 403, (uid, r.text)
