"""What an attacker or a careless operator hands `audit verify-bundle`, `audit verify`
and `audit export`: every one ends in a named error or a failed verification (exit 2 or
7), never a traceback. Bundles of the right JSON but the wrong shape (numbers past 64
bits, deep nesting, a list for a key id, naive scope times, a lone surrogate or a
terminal escape in a case id), a keyring nested too deeply; raw-SQL edits that put a
value of another type or range into the event table or the heads table; an export
interrupted before its bundle is whole leaves nothing under the name."""

from __future__ import annotations

import copy
import json
import os
import sqlite3

import pytest
from typer.testing import CliRunner

from adapters.audit.bundle_check import shown
from adapters.audit.rows import Row
from adapters.cli.app import app

RUN = CliRunner()


def cli(data, *args):
    return RUN.invoke(app, ["--data-dir", str(data), *args])


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    """A store of two cases under a signed head, its key, and one case's bundle."""
    tmp = tmp_path_factory.mktemp("outsider")
    data, key = tmp / "data", tmp / "k.pem"
    for _ in range(2):
        r = cli(data, "case", "report", "--channel", "patrol", "--category", "E0102",
                "--grid", "44030301000101", "--actor", "sup_zhang", "--json")
        assert r.exit_code == 0, r.output
    case_id = json.loads(r.stdout)["case_id"]
    assert cli(data, "audit", "keygen", "--out", str(key)).exit_code == 0
    assert cli(data, "audit", "head", "--key", str(key)).exit_code == 0
    out = tmp / "b.json"
    r = cli(data, "audit", "export", "--case", case_id, "--out", str(out), "--key", str(key))
    assert r.exit_code == 0, r.output
    return data, key, json.loads(out.read_text())


def _edit(doc, path, value):
    d = copy.deepcopy(doc)
    *parents, last = path
    node = d
    for p in parents:
        node = node[p]
    node[last] = value
    return json.dumps(d)


SHAPES = [
    (("head", "size"), 10**30), (("head", "size"), -5),
    (("events", 0, "version"), 2**70), (("events", 0, "notification_id"), -(2**70)),
    (("manifest", "key_id"), ["a"]), (("manifest", "key_id"), {"a": 1}),
    (("scope",), {"from": "2026-01-01T00:00:00", "until": "2027-01-01T00:00:00+00:00"}),
    (("events", 0, "originator_id"), "\ud800"), (("events", 0, "originator_id"), "\x1b[2J"),
]


@pytest.mark.parametrize(("path", "value"), SHAPES, ids=[str(s[0]) for s in SHAPES])
def test_wrong_shapes_fail_verification_without_a_traceback(signed, tmp_path, path, value):
    _data, key, bundle = signed
    f = tmp_path / "bad.json"
    f.write_text(_edit(bundle, path, value), encoding="utf-8", errors="surrogatepass")
    r = RUN.invoke(app, ["audit", "verify-bundle", str(f), "--key", f"{key}.pub", "--json"])
    assert r.exit_code == 7, (r.output, r.exception)
    doc = json.loads(r.stdout)
    assert not doc["ok"] and doc["problems"]
    assert all("\x1b" not in p and "\ud800" not in p for p in doc["problems"])


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000,
                                  '{"format":"casegrid.audit.bundle.v1","head":{"size":'
                                  + "9" * 10_000 + "}}"], ids=["deep", "long-number"])
def test_unreadable_json_is_a_failed_bundle(signed, tmp_path, text):
    _data, key, _bundle = signed
    f = tmp_path / "bad.json"
    f.write_text(text)
    r = RUN.invoke(app, ["audit", "verify-bundle", str(f), "--key", f"{key}.pub", "--json"])
    assert r.exit_code == 7, (r.output, r.exception)
    assert json.loads(r.stdout)["problems"][0].startswith("bundle: ")


