"""The projections' own event decoding and time text agree with eventsourcing's and ts()."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from projections.decode import EventDecoder
from projections.times import iso_ts, ts
from tests.support import grid
from workflows.commands import CaseAction, ReportCase

OFFSETS = st.sampled_from([0, 8, -5, 14, -12, 1, 5.5, -3.5, 5.75]).map(
    lambda h: timezone(timedelta(hours=h)))
TIMES = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2200, 1, 1),
                     timezones=OFFSETS)


@given(TIMES)
def test_iso_text_by_string_arithmetic_equals_ts(t):
    assert iso_ts(t.isoformat()) == ts(t)


def test_iso_text_of_other_formats_goes_through_datetime():
    assert iso_ts("2026-10-01T09:12:00.5+08:00") == "2026-10-01T01:12:00.500000Z"
    assert iso_ts("2026-10-01T03:12:00+08:00") == "2026-09-30T19:12:00.000000Z"  # midnight
    assert iso_ts("2026-10-01T09:12:00+05:30") == "2026-10-01T03:42:00.000000Z"


def test_decoder_gives_the_mappers_events_and_their_times(tmp_path):
    cg = grid({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
               "SQLITE_DBNAME": str(tmp_path / "d.sqlite")})
    t0 = datetime(2026, 10, 12, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    case = cg.service.report(ReportCase(channel="patrol", category="E0102",
                                        grid="44030301000101", actor="sup_zhang",
                                        occurred_at=t0, evidence=["https://example.org/a.jpg"]))
    cg.service.act(CaseAction(case.id, "file", "acc_wang", t0 + timedelta(minutes=5)))
    cg.service.act(CaseAction(case.id, "dispatch", "disp_chen", t0 + timedelta(minutes=9)))
    decoder = EventDecoder(cg.app.mapper)
    assert decoder.fast
    notes = cg.projections.events.read(0, 100)
    assert len(notes) == 3
    for note in notes:
        event, times = decoder.with_times(note)
        stored = cg.app.recorder.select_notifications(start=note[0], limit=1)[0]
        expected = cg.app.mapper.to_domain_event(stored)
        assert type(event) is type(expected) and vars(event) == vars(expected)
        assert note[5] == str(expected.originator_id)
        assert times == {k: ts(v) for k, v in vars(expected).items()
                         if isinstance(v, datetime)}
        assert times["occurred_at"] == ts(expected.occurred_at.astimezone(UTC))


def test_fast_path_equals_the_mapper_and_falls_back_on_anything_else(tmp_path):
    """A time at a new key, a transcoding marker inside text, integers past 64 bits (top
    level and nested: orjson reads them as floats) and absurd floats: every event equals
    the mapper's."""

    cg = grid({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
               "SQLITE_DBNAME": str(tmp_path / "k.sqlite")})
    t0 = datetime(2026, 10, 12, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    for i in range(3):
        case = cg.service.report(ReportCase(channel="patrol", category="E0102",
                                            grid="44030301000101", actor="sup_zhang",
                                            occurred_at=t0 + timedelta(minutes=i)))
        cg.service.act(CaseAction(case.id, "file", "acc_wang", t0 + timedelta(minutes=5 + i)))
    decoder = EventDecoder(cg.app.mapper)
    notes = cg.projections.events.read(0, 100)
    odd = notes[0][4].replace(b'"actor":', b'"extra":{"_type_":"datetime_iso","_data_":'
                              b'"2026-10-12T09:00:00+08:00"},"actor":')  # a time at a new key
    notes.append(replace_state(notes[0], odd))
    hidden = notes[1][4].replace(b'"actor":', b'"note":"a \\"_type_\\" in text","actor":')
    notes.append(replace_state(notes[1], hidden))
    big = notes[1][4].replace(b'"actor":', b'"big":[123456789012345678901234,-9223372036854775809],'
                              b'"actor":')  # orjson would read these as floats
    notes.append(replace_state(notes[1], big))
    nested = notes[1][4].replace(b'"actor":', b'"deep":{"a":[1,{"b":18446744073709551616}]},'
                                 b'"actor":')
    notes.append(replace_state(notes[1], nested))
    top = notes[1][4].replace(b'"actor":', b'"n":99999999999999999999,"f":1e300,"actor":')
    notes.append(replace_state(notes[1], top))
    for note in notes:
        event, times = decoder.with_times(note)
        expected = decoder.slow(note)
        assert type(event) is type(expected[0]) and vars(event) == vars(expected[0])
        assert times == expected[1]
    assert decoder.with_times(notes[-3])[0].big == [123456789012345678901234, -9223372036854775809]
    assert decoder.with_times(notes[-2])[0].deep == {"a": [1, {"b": 18446744073709551616}]}
    assert type(decoder.with_times(notes[-1])[0].n) is int


def replace_state(note: tuple, state: bytes) -> tuple:
    return (*note[:4], state, *note[5:])
