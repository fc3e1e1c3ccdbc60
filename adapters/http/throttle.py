"""Login throttling per user id and per client address: after a few failures, a lockout
that doubles with each further failure (30 s, 60 s, … at most 15 minutes). A lockout
refuses even the right password (429 with Retry-After), so guessing gains nothing; a
successful login clears the user's count. Counts live in the auth store (the database),
so every server process counts the same failures. Every failure and lockout is logged.
"""

from __future__ import annotations

import time

import structlog

log = structlog.get_logger("casegrid.http.auth")


class Throttled(Exception):
    """429: too many failed logins for this user or from this address."""

    def __init__(self, field: str, rule: str, retry_after: int):
        self.field, self.rule, self.retry_after = field, rule, retry_after
        super().__init__(rule)

    def to_dict(self) -> dict:
        return {"error": "throttled", "field": self.field, "rule": self.rule,
                "retry_after": self.retry_after, "message": f"{self.field}: {self.rule}"}


class LoginThrottle:
    user_free = 5  # failures for one user id before the first lockout
    address_free = 20  # failures from one client address before the first lockout
    base_seconds = 30
    max_seconds = 900
    forget_seconds = 3600  # a count starts again after this long without a failure

    def __init__(self, store):
        self.store = store

    def _keys(self, user_id: str, client: str | None) -> list[tuple[str, str, int]]:
        keys = [("user", f"user:{user_id}", self.user_free)]
        if client:
            keys.append(("client", f"addr:{client}", self.address_free))
        return keys

    def lockout(self, count: int, free: int) -> int:
        """Seconds locked after `count` failures (0 below the free allowance)."""
        if count < free:
            return 0
        return min(self.base_seconds * 2 ** (count - free), self.max_seconds)

    def check(self, user_id: str, client: str | None) -> None:
        """Raise Throttled while the user id or the address is locked out."""
        now = int(time.time())
        for field, key, free in self._keys(user_id, client):
            count, last = self.store.failures(key)
            wait = last + self.lockout(count, free) - now if count else 0
            if wait > 0:
                log.warning("login_throttled", user=user_id, client=client, key=key,
                            failures=count, retry_after=wait)
                who = f"user '{user_id}'" if field == "user" else f"address {client}"
                raise Throttled(field, f"too many failed logins for {who}: "
                                       f"try again in {wait} s", wait)

    def failed(self, user_id: str, client: str | None) -> None:
        now = int(time.time())
        for _field, key, free in self._keys(user_id, client):
            count = self.store.add_failure(key, now, now - self.forget_seconds)
            locked = self.lockout(count, free)
            log.warning("login_failed", user=user_id, client=client, key=key, failures=count,
                        **({"locked_seconds": locked} if locked else {}))

    def succeeded(self, user_id: str) -> None:
        self.store.clear_failures(f"user:{user_id}")
