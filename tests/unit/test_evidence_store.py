"""The evidence store on disk and its upload checks (Pillow): content addressing,
idempotent and atomic writes, tampering detected, orientation and metadata, refusals."""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path

import pytest
from PIL import Image

from adapters.evidence import FileStore, Limits, TooLarge, Unsupported, ref_of
from adapters.evidence.photos import prepare
from domain.errors import NotFoundError, ValidationError

DATA = Path(__file__).resolve().parents[1] / "data" / "evidence"


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.fixture
def store(tmp_path):
    return FileStore(tmp_path / "evidence")


def test_the_ref_is_the_sha256_of_the_stored_original(store):
    data = read("before.jpg")
    s = store.put(data, "image/jpeg")
    hex_ = hashlib.sha256(data).hexdigest()
    assert s.ref == f"sha256:{hex_}"
    path = store.root / hex_[:2] / hex_[2:4] / hex_
    assert path.read_bytes() == data  # exactly the bytes the phone sent
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hex_
    assert store.original(s.ref).data == data
    assert store.exists(s.ref) and store.verify(s.ref)
    assert s.as_dict()["url"] == f"/evidence/{hex_}"
    assert s.as_dict()["thumb_url"] == f"/evidence/{hex_}/thumb"


def test_put_is_idempotent_the_same_bytes_stored_once(store):
    data = read("street.jpg")
    first = store.put(data)
    files = sorted(p for p in store.root.rglob("*") if p.is_file())
    stamps = [p.stat().st_mtime_ns for p in files]
    second = store.put(data, "image/png")  # a wrong declared type changes nothing
    assert second == first
    again = sorted(p for p in store.root.rglob("*") if p.is_file())
    assert again == files and [p.stat().st_mtime_ns for p in again] == stamps
    assert len(files) == 4  # original, display copy, thumbnail, metadata


def test_writes_are_atomic_a_failed_write_leaves_nothing_behind(store, monkeypatch):
    data = read("street.jpg")
    real = os.replace

    def crash(src, dst):
        if str(dst).endswith(".thumb.jpg"):
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.put(data)
    ref = "sha256:" + hashlib.sha256(data).hexdigest()
    assert not store.exists(ref)  # the metadata, written last, is absent: not stored
    assert not [p for p in store.root.rglob(".tmp-*")]  # no temporary file left
    monkeypatch.setattr(os, "replace", real)
    assert store.put(data).ref == ref and store.exists(ref) and store.verify(ref)


def test_a_tampered_file_is_detected_by_verify_and_healed_by_a_new_put(store):
    data = read("before.jpg")
    s = store.put(data)
    path = store.root / key_path(s.ref)
    path.write_bytes(data[:-10] + b"0123456789")  # an edited photo under the old name
    assert store.exists(s.ref) and not store.verify(s.ref)
    path.unlink()
    assert not store.verify(s.ref)
    store.put(data)
    assert store.verify(s.ref)


def key_path(ref: str) -> str:
    h = ref.removeprefix("sha256:")
    return f"{h[:2]}/{h[2:4]}/{h}"


def test_exif_orientation_applied_to_the_display_copy_and_no_gps_kept(store):
    s = store.put(read("before.jpg"))  # 64×32 sensor image, EXIF orientation 6, GPS
    assert (s.width, s.height) == (32, 64)  # as a person sees it: portrait
    shown = Image.open(io.BytesIO(store.open(s.ref).data))
    assert shown.size == (32, 64) and shown.format == "JPEG"
    exif = shown.getexif()
    assert 0x8825 not in exif and 0x0112 not in exif  # no GPS, no orientation left to apply
    thumb = Image.open(io.BytesIO(store.thumb(s.ref).data))
    assert thumb.format == "JPEG" and 0x8825 not in thumb.getexif()
    original = Image.open(io.BytesIO(store.original(s.ref).data))
    assert 0x8825 in original.getexif()  # the proof keeps what the phone recorded


