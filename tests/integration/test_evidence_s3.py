"""The evidence store on S3, against a real S3-protocol server: moto's standalone server
(`moto_server`, from the dev extra moto[server]) started on a free 127.0.0.1 port for this
module and stopped after it. The same checks as on disk: the ref is the hash of the stored
object, a second put stores nothing, tampering is detected."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from adapters.evidence import S3Store, evidence_store
from domain.errors import ConfigError, NotFoundError
from tests.e2e.http_support import free_port

DATA = Path(__file__).resolve().parents[1] / "data" / "evidence"
SERVER = Path(sys.executable).with_name("moto_server")


@pytest.fixture(scope="module")
def s3_url():
    exe = str(SERVER) if SERVER.exists() else shutil.which("moto_server")
    if not exe:
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def store(s3_url, request):
    bucket = "evidence-" + hashlib.sha1(request.node.name.encode()).hexdigest()[:12]
    return evidence_store(env={"CASEGRID_EVIDENCE_S3_URL": s3_url,
                               "CASEGRID_EVIDENCE_S3_BUCKET": bucket,
                               "CASEGRID_EVIDENCE_S3_KEY": "test", "CASEGRID_EVIDENCE_S3_SECRET": "test"})


def objects(store: S3Store) -> dict[str, str]:
    listed = store.client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
    return {o["Key"]: (o["ETag"], o["LastModified"]) for o in listed}


def test_the_s3_store_keeps_the_photo_under_its_hash(store):
    assert isinstance(store, S3Store)
    data = (DATA / "before.jpg").read_bytes()
    s = store.put(data, "image/jpeg")
    hex_ = hashlib.sha256(data).hexdigest()
    assert s.ref == "sha256:" + hex_ and (s.width, s.height) == (32, 64)
    key = f"{hex_[:2]}/{hex_[2:4]}/{hex_}"
    body = store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
    assert body == data and store.original(s.ref).data == data
    assert store.exists(s.ref) and store.verify(s.ref)
    assert store.thumb(s.ref).content_type == "image/jpeg"
    assert store.open(s.ref).content_type == "image/jpeg"
    assert sorted(objects(store)) == sorted([key, key + ".display", key + ".thumb.jpg",
                                             key + ".json"])


def test_the_same_photo_is_stored_once(store):
    data = (DATA / "street.jpg").read_bytes()
    first = store.put(data)
    before = objects(store)
    time.sleep(1.1)  # a rewrite would show in LastModified (whole seconds)
    assert store.put(data) == first
    assert objects(store) == before


def test_tampering_on_s3_is_detected(store):
    data = (DATA / "after.png").read_bytes()
    s = store.put(data)
    hex_ = s.ref.removeprefix("sha256:")
    store.client.put_object(Bucket=store.bucket, Key=f"{hex_[:2]}/{hex_[2:4]}/{hex_}",
                            Body=data + b"edited")
    assert store.exists(s.ref) and not store.verify(s.ref)
    unknown = "sha256:" + "1" * 64
    assert not store.exists(unknown) and not store.verify(unknown)
    with pytest.raises(NotFoundError):
        store.thumb(unknown)


def test_an_incomplete_s3_setting_names_the_missing_variable():
    with pytest.raises(ConfigError) as e:
        evidence_store(env={"CASEGRID_EVIDENCE_S3_URL": "http://127.0.0.1:9"})
    assert e.value.field == "CASEGRID_EVIDENCE_S3_BUCKET"
