"""The tree-head signer as a singleton (`casegrid audit sign --loop`, lease 'audit-signer'),
on SQLite and PostgreSQL: two signers run, one signs; SIGKILL the holder and the other
takes over, signing the heads of what is stored next; a bad interval, broker or topic is
refused before the store is opened."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from adapters.audit.heads import keygen, load_public, stored_heads
from adapters.audit.service import audit_log
from adapters.bootstrap import bootstrap
from adapters.cli.app import app
from tests.integration.lease_support import (
    acquired_at,
    cli_loop,
    ended_well,
    events,
    log_events,
    stop_all,
    wait_contending,
    wait_for,
)
from tests.support import T0, city, drive


def heads_by(log_path) -> list[int]:
    """The sizes this process logged as signed."""
    return [e["size"] for e in log_events(log_path) if e.get("event") == "head_signed"]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_signers_one_signs_and_the_other_takes_over(backend, request, tmp_path):
    store = request.getfixturevalue("pg_env" if backend == "postgres" else "sqlite_env")
    data = tmp_path / "d"
    cg = bootstrap(data_dir=data, env=store, city=city())
    drive(cg.service, "closed", T0)
    audit_log(cg)  # the audit tables, made once before the contenders start
    keygen(tmp_path / "k")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    args = ["audit", "sign", "--loop", "--interval", "0.3", "--key", str(tmp_path / "k")]
    procs = [cli_loop(args, data, store, log) for log in logs]
    try:
        wait_contending(logs, 20, "both signers started")
        wait_for(lambda: any(heads_by(log) for log in logs), 10, "a first head")
        drive(cg.service, "dispatched", T0 + timedelta(minutes=5))
        wait_for(lambda: sum(len(heads_by(log)) for log in logs) >= 2, 10, "a second head")
        time.sleep(0.7)
        ticks = [events(log).count("audit_tick") for log in logs]
        assert sorted(ticks)[0] == 0 and max(ticks) >= 2, f"only one process signs: {ticks}"
        holder = ticks.index(max(ticks))
        other = logs[1 - holder]
        assert not heads_by(other)
        procs[holder].kill()
        killed_at = time.time()
        procs[holder].wait(5)
        took = wait_for(lambda: acquired_at(other), 10, "the other takes the lease") - killed_at
        print(f"signer takeover {took:.2f} s ({backend}, retry 0.3 s)")
        assert took < 5
        before = {h.size for h in stored_heads(cg.sql)}
        drive(cg.service, "voided", T0 + timedelta(minutes=9))
        total = sum(1 for _ in audit_log(cg).events.all())
        wait_for(lambda: total in heads_by(other), 10, "the other signer takes over")
        sizes = [h.size for h in stored_heads(cg.sql)]  # by size: one head per growth
        assert sizes == sorted(set(sizes)) and sizes[-1] == total, sizes
        assert set(heads_by(other)) == set(sizes) - before  # all after the kill, by the other
        assert audit_log(cg).verify(load_public(tmp_path / "k.pub")).ok
    finally:
        stop_all(procs)
        cg.close()
        assert ended_well(procs), [log.read_text()[-2000:] for log in logs]


def test_bad_signer_options_are_refused_before_the_store_opens(tmp_path):
    keygen(tmp_path / "k")
    base = ["--data-dir", str(tmp_path / "d"), "audit", "sign", "--key", str(tmp_path / "k")]
    for extra, field in ((["--interval", "0"], "interval"), (["--interval", "1e9"], "interval"),
                         (["--bootstrap", ""], "bootstrap"), (["--topic", "a\x00b"], "topic")):
        r = CliRunner().invoke(app, [*base, *extra, "--loop", "--json"])
        assert r.exit_code == 2 and json.loads(r.stderr)["field"] == field, r.output
    r = CliRunner().invoke(app, [*base[:2], "audit", "sign", "--key", str(tmp_path / "nope"), "--json"])
    assert r.exit_code == 2 and json.loads(r.stderr)["field"] == "key"
    assert not (tmp_path / "d").exists()
