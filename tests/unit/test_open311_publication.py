"""The city's `open311` section (adapters/config: city_file.py, city_build.py) and its publication rules
(domain/open311.py): redaction of personal data, address placement, config errors."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from adapters.config.city_build import build_city
from domain.errors import ConfigError, ValidationError
from domain.open311 import DEFAULT_PUBLIC_FIELDS, FIELDS, REDACTED, redact

SAMPLE = Path(__file__).resolve().parents[2] / "adapters/cities/sample.yaml"


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))


def with_open311(raw: dict, section) -> dict:
    out = copy.deepcopy(raw)
    out["open311"] = section
    return out


# ---------------------------------------------------------------- redaction


@pytest.mark.parametrize("typed,secret", [
    ("电话13812345678请回电", "13812345678"),
    ("call 138-1234-5678 now", "138-1234-5678"),
    ("手机 +86 139 1234 5678", "139 1234 5678"),
    ("１３８１２３４５６７８", "１３８１２３４５６７８"),  # full-width digits
    ("座机0755-82123456转123", "82123456"),
    ("(0755)82123456", "82123456"),
    ("０７５５－８２１２３４５６", "８２１２３４５６"),
    ("+86 755 8212 3456", "8212 3456"),
    ("身份证440303199001011234在此", "440303199001011234"),
    ("身份证44030319900101123X", "44030319900101123X"),
    ("邮箱zhang.san+x@example.com联系", "zhang.san+x@example.com"),
    ("电话：8212345", "8212345"),
    ("Tel: 8212 3456", "8212 3456"),
])
def test_personal_data_is_redacted_from_descriptions(typed, secret):
    out = redact(typed)
    assert secret not in out and REDACTED in out


@pytest.mark.parametrize("typed", [
    "12345热线转来", "门牌号2008号", "坭岗村（东门）垃圾堆积", "E0102 暴露垃圾 3 处", "",
    "面积约 120 平方米，2026年10月12日发现",
])
def test_ordinary_text_is_published_as_typed(typed):
    assert redact(typed) == typed


def test_redaction_keeps_the_rest_of_the_text_as_typed():
    assert redact("（东门）电话13812345678，谢谢！") == f"（东门）电话{REDACTED}，谢谢！"


# ---------------------------------------------------------------- the section


def test_the_sample_section(raw):
    pub = build_city(copy.deepcopy(raw)).open311
    assert pub.jurisdiction_id and pub.public_channels == ("citizen", "hotline")
    assert "media_url" not in pub.public_fields and pub.coordinate_decimals == 3
    assert pub.staff_accounts == ("hotline_12345",) and pub.step_reasons == "none"
    assert pub.place("坭岗村东门") == "44030301000102"  # longest name wins over none
    assert pub.place("坭岗社区 3 栋") == "44030301000101"


def test_without_the_section_only_open311_reports_are_public_and_nothing_is_placed(raw):
    pub = build_city(with_open311(raw, None)).open311
    assert pub.public_channels == ("open311",) and pub.public_fields == DEFAULT_PUBLIC_FIELDS
    assert pub.jurisdiction_id is None and pub.step_reasons == "none"
    assert pub.is_staff("citizen_app")  # no staff_accounts: every channel account
    with pytest.raises(ValidationError, match="places no address"):
        pub.place("坭岗社区")


def test_staff_see_every_field_and_public_only_the_listed_ones(raw):
    pub = build_city(with_open311(raw, {"public_fields": ["status_notes"]})).open311
    assert pub.fields(staff=False) == ("service_request_id", "status", "status_notes")
    assert pub.fields(staff=True) == FIELDS


@pytest.mark.parametrize("reasons,anonymous,staff", [
    ("none", False, False), ("staff", False, True), ("public", True, True)])
def test_step_reasons_are_shown_only_where_configured(raw, reasons, anonymous, staff):
    pub = build_city(with_open311(raw, {"step_reasons": reasons})).open311
    assert (pub.reasons(False), pub.reasons(True)) == (anonymous, staff)


def test_an_ambiguous_address_is_refused(raw):
    pub = build_city(with_open311(raw, {"addresses": [
        {"name": "东门", "cell": "44030301000101"},
        {"name": "西门", "cell": "44030301000102"}]})).open311
    with pytest.raises(ValidationError, match="ambiguous"):
        pub.place("东门西门之间")
    assert pub.place("东 门") == "44030301000101"  # whitespace does not count


@pytest.mark.parametrize("section,path", [
    ("yes", "open311"),
    ({"public_channel": ["citizen"]}, "open311.public_channel"),
    ({"public_channels": "citizen"}, "open311.public_channels"),
    ({"public_channels": ["citizen", "fax"]}, "open311.public_channels[1]"),
    ({"public_fields": ["phone"]}, "open311.public_fields[0]"),
    ({"coordinate_decimals": 7}, "open311.coordinate_decimals"),
    ({"coordinate_decimals": True}, "open311.coordinate_decimals"),
    ({"staff_accounts": ["acc_wang"]}, "open311.staff_accounts[0]"),  # not a channel account
    ({"step_reasons": "always"}, "open311.step_reasons"),
    ({"jurisdiction_id": "a b"}, "open311.jurisdiction_id"),
    ({"jurisdiction_id": 12}, "open311.jurisdiction_id"),
    ({"addresses": "坭岗"}, "open311.addresses"),
    ({"addresses": [{"name": "坭岗"}]}, "open311.addresses[0].cell"),
    ({"addresses": [{"name": "坭岗", "cell": "44030301000100"}]}, "open311.addresses[0].cell"),
    ({"addresses": [{"name": "坭岗", "cell": "44030301000101"},
                    {"name": "坭 岗", "cell": "44030301000102"}]}, "open311.addresses[1].name"),
])
def test_a_bad_open311_section_names_the_key(raw, section, path):
    with pytest.raises(ConfigError) as e:
        build_city(with_open311(raw, section))
    assert e.value.field == path