def test_thumbnails_are_jpegs_of_at_most_320_px(store):
    big = io.BytesIO()
    Image.new("RGB", (1600, 900), "orange").save(big, "PNG")
    s = store.put(big.getvalue())
    assert (s.content_type, s.width, s.height) == ("image/png", 1600, 900)
    thumb = Image.open(io.BytesIO(store.thumb(s.ref).data))
    assert thumb.format == "JPEG" and max(thumb.size) == 320
    assert store.open(s.ref).content_type == "image/png"


@pytest.mark.parametrize("name,kind", [("after.png", "image/png"), ("small.webp", "image/webp"),
                                       ("street.jpg", "image/jpeg")])
def test_jpeg_png_and_webp_are_taken(store, name, kind):
    s = store.put(read(name))
    assert s.content_type == kind and store.open(s.ref).content_type == kind


@pytest.mark.parametrize("name,error,rule", [
    ("not_an_image.jpg", Unsupported, "not a JPEG, PNG or WebP"),
    ("anim.gif", Unsupported, "only JPEG, PNG or WebP"),
    ("truncated.jpg", ValidationError, "could not be read|does not decode"),
    ("bomb.png", TooLarge, "pixels"),
])
def test_what_is_not_a_photo_is_refused_by_field_and_nothing_stored(store, name, error, rule):
    with pytest.raises(error) as e:
        store.put(read(name))
    assert e.value.field == "file" and re.search(rule, e.value.rule)
    assert not store.root.exists() or not any(store.root.rglob("*"))


def test_limits_size_and_pixels(tmp_path):
    small = FileStore(tmp_path, Limits(max_bytes=5000, max_pixels=1000))
    with pytest.raises(TooLarge) as e:
        small.put(read("street.jpg"))  # 9 KB
    assert e.value.field == "file" and "at most 5000" in e.value.rule
    with pytest.raises(TooLarge, match="pixels"):
        small.put(read("after.png"))  # 48×36 = 1728 pixels
    with pytest.raises(ValidationError, match="empty"):
        prepare(b"")
    with pytest.raises(ValidationError, match="file upload"):
        prepare("text")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "sha256:", "sha256:" + "A" * 64, "0" * 63, "g" * 64,
                                 "../" + "0" * 61, "sha256:" + "0" * 64 + "\x00", None, 7])
def test_a_ref_is_64_lowercase_hex(bad):
    with pytest.raises(ValidationError) as e:
        ref_of(bad)
    assert e.value.field == "ref"


def test_unknown_refs_are_not_found(store):
    ref = "sha256:" + "0" * 64
    assert not store.exists(ref) and not store.verify(ref)
    for get in (store.open, store.thumb, store.original, store.info):
        with pytest.raises(NotFoundError):
            get(ref)
    assert store.missing([ref, "https://example.org/a.jpg"]) == [ref]


def test_the_store_lives_under_the_data_dir(tmp_path):
    from adapters.evidence import evidence_store

    assert evidence_store(tmp_path).root == tmp_path / "evidence"
    db = {"SQLITE_DBNAME": str(tmp_path / "x" / "cg.sqlite")}
    assert evidence_store(env=db).root == tmp_path / "x" / "evidence"  # beside its store
    assert evidence_store(tmp_path, env=db).root == tmp_path / "evidence"


@pytest.mark.parametrize("value", ["0", "-1", "ten", "1e9", "99999999999", "1\x00"])
def test_limits_from_the_environment_are_whole_numbers(value):
    from adapters.evidence import limits_from
    from domain.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        limits_from({"CASEGRID_EVIDENCE_MAX_BYTES": value})
    assert e.value.field == "CASEGRID_EVIDENCE_MAX_BYTES"
    assert limits_from({"CASEGRID_EVIDENCE_MAX_BYTES": "2048"}).max_bytes == 2048
