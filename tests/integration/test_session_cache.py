"""The session cache on PostgreSQL (adapters/http/session_cache.py): a session read once is
answered from memory, and a revocation from anywhere (another store object, as another
process or the CLI would) ends it at once; nothing is trusted while not listening."""

from __future__ import annotations

import time

import pytest
from eventsourcing.application import Application

from adapters.http.auth_store import SqlAuthStore, store_for
from adapters.http.session_cache import CachedAuthStore
from adapters.storage.sql import Sql

pytestmark = pytest.mark.postgres


def wait_until(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def stores(pg_env):
    apps = [Application(env=pg_env), Application(env=pg_env)]  # kept: they own the pools
    cached = store_for(Sql(apps[0].recorder), cache=True)
    assert isinstance(cached, CachedAuthStore)
    other = SqlAuthStore(Sql(apps[1].recorder))  # another process, the CLI
    yield cached, other
    cached.stop()
    for app in apps:
        app.close()


def test_not_listening_means_every_lookup_goes_to_the_database(stores):
    cached, other = stores
    now = int(time.time())
    other.add_session("s1", "disp_chen", now, now + 3600)
    assert cached.session("s1").revoked_at is None
    assert cached.cached("s1") is None  # not started: nothing kept
    other.revoke("s1", "test")
    assert cached.session("s1").revoked_at is not None


def test_a_revocation_elsewhere_ends_the_cached_session_at_once(stores):
    cached, other = stores
    cached.start()
    assert wait_until(lambda: cached._listening)
    now = int(time.time())
    for sid, uid in (("a1", "disp_chen"), ("a2", "disp_chen"), ("b1", "acc_wang")):
        other.add_session(sid, uid, now, now + 3600)
        assert cached.session(sid).revoked_at is None
        assert cached.cached(sid) is not None  # from memory from now on
    other.revoke("a1", "test")
    assert wait_until(lambda: cached.cached("a1") is None), "a1 still cached after its revocation"
    assert cached.session("a1").revoked_at is not None
    assert cached.cached("a2") is not None and cached.cached("b1") is not None
    other.revoke_user("disp_chen", "test")
    assert wait_until(lambda: cached.cached("a2") is None)
    assert cached.session("a2").revoked_at is not None
    assert cached.cached("b1") is not None  # another user's session stays


def test_a_revocation_during_a_lookup_is_not_cached(stores, monkeypatch):
    cached, other = stores
    cached.start()
    assert wait_until(lambda: cached._listening)
    now = int(time.time())
    other.add_session("r1", "disp_chen", now, now + 3600)
    real = cached.store.session

    def slow(sid):  # the row is read, then revoked before it would be kept
        row = real(sid)
        other.revoke(sid, "test")
        assert wait_until(lambda: cached._epoch > epoch)
        return row

    epoch = cached._epoch
    monkeypatch.setattr(cached.store, "session", slow)
    assert cached.session("r1").revoked_at is None  # what the database said at the time
    monkeypatch.setattr(cached.store, "session", real)
    assert cached.cached("r1") is None
    assert cached.session("r1").revoked_at is not None
