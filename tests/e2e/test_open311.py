"""Open311 GeoReport v2, spoken by a plain HTTP client as the specification has it.

https://wiki.open311.org/GeoReport_v2: GET discovery, GET services, GET services/{code},
POST requests (form-encoded: api_key, service_code, lat/long, address_id or
address_string, description, media_url, attribute[...]), GET requests with its filters,
GET requests/{id} and GET tokens/{token}, each as .json and .xml; errors are a list of
{code, description} / <errors><error><code/><description/></error></errors>.

The sample city's `open311` section publishes the citizen and hotline channels, hides
media_url and address_id, rounds coordinates to 3 decimals, shows no step reasons, places
address texts like 坭岗村 on grid cells, and makes hotline_12345's key the staff key.
"""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import httpx
import pytest

from adapters.bootstrap import bootstrap
from tests.e2e.http_support import CITIZEN_TOKEN, GRID, LiveServer, login
from tests.support import city
from workflows.commands import ReportCase

BASE = "/open311/v2"
LAT, LON = 22.5712, 114.1133  # inside the sample street's grid (cell of 坭岗社区)
EXACT_LAT, EXACT_LON = 22.571234, 114.113321
STAFF_TOKEN = "hotline-demo-token"  # hotline_12345: open311.staff_accounts
JURISDICTION = "qingshuihe.luohu.shenzhen"


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


def rid_of(r) -> str:
    assert r.status_code == 200, r.text
    return r.json()[0]["service_request_id"]


def one(client, rid, **params):
    r = client.get(f"{BASE}/requests/{rid}.json", params=params)
    assert r.status_code == 200, r.text
    [req] = r.json()
    return req


def xml(r) -> ET.Element:
    assert r.headers["content-type"].startswith("text/xml"), r.headers["content-type"]
    assert r.content.startswith(b"<?xml")
    return ET.fromstring(r.content)


# ---------------------------------------------------------------- services


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


