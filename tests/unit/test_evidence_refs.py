"""Evidence references on events: URLs or stored photos (`sha256:<hex>`), and the city's
rule that resolving some categories needs an after-photo (处置后照片)."""

from __future__ import annotations

import copy
import hashlib
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.bootstrap import bootstrap
from adapters.config.city_build import build_city
from domain import validate
from domain.errors import RefusedError, ValidationError
from tests.support import MEMBER, POPO, T0, act, city, drive, report
from workflows.commands import CaseAction

DATA = Path(__file__).resolve().parents[1] / "data" / "evidence"
AFTER = (DATA / "after.png").read_bytes()
PHOTO = "sha256:" + hashlib.sha256(AFTER).hexdigest()  # stored by the fixture


def test_a_stored_photo_ref_is_evidence_beside_urls():
    refs = ["https://example.org/a.jpg", PHOTO]
    assert validate.evidence(refs) == refs
    assert validate.photos(refs) == [PHOTO]


@pytest.mark.parametrize("bad,rule", [
    ("sha256:" + "AB" * 32, "64 lowercase hex"),
    ("sha256:" + "a" * 63, "64 lowercase hex"),
    ("sha256:" + "a" * 64 + "\x00", "64 lowercase hex"),
    ("sha256:", "64 lowercase hex"),
    ("ab" * 32, "neither a URL"),
    ("ftp://example.org/a.jpg", "neither a URL"),
    ("javascript:alert(1)", "neither a URL"),
])
def test_anything_else_is_refused_naming_the_reference(bad, rule):
    with pytest.raises(ValidationError) as e:
        validate.evidence(["https://example.org/ok.jpg", bad])
    assert e.value.field == "evidence[1]" and rule in e.value.rule


def photo_city():
    raw = copy.deepcopy(city().raw)
    for big in raw["categories"]["events"]:
        if big["code"] == "01":  # 市容环境, E0102 暴露垃圾 among them
            big["resolve_requires_photo"] = True
    return build_city(raw)


@pytest.fixture
def svc(tmp_path):
    cg = bootstrap(env=POPO, city=photo_city(), data_dir=tmp_path)
    assert cg.evidence.put(AFTER).ref == PHOTO  # a stored after-photo
    yield cg.service
    cg.close()


def test_every_channel_names_only_stored_photos(svc):
    missing = "sha256:" + "cd" * 32
    with pytest.raises(ValidationError) as e:
        report(svc, evidence=["https://example.org/a.jpg", missing])
    assert e.value.field == "evidence[1]" and "not in the evidence store" in e.value.rule
    case = drive(svc, "dispatched")
    with pytest.raises(ValidationError) as e:
        act(svc, case, "resolve", MEMBER, T0 + timedelta(hours=1), evidence=[missing])
    assert e.value.field == "evidence[0]"
    outcomes = svc.execute([CaseAction(case.id, "resolve", MEMBER, T0 + timedelta(hours=1),
                                       evidence=[missing])])  # Kafka, import: in a batch
    assert outcomes[0].error.field == "evidence[0]"
    assert report(svc, evidence=[PHOTO]).evidence == [PHOTO]


def test_the_city_file_marks_the_categories(svc):
    cats = svc.city.categories
    assert cats["E0102"].resolve_requires_photo and not cats["C0101"].resolve_requires_photo
    assert not city().categories["E0102"].resolve_requires_photo  # the sample asks for none


def test_resolve_without_an_after_photo_is_refused_naming_evidence(svc):
    case = drive(svc, "dispatched")  # E0102
    at = T0 + timedelta(hours=1)
    for evidence in ([], ["https://example.org/after.jpg"]):
        with pytest.raises(ValidationError) as e:
            act(svc, case, "resolve", MEMBER, at, evidence=evidence)
        assert e.value.field == "evidence" and "after-photo" in e.value.rule
    assert svc.get(case.id).state == "dispatched"  # nothing recorded
    done = act(svc, case, "resolve", MEMBER, at, evidence=["https://example.org/a.jpg", PHOTO])
    assert done.state == "pending_check" and PHOTO in done.evidence


def test_the_lifecycle_refuses_first_and_other_categories_need_no_photo(svc):
    case = drive(svc, "dispatched")
    with pytest.raises(RefusedError):  # the wrong role learns nothing about photos
        act(svc, case, "resolve", "sup_zhang", T0 + timedelta(hours=1))
    c = report(svc, category="C0101")  # 上水井盖: no photo asked for
    c = act(svc, c, "file", "acc_wang", T0 + timedelta(minutes=1))
    c = act(svc, c, "dispatch", "disp_chen", T0 + timedelta(minutes=2))
    member = next(u.id for u in svc.city.users.values()
                  if u.role == "unit_member" and u.unit == c.unit)
    c = act(svc, c, "resolve", member, T0 + timedelta(minutes=3))
    assert c.state == "pending_check"
