"""The trail page's audit badge, on SQLite and PostgreSQL: a case under a signed head is
`verified`; an edited event of it, or an edited leaf of any case, is `failed`; a new
step not yet under a head is `unsigned`; no key configured is `off`."""

from __future__ import annotations

from datetime import timedelta

from adapters.audit.case_proof import PUBLIC_KEY_ENV, case_audit, case_proof
from adapters.audit.heads import keygen, load_private, load_public
from adapters.audit.service import audit_log
from adapters.bootstrap import bootstrap
from tests.support import NOW, T0, act, city, drive


def test_badge_states(store_env, tmp_path, monkeypatch):
    cg = bootstrap(env=store_env, city=city(), clock=lambda: NOW)
    a, b = (drive(cg.service, s, T0 + timedelta(minutes=i))
            for i, s in enumerate(("dispatched", "closed")))
    monkeypatch.delenv(PUBLIC_KEY_ENV, raising=False)
    monkeypatch.delenv("CASEGRID_AUDIT_KEY", raising=False)
    assert case_audit(cg, str(a.id)).status == "off"
    pub, _ = keygen(tmp_path / "k")
    monkeypatch.setenv(PUBLIC_KEY_ENV, str(pub))
    assert case_audit(cg, str(a.id)).status == "unsigned"  # no audit tables yet
    log = audit_log(cg)
    head = log.sign(load_private(tmp_path / "k"))
    proof = case_audit(cg, str(a.id))
    assert (proof.status, proof.size) == ("verified", head.size)
    public = load_public(pub)
    act(cg.service, a, "resolve", "hw_luo", T0 + timedelta(hours=1))
    assert case_proof(log.sql, log.events, str(a.id), public).status == "unsigned"
    assert case_proof(log.sql, log.events, str(b.id), public).status == "verified"
    log.sign(load_private(tmp_path / "k"))
    assert case_proof(log.sql, log.events, str(a.id), public).status == "verified"
    with log.sql.transaction() as cur:
        cur.execute(f"UPDATE {log.events.table} SET topic = topic || 'x' WHERE"
                    f" {log.events.id_column} = (SELECT MAX({log.events.id_column})"
                    f" FROM {log.events.table})")
    assert case_proof(log.sql, log.events, str(a.id), public).status == "failed"
    assert case_proof(log.sql, log.events, str(b.id), public).status == "verified"
    with log.sql.transaction() as cur:
        cur.execute("UPDATE cg_audit_leaves SET leaf_hash = ? WHERE position = 0", ("00" * 32,))
    assert case_proof(log.sql, log.events, str(b.id), public).status == "failed"
    keygen(tmp_path / "other")
    monkeypatch.setenv(PUBLIC_KEY_ENV, str(tmp_path / "other.pub"))
    assert case_audit(cg, str(b.id)).status == "failed"
    cg.close()


def test_badge_with_a_keyring_after_a_rotation(store_env, tmp_path, monkeypatch):
    from datetime import UTC, datetime

    from adapters.audit.keys import add_key

    cg = bootstrap(env=store_env, city=city(), clock=lambda: NOW)
    a = drive(cg.service, "dispatched", T0)
    old_pub, _ = keygen(tmp_path / "old")
    log = audit_log(cg)
    log.sign(load_private(tmp_path / "old"))
    new_pub, _ = keygen(tmp_path / "new")
    ring = tmp_path / "keys.json"
    add_key(ring, load_public(old_pub), datetime(2026, 1, 1, tzinfo=UTC))
    add_key(ring, load_public(new_pub), datetime.now(UTC))
    monkeypatch.setenv(PUBLIC_KEY_ENV, str(ring))
    assert case_audit(cg, str(a.id)).status == "verified"  # the old key's head
    act(cg.service, a, "resolve", "hw_luo", T0 + timedelta(hours=1))
    head = log.sign(load_private(tmp_path / "new"))
    proof = case_audit(cg, str(a.id))
    assert (proof.status, proof.size) == ("verified", head.size)
    keygen(tmp_path / "stranger")
    log.sign(load_private(tmp_path / "stranger"))
    assert case_audit(cg, str(a.id)).status == "failed"
    cg.close()
