"""Notifications over HTTP (通知): a unit reads its own and never another unit's, in the API
and the console; read marks; bad input refused by name; the server's worker made them."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest

from adapters.bootstrap import bootstrap
from tests.e2e.http_support import CITIZEN_TOKEN, LiveServer, console_login, form_token, login
from tests.support import T0, act, city, drive, report


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("notices-http"), city=city())
    hw = drive(cg.service, "dispatched")  # 暴露垃圾 -> hw
    other = report(cg.service, category="C0101")  # 上水井盖 -> another unit
    act(cg.service, other, "file", "acc_wang", T0 + timedelta(minutes=1))
    act(cg.service, other, "dispatch", "disp_chen", T0 + timedelta(minutes=2))
    with LiveServer(cg) as s:
        s.hw_case, s.other_case = hw, cg.app.repository.get(other.id)
        yield s
    cg.close()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=20) as c:
        yield c


def _wait_notified(client, headers, n=1):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = client.get("/api/notifications", headers=headers).json()
        if got["total"] >= n:
            return got
        time.sleep(0.2)
    raise AssertionError("the server's notifier made nothing")


def test_a_unit_reads_its_own_notifications_only(server, client):
    other_unit = server.other_case.unit
    assert other_unit != "hw"
    member = next(u.id for u in server.cg.city.users.values() if u.unit == other_unit)
    hw, them = login(client, "hw_luo"), login(client, member)
    mine = _wait_notified(client, hw)
    theirs = _wait_notified(client, them)
    assert {n["case_id"] for n in mine["items"]} == {str(server.hw_case.id)}
    assert {n["case_id"] for n in theirs["items"]} == {str(server.other_case.id)}
    assert all(n["recipient_kind"] == "unit" and n["recipient_id"] == "hw" for n in mine["items"])
    their_id = theirs["items"][0]["id"]
    r = client.post(f"/api/notifications/{their_id}/read", headers=hw)
    assert r.status_code == 404
    assert client.get("/api/notifications", headers=them).json()["unread"] == theirs["unread"]
    field = client.get("/api/notifications", params={"channel": "field"}, headers=hw).json()
    assert field["total"] == mine["total"]
    r = client.post(f"/api/notifications/{mine['items'][0]['id']}/read", headers=hw)
    assert r.status_code == 200 and r.json()["marked"] == 1
    assert client.get("/api/notifications", headers=hw).json()["unread"] == mine["unread"] - 1
    assert client.get("/api/notifications", params={"unread": "true"},
                      headers=hw).json()["total"] == mine["unread"] - 1


def test_the_console_list_is_the_viewers_and_marks_read(server):
    with httpx.Client(base_url=server.url, timeout=20) as c:
        console_login(c, "cg_liu")  # unit cgj: none of hw's
        page = c.get("/notifications")
        assert page.status_code == 200
        assert str(server.hw_case.id) not in page.text
        hw_note = server.cg.sql.query("SELECT id FROM cg_notifications WHERE recipient_id = 'hw'")
        r = c.post("/notifications/read", data={"id": hw_note[0][0], "next": "/notifications",
                                                "csrf_token": form_token(page.text)},
                   headers={"Origin": server.url})
        assert r.status_code == 404
    with httpx.Client(base_url=server.url, timeout=20) as c:
        console_login(c, "hw_luo")
        page = c.get("/notifications")
        assert page.status_code == 200 and "通知" in page.text
        assert str(server.hw_case.id) in page.text
        r = c.post("/notifications/read", data={"next": "/m/notifications",
                                                "csrf_token": form_token(page.text)},
                   headers={"Origin": server.url}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/m/notifications"
        assert 'class="notice unread"' not in c.get("/m/notifications").text


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"), ({"offset": "-1"}, "offset"),
    ({"offset": "1" * 30}, "offset"), ({"channel": "sms"}, "channel"),
    ({"channel": "\x00"}, "channel"), ({"unread": "maybe"}, "unread"),
])
def test_bad_queries_are_refused_by_name(server, client, params, field):
    r = client.get("/api/notifications", params=params, headers=login(client, "hw_luo"))
    assert r.status_code == 422 and field in r.text, (params, r.text)


def test_bad_ids_and_forms_are_refused_by_name(server, client):
    h = login(client, "hw_luo")
    r = client.post("/api/notifications/not-a-uuid/read", headers=h)
    assert r.status_code == 422 and "id" in r.text
    with httpx.Client(base_url=server.url, timeout=20) as c:
        console_login(c, "hw_luo")
        tok = form_token(c.get("/notifications").text)
        for data, field in (({"id": "x" * 100}, "id"), ({"next": "https://evil.example/"}, "next"),
                            ({"id": "abc\x00"}, "id")):
            r = c.post("/notifications/read", data=data | {"csrf_token": tok},
                       headers={"Origin": server.url})
            assert r.status_code == 422 and field in r.text, (data, r.status_code)
        r = c.get("/notifications", params={"unread": "2"})
        assert r.status_code == 422


def test_a_channel_account_has_no_notifications(server, client):
    r = client.get("/api/notifications", headers={"Authorization": f"Bearer {CITIZEN_TOKEN}"})
    assert r.status_code == 403
