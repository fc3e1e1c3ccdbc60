"""Fixtures the Kafka integration tests share: a broker per module, stores per backend."""

from __future__ import annotations

import pytest

from deploy.tansu import ThrowawayBroker


@pytest.fixture(scope="module")
def broker():
    """A Tansu broker on a free loopback port for this test module."""
    with ThrowawayBroker() as b:
        yield b


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def worker_stores(request, tmp_path):
    """(env for this process, extra env for the worker processes) on each store; SQLite in
    tmp_path/data, where the workers started with that --data-dir find it."""
    if request.param == "postgres":
        env = request.getfixturevalue("pg_env")
        return env, dict(env)
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
           "SQLITE_DBNAME": str(tmp_path / "data" / "casegrid.sqlite"), "SQLITE_LOCK_TIMEOUT": "30"}
    return env, {}
