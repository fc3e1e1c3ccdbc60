"""Open311 GeoReport v2, spoken by a plain HTTP client as the specification has it.

https://wiki.open311.org/GeoReport_v2: GET services.json, GET services/{code}.json,
POST requests.json (form-encoded: api_key, service_code, lat/long or address_id,
description, media_url, attribute[...]), GET requests.json with its filters, and
GET requests/{id}.json; errors are a list of {code, description}.
"""

from __future__ import annotations

import httpx
import pytest

from adapters.bootstrap import bootstrap
from tests.e2e.http_support import CITIZEN_TOKEN, GRID, LiveServer, login
from tests.support import city

BASE = "/open311/v2"
LAT, LON = 22.5712, 114.1133  # inside the sample street's grid (cell of 坭岗社区)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("open311"), city=city())
    with LiveServer(cg) as s:
        yield s
    cg.close()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def post_request(client, **fields):
    form = {"api_key": CITIZEN_TOKEN, "service_code": "E0102", "lat": str(LAT), "long": str(LON),
            "description": "小区门口垃圾堆积", "media_url": "https://img.example/o311.jpg",
            "email": "someone@example.com", "first_name": "San", "last_name": "Zhang"} | fields
    return client.post(f"{BASE}/requests.json", data=form)


def test_service_list_is_our_categories(server, client):
    r = client.get(f"{BASE}/services.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    services = r.json()
    assert {s["service_code"] for s in services} == set(server.cg.city.categories)
    e0102 = next(s for s in services if s["service_code"] == "E0102")
    assert e0102["service_name"] == "暴露垃圾" and e0102["type"] == "realtime"
    assert set(e0102) >= {"service_code", "service_name", "description", "metadata", "type",
                          "keywords", "group"}


def test_service_definition(client):
    r = client.get(f"{BASE}/services/E0102.json")
    assert r.status_code == 200
    d = r.json()
    assert d["service_code"] == "E0102"
    attr = d["attributes"][0]
    assert attr["code"] == "urgency" and attr["datatype"] == "singlevaluelist"
    assert {v["key"] for v in attr["values"]} == {"normal", "urgent"}
    r = client.get(f"{BASE}/services/Z9999.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404


def test_post_request_creates_a_case_awaiting_verification(server, client):
    r = post_request(client, **{"attribute[urgency]": "urgent"})
    assert r.status_code == 200, r.text
    [created] = r.json()
    rid = created["service_request_id"]
    assert created["service_notice"] and "account_id" in created
    case = server.cg.service.get(rid)
    assert case.channel == "citizen" and case.reporter == "citizen_app"
    assert case.state == "pending_verification" and case.urgency == "urgent"
    assert case.category == "E0102" and case.grid.startswith("440303010001")
    assert case.lat == LAT and case.lon == LON
    assert case.evidence == ["https://img.example/o311.jpg"]
    assert "someone@example.com" not in case.description  # contact data is not stored


def test_address_id_is_a_grid_cell(server, client):
    r = post_request(client, lat="", long="", address_id=GRID)
    assert r.status_code == 200, r.text
    assert server.cg.service.get(r.json()[0]["service_request_id"]).grid == GRID


def test_a_json_body_is_accepted_too(client):
    r = client.post(f"{BASE}/requests.json", json={
        "api_key": CITIZEN_TOKEN, "service_code": "E0104", "lat": LAT, "long": LON})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("fields,status,word", [
    ({"api_key": "wrong"}, 403, "authorization"),
    ({"api_key": ""}, 403, "authorization"),
    ({"service_code": ""}, 400, "service_code"),
    ({"service_code": "Z9999"}, 400, "service_code"),
    ({"lat": "", "long": ""}, 400, "lat"),
    ({"lat": "1.0", "long": "1.0"}, 400, "lat"),
    ({"lat": "north"}, 400, "lat"),
    ({"address_id": "44030301000100", "lat": "", "long": ""}, 400, "address_id"),
    ({"media_url": "not a url"}, 400, "evidence"),
    ({"attribute[urgency]": "panic"}, 400, "urgency"),
])
def test_bad_requests_get_georeport_errors(client, fields, status, word):
    r = post_request(client, **fields)
    assert r.status_code == status, r.text
    [err] = r.json()
    assert err["code"] == status and word in err["description"]


def test_get_request_follows_the_case(server, client):
    rid = post_request(client).json()[0]["service_request_id"]
    r = client.get(f"{BASE}/requests/{rid}.json")
    assert r.status_code == 200
    [req] = r.json()
    assert req["service_request_id"] == rid and req["status"] == "open"
    assert req["service_code"] == "E0102" and req["service_name"] == "暴露垃圾"
    assert req["agency_responsible"] is None and req["lat"] == LAT and req["long"] == LON
    assert req["media_url"] == "https://img.example/o311.jpg"
    assert req["requested_datetime"] and req["expected_datetime"]
    assert "上报" in req["status_notes"]

    # the center moves the case on: the request shows the unit and the last step
    with httpx.Client(base_url=server.url, timeout=30) as api:
        sup, acc, disp = login(api, "sup_zhang"), login(api, "acc_wang"), login(api, "disp_chen")
        chief, hw = login(api, "chief_zhao"), login(api, "hw_luo")
        for headers, action, body in [
            (sup, "verify", {"passed": True}), (acc, "file", None), (disp, "dispatch", None),
        ]:
            assert api.post(f"/api/cases/{rid}/{action}", json=body, headers=headers).status_code == 200
        req = client.get(f"{BASE}/requests/{rid}.json").json()[0]
        assert req["status"] == "open" and req["agency_responsible"] == "罗湖区环境卫生管理所"
        assert req["status_notes"].startswith("派遣")
        for headers, action, body in [
            (hw, "resolve", None), (sup, "check", {"passed": True}),
            (acc, "close", {"reason": "已清理"}), (chief, "evaluate", {"rating": "satisfied"}),
        ]:
            assert api.post(f"/api/cases/{rid}/{action}", json=body, headers=headers).status_code == 200
    req = client.get(f"{BASE}/requests/{rid}.json").json()[0]
    assert req["status"] == "closed" and req["status_notes"].startswith("评价")


def test_a_voided_request_is_closed_with_the_reason(server, client):
    rid = post_request(client).json()[0]["service_request_id"]
    with httpx.Client(base_url=server.url, timeout=30) as api:
        sup, acc = login(api, "sup_zhang"), login(api, "acc_wang")
        api.post(f"/api/cases/{rid}/verify", json={"passed": False, "reason": "现场无此问题"},
                 headers=sup)
        api.post(f"/api/cases/{rid}/refuse", json={"reason": "核实不属实"}, headers=acc)
    req = client.get(f"{BASE}/requests/{rid}.json").json()[0]
    assert req["status"] == "closed" and "核实不属实" in req["status_notes"]


def test_get_requests_with_filters(client):
    a = post_request(client, service_code="E0501").json()[0]["service_request_id"]
    b = post_request(client, service_code="E0502").json()[0]["service_request_id"]
    everything = client.get(f"{BASE}/requests.json").json()
    assert {a, b} <= {r["service_request_id"] for r in everything}
    only = client.get(f"{BASE}/requests.json", params={"service_code": "E0501"}).json()
    assert {r["service_code"] for r in only} == {"E0501"}
    both = client.get(f"{BASE}/requests.json", params={"service_request_id": f"{a},{b}"}).json()
    assert [r["service_request_id"] for r in both] == [a, b]
    opened = client.get(f"{BASE}/requests.json", params={"status": "open"}).json()
    assert opened and {r["status"] for r in opened} == {"open"}
    closed = client.get(f"{BASE}/requests.json", params={"status": "closed"}).json()
    assert {r["status"] for r in closed} <= {"closed"}
    past = client.get(f"{BASE}/requests.json", params={
        "start_date": "2020-01-01T00:00:00Z", "end_date": "2020-02-01T00:00:00Z"}).json()
    assert past == []
    r = client.get(f"{BASE}/requests.json", params={"status": "pending"})
    assert r.status_code == 400 and r.json()[0]["code"] == 400
    r = client.get(f"{BASE}/requests.json", params={"start_date": "yesterday"})
    assert r.status_code == 400


def test_unknown_request_and_format(client):
    r = client.get(f"{BASE}/requests/00000000-0000-4000-8000-000000000000.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    assert client.get(f"{BASE}/requests/12345.json").status_code == 404
    r = client.get(f"{BASE}/services/E0102.xml")
    assert r.status_code == 400 and "json" in r.json()[0]["description"]
