"""A store written before the switch to our transcoder and recorder reads after it, and
back: cases in every state, a snapshot, a merge, written by eventsourcing's stock JSON
transcoder (and stock PostgreSQL recorder), load the same in a bootstrapped store, take
further steps there, and the projections' fast decoder gives the mapper's events."""

from __future__ import annotations

from datetime import timedelta

from adapters.bootstrap import store_env as casegrid_env
from adapters.storage.numbers import SqlNumbers
from adapters.storage.recorder import CasegridPostgresRecorder
from adapters.storage.sql import Sql
from adapters.storage.transcoder import OrjsonTranscoder
from projections.decode import EventDecoder
from tests.support import NOW, PATHS, T0, act, city, drive, grid
from workflows.case_store import CaseApplication
from workflows.service import CaseService


def state_of(case) -> dict:
    return {k: v for k, v in vars(case).items() if k != "_pending_events"}


def test_events_of_the_stock_format_read_after_the_switch_and_back(store_env):
    stock = CaseApplication(env=dict(store_env))  # the library's own transcoder and recorder
    assert type(stock.mapper.transcoder).__name__ == "JSONTranscoder"
    old = CaseService(stock, city(), clock=lambda: NOW, numbers=SqlNumbers(Sql(stock.recorder)))
    ids = [drive(old, state).id for state in PATHS]
    long = drive(old, "dispatched")  # past the snapshot interval (50 events)
    for i in range(55):
        act(old, long, "urge", "chief_zhao", T0 + timedelta(minutes=30 + i), reason=f"催{i}")
    ids.append(long.id)
    assert stock.snapshots is not None and list(stock.snapshots.get(long.id))
    before = {cid: state_of(old.get(cid)) for cid in ids}

    cg = grid(store_env)
    assert isinstance(cg.app.mapper.transcoder, OrjsonTranscoder)
    if "postgres" in casegrid_env(env=store_env)["PERSISTENCE_MODULE"]:
        assert isinstance(cg.app.recorder, CasegridPostgresRecorder)
    for cid in ids:
        assert state_of(cg.service.get(cid)) == before[cid]
    after = act(cg.service, long, "urge", "chief_zhao", T0 + timedelta(hours=3), reason="再催")
    fresh = drive(cg.service, "evaluated", T0 + timedelta(hours=4))

    stock_again = CaseService(CaseApplication(env=dict(store_env)), city(), clock=lambda: NOW)
    assert stock_again.get(long.id).version == after.version  # the old code reads the new rows
    assert state_of(stock_again.get(fresh.id)) == state_of(cg.service.get(fresh.id))

    decoder = EventDecoder(cg.app.mapper)
    assert decoder.fast  # projections/decode.py's orjson path still applies
    notes = cg.projections.events.read(0, 10_000)
    assert len(notes) > 100
    for note in notes:
        stored = cg.app.recorder.select_notifications(start=note[0], limit=1)[0]
        expected = cg.app.mapper.to_domain_event(stored)
        got = decoder(note)
        assert type(got) is type(expected) and vars(got) == vars(expected)
    cg.projections.catch_up()
    assert cg.projections.errors() == {}
    # the merge's original and `fresh` besides the listed ones
    assert cg.sql.query("SELECT count(*) FROM cg_cases")[0][0] == len(ids) + 2
