"""Password hashes: PBKDF2-SHA256 at OWASP's current work factor (600,000 iterations).

Hashes are `pbkdf2_sha256$<iterations>$<salt>$<hex>`. Older hashes with fewer iterations
still verify (`needs_rehash` says they are due for replacement). A user id without a
password is checked against a dummy hash of the same cost, so an unknown user takes as
long as a wrong password. A successful check is remembered in this process (keyed by a
keyed hash of the stored hash and the password, never the password itself) so that the
same person logging in again does not pay 0.3 s of CPU each time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time

ITERATIONS = 600_000
_DUMMY = None  # computed on first use: hashing at import would slow every CLI start
_VERIFIED: dict[bytes, float] = {}  # keyed digest -> when it was verified (monotonic)
_VERIFIED_MAX, _VERIFIED_SECONDS = 4096, 3600.0
_KEY = secrets.token_bytes(32)  # per process: the cache keys mean nothing outside it
_LOCK = threading.Lock()


def hash_password(password: str, *, salt: str | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt or secrets.token_hex(16)
    h = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations).hex()
    return f"pbkdf2_sha256${iterations}${salt}${h}"


def iterations_of(stored: str) -> int:
    parts = stored.split("$")
    return int(parts[1]) if len(parts) == 4 and parts[1].isdigit() else 0


def needs_rehash(stored: str) -> bool:
    """True for a hash made with fewer iterations than ITERATIONS (still valid, but weak)."""
    return iterations_of(stored) < ITERATIONS


def check_password(password: str, stored: str | None) -> bool:
    """Does `password` match `stored`? `None` (no such user) checks against a dummy hash."""
    global _DUMMY
    if stored is None:
        if _DUMMY is None:
            _DUMMY = hash_password(secrets.token_hex(16))
        _verify(password, _DUMMY)
        return False
    key = hmac.new(_KEY, f"{stored}\0{password}".encode(), hashlib.sha256).digest()
    seen = _VERIFIED.get(key)
    if seen is not None and time.monotonic() - seen < _VERIFIED_SECONDS:
        return True
    if not _verify(password, stored):
        return False
    with _LOCK:
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[key] = time.monotonic()
    return True


def _verify(password: str, stored: str) -> bool:
    try:
        algo, iterations, salt, want = stored.split("$")
        n = int(iterations)
    except ValueError:
        return False
    if algo != "pbkdf2_sha256" or n < 1:
        return False
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), n).hex()
    return hmac.compare_digest(got, want)