def test_services_xml_has_the_spec_shape(server, client):
    root = xml(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    services = root.findall("service")
    assert {s.findtext("service_code") for s in services} == set(server.cg.city.categories)
    e0102 = next(s for s in services if s.findtext("service_code") == "E0102")
    assert e0102.findtext("service_name") == "暴露垃圾"
    assert e0102.findtext("metadata") == "true" and e0102.findtext("type") == "realtime"
    assert [c.tag for c in e0102] == ["service_code", "service_name", "description",
                                      "metadata", "type", "keywords", "group"]


def test_service_definition_xml_has_the_spec_shape(client):
    root = xml(client.get(f"{BASE}/services/E0102.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "E0102"
    [attr] = root.findall("attributes/attribute")
    assert attr.findtext("code") == "urgency" and attr.findtext("variable") == "true"
    assert attr.findtext("datatype") == "singlevaluelist" and attr.findtext("required") == "false"
    assert [v.findtext("key") for v in attr.findall("values/value")] == ["normal", "urgent"]
    r = client.get(f"{BASE}/services/Z9999.xml")
    assert r.status_code == 404
    err = xml(r)
    assert err.tag == "errors" and err.findtext("error/code") == "404"


def test_discovery_json_and_xml(server, client):
    d = client.get(f"{BASE}/discovery.json").json()
    assert d["changeset"] and d["contact"] and d["key_service"]
    [ep] = d["endpoints"]
    assert ep["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert ep["url"] == f"{server.url}{BASE}" and ep["type"] == "production"
    assert ep["formats"] == ["text/xml", "application/json"]
    root = xml(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery" and root.findtext("contact") == d["contact"]
    [endpoint] = root.findall("endpoints/endpoint")
    assert endpoint.findtext("url") == ep["url"]
    assert [f.text for f in endpoint.findall("formats/format")] == ep["formats"]


# ---------------------------------------------------------------- writing


def test_post_request_creates_a_case_awaiting_verification(server, client):
    r = post_request(client, **{"attribute[urgency]": "urgent"})
    assert r.status_code == 200, r.text
    [created] = r.json()
    rid = created["service_request_id"]
    assert created["service_notice"] and "account_id" in created and created["token"]
    case = server.cg.service.get(rid)
    assert case.channel == "citizen" and case.reporter == "citizen_app"
    assert case.state == "pending_verification" and case.urgency == "urgent"
    assert case.category == "E0102" and case.grid.startswith("440303010001")
    assert case.lat == LAT and case.lon == LON
    assert case.evidence == ["https://img.example/o311.jpg"]
    assert "someone@example.com" not in case.description  # contact data is not stored


def test_address_id_is_a_grid_cell(server, client):
    r = post_request(client, lat="", long="", address_id=GRID)
    assert server.cg.service.get(rid_of(r)).grid == GRID


def test_a_json_body_is_accepted_too(server, client):
    r = client.post(f"{BASE}/requests.json", json={
        "api_key": CITIZEN_TOKEN, "service_code": "E0104", "lat": LAT, "long": LON,
        "attribute": {"urgency": "urgent"}})
    assert server.cg.service.get(rid_of(r)).urgency == "urgent"


def test_a_multipart_form_is_accepted_too(server, client):
    r = client.post(f"{BASE}/requests.json", files={
        "api_key": (None, CITIZEN_TOKEN), "service_code": (None, "E0102"),
        "lat": (None, str(LAT)), "long": (None, str(LON)), "description": (None, "路边垃圾")})
    assert server.cg.service.get(rid_of(r)).description == "路边垃圾"


@pytest.mark.parametrize("fields,status,word", [
    ({"api_key": "wrong"}, 403, "api_key"),
    ({"api_key": ""}, 403, "api_key"),
    ({"api_key": "hotline-demo-token.1.x"}, 403, "api_key"),
    ({"service_code": ""}, 400, "service_code"),
    ({"service_code": "Z9999"}, 400, "service_code"),
    ({"lat": "", "long": ""}, 400, "lat"),
    ({"lat": "1.0", "long": "1.0"}, 400, "lat"),
    ({"lat": "north"}, 400, "lat"),
    ({"lat": "91", "long": "114"}, 400, "lat"),
    ({"long": ""}, 400, "long"),
    ({"address_id": "44030301000100", "lat": "", "long": ""}, 400, "address_id"),
    ({"media_url": "not a url"}, 400, "evidence"),
    ({"attribute[urgency]": "panic"}, 400, "urgency"),
])
def test_bad_requests_get_georeport_errors(client, fields, status, word):
    r = post_request(client, **fields)
    assert r.status_code == status, r.text
    [err] = r.json()
    assert err["code"] == status and word in err["description"]


# ---------------------------------------------------------------- 1. malformed input


def head(server) -> int:
    return server.cg.projections.head()


def multipart(parts: list[tuple[str, bytes, str | None]]) -> tuple[bytes, str]:
    boundary = "cgBoundary7MA4YWxkTrZu0gW"
    out = b""
    for name, value, filename in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + value + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


GOOD = {"api_key": CITIZEN_TOKEN, "service_code": "E0102", "lat": LAT, "long": LON}
GOOD_FORM = "&".join(f"{k}={v}" for k, v in GOOD.items())
MALFORMED = {
    "json_api_key_a_number": (json.dumps(GOOD | {"api_key": 123}), "application/json", "api_key"),
    "json_lat_a_list": (json.dumps(GOOD | {"lat": [22.57]}), "application/json", "lat"),
    "json_long_an_object": (json.dumps(GOOD | {"long": {"v": 1}}), "application/json", "long"),
    "json_lat_a_boolean": (json.dumps(GOOD | {"lat": True}), "application/json", "lat"),
    "json_description_a_list": (json.dumps(GOOD | {"description": ["a"]}), "application/json",
                                "description"),
    "json_attribute_a_string": (json.dumps(GOOD | {"attribute": "x"}), "application/json",
                                "attribute"),
    "invalid_json": ('{"api_key": "x", ', "application/json", "body"),
    "json_not_an_object": ("[1, 2]", "application/json", "body"),
    "json_nan": (json.dumps(GOOD)[:-1] + ', "lat": NaN}', "application/json", "body"),
    "json_number_of_60000_digits": ('{"lat": ' + "1" * 60_000 + "}", "application/json", "body"),
    "json_key_twice": (json.dumps(GOOD)[:-1] + ', "service_code": "E0104"}', "application/json",
                       "service_code"),
    "json_nested_50000_deep": ('{"description": ' + "[" * 50_000, "application/json", "body"),
    "json_nested_32000_deep_closed": ('{"description": ' + "[" * 32_000 + "]" * 32_000 + "}",
                                      "application/json", "body"),
    "json_invalid_utf8": (b'{"api_key": "' + CITIZEN_TOKEN.encode() + b'", "description": "\xff\xfe"}',
                          "application/json", "body"),
    "json_lone_surrogate": (json.dumps(GOOD)[:-1] + ', "description": "\\ud800"}',
                            "application/json", "description"),
    "form_invalid_utf8_escaped": (GOOD_FORM + "&description=%FF%FE%E5",
                                  "application/x-www-form-urlencoded", "description"),
    "form_invalid_utf8_raw": (GOOD_FORM.encode() + b"&description=\xc3\x28",
                              "application/x-www-form-urlencoded", "description"),
    "form_field_twice": (GOOD_FORM + "&service_code=E0104", "application/x-www-form-urlencoded",
                         "service_code"),
    "form_unknown_attribute": (GOOD_FORM + "&attribute[colour]=red",
                               "application/x-www-form-urlencoded", "attribute[colour]"),
    "multipart_file_as_description": (
        *multipart([(k, str(v).encode(), None) for k, v in GOOD.items()]
                   + [("description", b"photo bytes", "a.jpg")]), "description"),
    "multipart_invalid_utf8": (
        *multipart([(k, str(v).encode(), None) for k, v in GOOD.items()]
                   + [("description", b"\xff\xfe\xfd", None)]), "description"),
    "multipart_broken": (b"--nope\r\nnothing", "multipart/form-data; boundary=cgB", "body"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_post_is_a_400_naming_the_field_and_stores_nothing(server, client, name):
    body, ctype, field = MALFORMED[name]
    before = head(server)
    r = client.post(f"{BASE}/requests.json", content=body, headers={"content-type": ctype})
    assert r.status_code == 400, r.text
    [err] = r.json()
    assert err["code"] == 400 and err["description"].startswith(field), err
    assert head(server) == before


def test_a_body_over_64_kib_is_413_and_stores_nothing(server, client):
    before = head(server)
    r = client.post(f"{BASE}/requests.json", json=GOOD | {"description": "垃圾" * 40_000})
    assert r.status_code == 413 and r.json()[0]["code"] == 413
    r = client.post(f"{BASE}/requests.json", content="[" * 70_000,
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert head(server) == before


def test_an_unreadable_content_type_is_415(server, client):
    r = client.post(f"{BASE}/requests.json", content=b"<x/>", headers={"content-type": "text/xml"})
    assert r.status_code == 415 and "content-type" in r.json()[0]["description"]


# ---------------------------------------------------------------- 2. dates on GET requests


@pytest.mark.parametrize("params,field", [
    ({"start_date": "0001-01-01T00:00:00"}, "start_date"),
    ({"start_date": "9999-12-31T23:59:59+14:00"}, "start_date"),
    ({"end_date": "0001-01-01T00:00:00Z"}, "end_date"),
    ({"start_date": "yesterday"}, "start_date"),
    ({"start_date": "2026-10-01T00:00:00Z" * 3}, "start_date"),
])
def test_a_date_out_of_range_is_a_400_naming_it(client, params, field):
    r = client.get(f"{BASE}/requests.json", params=params)
    assert r.status_code == 400, r.text
    assert r.json()[0]["description"].startswith(field)


def test_start_date_after_end_date_is_refused(client):
    r = client.get(f"{BASE}/requests.json", params={
        "start_date": "2026-10-02T00:00:00Z", "end_date": "2026-10-01T00:00:00Z"})
    assert r.status_code == 400 and r.json()[0]["description"].startswith("start_date")


# ---------------------------------------------------------------- 3. publication

PRIVATE = ("门口垃圾，联系我13812345678或0755-82123456，身份证440303199001011234，"
           "邮箱zhang.san@example.com")


def test_anonymous_reads_redact_personal_data_from_descriptions(client):
    rid = rid_of(post_request(client, description=PRIVATE))
    for req in (one(client, rid),
                next(r for r in client.get(f"{BASE}/requests.json").json()
                     if r["service_request_id"] == rid)):
        d = req["description"]
        for secret in ("13812345678", "82123456", "440303199001011234", "zhang.san@example.com"):
            assert secret not in d
        assert d.startswith("门口垃圾") and "[已隐去]" in d
    assert one(client, rid, api_key=STAFF_TOKEN)["description"] == PRIVATE


def test_anonymous_reads_round_coordinates_and_hide_evidence_urls(client):
    rid = rid_of(post_request(client, lat=str(EXACT_LAT), long=str(EXACT_LON)))
    req = one(client, rid)
    assert req["lat"] == 22.571 and req["long"] == 114.113
    assert "media_url" not in req and "address_id" not in req
    staff = one(client, rid, api_key=STAFF_TOKEN)
    assert staff["lat"] == EXACT_LAT and staff["long"] == EXACT_LON
    assert staff["media_url"] == "https://img.example/o311.jpg" and staff["address_id"]


def test_a_non_staff_channel_key_sees_the_public_view(client):
    rid = rid_of(post_request(client, description=PRIVATE))
    req = one(client, rid, api_key=CITIZEN_TOKEN)
    assert "13812345678" not in req["description"] and "media_url" not in req


def test_a_wrong_api_key_on_a_read_is_403(client):
    rid = rid_of(post_request(client))
    r = client.get(f"{BASE}/requests/{rid}.json", params={"api_key": "nope"})
    assert r.status_code == 403
    assert client.get(f"{BASE}/requests.json", params={"api_key": "nope"}).status_code == 403


def test_only_the_configured_public_channels_are_published(server, client):
    cg = server.cg
    patrol = cg.service.report(ReportCase(channel="patrol", category="E0102", grid=GRID,
                                          actor="sup_zhang", description="巡查发现"))
    inspection = cg.service.report(ReportCase(channel="inspection", category="E0102", grid=GRID,
                                              actor="acc_wang", description="暗访"))
    hotline = cg.service.report(ReportCase(channel="hotline", category="E0102", grid=GRID,
                                           actor="hotline_12345", description="热线"))
    for params in ({}, {"api_key": STAFF_TOKEN}):
        listed = {r["service_request_id"]
                  for r in client.get(f"{BASE}/requests.json", params=params).json()}
        assert str(hotline.id) in listed
        assert str(patrol.id) not in listed and str(inspection.id) not in listed
        both = client.get(f"{BASE}/requests.json", params=params | {
            "service_request_id": f"{patrol.id},{inspection.id},{hotline.id}"}).json()
        assert [r["service_request_id"] for r in both] == [str(hotline.id)]
        for hidden in (patrol, inspection):
            r = client.get(f"{BASE}/requests/{hidden.id}.json", params=params)
            assert r.status_code == 404


def test_internal_reasons_are_not_published_even_to_staff(server, client):
    rid = rid_of(post_request(client))
    with httpx.Client(base_url=server.url, timeout=30) as api:
        sup, acc = login(api, "sup_zhang"), login(api, "acc_wang")
        api.post(f"/api/cases/{rid}/verify", json={"passed": False, "reason": "现场无此问题"},
                 headers=sup)
        api.post(f"/api/cases/{rid}/refuse", json={"reason": "核实不属实，挂账说明"}, headers=acc)
    for params in ({}, {"api_key": STAFF_TOKEN}):
        req = one(client, rid, **params)
        assert req["status"] == "closed" and req["status_notes"].startswith("不予立案")
        assert "核实不属实" not in json.dumps(req, ensure_ascii=False)


# ---------------------------------------------------------------- reading, filters, XML


def test_get_request_follows_the_case(server, client):
    rid = rid_of(post_request(client))
    req = one(client, rid)
    assert req["service_request_id"] == rid and req["status"] == "open"
    assert req["service_code"] == "E0102" and req["service_name"] == "暴露垃圾"
    assert req["agency_responsible"] is None and req["lat"] == 22.571 and req["long"] == 114.113
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
        req = one(client, rid)
        assert req["status"] == "open" and req["agency_responsible"] == "罗湖区环境卫生管理所"
        assert req["status_notes"].startswith("派遣")
        for headers, action, body in [
            (hw, "resolve", None), (sup, "check", {"passed": True}),
            (acc, "close", {"reason": "已清理"}), (chief, "evaluate", {"rating": "satisfied"}),
        ]:
            assert api.post(f"/api/cases/{rid}/{action}", json=body, headers=headers).status_code == 200
    req = one(client, rid)
    assert req["status"] == "closed" and req["status_notes"].startswith("评价")


def test_get_requests_with_filters(client):
    a = rid_of(post_request(client, service_code="E0501"))
    b = rid_of(post_request(client, service_code="E0502"))
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


def test_requests_xml_have_the_spec_shape(client):
    r = client.post(f"{BASE}/requests.xml", data={
        "api_key": CITIZEN_TOKEN, "service_code": "E0102", "lat": str(LAT), "long": str(LON),
        "description": "xml 上报"})
    assert r.status_code == 200, r.text
    root = xml(r)
    assert root.tag == "service_requests"
    [created] = root.findall("request")
    rid, token = created.findtext("service_request_id"), created.findtext("token")
    assert rid and token and created.findtext("service_notice")
    assert created.find("account_id") is not None
    [req] = xml(client.get(f"{BASE}/requests/{rid}.xml")).findall("request")
    assert req.findtext("service_request_id") == rid and req.findtext("status") == "open"
    assert req.findtext("description") == "xml 上报" and req.findtext("lat") == "22.571"
    listed = xml(client.get(f"{BASE}/requests.xml"))
    assert listed.tag == "service_requests"
    assert rid in {x.findtext("service_request_id") for x in listed.findall("request")}


def test_errors_follow_the_path_format(client):
    r = client.post(f"{BASE}/requests.xml", data={"api_key": "wrong", "service_code": "E0102"})
    assert r.status_code == 403
    root = xml(r)
    assert root.tag == "errors" and root.findtext("error/code") == "403"
    assert "api_key" in root.findtext("error/description")
    r = client.get(f"{BASE}/requests.xml", params={"start_date": "0001-01-01T00:00:00"})
    assert r.status_code == 400 and xml(r).findtext("error/description").startswith("start_date")
    r = client.get(f"{BASE}/nothing-here.xml")
    assert r.status_code == 404 and xml(r).findtext("error/code") == "404"
    r = client.get(f"{BASE}/nothing-here.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    r = client.post(f"{BASE}/services.json")
    assert r.status_code == 405 and r.json()[0]["code"] == 405


def test_unknown_request_and_format(client):
    r = client.get(f"{BASE}/requests/00000000-0000-4000-8000-000000000000.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    assert client.get(f"{BASE}/requests/12345.json").status_code == 404
    assert client.get(f"{BASE}/services/E0102.xml").status_code == 200
    r = client.get(f"{BASE}/services/E0102.csv")
    assert r.status_code == 400 and "xml" in r.json()[0]["description"]


# ---------------------------------------------------------------- 4. tokens, places, checks


def test_the_post_token_maps_to_the_service_request_id(client):
    [created] = post_request(client).json()
    token, rid = created["token"], created["service_request_id"]
    assert token != rid
    assert client.get(f"{BASE}/tokens/{token}.json").json() == [
        {"service_request_id": rid, "token": token}]
    [req] = xml(client.get(f"{BASE}/tokens/{token}.xml")).findall("request")
    assert req.findtext("service_request_id") == rid and req.findtext("token") == token
    for unknown in ("A" * 24, "short", rid):
        r = client.get(f"{BASE}/tokens/{unknown}.json")
        assert r.status_code == 404 and r.json()[0]["description"].startswith("token")


def test_address_string_alone_is_placed_by_the_configured_addresses(server, client):
    r = post_request(client, lat="", long="", address_string="坭岗村 东门 垃圾站旁")
    case = server.cg.service.get(rid_of(r))
    assert case.grid == "44030301000102" and case.lat is None  # 坭岗村 → cell 02
    assert "坭岗村 东门" in case.description
    r = post_request(client, lat="", long="", address_string="ＭＥＩ梅园社区 3栋")
    assert server.cg.service.get(rid_of(r)).grid == "44030301000201"


def test_an_unknown_address_string_alone_is_a_clear_400(server, client):
    before = head(server)
    r = post_request(client, lat="", long="", address_string="火星路 1 号")
    assert r.status_code == 400
    d = r.json()[0]["description"]
    assert d.startswith("address_string") and "lat and long" in d and "坭岗社区" in d
    assert head(server) == before


@pytest.mark.parametrize("path", ["services.json", "services/E0102.json", "requests.json",
                                  "services.xml"])
def test_a_wrong_jurisdiction_id_is_404(client, path):
    r = client.get(f"{BASE}/{path}", params={"jurisdiction_id": "elsewhere.gov"})
    assert r.status_code == 404
    if path.endswith(".xml"):
        assert xml(r).findtext("error/description").startswith("jurisdiction_id")
    else:
        assert r.json()[0]["description"].startswith("jurisdiction_id")
    assert client.get(f"{BASE}/{path}", params={"jurisdiction_id": JURISDICTION}).status_code == 200


def test_a_post_for_another_jurisdiction_is_404_and_stores_nothing(server, client):
    before = head(server)
    r = post_request(client, jurisdiction_id="elsewhere.gov")
    assert r.status_code == 404 and head(server) == before
    assert post_request(client, jurisdiction_id=JURISDICTION).status_code == 200


def test_an_unknown_attribute_is_refused(server, client):
    before = head(server)
    r = post_request(client, **{"attribute[colour]": "red"})
    assert r.status_code == 400
    d = r.json()[0]["description"]
    assert d.startswith("attribute[colour]") and "urgency" in d
    assert head(server) == before


# ---------------------------------------------------------------- 5. only channel-account keys


def test_a_console_session_token_is_not_an_api_key(server, client):
    before = head(server)
    with httpx.Client(base_url=server.url, timeout=30) as api:
        for user in ("acc_wang", "sup_zhang"):
            session = login(api, user)["Authorization"].removeprefix("Bearer ")
            r = post_request(client, api_key=session)
            assert r.status_code == 403 and "api_key" in r.json()[0]["description"]
            r = client.get(f"{BASE}/requests.json", params={"api_key": session})
            assert r.status_code == 403
    assert head(server) == before


def test_a_channel_account_session_token_is_not_an_api_key_either(server, client):
    auth = server.app.state.auth
    session = auth.issue(server.cg.city.users["hotline_12345"])  # a signed login token
    assert post_request(client, api_key=session).status_code == 403
    assert client.get(f"{BASE}/requests.json", params={"api_key": session}).status_code == 403



def test_a_query_string_that_is_not_utf8_is_a_400_naming_the_parameter(client):
    r = client.get(f"{BASE}/requests.json?service_code=%FF%FE")
    assert r.status_code == 400 and r.json()[0]["description"].startswith("service_code")
