"""deploy/compose.yaml, run for real without Docker (issue 14, "Done means": a city operator
starts the whole stack from it by following docs/operations.md).

The operator's steps of docs/deploy.md are done into a temporary deploy/ (the .env from
.env.example, the city file, credentials, the audit key by `casegrid audit keygen`); the
compose file is read as compose reads it (interpolation from that .env); the third-party
images are replaced (postgres by a throwaway PostgreSQL, kafka by the Tansu broker) and
EVERY casegrid service runs as a local process with its exact entry point, command and
environment (hostnames → 127.0.0.1 and the ports started here, volumes and secrets → temp
files). Then: each health check as compose would run it, /healthz and /readyz through the
API, a report posted to the API on the outbound topic, a signed audit head on
casegrid.audit.v1, and no process exits for ~20 s."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaConsumer

from deploy.postgres import DB_PASSWORD, ThrowawayPostgres, find_pg_bin
from deploy.tansu import ThrowawayBroker, free_port
from tests.integration.compose_support import (
    DEPLOY,
    Local,
    MissingVariable,
    as_argv,
    healthcheck,
    load_compose,
    read_dockerfile,
    read_env_file,
    service_process,
)
from tests.integration.kafka_support import drain

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
REPO = DEPLOY.parent
BIN = Path(sys.executable).parent          # the image's PATH: python and the `casegrid` script
THIRD_PARTY = {"postgres", "kafka", "proxy"}
RUN_FOR = 20.0
TOKEN = "compose-citizen-token"


def operator_files(deploy: Path, dbname: str) -> dict[str, str]:
    """What docs/deploy.md tells the operator to put beside compose.yaml."""
    deploy.mkdir(parents=True)
    shutil.copy(DEPLOY / ".env.example", deploy / ".env")
    env = read_env_file(deploy / ".env")
    with pytest.raises(MissingVariable, match="POSTGRES_PASSWORD"):
        load_compose(env)  # compose refuses while a secret is still empty
    env |= {"POSTGRES_DB": dbname, "POSTGRES_PASSWORD": DB_PASSWORD,
            "CASEGRID_SECRET": secrets.token_urlsafe(48), "CASEGRID_AUDIT_INTERVAL": "2"}
    shutil.copy(REPO / "adapters" / "cities" / "sample.yaml", deploy / "city.yaml")
    (deploy / "secrets").mkdir()
    subprocess.run([BIN / "casegrid", "audit", "keygen", "--out", deploy / "secrets" / "audit.key"],
                   check=True, capture_output=True, timeout=60)

    def hashed(kind: str, secret: str) -> str:
        return subprocess.run([sys.executable, "-m", "adapters.http.auth", kind], input=secret,
                              capture_output=True, text=True, check=True, timeout=60).stdout.strip()

    (deploy / "secrets" / "credentials.yaml").write_text(
        f"users:\n  citizen_app: {{token: \"{hashed('hash-token', TOKEN)}\"}}\n"
        f"  sup_zhang: {{password: \"{hashed('hash-password', 'compose-pw-1')}\"}}\n")
    return env


def seconds(value: str) -> float:
    return float(str(value).rstrip("s"))


def bound(compose: dict, name: str) -> float:
    """How long compose waits for a service to become healthy: start_period + interval × retries."""
    hc = compose["services"][name].get("healthcheck") or {}
    return (seconds(hc.get("start_period", "0s"))
            + seconds(hc.get("interval", "30s")) * int(hc.get("retries", 3)))


def wait_healthy(argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    deadline = time.monotonic() + timeout
    while True:
        r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=10)
        if r.returncode == 0 or time.monotonic() > deadline:
            return r
        time.sleep(0.5)


def host_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CASEGRID_", "POSTGRES_", "PERSISTENCE_", "SQLITE_", "PG"))}
    env["PATH"] = f"{BIN}:{find_pg_bin()}:{env.get('PATH', '/usr/bin:/bin')}"
    return env | extra


def test_every_service_of_the_compose_file_runs_and_answers(tmp_path: Path):
    deploy = tmp_path / "deploy"
    dbname = f"compose_{secrets.token_hex(4)}"
    env_file = operator_files(deploy, dbname)
    compose = load_compose(env_file)
    docker = read_dockerfile()
    services = compose["services"]
    ours = [n for n, s in services.items() if s.get("build") or s.get("image", "").startswith("casegrid:")]
    assert set(services) - set(ours) == THIRD_PARTY, "a service neither ours nor replaced here"
    procs: dict[str, subprocess.Popen] = {}
    with ThrowawayPostgres() as pg, ThrowawayBroker() as broker:
        pg.create_database(dbname)
        api_port = free_port()
        local = Local(deploy=deploy, volumes=tmp_path / "volumes", root=tmp_path / "root",
                      addresses={"kafka:9092": broker.bootstrap,
                                 "postgres:5432": f"127.0.0.1:{pg.port}",
                                 "api:8000": f"127.0.0.1:{api_port}"})
        for v in compose["volumes"]:
            (local.volumes / v).mkdir(parents=True)
        (local.root / docker.workdir.lstrip("/")).mkdir(parents=True)
        ports = {"5432": str(pg.port), "8000": str(api_port)}
        # the audit key's public half is a secret of the API (the trail page's proof)
        assert (deploy / "secrets" / "audit.key.pub").is_file()

        # postgres' own health check, as compose runs it in that container
        pg_env = {k: str(v) for k, v in services["postgres"]["environment"].items()}
        check = as_argv(healthcheck("postgres", compose, docker))
        r = wait_healthy(check, host_env(pg_env | {"PGHOST": "127.0.0.1", "PGPORT": str(pg.port)}),
                         bound(compose, "postgres"))
        assert r.returncode == 0, r.stdout + r.stderr
        # kafka's is the apache/kafka image's script; the stand-in answers ApiVersions the same way
        assert "kafka-broker-api-versions.sh" in " ".join(healthcheck("kafka", compose, docker))
        KafkaConsumer(bootstrap_servers=broker.bootstrap).close()

        logs = tmp_path / "logs"
        logs.mkdir()

        def start(name: str) -> subprocess.Popen:
            argv, env, cwd = service_process(name, compose, docker, local, ports)
            assert argv[0] == "casegrid", (name, argv)
            fh = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
            return subprocess.Popen([str(BIN / "casegrid"), *argv[1:]], env=host_env(env), cwd=cwd,
                                    stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def tail(name: str) -> str:
            return (logs / f"{name}.log").read_text(errors="replace")[-3000:]

        try:
            # one-shot services (restart: "no") first, as `service_completed_successfully` says
            once = [n for n in ours if services[n].get("restart") == "no"]
            assert once == ["migrate"]
            for name in once:
                p = start(name)
                assert p.wait(timeout=60) == 0, tail(name)
            for name in ours:
                if name not in once:
                    procs[name] = start(name)
            running_since = time.monotonic()
            for name in ours:
                test = healthcheck(name, compose, docker)
                if test is None:
                    continue
                # 127.0.0.1 is the container itself: port 8000 is the API only where it serves it
                serves = "8000" in (services[name].get("command") or docker.cmd)
                own = api_port if serves else free_port()
                argv = [a.replace("127.0.0.1:8000", f"127.0.0.1:{own}") for a in as_argv(test)]
                r = wait_healthy(argv, host_env({}), bound(compose, name))
                assert r.returncode == 0, (name, argv, r.stderr, tail(name))
            # every read model has a follower of its own (`projections follow --only NAME`)
            argv, env, cwd = service_process("api", compose, docker, local, ports)
            st = subprocess.run([str(BIN / "casegrid"), "projections", "status", "--json"],
                                env=host_env(env), cwd=cwd, capture_output=True, text=True,
                                timeout=60, check=True)
            rows = json.loads(st.stdout)
            names = {r["projection"] for r in (rows["projections"] if isinstance(rows, dict) else rows)}
            only = [c[i + 1] for n in ours for c in [services[n].get("command") or []]
                    for i, w in enumerate(c) if w == "--only"]
            assert sorted(only) == sorted(names), (only, names)
            for path in ("/healthz", "/readyz"):
                with urllib.request.urlopen(f"http://127.0.0.1:{api_port}{path}", timeout=5) as resp:
                    assert resp.status == 200, path

            body = {"channel": "citizen", "category": "E0102", "grid": "44030301000101",
                    "description": "compose 栈: 路口垃圾堆积", "lat": 22.571, "lon": 114.121}
            req = urllib.request.Request(
                f"http://127.0.0.1:{api_port}/api/cases", data=json.dumps(body).encode(),
                method="POST", headers={"Authorization": f"Bearer {TOKEN}",
                                        "Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert resp.status == 201
                case_id = json.loads(resp.read())["case_id"]
            events = drain(broker.bootstrap, "casegrid.case-events.v1", timeout=60)
            assert any(case_id in (r.key or b"").decode() + r.value.decode() for r in events), \
                tail("kafka-out")

            heads = drain(broker.bootstrap, "casegrid.audit.v1", timeout=60)
            assert heads, tail("audit-signer")
            with psycopg.connect(host="127.0.0.1", port=pg.port, dbname=dbname,
                                 user=env_file.get("POSTGRES_USER", "casegrid"),
                                 password=DB_PASSWORD) as conn:
                size = conn.execute("SELECT max(size) FROM cg_audit_heads").fetchone()[0]
            assert size and size >= 1

            time.sleep(max(0.0, RUN_FOR - (time.monotonic() - running_since)))
            exited = {n: (p.poll(), tail(n)) for n, p in procs.items() if p.poll() is not None}
            assert not exited, exited
        finally:
            for p in procs.values():
                p.terminate()
            for p in procs.values():
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
