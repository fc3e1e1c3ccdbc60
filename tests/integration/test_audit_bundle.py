"""Evidence bundles on SQLite and PostgreSQL: a case, or a period of recording time,
exported under the signed head verifies offline; a changed byte in any event, a dropped
event (first, middle or last), an event of another case, an edited head, a wrong key and
a truncated file are each refused; export refuses a tampered store, events no head
covers yet and a period with no events; the CLI round trip needs no database."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import eventsourcing.domain
import pytest

from adapters.audit.bundle import export_case, export_period
from adapters.audit.bundle_check import verify_bundle
from adapters.audit.heads import keygen, load_private, load_public
from adapters.audit.keys import Keyring
from adapters.audit.service import audit_log
from adapters.bootstrap import bootstrap
from domain.errors import NotFoundError, ValidationError
from tests.support import NOW, T0, city, drive


@pytest.fixture
def exported(store_env, tmp_path):
    cg = bootstrap(env=store_env, city=city(), clock=lambda: NOW)
    cases = [drive(cg.service, s, T0 + timedelta(minutes=i))
             for i, s in enumerate(("closed", "dispatched", "evaluated"))]
    pub, _ = keygen(tmp_path / "k")
    log = audit_log(cg)
    private = load_private(tmp_path / "k")
    log.sign(private)
    keys = Keyring.of(load_public(pub))
    bundle = export_case(log.sql, log.events, str(cases[0].id), private)
    yield cg, log, keys, bundle, cases, private
    cg.close()


def dump(bundle: dict) -> bytes:
    return json.dumps(bundle).encode()


def edited(bundle: dict, change) -> bytes:
    doc = json.loads(dump(bundle))
    change(doc)
    return dump(doc)


def test_a_bundle_verifies_and_every_edit_of_it_is_refused(exported, tmp_path):
    _cg, log, keys, bundle, cases, private = exported
    assert len(bundle["events"]) >= 6 and verify_bundle(dump(bundle), keys) == []
    for i in range(len(bundle["events"])):
        bad = json.loads(dump(bundle))
        state = bytearray(base64.b64decode(bad["events"][i]["state"]))
        state[len(state) // 2] ^= 0x01
        bad["events"][i]["state"] = base64.b64encode(bytes(state)).decode()
        problems = verify_bundle(dump(bad), keys)
        assert any("not in the signed tree" in p for p in problems)
        assert any(p.startswith("manifest: does not match") for p in problems)
    changes = {"notification_id": lambda v: v + 1, "version": lambda v: v + 1,
               "position": lambda v: v + 1, "topic": lambda v: v + "x",
               "originator_id": lambda v: v[:-1] + ("0" if v[-1] != "0" else "1"),
               "inclusion": lambda v: v[1:]}
    for name, change in changes.items():  # any one field of any event
        for i in (0, len(bundle["events"]) - 1):
            def edit(d, i=i, name=name, change=change):
                d["events"][i][name] = change(d["events"][i][name])
            assert verify_bundle(edited(bundle, edit), keys), (name, i)
    dropped = verify_bundle(edited(bundle, lambda d: d["events"].pop(2)), keys)
    assert any("one missing" in p for p in dropped)
    last = verify_bundle(edited(bundle, lambda d: d["events"].pop()), keys)  # versions still 1..n
    assert last == ["manifest: does not match the events (an event changed, left out or added)"]
    other = export_case(log.sql, log.events, str(cases[1].id), private)
    mixed = verify_bundle(edited(bundle, lambda d: d["events"].append(other["events"][-1])), keys)
    assert any("another case" in p for p in mixed)
    at = verify_bundle(edited(bundle, lambda d: d["head"].update(at="2020-01-01T00:00:00+00:00")), keys)
    assert at[0] == "head: signature does not match (an edited head)"
    stripped = verify_bundle(edited(bundle, lambda d: d.pop("manifest")), keys)
    assert stripped == ["manifest: missing (events may have been left out or added)"]
    keygen(tmp_path / "other")
    wrong = verify_bundle(dump(bundle), Keyring.of(load_public(tmp_path / "other.pub")))
    assert wrong[0].startswith("head: signed by another key") and len(wrong) == 2
    assert wrong[1] == "manifest: signed by another key (not a known key)"


def test_unreadable_and_truncated_bundles_are_refused_naming_the_field(exported):
    *_, keys, bundle, _cases, _private = exported
    for data in (b"\xff\xfe", b"[]", b'{"format": "x"}', b"\x00" * 10):
        with pytest.raises(ValidationError, match="bundle"):
            verify_bundle(data, keys)
    text = dump(bundle)
    for cut in (len(text) // 3, len(text) - 1):
        with pytest.raises(ValidationError, match="truncated"):
            verify_bundle(text[:cut], keys)
    bad = json.loads(dump(bundle))
    bad["events"][0]["version"] = "1"
    with pytest.raises(ValidationError, match=r"events\[0\].version must be a int"):
        verify_bundle(dump(bad), keys)


def test_export_refuses_a_tampered_store_and_uncovered_events(exported):
    cg, log, _keys, _bundle, cases, private = exported
    with pytest.raises(ValidationError, match="case"):
        export_case(log.sql, log.events, "not-a-case", private)
    drive(cg.service, "dispatched", T0)
    new_case = [r.originator_id for r in log.events.all()][-1]
    with pytest.raises(ValidationError, match="no head covers"):
        export_case(log.sql, log.events, new_case, private)
    with log.sql.transaction() as cur:
        cur.execute(f"UPDATE {log.events.table} SET topic = topic || 'x'"
                    f" WHERE {log.events.id_column} = 1")
    with pytest.raises(ValidationError, match="no longer matches"):
        export_case(log.sql, log.events, str(cases[0].id), private)


DAY = datetime(2026, 10, 12, tzinfo=UTC)


@pytest.fixture
def three_days(store_env, tmp_path, monkeypatch):
    """Cases recorded on 11, 12 and 13 October (the recording clock set per day)."""
    cg = bootstrap(env=store_env, city=city(), clock=lambda: NOW)
    for d in (-1, 0, 1):
        t = DAY + timedelta(days=d, hours=10)
        monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", lambda t=t: t)
        drive(cg.service, "closed", T0)
        drive(cg.service, "dispatched", T0)
    monkeypatch.undo()
    keygen(tmp_path / "k")
    log = audit_log(cg)
    private = load_private(tmp_path / "k")
    log.sign(private)
    yield log, private, Keyring.of(private.public_key())
    cg.close()


def test_a_period_is_the_run_of_events_recorded_in_it(three_days):
    log, private, keys = three_days
    bundle = export_period(log.sql, log.events, DAY, DAY + timedelta(days=1), "2026-10-12",
                           private)
    positions = [e["position"] for e in bundle["events"]]
    per_day = len(positions)
    assert per_day >= 8 and positions == list(range(per_day, 2 * per_day))
    assert verify_bundle(dump(bundle), keys) == []
    first = verify_bundle(edited(bundle, lambda d: d["events"].pop(0)), keys)
    assert first == ["manifest: does not match the events (an event changed, left out or added)"]
    middle = verify_bundle(edited(bundle, lambda d: d["events"].pop(3)), keys)
    assert any("events in between left out" in p for p in middle)
    wider = export_period(log.sql, log.events, DAY - timedelta(days=1), DAY + timedelta(days=1),
                          "2026-10-11..2026-10-12", private)
    assert [e["position"] for e in wider["events"]] == list(range(2 * per_day))
    moved = edited(bundle, lambda d: d["scope"].update(**{"from": "2026-10-13T00:00:00+00:00"}))
    assert any("outside the period" in p for p in verify_bundle(moved, keys))
    with pytest.raises(NotFoundError, match="no events recorded"):
        export_period(log.sql, log.events, DAY + timedelta(days=5), DAY + timedelta(days=6),
                      "2026-10-17", private)
