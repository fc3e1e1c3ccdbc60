"""Photo evidence over HTTP, on a live server: POST /api/evidence (the contract the field
app uses: ref, url, thumb_url), GET /evidence/<hex>[/thumb|/original], the refusals (size,
kind, file name, field, login, role, CSRF, refs), refs on reports and steps, and the
console's resolve form posting a photo."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import httpx
import pytest
from PIL import Image

from adapters.bootstrap import bootstrap
from tests.e2e.http_support import CATEGORY, GRID, LiveServer, console_login, form_token, login
from tests.support import city, drive

DATA = Path(__file__).resolve().parents[1] / "data" / "evidence"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cg = bootstrap(data_dir=tmp_path_factory.mktemp("evidence"), city=city())
    with LiveServer(cg) as s:
        yield s
    cg.close()


@pytest.fixture(scope="module")
def api(server):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        c.headers.update(login(c, "hw_luo"))
        yield c


def upload(client, data: bytes, name="photo.jpg", kind="image/jpeg", **kw) -> httpx.Response:
    return client.post("/api/evidence", files={"file": (name, data, kind)}, **kw)


def stored_files(server) -> int:
    root = server.cg.evidence.root
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def test_a_jpeg_upload_answers_the_contract_and_is_served(api):
    data = (DATA / "before.jpg").read_bytes()
    r = upload(api, data)
    assert r.status_code == 201, r.text
    body = r.json()
    hex_ = hashlib.sha256(data).hexdigest()
    assert body == {"ref": f"sha256:{hex_}", "url": f"/evidence/{hex_}",
                    "thumb_url": f"/evidence/{hex_}/thumb", "bytes": len(data),
                    "content_type": "image/jpeg", "width": 32, "height": 64}
    photo = api.get(body["url"])
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    assert photo.headers["x-content-type-options"] == "nosniff"
    assert "max-age=31536000" in photo.headers["cache-control"]
    assert Image.open(io.BytesIO(photo.content)).size == (32, 64)  # orientation applied
    thumb = api.get(body["thumb_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert api.get(body["url"], headers={"If-None-Match": f'"{hex_}"'}).status_code == 304
    assert upload(api, data).json()["ref"] == body["ref"]  # the same bytes, the same ref
    about = api.get(f"/api/evidence/{hex_}")
    assert about.status_code == 200 and about.json() == body | {"verified": True}
    assert api.get(f"/api/evidence/{body['ref']}").json()["verified"] is True
    assert api.get("/api/evidence/" + "0" * 64).status_code == 404
    r = api.get("/api/evidence/xyz")
    assert r.status_code == 422 and r.json()["field"] == "ref"


def test_png_and_webp_uploads_keep_their_type(api):
    for name, kind in (("after.png", "image/png"), ("small.webp", "image/webp")):
        r = upload(api, (DATA / name).read_bytes(), name, "application/octet-stream")
        assert r.status_code == 201 and r.json()["content_type"] == kind
        assert api.get(r.json()["url"]).headers["content-type"] == kind


def test_oversize_uploads_are_413_naming_file(api, server):
    before = stored_files(server)
    r = upload(api, b"\xff\xd8\xff" + bytes(10 * MB - 2))  # one byte over 10 MB
    assert r.status_code == 413 and r.json()["field"] == "file"
    assert "10485760" in r.json()["rule"]
    r = upload(api, bytes(12 * MB))  # refused on its Content-Length, before it is read
    assert r.status_code == 413 and r.json()["field"] == "file"


    def chunks():  # no Content-Length: refused once the bound is passed while reading
        yield b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
        for _ in range(12):
            yield bytes(MB)

    r = api.post("/api/evidence", content=chunks(),
                 headers={"Content-Type": "multipart/form-data; boundary=XX"})
    assert r.status_code == 413 and r.json()["field"] == "file"
    assert stored_files(server) == before


@pytest.mark.parametrize("name,status", [("not_an_image.jpg", 415), ("anim.gif", 415),
                                         ("truncated.jpg", 422), ("bomb.png", 413)])
def test_what_is_not_a_photo_is_refused_naming_file(api, server, name, status):
    before = stored_files(server)
    r = upload(api, (DATA / name).read_bytes(), name, "image/jpeg")
    assert r.status_code == status and r.json()["field"] == "file", r.text
    assert stored_files(server) == before


def test_bad_requests_name_the_field(api, server):
    before = stored_files(server)
    jpeg = (DATA / "before.jpg").read_bytes()
    raw = (b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a\x00b.jpg"\r\n'
           b"Content-Type: image/jpeg\r\n\r\n" + jpeg + b"\r\n--XX--\r\n")  # httpx escapes NUL
    r = api.post("/api/evidence", content=raw,
                 headers={"Content-Type": "multipart/form-data; boundary=XX"})
    assert r.status_code == 422 and r.json()["field"] == "file.filename"
    r = api.post("/api/evidence", files={"photo": ("a.jpg", jpeg, "image/jpeg")})
    assert r.status_code == 422 and r.json()["field"] == "photo"  # a file under another name
    r = api.post("/api/evidence", data={"file": "not a file"})
    assert r.status_code == 422 and r.json()["field"] == "file"
    r = api.post("/api/evidence", json={"file": "x"})
    assert r.status_code == 422 and r.json()["field"] == "file"
    r = api.post("/api/evidence", content=b"--x\r\nbroken", headers={
        "Content-Type": "multipart/form-data"})
    assert r.status_code == 422 and r.json()["field"] == "file"
    r = api.post("/api/evidence", files=[("file", ("a.jpg", jpeg, "image/jpeg")),
                                         ("file", ("b.jpg", jpeg, "image/jpeg"))])
    assert r.status_code == 422 and "one photo" in r.json()["rule"]
    assert stored_files(server) == before


def test_login_role_and_csrf(server):
    jpeg = (DATA / "street.jpg").read_bytes()
    with httpx.Client(base_url=server.url, timeout=30) as c:
        assert upload(c, jpeg).status_code == 401
        r = upload(c, jpeg, headers=login(c, "insp_sun"))
        assert r.status_code == 403  # the inspector reads everything and changes nothing
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        assert console_login(browser, "sup_zhang").status_code == 303
        r = upload(browser, jpeg)
        assert r.status_code == 403 and r.json()["field"] == "x-csrf-token"
        token = re.search(r'name="csrf-token" content="([^"]+)"', browser.get("/queues").text)
        r = upload(browser, jpeg, headers={"X-CSRF-Token": token.group(1)})
        assert r.status_code == 201
        assert browser.get(r.json()["thumb_url"]).status_code == 200  # the cookie reads
    with httpx.Client(base_url=server.url, timeout=30) as anon:
        r = anon.get(f"/evidence/{hashlib.sha256(jpeg).hexdigest()}/thumb")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_a_swapped_original_shows_as_not_verified(api, server):
    data = (DATA / "small.webp").read_bytes()
    hex_ = upload(api, data, "small.webp").json()["ref"][7:]
    (server.cg.evidence.root / hex_[:2] / hex_[2:4] / hex_).write_bytes(data + b"x")
    assert api.get(f"/api/evidence/{hex_}").json()["verified"] is False
    assert upload(api, data, "small.webp").status_code == 201  # the upload heals it
    assert api.get(f"/api/evidence/{hex_}").json()["verified"] is True


def test_refs_are_64_hex_and_unknown_ones_404(api):
    for bad in ("xyz", "A" * 64, "0" * 63, "0" * 65, "%00" + "0" * 61):
        assert api.get(f"/evidence/{bad}").status_code == 422, bad
        assert api.get(f"/evidence/{bad}/thumb").status_code == 422, bad
    assert "ref" in api.get("/evidence/xyz").text
    assert api.get("/evidence/" + "0" * 64).status_code == 404
    assert api.get("/evidence/" + "0" * 64 + "/thumb").status_code == 404


def test_the_original_is_for_the_center(api, server):
    data = (DATA / "before.jpg").read_bytes()
    hex_ = upload(api, data).json()["ref"][7:]
    assert api.get(f"/evidence/{hex_}/original").status_code == 403  # a unit member
    with httpx.Client(base_url=server.url, timeout=30) as c:
        r = c.get(f"/evidence/{hex_}/original", headers=login(c, "insp_sun"))
        assert r.status_code == 200 and r.content == data  # exactly what the phone sent
        assert hashlib.sha256(r.content).hexdigest() == hex_


def test_a_report_and_a_resolve_name_only_stored_photos(api, server):
    missing = "sha256:" + "e" * 64
    with httpx.Client(base_url=server.url, timeout=30) as c:
        sup = login(c, "sup_zhang")
        body = {"channel": "patrol", "category": CATEGORY, "grid": GRID, "evidence": [missing]}
        r = c.post("/api/cases", json=body, headers=sup)
        assert r.status_code == 422 and r.json()["field"] == "evidence[0]"
        ref = upload(c, (DATA / "street.jpg").read_bytes(), headers=sup).json()["ref"]
        r = c.post("/api/cases", json=body | {"evidence": ["https://example.org/a.jpg", ref]},
                   headers=sup)
        assert r.status_code == 201, r.text
        assert ref in server.cg.service.get(r.json()["case_id"]).evidence
    cid = str(drive(server.cg.service, "dispatched").id)
    r = api.post(f"/api/cases/{cid}/resolve", json={"evidence": [missing]})
    assert r.status_code == 422 and r.json()["field"] == "evidence[0]"
    after = upload(api, (DATA / "after.png").read_bytes(), "after.png").json()["ref"]
    r = api.post(f"/api/cases/{cid}/resolve", json={"evidence": [after]})
    assert r.status_code == 200 and after in server.cg.service.get(cid).evidence


def test_the_console_resolve_form_stores_the_posted_photo(server):
    cid = str(drive(server.cg.service, "dispatched").id)
    data = (DATA / "street.jpg").read_bytes()
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        assert console_login(browser, "hw_luo").status_code == 303
        page = browser.get(f"/cases/{cid}").text
        assert 'enctype="multipart/form-data"' in page and 'name="photo"' in page
        version = re.search(r'name="expected_version" value="(\d+)"', page).group(1)
        fields = {"csrf_token": form_token(page), "expected_version": version}
        bad = browser.post(f"/cases/{cid}/act/resolve", data=fields,
                           files={"photo": ("x.jpg", b"not a photo", "image/jpeg")},
                           headers={"Origin": server.url})
        assert bad.status_code == 415 and 'data-field="photo"' in bad.text
        assert server.cg.service.get(cid).state == "dispatched"
        r = browser.post(f"/cases/{cid}/act/resolve", data=fields,
                         files={"photo": ("street.jpg", data, "image/jpeg")},
                         headers={"Origin": server.url})
        assert r.status_code == 303, r.text[:500]
        ref = "sha256:" + hashlib.sha256(data).hexdigest()
        assert ref in server.cg.service.get(cid).evidence
        page = browser.get(f"/cases/{cid}").text
        assert f'src="/evidence/{ref[7:]}/thumb"' in page
