"""The one composition root: which store, which city, which clock."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from eventsourcing.persistence import InternalError
from eventsourcing.utils import retry

from adapters.config.city_build import build_city
from adapters.evidence import EvidenceStore, evidence_store
from adapters.kafka.store import create_tables as create_kafka_tables
from adapters.kafka.store import recorder_env
from adapters.storage.bulk import bulk_ports
from adapters.storage.events import event_log
from adapters.storage.migrations import require_current, upgrade
from adapters.storage.numbers import SqlNumbers
from adapters.storage.recorder import TOPIC as RECORDER_TOPIC
from adapters.storage.sql import Sql
from adapters.storage.steps import STEPS
from adapters.storage.store_lock import creating_tables
from adapters.storage.transcoder import TOPIC as TRANSCODER_TOPIC
from domain.city import City
from domain.errors import ConfigError
from projections.cases import CaseSummaries
from projections.patrol import PatrolLog
from projections.runner import Projection, ProjectionRunner
from projections.scoreboard_fold import Scoreboard
from projections.trail import Trail
from workflows.patrol import PatrolService
from workflows.service import CaseApplication, CaseService

SAMPLE_CITY = Path(__file__).parent / "cities" / "sample.yaml"


def load_city(path: str | Path | None = None) -> City:
    """Read and validate the city file: --config, else $CASEGRID_CONFIG, else the sample city."""
    return build_city(read_yaml(path or os.environ.get("CASEGRID_CONFIG") or SAMPLE_CITY, "config"))


def read_yaml(path: str | Path, field: str):
    """A YAML file's content; a missing or malformed file is a ConfigError naming `field`."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(field, f"no such file '{path}'") from None
    except yaml.YAMLError as e:
        raise ConfigError(field, f"'{path}' is not valid YAML: {e}") from None


def store_env(data_dir: str | Path | None = None, env: dict | None = None) -> dict[str, str]:
    """eventsourcing settings: PostgreSQL when PERSISTENCE_MODULE says so, else SQLite in
    data_dir; the events written with orjson (adapters/storage/transcoder.py), and on
    PostgreSQL inserted by our recorder (adapters/storage/recorder.py)."""
    return {"TRANSCODER_TOPIC": TRANSCODER_TOPIC} | _store_env(data_dir, env)


def _store_env(data_dir: str | Path | None, env: dict | None) -> dict[str, str]:
    merged = {**os.environ, **(env or {})}
    if merged.get("PERSISTENCE_MODULE", "").endswith("popo"):  # in-memory, for unit tests
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    if merged.get("PERSISTENCE_MODULE", "").endswith("postgres"):
        return {"APPLICATION_RECORDER_TOPIC": RECORDER_TOPIC} | {
            k: v for k, v in merged.items() if k.startswith("POSTGRES_")} | {
            "PERSISTENCE_MODULE": "eventsourcing.postgres"
        }
    if merged.get("SQLITE_DBNAME"):
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": merged["SQLITE_DBNAME"]}
    folder = Path(data_dir or merged.get("CASEGRID_DATA_DIR") or "data")
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(folder / "casegrid.sqlite"),
        "SQLITE_LOCK_TIMEOUT": merged.get("SQLITE_LOCK_TIMEOUT", "30"),
    }


class _Concurrent(Exception):
    """eventsourcing's table setup collided with another process's."""


@retry(_Concurrent, max_attempts=6, wait=0.1)
def _open(env: dict) -> CaseApplication:
    try:
        return CaseApplication(env=env)
    except InternalError as e:
        if "concurrently" in str(e):
            raise _Concurrent(str(e)) from e
        raise


def open_application(env: dict) -> CaseApplication:
    """The event store. Several processes starting at once on PostgreSQL collide in
    eventsourcing's CREATEs: each opens it holding the setup advisory lock
    (adapters/storage/store_lock.py), and a collision left over is retried."""
    try:
        with creating_tables(env):
            return _open(env)
    except _Concurrent as e:
        raise e.__cause__ from None


def migrate_on_start(sql: Sql, env: dict | None = None) -> list[int]:
    """Apply the schema steps this store lacks (adapters/storage/steps.py), once, under
    the setup lock; CASEGRID_AUTO_MIGRATE=0 leaves that to `casegrid db upgrade` and
    refuses a store that still lacks one (SchemaBehind), before any table is used."""
    merged = {**os.environ, **(env or {})}
    if sql.datastore is None:
        return []
    if merged.get("CASEGRID_AUTO_MIGRATE", "1") in ("0", "false", "no"):
        require_current(sql, STEPS)
        return []
    return upgrade(sql, STEPS)


@dataclass
class Casegrid:
    """Everything an adapter needs, wired once."""

    app: CaseApplication
    city: City
    service: CaseService
    patrol: PatrolService
    projections: ProjectionRunner
    sql: Sql
    evidence: EvidenceStore | None = None  # photos (证据材料): files under data_dir, or S3

    def close(self) -> None:
        self.app.close()


def bootstrap(
    *,
    data_dir: str | Path | None = None,
    env: dict | None = None,
    city: City | None = None,
    config: str | Path | None = None,
    clock=None,
    kafka: bool = False,
) -> Casegrid:
    """Everything, wired once. `kafka`: the store's recorder also writes the Kafka inbox,
    offsets and dead letters in the events' own transaction (the worker's store)."""
    city = city or load_city(config)
    settings = store_env(data_dir, env)
    app = open_application(recorder_env(settings) if kafka else settings)
    clock = clock or (lambda: datetime.now(UTC))
    runner = projection_runner(app, [CaseSummaries(), Scoreboard(city), Trail(), PatrolLog()])
    migrate_on_start(runner.sql, env)
    numbers = SqlNumbers(runner.sql) if runner.sql.datastore is not None else None
    evidence = evidence_store(data_dir, env)
    writer, existing = bulk_ports(app)  # many new cases at once: COPY, one existence query
    service = CaseService(app, city, clock=clock, numbers=numbers, evidence_known=evidence.exists,
                          writer=writer, existing=existing)
    patrol = PatrolService(app, city, clock=clock)
    if kafka:
        create_kafka_tables(runner.sql)
    return Casegrid(app, city, service, patrol, runner, runner.sql, evidence=evidence)


def projection_runner(app: CaseApplication, projections: list[Projection],
                      **options: Any) -> ProjectionRunner:
    """Projections over the application's store: its SQL dialect and its event log; the
    writes pipelined on PostgreSQL (a second connection writes while the next batch is
    read) unless `pipeline` says otherwise."""
    sql = Sql(app.recorder)
    options.setdefault("pipeline", sql.dialect == "postgres")
    return ProjectionRunner(sql, event_log(app.recorder, sql), app.mapper, projections, **options)
