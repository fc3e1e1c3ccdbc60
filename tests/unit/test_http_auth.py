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
from domain.errors import ConfigError
from tests.support import city


@pytest.fixture(scope="module")
def auth():
    return Authenticator(city(), load_credentials(None, city()), secret=b"k" * 32)


def test_password_hashes_check_and_differ_by_salt():
    a, b = hash_password("s3cret"), hash_password("s3cret")
    assert a != b and a.startswith("pbkdf2_sha256$")
    assert check_password("s3cret", a) and not check_password("S3cret", a)
    assert not check_password("s3cret", "plain-text") and not check_password("x", "md5$1$2$3")


def test_every_demo_person_logs_in_with_demo(auth):
    people = [u for u in city().users.values() if u.role not in ("channel", "system")]
    for u in people:
        assert auth.login(u.id, "demo") == u
    with pytest.raises(AuthError):
        auth.login("acc_wang", "demo2")
    with pytest.raises(AuthError):
        auth.login("system", "demo")  # no credentials at all


def test_session_tokens_are_signed_and_expire(auth):
    user = city().users["disp_chen"]
    token = auth.issue(user)
    assert auth.from_token(token) == user
    uid, exp, sig = token.rsplit(".", 2)
    with pytest.raises(AuthError, match="not valid"):
        auth.from_token(f"chief_zhao.{exp}.{sig}")  # another user with this signature
    with pytest.raises(AuthError, match="not valid"):
        auth.from_token(f"{uid}.{int(exp) + 1}.{sig}")  # a longer life
    with pytest.raises(AuthError, match="expired"):
        auth.from_token(auth.issue(user, seconds=-5))
    other = Authenticator(city(), auth.credentials, secret=b"z" * 32)
    with pytest.raises(AuthError):
        other.from_token(token)  # another server's secret


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
