"""Signed heads over time, on SQLite and PostgreSQL: successive heads are checked by
consistency proofs (a rewritten past, a shrunk tree reported as `inconsistent`); events
after the last signed head are named as pending, a forged one included; key rotation
by a keyring (old heads still verify, an unknown key or a retired key signing after its
validity fails); the published mark, added in place to an older table."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from adapters.audit.bundle import export_case
from adapters.audit.bundle_check import verify_bundle
from adapters.audit.heads import keygen, load_private, load_public, sign_head, unpublished
from adapters.audit.keys import add_key, load_keys, parse_keyring
from adapters.audit.publish import publish_pending
from adapters.audit.service import audit_log
from adapters.bootstrap import bootstrap
from adapters.cli.app import app
from adapters.storage import migrations
from adapters.storage.steps import STEPS
from domain.errors import ValidationError
from tests.support import NOW, T0, city, drive


@pytest.fixture
def signed(store_env, tmp_path):
    cg = bootstrap(env=store_env, city=city(), clock=lambda: NOW)
    for i, state in enumerate(("closed", "dispatched")):
        drive(cg.service, state, T0 + timedelta(minutes=10 * i))
    pub, _ = keygen(tmp_path / "audit.key")
    log = audit_log(cg)
    private = load_private(tmp_path / "audit.key")
    log.sign(private)
    yield cg, log, private, load_public(pub)
    cg.close()


def run(log, sql: str, params: tuple = ()) -> None:
    with log.sql.transaction() as cur:
        cur.execute(sql.format(t=log.events.table, id=log.events.id_column), params)


def kinds(report) -> list[str]:
    return [p.kind for p in report.problems]


def test_successive_heads_extend_each_other(signed):
    cg, log, private, public = signed
    for state in ("voided", "pending_check"):
        drive(cg.service, state, T0)
        log.sign(private)
    report = log.verify(public)
    assert report.ok and report.heads == 3 and report.pending == 0, report.problems


def test_a_rewritten_past_under_a_new_head_is_inconsistent(signed):
    """A DBA edits an event and its leaf; the honest signer then signs over the edited
    leaves: the new head matches the live store, but does not extend the old one."""
    cg, log, private, public = signed
    first = log.verify(public).events
    [row] = log.sql.query(f"SELECT {log.events.id_column}, state FROM {log.events.table}"
                          f" ORDER BY {log.events.id_column} LIMIT 1")
    run(log, "UPDATE {t} SET state = ? WHERE {id} = ?", (bytes(row[1]) + b" ", row[0]))
    live = next(iter(log.events.all()))
    run(log, "UPDATE cg_audit_leaves SET leaf_hash = ? WHERE position = 0", (live.leaf().hex(),))
    drive(cg.service, "voided", T0)
    second = log.sign(private)
    report = log.verify(public)
    assert kinds(report) == ["bad_root", "inconsistent"], report.problems
    assert report.problems[0].position == first
    bad = report.problems[1]
    assert bad.position == second.size and f"(size {first})" in bad.detail
    assert "not an extension" in bad.detail


def test_a_shrunk_tree_is_inconsistent(signed):
    _cg, log, private, public = signed
    run(log, "DELETE FROM cg_audit_leaves WHERE position >= 3")
    sign_head(log.sql, private)  # a head over what is left
    report = log.verify(public)
    assert "inconsistent" in kinds(report) and any("shrank" in p.detail for p in report.problems)


def test_a_forged_event_after_the_last_head_is_pending_not_passed(signed, tmp_path):
    _cg, log, _private, public = signed
    nid, orig, _v, topic, state = log.sql.query(
        f"SELECT {log.events.id_column}, originator_id, originator_version, topic, state"
        f" FROM {log.events.table} ORDER BY {log.events.id_column} DESC LIMIT 1")[0]
    run(log, "INSERT INTO {t} ({id}, originator_id, originator_version, topic, state)"
             " VALUES (?, ?, ?, ?, ?)", (nid + 1, orig, 999, topic, state))
    assert log.follow() == 1  # the follower cannot tell: it is logged
    report = log.verify(public)
    assert report.ok and report.pending == 1 and report.unlogged == 0
    p = report.first_pending
    assert (p.kind, p.version, p.notification_id) == ("pending", 999, nid + 1)
    assert p.detail == "not yet covered by a signed head"


def test_the_cli_names_pending_events_and_strict_fails_on_them(tmp_path):
    data, key = tmp_path / "d", tmp_path / "k"
    run_cli = CliRunner().invoke
    base = ["--data-dir", str(data)]
    run_cli(app, [*base, "case", "report", "--channel", "patrol", "--category", "E0102",
                  "--grid", "44030301000101", "--actor", "sup_zhang"])
    assert run_cli(app, ["audit", "keygen", "--out", str(key)]).exit_code == 0
    assert run_cli(app, [*base, "audit", "head", "--key", str(key)]).exit_code == 0
    run_cli(app, [*base, "case", "report", "--channel", "patrol", "--category", "E0102",
                  "--grid", "44030301000101", "--actor", "sup_zhang"])
    r = run_cli(app, [*base, "audit", "verify", "--key", f"{key}.pub"])
    assert r.exit_code == 0 and "not yet covered by a signed head" in r.stdout, r.output
    r = run_cli(app, [*base, "audit", "verify", "--key", f"{key}.pub", "--strict"])
    assert r.exit_code == 7, r.output
    r = run_cli(app, [*base, "audit", "sign", "--key", str(key), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["signed"]["size"] == 2, r.output
    r = run_cli(app, [*base, "audit", "sign", "--key", str(key), "--json"])
    assert json.loads(r.stdout) == {"signed": None}  # the tree did not grow
    assert run_cli(app, [*base, "audit", "verify", "--key", f"{key}.pub", "--strict"]).exit_code == 0


def test_key_rotation_old_heads_verify_unknown_and_retired_keys_fail(signed, tmp_path):
    cg, log, old_private, old_public = signed
    old_bundle = export_case(log.sql, log.events, next(iter(log.events.all())).originator_id,
                             old_private)
    ring_path = tmp_path / "keys.json"
    add_key(ring_path, old_public, datetime(2026, 1, 1, tzinfo=UTC))
    new_pub, _ = keygen(tmp_path / "new.key")
    rotated = datetime.now(UTC)
    add_key(ring_path, load_public(new_pub), rotated)
    ring = load_keys(ring_path)
    assert [k.valid_until for k in ring.keys] == [rotated, None]
    new_private = load_private(tmp_path / "new.key")
    drive(cg.service, "voided", T0)
    log.sign(new_private)
    report = log.verify(ring)
    assert report.ok and report.heads == 2, report.problems
    assert log.verify(load_public(new_pub)).problems[0].kind == "bad_signature"  # one key alone
    assert verify_bundle(json.dumps(old_bundle).encode(), ring) == []
    new_bundle = export_case(log.sql, log.events, old_bundle["case_id"], new_private, ring)
    assert verify_bundle(json.dumps(new_bundle).encode(), ring) == []
    drive(cg.service, "voided", T0)
    log.sign(old_private, now=rotated + timedelta(minutes=5))  # a retired key, signing late
    late = log.verify(ring).problems
    assert [p.kind for p in late] == ["bad_signature"] and "outside its validity" in late[0].detail
    run(log, "DELETE FROM cg_audit_heads WHERE key_id = ? AND at > ?",
        (ring.keys[0].key_id, rotated.isoformat()))
    keygen(tmp_path / "stranger.key")
    log.sign(load_private(tmp_path / "stranger.key"))
    unknown = log.verify(ring).problems
    assert [p.kind for p in unknown] == ["bad_signature"] and "not a known key" in unknown[0].detail
    with pytest.raises(ValidationError, match="already in the keyring"):
        add_key(ring_path, old_public, datetime.now(UTC))


def test_keyring_files_are_checked_field_by_field(tmp_path):
    pub, _ = keygen(tmp_path / "k")
    pem = pub.read_text()
    for doc, field in (({"keys": []}, "keys"), ({"keys": ["x"]}, "keys[0]"),
                       ({"keys": [{"public_key": "junk"}]}, "keys[0].public_key"),
                       ({"keys": [{"public_key": pem, "key_id": "00"}]}, "keys[0].key_id"),
                       ({"keys": [{"public_key": pem, "valid_from": "9999-01-01T00:00Z"}]},
                        "keys[0].valid_from"),
                       ({"keys": [{"public_key": pem, "valid_from": "2026-02-01T00:00Z",
                                   "valid_until": "2026-01-01T00:00Z"}]}, "keys[0].valid_until")):
        with pytest.raises(ValidationError) as e:
            parse_keyring(doc)
        assert e.value.field == field
    (tmp_path / "ring.json").write_text('{"format": "other"}')
    with pytest.raises(ValidationError, match="keyring"):
        load_keys(tmp_path / "ring.json")
    r = CliRunner().invoke(app, ["audit", "keys", "add", "--keyring", str(tmp_path / "r.json"),
                                 "--pub", str(pub), "--from", "2026-01-01T00:00Z", "--json"])
    assert r.exit_code == 0 and len(json.loads(r.stdout)["keys"]) == 1, r.output
    r = CliRunner().invoke(app, ["audit", "keys", "add", "--keyring", str(tmp_path / "r.json"),
                                 "--pub", str(pub), "--from", "0001-01-01", "--json"])
    assert r.exit_code == 2 and json.loads(r.stderr)["field"] == "from"


class Broker:
    """A producer that keeps what it is sent, or fails from the n-th send on."""

    def __init__(self, fail_from: int | None = None):
        self.sent, self.fail_from = [], fail_from

    def send(self, topic, key, value):
        from kafka.errors import KafkaTimeoutError

        if self.fail_from is not None and len(self.sent) >= self.fail_from:
            raise KafkaTimeoutError("broker away")
        self.sent.append(json.loads(value))
        return self

    def get(self, timeout):
        return None

    def flush(self, timeout):
        return None


def test_published_marks_added_in_place_and_sent_in_order_once(signed):
    _cg, log, private, _public = signed
    later = datetime.now(UTC)
    heads = [log.sign(private, now=later + timedelta(minutes=i)) for i in range(3)]
    run(log, "UPDATE cg_audit_heads SET published_at = NULL")
    with log.sql.transaction() as cur:  # a table as an older version made it
        cur.execute("CREATE TABLE cg_audit_heads_old AS SELECT size, root_hash, at, signature,"
                    " key_id FROM cg_audit_heads")
        cur.execute("DROP TABLE cg_audit_heads")
        cur.execute("ALTER TABLE cg_audit_heads_old RENAME TO cg_audit_heads")
    run(log, "DELETE FROM cg_schema_versions WHERE version = 4")  # the store before step 4
    assert migrations.upgrade(log.sql, STEPS) == [4]  # the schema step adds the column
    assert migrations.upgrade(log.sql, STEPS) == []  # once; a second run changes nothing
    assert len(unpublished(log.sql)) == 4
    away = Broker(fail_from=2)
    from kafka.errors import KafkaTimeoutError

    with pytest.raises(KafkaTimeoutError):
        publish_pending(log.sql, away)
    assert len(away.sent) == 2 and len(unpublished(log.sql)) == 2
    back = Broker()
    assert len(publish_pending(log.sql, back)) == 2 and publish_pending(log.sql, back) == []
    sent = away.sent + back.sent
    assert [h["at"] for h in sent] == sorted(h["at"] for h in sent)
    assert [h["at"] for h in sent[1:]] == [h.at for h in heads]
    log.sign(private)
    run(log, "UPDATE cg_audit_heads SET key_id = ?, signature = ? WHERE published_at IS NULL",
        ("密钥", "not hex"))  # an edited row never halts the publisher
    [odd] = publish_pending(log.sql, back)
    assert back.sent[-1]["key_id"] == "密钥" and odd.signature == b""
