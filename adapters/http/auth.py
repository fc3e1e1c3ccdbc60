"""Who is calling: per-user credentials from a small file beside the city, and signed tokens.

The city file (domain/city.py) says who a user is (role, unit, squad); this adapter's
credentials file says how they prove it. Passwords are stored as PBKDF2 hashes
(adapters/http/passwords.py), API tokens (Open311 `api_key`, `Authorization: Bearer`) as
SHA-256 hashes. A login (throttled: adapters/http/throttle.py) issues a session token
`<user>.<session id>.<expires>.<hmac>` signed with the server's secret and recorded in the
database (adapters/http/auth_store.py), so that a logout or a revocation ends it in every
server process: the API takes it as a Bearer token, the console keeps it in a cookie.

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

import structlog
import yaml

from adapters.http.auth_store import MemoryAuthStore
from adapters.http.passwords import ITERATIONS, check_password, hash_password, needs_rehash
from adapters.http.throttle import LoginThrottle, Throttled
from domain.city import City, User
from domain.errors import ConfigError

SAMPLE_CREDENTIALS = Path(__file__).resolve().parents[1] / "cities" / "sample-credentials.yaml"
SESSION_SECONDS = 12 * 3600
log = structlog.get_logger("casegrid.http.auth")


class AuthError(Exception):
    """401: no credentials, or wrong ones."""


def hash_token(token: str) -> str:
    return "sha256$" + hashlib.sha256(token.encode()).hexdigest()


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
    weak = sorted(u for u, h in passwords.items() if needs_rehash(h))
    if weak:
        log.warning("credentials_weak_hashes", path=str(path), users=weak, wanted=ITERATIONS,
                    hint="python -m adapters.http.auth hash-password")
    return Credentials(passwords, tokens)


@dataclass(frozen=True)
class Session:
    """Who a token names; `session_id` is None for an API token from the credentials file."""

    user: User
    session_id: str | None
    expires: int | None


class Authenticator:
    """Logins (throttled), session tokens (signed, recorded, revocable) and CSRF tokens."""

    def __init__(self, city: City, credentials: Credentials, secret: bytes | None = None,
                 store=None):
        self.city = city
        self.credentials = credentials
        env_secret = os.environ.get("CASEGRID_SECRET")
        self.secret = secret or (env_secret.encode() if env_secret else secrets.token_bytes(32))
        self.store = store or MemoryAuthStore()
        self.throttle = LoginThrottle(self.store)

    def login(self, user_id: str, password: str, client: str | None = None) -> User:
        """The user, if the password is right; Throttled (429) while locked out."""
        user_id = user_id or ""
        self.throttle.check(user_id, client)
        stored = self.credentials.passwords.get(user_id)
        if not check_password(password or "", stored):  # None: a dummy hash, same time
            self.throttle.failed(user_id, client)
            raise AuthError("user or password is wrong")
        self.throttle.succeeded(user_id)
        if needs_rehash(stored):
            log.warning("password_hash_outdated", user=user_id, iterations=stored.split("$")[1],
                        wanted=ITERATIONS, hint="python -m adapters.http.auth hash-password")
        log.info("login", user=user_id, client=client)
        return self.city.users[user_id]

    def issue(self, user: User, seconds: int = SESSION_SECONDS) -> str:
        """A new session: `<user>.<session id>.<expires>.<hmac>`, recorded in the store."""
        now = int(time.time())
        sid = secrets.token_urlsafe(16)
        self.store.add_session(sid, user.id, now, now + seconds)
        body = f"{user.id}.{sid}.{now + seconds}"
        return f"{body}.{self._sign(body)}"

    def _sign(self, body: str) -> str:
        mac = hmac.new(self.secret, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")

    def session(self, token: str) -> Session:
        """A session token issued by `issue` (not expired, not revoked), or an API token."""
        got = self._verify(token)
        if isinstance(got, Session):
            return got
        uid, sid, expires = got
        return self._live(uid, sid, expires, self.store.session(sid))

    def cached_session(self, token: str) -> Session | None:
        """`session(token)` when it can be answered from memory (the store's session cache,
        adapters/http/session_cache.py), else None: ask `session`."""
        cached = getattr(self.store, "cached", None)
        try:
            got = self._verify(token)
            if isinstance(got, Session):
                return got
            uid, sid, expires = got
            row = cached(sid) if cached else None
            return self._live(uid, sid, expires, row) if row is not None else None
        except AuthError:
            return None

    def _verify(self, token: str) -> Session | tuple[str, str, int]:
        """An API token's Session, or a signed, unexpired token's (user, session id, expires)."""
        if not token:
            raise AuthError("no token")
        uid = self.credentials.tokens.get(hash_token(token))
        if uid is not None:
            return Session(self.city.users[uid], None, None)
        parts = token.rsplit(".", 3)
        if len(parts) != 4:
            raise AuthError("token is not valid")
        uid, sid, expires, sig = parts
        if not hmac.compare_digest(sig, self._sign(f"{uid}.{sid}.{expires}")):
            raise AuthError("token is not valid")
        if not expires.isdigit() or int(expires) < time.time():
            raise AuthError("token has expired; log in again")
        if uid not in self.city.users:
            raise AuthError("token names an unknown user")
        return uid, sid, int(expires)

    def _live(self, uid: str, sid: str, expires: int, row) -> Session:
        if row is None or row.user_id != uid:
            raise AuthError("token is not valid (no such session)")
        if row.revoked_at is not None:
            raise AuthError("session has ended (logged out or revoked); log in again")
        return Session(self.city.users[uid], sid, expires)

    def from_token(self, token: str) -> User:
        return self.session(token).user

    def revoke(self, session: Session, by: str) -> int:
        """End one session (logout); an API token is not a session (0)."""
        if session.session_id is None:
            return 0
        n = self.store.revoke(session.session_id, by)
        log.info("session_revoked", user=session.user.id, by=by)
        return n

    def revoke_user(self, user_id: str, by: str) -> int:
        """End every session of a user, in every server process (they share the store)."""
        n = self.store.revoke_user(user_id, by)
        log.warning("sessions_revoked", user=user_id, by=by, sessions=n)
        return n

    def csrf_token(self, session_id: str) -> str:
        """The console forms' token for one session."""
        return self._sign(f"csrf.{session_id}")

    def login_csrf_token(self, nonce: str) -> str:
        """The login form's token for the pre-session cookie `nonce`."""
        return self._sign(f"login.{nonce}")


def _main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("hash-password", "hash-token"):
        print("usage: python -m adapters.http.auth hash-password|hash-token  (secret on stdin)",
              file=sys.stderr)
        return 2
    secret = sys.stdin.readline().rstrip("\n")
    print(hash_password(secret) if argv[0] == "hash-password" else hash_token(secret))
    return 0


__all__ = ["AuthError", "Authenticator", "Credentials", "Session", "Throttled", "check_password",
           "hash_password", "hash_token", "load_credentials"]

if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
