"""The HTTP adapter's credentials, tokens and schematic grid (no server needed)."""

from __future__ import annotations

import pytest

from adapters.http import geo
from adapters.http.auth import (
    Authenticator,
    AuthError,
    check_password,
    hash_password,
    hash_token,
    load_credentials,
)
from adapters.http.passwords import iterations_of, needs_rehash
from domain.errors import ConfigError
from tests.support import city


@pytest.fixture(scope="module")
def auth():
    return Authenticator(city(), load_credentials(None, city()), secret=b"k" * 32)


def test_password_hashes_check_and_differ_by_salt():
    a, b = hash_password("s3cret"), hash_password("s3cret")
    assert a != b and a.startswith("pbkdf2_sha256$600000$")  # OWASP 2023: >= 600,000
    assert check_password("s3cret", a) and not check_password("S3cret", a)
    assert not check_password("s3cret", "plain-text") and not check_password("x", "md5$1$2$3")


def test_the_sample_credentials_use_the_current_work_factor():
    creds = load_credentials(None, city())
    assert creds.passwords and all(iterations_of(h) >= 600_000 for h in creds.passwords.values())


def test_an_old_60000_iteration_hash_still_verifies_and_is_reported(tmp_path):
    from structlog.testing import capture_logs

    old = hash_password("pw", iterations=60_000)
    assert needs_rehash(old) and not needs_rehash(hash_password("pw"))
    p = tmp_path / "creds.yaml"
    p.write_text(f"users:\n  acc_wang: {{password: '{old}'}}\n", encoding="utf-8")
    with capture_logs() as logs:
        a = Authenticator(city(), load_credentials(p, city()))
        assert a.login("acc_wang", "pw").id == "acc_wang"
    events = {e["event"]: e for e in logs}
    assert events["credentials_weak_hashes"]["users"] == ["acc_wang"]
    assert events["password_hash_outdated"]["user"] == "acc_wang"


def test_an_unknown_user_costs_a_full_hash_like_a_wrong_password(auth, monkeypatch):
    """No timing oracle for user ids: the unknown user is checked against a dummy hash of the
    same cost (measured, with a wide margin for a busy machine)."""
    import time

    from adapters.http import passwords

    checked = []
    real = passwords._verify
    monkeypatch.setattr(passwords, "_verify", lambda pw, h: checked.append(h) or real(pw, h))

    def timed(user):
        t0 = time.perf_counter()
        with pytest.raises(AuthError):
            auth.login(user, "wrong-password")
        return time.perf_counter() - t0

    timed("nobody-at-all")  # the dummy hash is made once, on first use
    unknown, wrong = timed("nobody-else"), timed("acc_wang")
    assert iterations_of(checked[-2]) == iterations_of(checked[-1]) == 600_000
    assert unknown > 0.4 * wrong and wrong > 0.4 * unknown
    auth.store.clear_failures("user:acc_wang")


def test_every_demo_person_logs_in_with_demo(auth):
    from concurrent.futures import ThreadPoolExecutor

    people = [u for u in city().users.values() if u.role not in ("channel", "system")]
    with ThreadPoolExecutor(2) as pool:  # PBKDF2 releases the GIL: both cores
        assert list(pool.map(lambda u: auth.login(u.id, "demo"), people)) == people
    with pytest.raises(AuthError):
        auth.login("acc_wang", "demo2")
    with pytest.raises(AuthError):
        auth.login("system", "demo")  # no credentials at all


def test_session_tokens_are_signed_and_expire(auth):
    user = city().users["disp_chen"]
    token = auth.issue(user)
    assert auth.from_token(token) == user
    uid, sid, exp, sig = token.rsplit(".", 3)
    with pytest.raises(AuthError, match="not valid"):
        auth.from_token(f"chief_zhao.{sid}.{exp}.{sig}")  # another user with this signature
    with pytest.raises(AuthError, match="not valid"):
        auth.from_token(f"{uid}.{sid}.{int(exp) + 1}.{sig}")  # a longer life
    with pytest.raises(AuthError, match="not valid"):
        auth.from_token(f"{uid}.{exp}.{sig}")  # the old three-part form
    with pytest.raises(AuthError, match="expired"):
        auth.from_token(auth.issue(user, seconds=-5))
    other = Authenticator(city(), auth.credentials, secret=b"z" * 32)
    with pytest.raises(AuthError):
        other.from_token(token)  # another server's secret