def test_a_keyring_nested_too_deeply_is_refused(signed, tmp_path):
    _data, _key, _bundle = signed
    ring = tmp_path / "ring.json"
    ring.write_text("{" + '"a":{' * 50_000 + "}" * 50_001)
    f = tmp_path / "b.json"
    f.write_text(json.dumps(_bundle))
    r = RUN.invoke(app, ["audit", "verify-bundle", str(f), "--key", str(ring), "--json"])
    assert r.exit_code == 2 and json.loads(r.stderr)["field"] == "key", r.output


@pytest.mark.parametrize(("sql", "kind"), [
    ("UPDATE stored_events SET originator_version = 99999999999999999999 WHERE rowid = 2",
     "changed"),
    ("UPDATE stored_events SET originator_version = 'abc' WHERE rowid = 2", "changed"),
    ("UPDATE stored_events SET state = 'text, not bytes' WHERE rowid = 2", "changed"),
    ("UPDATE cg_audit_heads SET size = -1", "bad_signature"),
    ("UPDATE cg_audit_heads SET size = 99999999999999999999", "bad_signature"),
    ("UPDATE cg_audit_heads SET size = 'abc'", "bad_signature"),
])
def test_values_of_another_type_or_range_are_caught(signed, tmp_path, sql, kind):
    import shutil

    data, key, _bundle = signed
    copy_dir = tmp_path / "data"
    shutil.copytree(data, copy_dir)
    db = sqlite3.connect(copy_dir / "casegrid.sqlite")
    db.execute(sql)
    db.commit()
    db.close()
    r = cli(copy_dir, "audit", "verify", "--key", f"{key}.pub", "--json")
    assert r.exit_code == 7, (r.output, r.exception)
    assert kind in [p["kind"] for p in json.loads(r.stdout)["problems"]]
    ex = cli(copy_dir, "audit", "export", "--from", "2026-01-01", "--to", "2027-12-31",
             "--out", str(tmp_path / "x.json"), "--key", str(key), "--json")
    assert ex.exit_code == 2 and json.loads(ex.stderr)["field"] in ("events", "head", "key")
    assert not (tmp_path / "x.json").exists()


def test_a_row_with_no_canonical_form_has_a_leaf_no_canonical_row_has():
    good = Row(1, "c", 1, "t", b"s")
    assert Row(1, "c", 2**64 + 1, "t", b"s").leaf() != good.leaf()
    assert Row(1, "c", "1", "t", b"s").leaf() != good.leaf()
    assert Row(1, "c", 1, "t", "s").leaf() != good.leaf()
    assert Row(1, "c", 2**70, "t", b"s").leaf() != Row(1, "c", 2**71, "t", b"s").leaf()
    assert shown("a\x1b[2Jb\ud800") == "a\\x1b[2Jb\\ud800"


def test_an_export_interrupted_midway_leaves_no_half_bundle(signed, tmp_path, monkeypatch):
    data, key, bundle = signed
    out = tmp_path / "b.json"

    def killed(src, dst):
        raise KeyboardInterrupt  # Ctrl-C between writing and linking

    monkeypatch.setattr(os, "link", killed)
    with pytest.raises(KeyboardInterrupt):
        from adapters.cli.audit import _write_new

        _write_new(out, "{}")
    monkeypatch.undo()
    assert not out.exists() and not list(tmp_path.glob("*.partial"))
    r = cli(data, "audit", "export", "--case", bundle["case_id"], "--out", str(out),
            "--key", str(key))
    assert r.exit_code == 0, r.output
    ok = RUN.invoke(app, ["audit", "verify-bundle", str(out), "--key", f"{key}.pub"])
    assert ok.exit_code == 0, ok.output


def test_keys_add_refuses_what_is_not_a_keyring_and_replaces_nothing(signed, tmp_path):
    _data, key, _bundle = signed
    folder, other = tmp_path / "folder", tmp_path / "list.json"
    folder.mkdir()
    other.write_text("[1, 2]")
    for target in (folder, other, key):
        before = None if target.is_dir() else target.read_bytes()
        r = RUN.invoke(app, ["audit", "keys", "add", "--keyring", str(target), "--pub",
                             f"{key}.pub", "--json"])
        assert r.exit_code == 2 and json.loads(r.stderr)["field"] == "keyring", r.output
        assert before is None or target.read_bytes() == before
