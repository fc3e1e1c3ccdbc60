"""The soak test's stack: which processes (from the commands this checkout has), the store
prepared once before they start, and waiting until every follower has caught up."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from uuid import UUID

import typer

from adapters.audit.heads import keygen
from adapters.audit.log import last_leaf
from adapters.audit.service import audit_log
from adapters.bootstrap import Casegrid, bootstrap
from adapters.cli.app import app as cli_app
from adapters.http import create_app
from adapters.kafka.store import publish_position
from adapters.notify.worker import NotifyWorker
from deploy.tansu import free_port
from tests.integration.kafka_support import topics_for
from tests.soak.supervisor import Spec

PARTITIONS = 6
API_PROCESSES = 3
# PostgreSQL connections: eventsourcing's pool opens POSTGRES_POOL_SIZE at start (default 5)
# and grows by up to POSTGRES_MAX_OVERFLOW (default 10); each process also holds one for its
# lease, one for LISTEN, one for the projections' pipelined writer. With the defaults,
# 17 processes hold ~110 idle: more than the server's max_connections (100). Sized here as
# a deployment would size them (docs/soak.md, "Connections").
API_POOL = {"POSTGRES_POOL_SIZE": "2", "POSTGRES_MAX_OVERFLOW": "4"}
WORKER_POOL = {"POSTGRES_POOL_SIZE": "0", "POSTGRES_MAX_OVERFLOW": "3"}


def cli_options(*path: str) -> set[str]:
    """The option names of a `casegrid` command (e.g. ("serve",)), or an empty set if this
    checkout has no such command: the stack uses the new commands as they land."""
    cmd = typer.main.get_command(cli_app)  # typer's own (vendored) click: duck-typed here
    for name in path:
        cmd = cmd.get_command(None, name) if hasattr(cmd, "get_command") else None
        if cmd is None:
            return set()
    return {opt for p in cmd.params for opt in getattr(p, "opts", [])}


def projection_names(cg: Casegrid) -> list[str]:
    return list(cg.projections.projections)


def process_env(store: dict[str, str], bootstrap_servers: str, tag: str, data_dir: Path,
                key: Path) -> dict[str, str]:
    """The environment of every process: the store, the broker and its topics, one secret
    (a token from one API process works on the others), the signing key, JSON logs."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CASEGRID_", "POSTGRES_", "SQLITE_", "PERSISTENCE_"))}
    env.update(store)
    env.update({
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "CASEGRID_DATA_DIR": str(data_dir),
        "CASEGRID_SECRET": f"soak-{tag}-secret",
        "CASEGRID_AUDIT_KEY": str(key),
        "CASEGRID_KAFKA_BOOTSTRAP": bootstrap_servers,
        "CASEGRID_KAFKA_GROUP": f"{tag}-in",
        "CASEGRID_KAFKA_SESSION_TIMEOUT_MS": "2000",
        "CASEGRID_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        "CASEGRID_KAFKA_PARTITIONS": str(PARTITIONS),
        "CASEGRID_LOG_LEVEL": "info",
        "CASEGRID_LOG_FORMAT": "json",
        **{f"CASEGRID_KAFKA_TOPIC_{k.upper()}": v for k, v in topics_for(tag).items()},
    })
    return env


def prepare_store(store: dict[str, str], key: Path) -> Casegrid:
    """Every table made once before the contenders start (as a deployment's migration step
    would), and the audit signing key. Returns the test's own handle on the store."""
    keygen(key)
    cg = bootstrap(env=store, kafka=True)
    cg.projections.setup()
    audit_log(cg).follow()
    create_app(cg)  # the auth store's tables
    NotifyWorker(cg).setup()
    return cg


def audit_topic(tag: str) -> str:
    return f"{tag}.audit.v1"


def api_ports() -> list[int]:
    """One port for `serve --workers 3` where this checkout has it, else three ports for
    three `serve` processes."""
    n = 1 if "--workers" in cli_options("serve") else API_PROCESSES
    return [free_port() for _ in range(n)]


