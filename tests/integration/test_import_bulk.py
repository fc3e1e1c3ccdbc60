"""The bulk import path (issue 15): new cases saved many per transaction (COPY on
PostgreSQL), several importer processes, a crash mid-file and a rerun, cases another
writer stored first, projections and the audit log seeing every event, streaming."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.audit.service import audit_log
from adapters.bootstrap import bootstrap
from adapters.importing import Importer, Mapping, SkipRow, load_source, read_rows
from adapters.importing import readers as readers_module
from adapters.kafka.messages import report_case_id
from domain.errors import ValidationError
from tests.support import city
from workflows.service import NewCase

REPO = Path(__file__).resolve().parents[2]
LA = REPO / "tests" / "data" / "public311" / "la311_2020-01-01_1500.csv"
LA_MAP = REPO / "docs" / "import" / "la311.yaml"
LA_CASES, LA_EVENTS = 1374, 10421  # a clean import of the trimmed file


def _stored_events(cg) -> tuple[int, int]:
    """(events, distinct cases) in the store."""
    table = cg.app.recorder.events_table_name
    rows = cg.sql.query(f"SELECT count(*) AS n, count(DISTINCT originator_id) AS c FROM {table}")
    return int(rows[0][0]), int(rows[0][1])


CRASH = """
import json, os, sys
sys.path.insert(0, {repo!r})
from adapters.bootstrap import bootstrap
from adapters.importing import Importer, Mapping
from tests.support import city
cg = bootstrap(env=json.loads(sys.argv[1]), city=city())
done = 0
def progress(n):
    global done
    done += n
    if done >= {after}:
        os._exit(9)  # killed mid-file: no cleanup, no last batch
