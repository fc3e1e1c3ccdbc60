"""Shared pytest fixtures: a real throwaway PostgreSQL server and SQLite stores.

Set ``CASEGRID_SKIP_POSTGRES=1`` to skip PostgreSQL-backed tests; otherwise a
failure to start PostgreSQL is a test ERROR, never a silent skip.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from deploy.postgres import ThrowawayPostgres  # noqa: E402

SKIP_POSTGRES = os.environ.get("CASEGRID_SKIP_POSTGRES") == "1"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[ThrowawayPostgres]:
    """One throwaway PostgreSQL server for the whole test session."""
    if SKIP_POSTGRES:
        pytest.skip("PostgreSQL tests disabled by CASEGRID_SKIP_POSTGRES=1")
    with ThrowawayPostgres() as server:
        yield server


@pytest.fixture
def pg_env(pg_server: ThrowawayPostgres) -> dict[str, str]:
    """eventsourcing env for a fresh, empty PostgreSQL database (one per test)."""
    return pg_server.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    """eventsourcing env for a fresh SQLite file in the test's tmp dir."""
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "events.sqlite"),
    }


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the PostgreSQL server with ``@pytest.mark.postgres``."""
    for item in items:
        if "pg_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    ids=["sqlite", "postgres"],
)
def store_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """eventsourcing env for each backend; PostgreSQL starts only if needed."""
    if request.param == "postgres":
        return request.getfixturevalue("pg_env")
    return request.getfixturevalue("sqlite_env")


@pytest.fixture(scope="session")
def _structlog_baseline():
    """structlog as the session began, its output made safe the way every app makes it
    (adapters/logs.py: a server thread of a module fixture logging after a test's
    captured stream closed drops the line instead of failing the request)."""
    import structlog

    from adapters.logs import safe_output

    safe_output()
    return structlog.get_config()


@pytest.fixture(autouse=True)
def _structlog_as_it_was(_structlog_baseline):
    """Every test starts and ends with structlog as the session began: the CLI reconfigures
    it to print to a CliRunner's captured stream, which is closed after the invoke ("I/O
    operation on closed file" in every later test that logs). The session's baseline, not
    the config at the test's start: a module fixture that ran the CLI before the test
    would otherwise be restored as it left things."""
    import structlog

    structlog.configure(**_structlog_baseline)
    yield
    structlog.configure(**_structlog_baseline)
