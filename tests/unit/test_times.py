"""domain.times: the optional parsers and the formatters that take stored UTC text."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from domain.errors import ValidationError
from domain.times import local_format, local_text, optional_day, optional_time

CST = timezone(timedelta(hours=8))


def test_optional_time_none_and_blank():
    assert optional_time(None, "now", CST) is None
    assert optional_time("", "now", CST) is None
    with pytest.raises(ValidationError) as e:
        optional_time("", "at", CST, blank_ok=False)
    assert (e.value.field, e.value.rule) == ("at", "must not be empty")


def test_optional_time_naive_is_in_the_zone_and_bounded():
    assert optional_time("2026-10-12T09:30", "as_of", CST) == datetime(2026, 10, 12, 1, 30, tzinfo=UTC)
    with pytest.raises(ValidationError) as e:
        optional_time("0001-01-01T00:00", "as_of", CST)
    assert e.value.field == "as_of"


def test_optional_day():
    assert optional_day(None, "from") is None
    assert optional_day("", "from") is None
    assert optional_day("2026-10-12", "from") == date(2026, 10, 12)
    with pytest.raises(ValidationError) as e:
        optional_day("", "to", blank_ok=False)
    assert e.value.field == "to"


def test_formatters_take_stored_utc_text():
    stored = "2026-11-21T08:30:00.000000Z"
    assert local_text(stored, CST) == "2026-11-21T16:30:00+08:00"
    assert local_format(stored, CST, "%m-%d %H:%M") == "11-21 16:30"
    assert local_text(None, CST) is None and local_text("", CST) is None
    assert local_format(None, CST) == "" and local_format("", CST) == ""
