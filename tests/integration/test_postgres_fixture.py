"""The PostgreSQL/SQLite fixtures work for real (no mocks)."""

from __future__ import annotations

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class Dog(Aggregate):
    """Minimal aggregate for persistence round-trips."""

    @event("Registered")
    def __init__(self, name: str) -> None:
        self.name = name
        self.tricks: list[str] = []

    @event("TrickAdded")
    def add_trick(self, trick: str) -> None:
        self.tricks.append(trick)


def _connect(env: dict[str, str]) -> psycopg.Connection:
    return psycopg.connect(
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        dbname=env["POSTGRES_DBNAME"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
    )


def _round_trip(env: dict[str, str]) -> None:
    app = Application(env=env)
    try:
        dog = Dog("Fido")
        dog.add_trick("roll over")
        app.save(dog)
        copy = app.repository.get(dog.id)
        assert copy.name == "Fido"
        assert copy.tricks == ["roll over"]
        assert copy.version == 2
    finally:
        app.close()
    # A second application on the same store sees the saved events.
    app2 = Application(env=env)
    try:
        assert app2.repository.get(dog.id).tricks == ["roll over"]
    finally:
        app2.close()


def test_pg_env_is_a_fresh_real_database(pg_env: dict[str, str]) -> None:
    assert pg_env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    with _connect(pg_env) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE pets (id serial PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO pets (name) VALUES (%s), (%s)", ("Fido", "Rex"))
        conn.commit()
    with _connect(pg_env) as conn:
        rows = conn.execute("SELECT name FROM pets ORDER BY id").fetchall()
    assert rows == [("Fido",), ("Rex",)]


def test_pg_env_databases_are_isolated(pg_server, pg_env: dict[str, str]) -> None:
    other = pg_server.create_database("isolation_check")
    assert other["POSTGRES_DBNAME"] != pg_env["POSTGRES_DBNAME"]
    with _connect(pg_env) as conn:
        conn.execute("CREATE TABLE only_here (x int)")
    with _connect(other) as conn:
        found = conn.execute("SELECT to_regclass('only_here')").fetchone()
    assert found == (None,)


def test_application_round_trip_on_postgres(pg_env: dict[str, str]) -> None:
    _round_trip(pg_env)


def test_application_round_trip_on_each_store(store_env: dict[str, str]) -> None:
    _round_trip(store_env)
