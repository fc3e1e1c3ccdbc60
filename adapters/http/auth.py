"""Who is calling: per-user credentials from a small file beside the city, and signed tokens.

The city file (domain/city.py) says who a user is (role, unit, squad); this adapter's
credentials file says how they prove it. Passwords are stored as PBKDF2 hashes, API
tokens (Open311 `api_key`, `Authorization: Bearer`) as SHA-256 hashes. A login issues a
session token `<user>.<expires>.<hmac>` signed with the server's secret: the API takes it
as a Bearer token, the console keeps it in an HttpOnly cookie.

    python -m adapters.http.auth hash-password   # reads the password from stdin
    python -m adapters.http.auth hash-token
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from domain.city import City, User
from domain.errors import ConfigError

SAMPLE_CREDENTIALS = Path(__file__).resolve().parents[1] / "cities" / "sample-credentials.yaml"
SESSION_SECONDS = 12 * 3600
ITERATIONS = 60_000


class AuthError(Exception):
    """401: no credentials, or wrong ones."""


def hash_password(password: str, *, salt: str | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt or secrets.token_hex(8)
    h = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations).hex()
    return f"pbkdf2_sha256${iterations}${salt}${h}"


def hash_token(token: str) -> str:
    return "sha256$" + hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str, stored: str) -> bool:
    try:
        algo, iterations, salt, want = stored.split("$")
    except ValueError:
        return False
    if algo != "pbkdf2_sha256":
        return False
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations)).hex()
    return hmac.compare_digest(got, want)


@dataclass(frozen=True)
class Credentials:
    passwords: dict[str, str]  # user id -> pbkdf2 hash
    tokens: dict[str, str]  # sha256 hash of a token -> user id


def load_credentials(path: str | Path | None, city: City) -> Credentials:
    """Read the credentials file: --credentials, else $CASEGRID_CREDENTIALS, else the demo file."""
    path = Path(path or os.environ.get("CASEGRID_CREDENTIALS") or SAMPLE_CREDENTIALS)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError("credentials", f"no such file '{path}'") from None
    except yaml.YAMLError as e:
        raise ConfigError("credentials", f"'{path}' is not valid YAML: {e}") from None
    users = raw.get("users") if isinstance(raw, dict) else None
    if not isinstance(users, dict):
        raise ConfigError("credentials.users", "must be a mapping of user id: {password|token}")
    passwords, tokens = {}, {}
    for uid, entry in users.items():
        p = f"credentials.users.{uid}"
        if uid not in city.users:
            raise ConfigError(p, f"unknown user '{uid}' (not in the city file)")
        if not isinstance(entry, dict) or not ({"password", "token"} & set(entry)):
            raise ConfigError(p, "needs a password hash or a token hash")
        if "password" in entry:
            if not str(entry["password"]).startswith("pbkdf2_sha256$"):
                raise ConfigError(f"{p}.password", "must be a pbkdf2_sha256$… hash")
            passwords[uid] = str(entry["password"])
        if "token" in entry:
            if not str(entry["token"]).startswith("sha256$"):
                raise ConfigError(f"{p}.token", "must be a sha256$… hash")
            tokens[str(entry["token"])] = uid
    return Credentials(passwords, tokens)


class Authenticator:
    def __init__(self, city: City, credentials: Credentials, secret: bytes | None = None):
        self.city = city
        self.credentials = credentials
        env_secret = os.environ.get("CASEGRID_SECRET")
        self.secret = secret or (env_secret.encode() if env_secret else secrets.token_bytes(32))

    def login(self, user_id: str, password: str) -> User:
        stored = self.credentials.passwords.get(user_id or "")
        if stored is None or not check_password(password or "", stored):
            raise AuthError("user or password is wrong")
        return self.city.users[user_id]

    def issue(self, user: User, seconds: int = SESSION_SECONDS) -> str:
        expires = int(time.time()) + seconds
        body = f"{user.id}.{expires}"
        return f"{body}.{self._sign(body)}"

    def _sign(self, body: str) -> str:
        mac = hmac.new(self.secret, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")

    def from_token(self, token: str) -> User:
        """A session token issued by `issue`, or an API token from the credentials file."""
        if not token:
            raise AuthError("no token")
        uid = self.credentials.tokens.get(hash_token(token))
        if uid is not None:
            return self.city.users[uid]
        parts = token.rsplit(".", 2)
        if len(parts) != 3:
            raise AuthError("token is not valid")
        uid, expires, sig = parts
        if not hmac.compare_digest(sig, self._sign(f"{uid}.{expires}")):
            raise AuthError("token is not valid")
        if not expires.isdigit() or int(expires) < time.time():
            raise AuthError("token has expired; log in again")
        if uid not in self.city.users:
            raise AuthError("token names an unknown user")
        return self.city.users[uid]


def _main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("hash-password", "hash-token"):
        print("usage: python -m adapters.http.auth hash-password|hash-token  (secret on stdin)",
              file=sys.stderr)
        return 2
    secret = sys.stdin.readline().rstrip("\n")
    print(hash_password(secret) if argv[0] == "hash-password" else hash_token(secret))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
