"""`casegrid audit` on a real SQLite store: keygen, head, verify (exit 0), then one byte
of one event edited by raw SQL and verify exits 7 naming the case and version; bad input
(no key, a key file that is no key, an existing --out) refused with the field named."""

from __future__ import annotations

import json
import sqlite3

from typer.testing import CliRunner

from adapters.cli.app import app

RUN = CliRunner()


def cli(data, *args):
    return RUN.invoke(app, ["--data-dir", str(data), *args])


def test_keygen_head_verify_and_a_tampered_row(tmp_path):
    data, key = tmp_path / "data", tmp_path / "k.pem"
    r = cli(data, "case", "report", "--channel", "patrol", "--category", "E0102",
            "--grid", "44030301000101", "--actor", "sup_zhang", "--json")
    assert r.exit_code == 0, r.output
    assert cli(data, "audit", "keygen", "--out", str(key)).exit_code == 0
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    head = cli(data, "audit", "head", "--key", str(key), "--json")
    assert head.exit_code == 0, head.output
    assert json.loads(head.stdout)["size"] >= 1
    ok = cli(data, "audit", "verify", "--key", f"{key}.pub", "--json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["ok"], ok.output
    db = sqlite3.connect(data / "casegrid.sqlite")
    _case_id, version, state = db.execute(
        "SELECT originator_id, originator_version, state FROM stored_events ORDER BY rowid"
        " LIMIT 1").fetchone()
    db.execute("UPDATE stored_events SET state = ? WHERE rowid = 1",
               (bytes(state[:-1]) + bytes([state[-1] ^ 0xFF]),))
    db.commit()
    db.close()
    bad = cli(data, "audit", "verify", "--key", f"{key}.pub")
    assert bad.exit_code == 7, bad.output
    assert "changed at position 0" in bad.stdout and f"v{version}" in bad.stdout
    assert "FAILED" in bad.stdout


def test_bad_keys_are_refused_with_the_field_named(tmp_path):
    data, key = tmp_path / "data", tmp_path / "k.pem"
    assert cli(data, "audit", "keygen", "--out", str(key)).exit_code == 0
    again = cli(data, "audit", "keygen", "--out", str(key), "--json")
    assert again.exit_code == 2 and "refusing to overwrite" in again.stderr
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"\x00\xff not a key")
    r = cli(data, "audit", "head", "--key", str(junk), "--json")
    assert r.exit_code == 2 and json.loads(r.stderr)["field"] == "key"
    big = tmp_path / "big.pem"
    big.write_bytes(b"A" * 100_000)
    r = cli(data, "audit", "verify", "--key", str(big), "--json")
    assert r.exit_code == 2 and "at most" in json.loads(r.stderr)["rule"]
    r = cli(data, "audit", "verify", "--key", str(tmp_path / "nope.pub"), "--json")
    assert r.exit_code == 2 and json.loads(r.stderr)["field"] == "key"
