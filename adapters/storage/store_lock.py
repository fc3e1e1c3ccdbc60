"""One process at a time creates the event store's tables on PostgreSQL.

eventsourcing creates its tables, indexes, types and functions when an application
opens; `CREATE … IF NOT EXISTS` is not race-free in PostgreSQL's catalog, so several
processes starting at once on an empty database can fail ("duplicate key value violates
unique constraint pg_type_typname_nsp_index", "tuple concurrently updated"). While a
process opens the store it holds the setup advisory lock (the one our own CREATEs and
schema steps take, adapters/storage/sql.py) on a connection of its own. SQLite needs
nothing: its one writer serialises.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from adapters.storage.sql import SETUP_LOCK


def pg_connect_args(env: dict[str, str]) -> dict:
    """psycopg.connect() arguments from eventsourcing's POSTGRES_* settings."""
    password = env.get("POSTGRES_PASSWORD")
    topic = env.get("POSTGRES_GET_PASSWORD_TOPIC")
    if topic:
        from eventsourcing.utils import resolve_topic

        password = resolve_topic(topic)()
    args = {"dbname": env["POSTGRES_DBNAME"], "host": env.get("POSTGRES_HOST", "localhost"),
            "port": env.get("POSTGRES_PORT") or "5432", "user": env.get("POSTGRES_USER"),
            "password": password, "autocommit": True,
            "connect_timeout": int(env.get("POSTGRES_CONNECT_TIMEOUT") or 30)}
    schema = env.get("POSTGRES_SCHEMA")
    if schema:
        args["options"] = f"-c search_path={schema}"
    return args


@contextmanager
def creating_tables(env: dict[str, str]) -> Iterator[None]:
    """Hold the setup lock while the block opens the store (PostgreSQL only)."""
    if not env.get("PERSISTENCE_MODULE", "").endswith("postgres"):
        yield
        return
    import psycopg

    with psycopg.connect(**pg_connect_args(env)) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK,))