Importer(cg.service, Mapping.load({mapping!r}), batch=100).run({path!r}, progress=progress)
"""


def test_crash_mid_file_then_rerun_gives_each_row_once(store_env, tmp_path):
    script = CRASH.format(repo=str(REPO), after=700, mapping=str(LA_MAP), path=str(LA))
    crashed = subprocess.run([sys.executable, "-c", script, json.dumps(store_env)], cwd=REPO,
                             capture_output=True, text=True, timeout=180)
    assert crashed.returncode == 9, crashed.stderr
    cg = bootstrap(env=store_env, city=city())
    try:
        events, cases = _stored_events(cg)
        assert 0 < cases < LA_CASES  # some batches were saved, not all
        rep = Importer(cg.service, Mapping.load(LA_MAP), batch=100).run(LA)
        assert rep.already == cases and rep.imported == LA_CASES - cases
        assert _stored_events(cg) == (LA_EVENTS, LA_CASES)  # each row's case once, whole
        again = Importer(cg.service, Mapping.load(LA_MAP)).run(LA)
        assert (again.imported, again.already, again.skipped_count) == (0, LA_CASES, 126)
        assert _stored_events(cg) == (LA_EVENTS, LA_CASES)
    finally:
        cg.close()


def test_workers_import_the_same_as_one_process(store_env, tmp_path):
    one = bootstrap(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                         "SQLITE_DBNAME": str(tmp_path / "one.sqlite")}, city=city())
    many = bootstrap(env=store_env, city=city())
    try:
        a = Importer(one.service, Mapping.load(LA_MAP)).run(LA)
        b = Importer(many.service, Mapping.load(LA_MAP), workers=2, batch=50).run(LA)
        assert (b.rows, b.imported, b.events, b.skipped_count) == (1500, LA_CASES, LA_EVENTS, 126)
        assert b.outcomes == a.outcomes
        assert b.skipped == a.skipped  # merged in row order, reasons unchanged
        assert _stored_events(many) == (LA_EVENTS, LA_CASES)
        tl = many.service.timeline(report_case_id("la311", "1-1523590121"))
        assert [type(e).__name__ for e in tl][-1] == "Closed"
        again = Importer(many.service, Mapping.load(LA_MAP), workers=2).run(LA)
        assert (again.imported, again.already) == (0, LA_CASES)
    finally:
        one.close()
        many.close()


def test_workers_must_be_a_small_whole_number_on_a_real_store(sqlite_env):
    cg = bootstrap(env=sqlite_env, city=city())
    mem = bootstrap(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, city=city())
    try:
        for bad in (0, -1, 33, 2.5, "2", True):
            with pytest.raises(ValidationError) as e:
                Importer(cg.service, Mapping.load(LA_MAP), workers=bad)
            assert e.value.field == "workers"
        with pytest.raises(ValidationError, match="SQLite or PostgreSQL"):
            Importer(mem.service, Mapping.load(LA_MAP), workers=2)
    finally:
        cg.close()
        mem.close()


def _plans(imp: Importer, n: int) -> list:
    """The first n rows of the LA file that plan (closed cases, mostly)."""
    out = []
    for row, rec, err in read_rows(LA, "csv"):
        if err is not None:
            continue
        try:
            out.append(imp.plan(row, rec))
        except SkipRow:
            continue
        if len(out) == n:
            return out
    raise AssertionError("too few rows")


def test_cases_another_writer_stored_first_are_left_alone(store_env):
    cg = bootstrap(env=store_env, city=city())
    other = bootstrap(env=store_env, city=city())
    try:
        imp = Importer(cg.service, Mapping.load(LA_MAP))
        plans = _plans(imp, 8)
        items = [NewCase(p.report, p.actions) for p in plans]
        ours = cg.service.report_many(items, save=False)  # read and decided: none stored yet
        theirs = other.service.report_many(items[2:4])  # another writer stores two of them
        assert all(o.case is not None for o in theirs)
        saved, beaten = cg.service.store.save_new([o.case for o in ours])
        assert sorted(c.id for c in beaten) == sorted(o.case_id for o in theirs)
        assert len(saved) == 6
        assert _stored_events(cg) == (sum(o.case.version for o in ours), 8)
        again = cg.service.report_many(items)
        assert [o.already for o in again] == [True] * 8
    finally:
        cg.close()
        other.close()


def test_report_many_refuses_one_item_and_saves_the_rest(store_env):
    cg = bootstrap(env=store_env, city=city())
    try:
        imp = Importer(cg.service, Mapping.load(LA_MAP))
        plans = _plans(imp, 3)
        items = [NewCase(p.report, p.actions) for p in plans]
        items[1].report.actor = "nobody\x00"  # refused at the edge: names the field
        items.append(NewCase(plans[0].report, plans[0].actions))  # the same case twice
        out = cg.service.report_many(items)
        assert out[1].error.field == "actor" and out[1].case is None
        assert out[3].error.field == "external_id" and "twice in one batch" in str(out[3].error)
        assert out[0].case.version == 8 and out[2].case is not None
        assert _stored_events(cg)[1] == 2
    finally:
        cg.close()


@pytest.mark.postgres
def test_projections_and_audit_log_see_every_bulk_event(pg_env):
    cg = bootstrap(env=pg_env, city=city())
    try:
        rep = Importer(cg.service, Mapping.load(LA_MAP), workers=2, batch=100).run(LA)
        assert rep.events == LA_EVENTS
        assert cg.projections.catch_up() == LA_EVENTS
        listed = cg.sql.query("SELECT count(*) FROM cg_cases")
        assert int(listed[0][0]) == LA_CASES
        log = audit_log(cg)
        assert log.follow() == LA_EVENTS
        table = cg.app.recorder.events_table_name
        ids = cg.sql.query(f"SELECT notification_id FROM {table} ORDER BY notification_id")
        assert [int(r[0]) for r in ids] == list(range(1, LA_EVENTS + 1))  # no gaps, in order
    finally:
        cg.close()


def test_the_file_streams_and_a_bad_byte_past_the_first_chunk_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(readers_module, "CHUNK", 64)  # many chunks, characters split by them
    m = Mapping.load(LA_MAP)
    head, *lines = LA.read_text(encoding="utf-8").splitlines(keepends=True)
    good = tmp_path / "good.csv"
    good.write_text("\ufeff" + head + "".join(lines[:40]).replace("ST,", "街,"), encoding="utf-8")
    src = load_source(good, m)
    assert src.count == 40 and sum(1 for _ in src.rows) == 40  # read again on each iteration
    bad = tmp_path / "bad.csv"
    data = (head + "".join(lines[:30])).encode("utf-8")
    at = len(data) + 5
    bad.write_bytes(data + lines[30][:5].encode() + b"\xff" + lines[30][6:].encode())
    with pytest.raises(ValidationError) as e:
        load_source(bad, m)
    assert e.value.field == "file"
    assert f"line 32, byte 6 of the line (byte offset {at} in the file)" in e.value.rule


def test_cli_workers_option(tmp_path):
    cmd = [sys.executable, "-m", "adapters.cli", "--data-dir", str(tmp_path / "d"), "import",
           str(LA), "--mapping", str(LA_MAP), "--workers", "2", "--batch", "200", "--json"]
    env = {k: v for k, v in os.environ.items() if k not in ("PERSISTENCE_MODULE", "SQLITE_DBNAME")}
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["rows"], out["imported"], out["skipped"], out["events"]) == (1500, LA_CASES, 126,
                                                                             LA_EVENTS)
    bad = subprocess.run([*cmd[:-5], "--workers", "0", "--json"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode == 2
    assert json.loads(bad.stderr.strip().splitlines()[-1])["field"] == "workers"


def test_shards_partition_the_rows_bad_rows_included(tmp_path):
    head, *lines = LA.read_text(encoding="utf-8").splitlines(keepends=True)
    csv_file = tmp_path / "la.csv"
    csv_file.write_text(head + "".join(lines[:50]) + '"x","y"\n' + lines[50].replace("BOS", "B\x00S")
                        + "".join(lines[51:80]), encoding="utf-8")
    chi = REPO / "tests" / "data" / "public311" / "chicago_open311_2014_50req_with_notes.jsonl"
    jsonl = tmp_path / "chi.jsonl"
    jl = chi.read_text(encoding="utf-8").splitlines(keepends=True)
    jsonl.write_text("".join(jl[:10]) + "{broken\n" + "[1, 2]\n" + "".join(jl[10:]), encoding="utf-8")
    for path, mapping, key in ((csv_file, LA_MAP, "srnumber"),
                               (jsonl, LA_MAP.with_name("chicago311.yaml"), "service_request_id")):
        src = load_source(path, Mapping.load(mapping))
        every = [r[0] for r in src.rows]
        for n in (2, 3):
            parts = [[r[0] for r in src.rows_of(key, i, n)] for i in range(n)]
            assert sorted(x for p in parts for x in p) == every  # each row in exactly one shard
        assert any(err for _, _, err in src.rows)  # the bad rows are among them


def test_rows_of_the_saved_cases_go_in_the_same_transaction(store_env):
    """The Kafka inbound's use: its inbox rows and offsets written with exactly the cases
    saved (rows(saved)), by the bulk writer as by the library's save."""
    from adapters.kafka.store import KWARG, KafkaRows

    cg = bootstrap(env=store_env, city=city(), kafka=True)
    try:
        plans = _plans(Importer(cg.service, Mapping.load(LA_MAP)), 5)
        items = [NewCase(p.report, p.actions) for p in plans]
        cg.service.report_many(items[:2])  # stored first: these two are left out below

        def rows(saved):
            return {KWARG: KafkaRows(
                inbox=[("la311", p.external_id, str(p.report.case_id), "reported", "t", 0, i)
                       for i, p in enumerate(plans) if p.report.case_id in {c.id for c in saved}],
                offsets={("g", "t", 0): 5})}

        out = cg.service.report_many(items, rows=rows)
        assert [o.already for o in out] == [True, True, False, False, False]
        more = _plans(Importer(cg.service, Mapping.load(LA_MAP)), 8)[5:]
        made = cg.service.report_many([NewCase(p.report, p.actions) for p in more], save=False)
        cg.service.report_many([NewCase(more[1].report, more[1].actions)])  # beats the save below
        plans += more
        saved, beaten = cg.service.store.save_new([o.case for o in made], rows=rows)
        assert [c.id for c in beaten] == [more[1].report.case_id] and len(saved) == 2
        inbox = cg.sql.query("SELECT message_id FROM cg_kafka_inbox ORDER BY kafka_offset")
        assert [r[0] for r in inbox] == [p.external_id for p in plans[2:] if p is not more[1]]
        assert cg.sql.query("SELECT next_offset FROM cg_kafka_offsets")[0][0] == 5
    finally:
        cg.close()
