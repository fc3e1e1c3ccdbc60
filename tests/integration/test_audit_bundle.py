"""Evidence bundles on SQLite and PostgreSQL: a case exported under the signed head
verifies offline; a changed byte in any event, a dropped event, an event of another
case, an edited head and a wrong key are each refused; export refuses a tampered store
and a case no head covers yet; the CLI round trip needs no database to verify."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from adapters.audit.bundle import export_case, verify_bundle
from adapters.audit.heads import keygen, load_private, load_public
from adapters.audit.service import audit_log
from adapters.bootstrap import bootstrap
from adapters.cli.app import app
from domain.errors import ValidationError
from tests.support import NOW, T0, city, drive


@pytest.fixture
def exported(store_env, tmp_path):
    cg = bootstrap(env=store_env, city=city(), clock=lambda: NOW)
    cases = [drive(cg.service, s, T0 + timedelta(minutes=i))
             for i, s in enumerate(("closed", "dispatched", "evaluated"))]
    pub, _ = keygen(tmp_path / "k")
    log = audit_log(cg)
    log.sign(load_private(tmp_path / "k"))
    public = load_public(pub)
    bundle = export_case(log.sql, log.events, str(cases[0].id), public)
    yield cg, log, public, bundle, cases
    cg.close()


def dump(bundle: dict) -> bytes:
    return json.dumps(bundle).encode()


def test_a_bundle_verifies_and_every_edit_of_it_is_refused(exported, tmp_path):
    _cg, log, public, bundle, cases = exported
    assert len(bundle["events"]) >= 6 and verify_bundle(dump(bundle), public) == []
    for i in range(len(bundle["events"])):
        bad = json.loads(dump(bundle))
        state = bytearray(base64.b64decode(bad["events"][i]["state"]))
        state[len(state) // 2] ^= 0x01
        bad["events"][i]["state"] = base64.b64encode(bytes(state)).decode()
        assert any("not in the signed tree" in p for p in verify_bundle(dump(bad), public))
    dropped = json.loads(dump(bundle))
    del dropped["events"][2]
    assert any("one missing" in p for p in verify_bundle(dump(dropped), public))
    other = export_case(log.sql, log.events, str(cases[1].id), public)
    mixed = json.loads(dump(bundle))
    mixed["events"].append(other["events"][-1])
    assert any("another case" in p for p in verify_bundle(dump(mixed), public))
    edited = json.loads(dump(bundle))
    edited["head"]["at"] = "2020-01-01T00:00:00+00:00"
    assert verify_bundle(dump(edited), public) == ["head: signature refused (an edited head)"]
    keygen(tmp_path / "other")
    wrong = verify_bundle(dump(bundle), load_public(tmp_path / "other.pub"))
    assert wrong == ["head: signature refused (another key)"]


def test_unreadable_bundles_are_refused_naming_the_field(exported):
    *_, public, bundle, _cases = exported
    for data in (b"\xff\xfe", b"[]", b'{"format": "x"}', b"\x00" * 10):
        with pytest.raises(ValidationError, match="bundle"):
            verify_bundle(data, public)
    bad = json.loads(dump(bundle))
    bad["events"][0]["version"] = "1"
    with pytest.raises(ValidationError, match=r"events\[0\].version must be a int"):
        verify_bundle(dump(bad), public)


def test_export_refuses_a_tampered_store_and_uncovered_events(exported):
    cg, log, public, _bundle, cases = exported
    with pytest.raises(ValidationError, match="case"):
        export_case(log.sql, log.events, "not-a-case", public)
    drive(cg.service, "dispatched", T0)
    new_case = [r.originator_id for r in log.events.all()][-1]
    with pytest.raises(ValidationError, match="no head covers"):
        export_case(log.sql, log.events, new_case, public)
    with log.sql.transaction() as cur:
        cur.execute(f"UPDATE {log.events.table} SET topic = topic || 'x'"
                    f" WHERE {log.events.id_column} = 1")
    with pytest.raises(ValidationError, match="no longer matches"):
        export_case(log.sql, log.events, str(cases[0].id), public)


def test_cli_export_then_verify_offline(tmp_path):
    run = CliRunner()
    data, key, out = tmp_path / "data", tmp_path / "k.pem", tmp_path / "case.bundle.json"
    r = run.invoke(app, ["--data-dir", str(data), "case", "report", "--channel", "patrol",
                         "--category", "E0102", "--grid", "44030301000101",
                         "--actor", "sup_zhang", "--json"])
    case_id = json.loads(r.stdout)["case_id"]
    assert run.invoke(app, ["audit", "keygen", "--out", str(key)]).exit_code == 0
    assert run.invoke(app, ["--data-dir", str(data), "audit", "head", "--key", str(key)]).exit_code == 0
    r = run.invoke(app, ["--data-dir", str(data), "audit", "export", "--case", case_id,
                         "--out", str(out), "--key", f"{key}.pub"])
    assert r.exit_code == 0, r.output
    gone = tmp_path / "no-such-data-dir"
    r = run.invoke(app, ["--data-dir", str(gone), "audit", "verify-bundle", str(out),
                         "--key", f"{key}.pub"])
    assert r.exit_code == 0 and "ok" in r.stdout and not gone.exists(), r.output
    doc = json.loads(out.read_text())
    doc["events"][0]["topic"] += "x"
    out.write_text(json.dumps(doc))
    r = run.invoke(app, ["audit", "verify-bundle", str(out), "--key", f"{key}.pub"])
    assert r.exit_code == 7 and "events[0]" in r.stdout and "FAILED" in r.stdout, r.output