def specs(api_ports: list[int], projections: list[str], tag: str, broker: str) -> list[Spec]:
    """One of each API process and two of each worker and singleton, using the newest
    commands this checkout has: `serve --workers`, `projections follow --only`,
    `audit sign --loop`; else the older ones (three `serve`, one `projections follow` for
    all, a timer running `audit head`)."""
    out: list[Spec] = []
    if len(api_ports) == 1:  # `serve --workers 3`: chaos kills its workers, it restarts them
        out.append(Spec("api", ["serve", "--port", str(api_ports[0]), "--tick-every", "0",
                                "--workers", str(API_PROCESSES)], children=True, env=API_POOL))
    for n, port in enumerate(api_ports if len(api_ports) > 1 else []):
        out.append(Spec(f"api{n}", ["serve", "--port", str(port), "--tick-every", "0"],
                        group="api", env=API_POOL))
    for n in range(2):
        out.append(Spec(f"kafka-in{n}", ["kafka", "run", "--in"]))
        out.append(Spec(f"kafka-out{n}", ["kafka", "run", "--out"], writer=False))
        out.append(Spec(f"deadlines{n}", ["deadlines", "tick", "--loop", "--interval", "1"]))
        out.append(Spec(f"patrol{n}", ["patrol", "tick", "--loop", "--interval", "1"]))
        out.append(Spec(f"notify{n}", ["notifications", "run", "--loop", "--interval", "1"],
                        writer=False))
        if "--only" in cli_options("projections", "follow"):
            for name in projections:
                out.append(Spec(f"proj-{name}{n}", ["projections", "follow", "--only", name],
                                writer=False))
        else:
            out.append(Spec(f"projections{n}", ["projections", "follow"], writer=False))
        if "--loop" in cli_options("audit", "sign"):
            out.append(Spec(f"audit-sign{n}", ["audit", "sign", "--loop", "--interval", "2",
                                               "--bootstrap", broker, "--topic", audit_topic(tag)],
                            writer=False))
        else:  # a timer, as docs/audit.md says to run until the signer is a worker
            loop = (f"while :; do {sys.executable} -m adapters.cli audit head >/dev/null;"
                    " sleep 2; done")
            out.append(Spec(f"audit-head{n}", ["bash", "-c", loop], raw=True, writer=False))
    for spec in out:
        spec.env = spec.env or WORKER_POOL
    return out


def lagging(cg: Casegrid, kafka_case_ids: list[str], publisher: str,
            heads_published: bool) -> dict[str, object]:
    """What has not caught up yet: acknowledged Kafka reports not stored, projections behind
    the head, the outbound publisher behind it, events not yet audit leaves, leaves not yet
    under a signed head, heads not yet on the audit topic. Empty: done."""
    head = cg.app.recorder.max_notification_id() or 0
    behind: dict[str, object] = {}
    missing = [c for c in kafka_case_ids if UUID(c) not in cg.app.repository]
    if missing:
        behind["kafka_reports_not_stored"] = len(missing)
    for row in cg.projections.status():
        if row["position"] < head or row.get("error"):
            behind[f"projection {row['projection']}"] = (row["position"], head, row.get("error"))
    pos = publish_position(cg.sql, publisher)
    if pos < head:
        behind["outbound"] = (pos, head)
    leaves, last_id = last_leaf(cg.sql)
    if last_id < head:
        behind["audit_leaves"] = (last_id, head)
    signed = cg.sql.query("SELECT max(size) FROM cg_audit_heads")[0][0] or 0
    if int(signed) < leaves:
        behind["audit_heads"] = (int(signed), leaves)
    if heads_published:
        unsent = cg.sql.query("SELECT count(*) FROM cg_audit_heads WHERE published_at IS NULL")
        if unsent[0][0]:
            behind["audit_heads_unpublished"] = unsent[0][0]
    return behind


def wait_caught_up(cg: Casegrid, kafka_case_ids: list[str], publisher: str | None,
                   timeout: float, tend=lambda: None, heads_published: bool = False,
                   ) -> dict[str, object]:
    """Poll until nothing lags (returns {}) or `timeout` s (returns what still lags);
    `tend()` each round (the supervisor restarts what exited). Without a publisher: only
    until every acknowledged Kafka report is stored."""
    deadline = time.monotonic() + timeout
    while True:
        tend()
        if publisher is None:
            missing = sum(1 for c in kafka_case_ids if UUID(c) not in cg.app.repository)
            behind = {"kafka_reports_not_stored": missing} if missing else {}
        else:
            behind = lagging(cg, kafka_case_ids, publisher, heads_published)
        if not behind or time.monotonic() > deadline:
            return behind
        time.sleep(0.5)


class PeakConnections(threading.Thread):
    """The most PostgreSQL connections (all databases) seen at once, sampled every 0.5 s on
    a connection of its own, against the server's max_connections."""

    def __init__(self, store: dict[str, str], stop: threading.Event):
        super().__init__(name="soak-pg-connections", daemon=True)
        self.store, self.stop = store, stop
        self.peak, self.limit = 0, 0

    def run(self) -> None:
        import psycopg

        s = self.store
        with psycopg.connect(host=s["POSTGRES_HOST"], port=s["POSTGRES_PORT"],
                             user=s["POSTGRES_USER"], password=s["POSTGRES_PASSWORD"],
                             dbname=s["POSTGRES_DBNAME"], autocommit=True) as conn:
            self.limit = int(conn.execute("SHOW max_connections").fetchone()[0])
            while not self.stop.wait(0.5):
                n = conn.execute("SELECT count(*) FROM pg_stat_activity"
                                 " WHERE backend_type = 'client backend'").fetchone()[0]
                self.peak = max(self.peak, int(n))
