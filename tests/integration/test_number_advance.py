"""The case-number advance commits asynchronously for itself alone: it never leaves
synchronous_commit off on the pooled connection that the events' inserts use next."""

from __future__ import annotations

import psycopg

from adapters.storage import numbers
from tests.support import grid


def test_the_advance_is_async_and_leaves_the_session_durable(pg_env):
    with psycopg.connect(host=pg_env["POSTGRES_HOST"], port=int(pg_env["POSTGRES_PORT"]),
                         user="postgres", dbname="postgres", autocommit=True) as admin:
        # the test server runs with synchronous_commit off; this database gets it on
        admin.execute(f'ALTER DATABASE "{pg_env["POSTGRES_DBNAME"]}" SET synchronous_commit = on')
    cg = grid(pg_env)
    assert [cg.service.numbers.take("2026", n) for n in (5, 3)] == [1, 6]
    assert cg.service.numbers.take("2027", 1) == 1
    seen = numbers.ADVANCE_PG.replace(
        "RETURNING last", "RETURNING last, current_setting('synchronous_commit') AS inside")
    for _ in range(cg.sql.datastore.pool.max_size + 1):  # every pooled connection
        with cg.sql.datastore.get_connection() as conn:
            row = conn.execute(seen, ("2028", 1, 1)).fetchone()
            assert row["inside"] == "off"
            assert conn.execute("SHOW synchronous_commit").fetchone()["synchronous_commit"] == "on"
    assert cg.service.numbers.take("2028", 1) == cg.sql.datastore.pool.max_size + 2
    cg.close()
