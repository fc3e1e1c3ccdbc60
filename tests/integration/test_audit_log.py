"""The tamper-evident audit log on SQLite and PostgreSQL: a clean store verifies; raw
SQL tampering of each kind (one byte of one event's state, a deleted event, an inserted
event, two events swapped) is caught at the right position, naming the event, wherever
it happens; a head signed by another key is refused. Each tamper is undone afterwards,
and the store verifies again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.audit.heads import keygen, load_private, load_public, stored_heads
from adapters.audit.log import AuditGap
from adapters.audit.service import audit_log
from adapters.bootstrap import bootstrap
from tests.support import NOW, T0, city, drive

SETTINGS = settings(max_examples=12, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def logged(store_env, tmp_path):
    """A store of a few cases, every event logged and one head signed."""
    cg = bootstrap(env=store_env, city=city(), clock=lambda: NOW)
    for i, state in enumerate(("closed", "dispatched", "voided", "pending_check")):
        drive(cg.service, state, T0 + timedelta(minutes=10 * i))
    pub, _ = keygen(tmp_path / "audit.key")
    log = audit_log(cg)
    log.sign(load_private(tmp_path / "audit.key"))
    yield cg, log, load_public(pub)
    cg.close()


def raw(log, position: int) -> tuple:
    ev = log.events
    q = ("SELECT {id}, {orig}, originator_version, topic, state FROM {t}"
         " ORDER BY {id} LIMIT 1 OFFSET ?")
    orig = "originator_id::text" if log.sql.dialect == "postgres" else "originator_id"
    return log.sql.query(q.format(id=ev.id_column, orig=orig, t=ev.table), (position,))[0]


def run(log, sql: str, params: tuple = ()) -> None:
    with log.sql.transaction() as cur:
        cur.execute(sql.format(t=log.events.table, id=log.events.id_column), params)


def insert(log, row: tuple) -> None:
    run(log, "INSERT INTO {t} ({id}, originator_id, originator_version, topic, state)"
             " VALUES (?, ?, ?, ?, ?)", row)


def shift(log, at: int, by: int) -> None:
    """Renumber every event from notification id `at` on by `by` (through a far offset:
    no two rows ever share an id on the way)."""
    run(log, "UPDATE {t} SET {id} = {id} + 1000000 WHERE {id} >= ?", (at,))
    run(log, "UPDATE {t} SET {id} = {id} - 1000000 + ? WHERE {id} >= 1000000", (by,))


def set_id(log, old: int, new: int) -> None:
    run(log, "UPDATE {t} SET {id} = ? WHERE {id} = ?", (new, old))


def check(log, public, kind: str, position: int, event: tuple) -> None:
    report = log.verify(public)
    assert not report.ok
    first = report.problems[0]
    assert (first.kind, first.position) == (kind, position), report.problems
    assert (first.case_id, first.version) == event
    assert any(p.kind == "bad_root" for p in report.problems)  # the signed head no longer fits


def clean(log, public) -> None:
    report = log.verify(public)
    assert report.ok, report.problems


def test_clean_store_verifies_and_new_events_wait_to_be_logged(logged):
    cg, log, public = logged
    report = log.verify(public)
    assert report.ok and report.pending == 0 and report.heads == 1
    assert report.events == report.leaves > 10
    drive(cg.service, "pending_dispatch", T0)
    assert log.verify(public).pending == 2 and log.verify(public).ok
    assert log.follow() == 2 and log.follow() == 0
    clean(log, public)


@SETTINGS
@given(data=st.data())
def test_a_changed_byte_of_any_event_is_caught(logged, data):
    _cg, log, public = logged
    n = log.verify(public).events
    p = data.draw(st.integers(0, n - 1), label="position")
    nid, orig, version, _topic, state = raw(log, p)
    i = data.draw(st.integers(0, len(state) - 1), label="byte")
    bad = bytes(state[:i]) + bytes([state[i] ^ 0x01]) + bytes(state[i + 1:])
    run(log, "UPDATE {t} SET state = ? WHERE {id} = ?", (bad, nid))
    check(log, public, "changed", p, (str(_uuid(orig)), version))
    run(log, "UPDATE {t} SET state = ? WHERE {id} = ?", (bytes(state), nid))
    clean(log, public)


@SETTINGS
@given(data=st.data(), column=st.sampled_from(["topic", "originator_version", "originator_id"]))
def test_any_other_changed_field_is_caught(logged, data, column):
    _cg, log, public = logged
    n = log.verify(public).events
    p = data.draw(st.integers(0, n - 1), label="position")
    nid, orig, version, topic, _state = raw(log, p)
    old = {"topic": topic, "originator_version": version, "originator_id": orig}[column]
    new = {"topic": topic + "x", "originator_version": version + 500,
           "originator_id": "0" * 8 + orig[8:]}[column]  # another case's id
    run(log, f"UPDATE {{t}} SET {column} = ? WHERE {{id}} = ?", (new, nid))
    event = {"topic": (orig, version), "originator_version": (orig, version + 500),
             "originator_id": (new, version)}[column]
    check(log, public, "changed", p, (str(_uuid(event[0])), event[1]))
    run(log, f"UPDATE {{t}} SET {column} = ? WHERE {{id}} = ?", (old, nid))
    clean(log, public)


@SETTINGS
@given(data=st.data())
def test_a_deleted_event_is_caught(logged, data):
    _cg, log, public = logged
    n = log.verify(public).events
    p = data.draw(st.integers(0, n - 1), label="position")
    row = raw(log, p)
    run(log, "DELETE FROM {t} WHERE {id} = ?", (row[0],))
    check(log, public, "deleted", p, (str(_uuid(row[1])), row[2]))
    insert(log, row)
    clean(log, public)


@SETTINGS
@given(data=st.data())
def test_an_inserted_event_is_caught(logged, data):
    _cg, log, public = logged
    n = log.verify(public).events
    p = data.draw(st.integers(0, n - 1), label="position")
    nid, orig, _version, topic, state = raw(log, p)
    shift(log, nid, 1)
    insert(log, (nid, orig, 999, topic, state))  # a forged step of a real case
    check(log, public, "inserted", p, (str(_uuid(orig)), 999))
    run(log, "DELETE FROM {t} WHERE {id} = ?", (nid,))
    shift(log, nid + 1, -1)
    clean(log, public)


@SETTINGS
@given(data=st.data())
def test_two_swapped_events_are_caught(logged, data):
    _cg, log, public = logged
    n = log.verify(public).events
    a, b = sorted(data.draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2,
                                     unique=True), label="positions"))
    ra, rb = raw(log, a), raw(log, b)
    set_id(log, ra[0], 10**7)
    set_id(log, rb[0], ra[0])
    set_id(log, 10**7, rb[0])
    check(log, public, "reordered", a, (str(_uuid(rb[1])), rb[2]))
    set_id(log, ra[0], 10**7)
    set_id(log, rb[0], ra[0])
    set_id(log, 10**7, rb[0])
    clean(log, public)


def test_a_head_signed_by_another_key_is_refused(logged, tmp_path):
    _cg, log, public = logged
    keygen(tmp_path / "other.key")
    log.sign(load_private(tmp_path / "other.key"))
    report = log.verify(public)
    assert [p.kind for p in report.problems] == ["bad_signature"]
    assert "another key" in report.problems[0].detail
    assert log.verify(load_public(tmp_path / "other.key.pub")).problems[0].kind == "bad_signature"


def test_an_edited_head_is_refused(logged):
    _cg, log, public = logged
    head = stored_heads(log.sql)[0]
    with log.sql.transaction() as cur:
        cur.execute("UPDATE cg_audit_heads SET size = size - 1")
    assert [p.kind for p in log.verify(public).problems] == ["bad_signature"]
    with log.sql.transaction() as cur:
        cur.execute("UPDATE cg_audit_heads SET size = ?", (head.size,))
    clean(log, public)


def test_follower_refuses_a_gap_on_sqlite(sqlite_env):
    cg = bootstrap(env=sqlite_env, city=city(), clock=lambda: NOW)
    drive(cg.service, "dispatched", T0)
    log = audit_log(cg)
    log.follow(limit=1)
    run(log, "DELETE FROM {t} WHERE {id} = 2")  # removed before it was logged
    with pytest.raises(AuditGap, match="notification id 2 is missing"):
        log.follow()
    cg.close()


def _uuid(text: str):
    import uuid

    return uuid.UUID(text)


def test_postgres_gaps_are_logged_past_and_a_row_filling_one_later_is_caught(pg_env, tmp_path):
    cg = bootstrap(env=pg_env, city=city(), clock=lambda: NOW)
    drive(cg.service, "dispatched", T0)
    log = audit_log(cg)
    ev = log.events
    seq = f"pg_get_serial_sequence('{ev.table}', 'notification_id')"
    gap = log.sql.query(f"SELECT nextval({seq})")[0][0]  # as a rolled-back insert leaves it
    drive(cg.service, "pending_dispatch", T0)
    pub, _ = keygen(tmp_path / "k")
    log.sign(load_private(tmp_path / "k"))
    public = load_public(pub)
    clean(log, public)
    ids = [r.notification_id for r in ev.all()]
    assert gap not in ids and max(ids) > gap
    position = sum(1 for i in ids if i < gap)
    _nid, orig, _v, topic, state = raw(log, 0)
    insert(log, (gap, orig, 777, topic, state))
    check(log, public, "inserted", position, (str(_uuid(orig)), 777))
    cg.close()


def test_edits_of_our_own_tables_are_caught_never_a_crash(logged):
    _cg, log, public = logged
    with log.sql.transaction() as cur:
        cur.execute("UPDATE cg_audit_heads SET signature = 'zz', at = '二〇二六'")
        cur.execute("DELETE FROM cg_audit_leaves WHERE position = 3")
    report = log.verify(public)
    assert [p.kind for p in report.problems] == ["leaf_table", "bad_signature"]
    assert report.problems[0].position == 3
    with log.sql.transaction() as cur:
        cur.execute("UPDATE cg_audit_leaves SET leaf_hash = 'not hex' WHERE position = 5")
    assert log.verify(public).problems[0].position == 3