def test_a_revoked_session_ends_and_others_stay(auth):
    user = city().users["disp_chen"]
    one, two = auth.issue(user), auth.issue(user)
    assert auth.revoke(auth.session(one), by="disp_chen") == 1
    with pytest.raises(AuthError, match="ended"):
        auth.from_token(one)
    assert auth.from_token(two) == user
    assert auth.revoke_user("disp_chen", by="chief_zhao") >= 1
    with pytest.raises(AuthError, match="ended"):
        auth.from_token(two)
    assert auth.from_token(auth.issue(user)) == user  # a new login works


def test_a_forged_session_id_with_a_valid_signature_is_refused(auth):
    """A token this server signed but never recorded (another database) is not a session."""
    body = f"disp_chen.forged-session.{2_000_000_000}"
    with pytest.raises(AuthError, match="no such session"):
        auth.from_token(f"{body}.{auth._sign(body)}")


def test_the_throttle_doubles_the_lockout_and_forgets(auth):
    t = auth.throttle
    assert [t.lockout(n, 5) for n in (4, 5, 6, 7, 20)] == [0, 30, 60, 120, 900]
    with pytest.raises(AuthError):
        auth.login("sup_li", "x", "198.51.100.1")
    assert auth.store.failures("user:sup_li")[0] == 1
    assert auth.store.failures("addr:198.51.100.1")[0] == 1
    assert auth.login("sup_li", "demo", "198.51.100.1").id == "sup_li"
    assert auth.store.failures("user:sup_li") == (0, 0)  # a success clears the user's count


def test_api_tokens_from_the_file(auth):
    assert auth.from_token("citizen-app-demo-token").id == "citizen_app"
    assert auth.from_token("hotline-demo-token").id == "hotline_12345"
    with pytest.raises(AuthError):
        auth.from_token("citizen-app-demo-token2")


@pytest.mark.parametrize("text,field", [
    ("users: {nobody: {password: 'pbkdf2_sha256$1$a$b'}}", "credentials.users.nobody"),
    ("users: {acc_wang: {}}", "credentials.users.acc_wang"),
    ("users: {acc_wang: {password: 'demo'}}", "credentials.users.acc_wang.password"),
    ("users: {citizen_app: {token: 'abc'}}", "credentials.users.citizen_app.token"),
    ("users: [acc_wang]", "credentials.users"),
    ("users: {acc_wang: {password: [}", "credentials"),
])
def test_bad_credentials_files_name_the_key(tmp_path, text, field):
    p = tmp_path / "creds.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_credentials(p, city())
    assert e.value.field == field


def test_a_missing_credentials_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_credentials(tmp_path / "none.yaml", city())


def test_own_credentials_file(tmp_path):
    p = tmp_path / "creds.yaml"
    p.write_text(f"users:\n  acc_wang: {{password: '{hash_password('pw')}'}}\n"
                 f"  citizen_app: {{token: '{hash_token('tok')}'}}\n", encoding="utf-8")
    a = Authenticator(city(), load_credentials(p, city()))
    assert a.login("acc_wang", "pw").id == "acc_wang"
    assert a.from_token("tok").id == "citizen_app"
    with pytest.raises(AuthError):
        a.login("chief_zhao", "demo")


def test_the_schematic_grid_places_every_cell_once():
    c = city()
    boxes = geo.layout(c)
    assert sorted(b.code for b in boxes) == sorted(c.cells)
    for b in boxes:
        lat, lon = geo.center_of(c, b.code)
        assert geo.cell_at(c, lat, lon) == b.code
    assert geo.cell_at(c, 0.0, 0.0) is None
