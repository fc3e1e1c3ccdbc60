"""`casegrid audit` on a real SQLite store: keygen, head, verify (exit 0), then one byte
of one event edited by raw SQL and verify exits 7 naming the case and version; bad input
(no key, a key file that is no key, an existing --out) refused with the field named.
Export by readable number and by days (SQLite and PostgreSQL), verified with no
database; a tampered, truncated or wrong-key bundle exits 7; bad scopes name the field."""

from __future__ import annotations

import json
import sqlite3

from typer.testing import CliRunner

from adapters.cli.app import app

RUN = CliRunner()


def cli(data, *args, env=None):
    return RUN.invoke(app, ["--data-dir", str(data), *args], env=env)


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


def report(data, env=None) -> tuple[str, str]:
    r = cli(data, "case", "report", "--channel", "patrol", "--category", "E0102",
            "--grid", "44030301000101", "--actor", "sup_zhang", "--json", env=env)
    case_id = json.loads(r.stdout)["case_id"]
    shown = json.loads(cli(data, "case", "show", case_id, "--json", env=env).stdout)
    return case_id, shown["case"]["number"]


def test_export_by_number_or_period_then_verify_offline(tmp_path, store_env):
    from datetime import UTC, datetime, timedelta

    data, key = tmp_path / "data", tmp_path / "k.pem"
    (case_id, number), _other = report(data, store_env), report(data, store_env)
    assert cli(data, "audit", "keygen", "--out", str(key)).exit_code == 0
    assert cli(data, "audit", "head", "--key", str(key), env=store_env).exit_code == 0
    case_bundle, day_bundle = tmp_path / "case.json", tmp_path / "day.json"
    r = cli(data, "audit", "export", "--case", number, "--out", str(case_bundle), "--key", str(key),
            "--json", env=store_env)
    assert r.exit_code == 0 and json.loads(r.stdout)["scope"] == {"case_id": case_id}, r.output
    today = datetime.now(UTC).astimezone(UTC) + timedelta(hours=8)  # the test city: UTC+8
    days = [(today + timedelta(days=d)).date().isoformat() for d in (-1, 0, 1)]
    r = cli(data, "audit", "export", "--from", days[0], "--to", days[2], "--out", str(day_bundle),
            "--key", str(key), "--json", env=store_env)
    assert r.exit_code == 0 and json.loads(r.stdout)["events"] == 2, r.output
    gone = tmp_path / "no-such-data-dir"
    for bundle in (case_bundle, day_bundle):
        r = cli(gone, "audit", "verify-bundle", str(bundle), "--key", f"{key}.pub")
        assert r.exit_code == 0 and "ok" in r.stdout and not gone.exists(), r.output
    doc = json.loads(day_bundle.read_text())
    doc["events"][1]["topic"] += "x"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc))
    r = cli(gone, "audit", "verify-bundle", str(tampered), "--key", f"{key}.pub")
    assert r.exit_code == 7 and "events[1]" in r.stdout and "FAILED" in r.stdout, r.output
    cut = tmp_path / "cut.json"
    cut.write_bytes(case_bundle.read_bytes()[:-200])
    r = cli(gone, "audit", "verify-bundle", str(cut), "--key", f"{key}.pub")
    assert r.exit_code == 7 and "truncated" in r.stdout, r.output
    assert cli(data, "audit", "keygen", "--out", str(tmp_path / "other")).exit_code == 0
    r = cli(gone, "audit", "verify-bundle", str(case_bundle), "--key", str(tmp_path / "other.pub"))
    assert r.exit_code == 7 and "another key" in r.stdout, r.output


def test_export_refuses_bad_scopes_with_the_field_named(tmp_path):
    data, key = tmp_path / "data", tmp_path / "k.pem"
    report(data)
    assert cli(data, "audit", "keygen", "--out", str(key)).exit_code == 0
    assert cli(data, "audit", "head", "--key", str(key)).exit_code == 0
    out = str(tmp_path / "b.json")
    cases = [
        (["--from", "2020-01-01", "--to", "2020-01-31"], 4, None, "no events recorded"),
        (["--from", "0001-01-01", "--to", "2020-01-31"], 2, "from", "outside the accepted range"),
        (["--from", "2020-01-01", "--to", "9999-12-31"], 2, "to", "outside the accepted range"),
        (["--from", "2020-02-01", "--to", "2020-01-01"], 2, "from", "after"),
        (["--from", "2020-01-01"], 2, "to", "give both"),
        (["--case", "2026-12-999999"], 4, None, "no case numbered"),
        (["--case", "x" * 200], 2, "case", "case id or number"),
        (["--case", "a\x00b"], 2, "case", "case id"),
        (["--case", "2026-12-000001", "--from", "2026-12-01"], 2, "case", "not both"),
    ]
    for args, code, field, rule in cases:
        r = cli(data, "audit", "export", *args, "--out", out, "--key", str(key), "--json")
        assert r.exit_code == code and rule in r.stderr, (args, r.output)
        if field:
            assert json.loads(r.stderr)["field"] == field, (args, r.stderr)
    assert not (tmp_path / "b.json").exists()
    r = cli(data, "audit", "export", "--case", "2026-12-000001", "--out", out, "--key", f"{key}.pub")
    assert r.exit_code == 2 and "private key" in r.stderr, r.output
