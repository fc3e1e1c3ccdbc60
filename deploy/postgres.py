"""Throwaway PostgreSQL server for tests and benchmarks.

Usage as a library::

    with ThrowawayPostgres() as pg:
        app = Application(env=pg.env)

Usage from the shell (prints ``export K=V`` lines, runs until Ctrl-C/SIGTERM)::

    python deploy/postgres.py [--durable]

The server binaries come from the Debian ``postgresql`` package; install them
with ``deploy/install-system-deps.sh``. When running as root, the server is run
as the ``postgres`` OS user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import argparse
import atexit
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

PG_ROOT = Path("/usr/lib/postgresql")
OS_USER = "postgres"
DB_NAME = DB_USER = DB_PASSWORD = "casegrid"
HOST = "127.0.0.1"

_DB_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def find_pg_bin() -> Path:
    """Return the bin dir of the newest installed PostgreSQL server (one with initdb)."""
    candidates = []
    for initdb in PG_ROOT.glob("*/bin/initdb"):
        version = initdb.parent.parent.name
        key = tuple(int(p) for p in version.split(".") if p.isdigit())
        candidates.append((key, initdb.parent))
    if not candidates:
        raise RuntimeError(
            f"No PostgreSQL server found under {PG_ROOT}/*/bin (initdb missing). "
            "Run deploy/install-system-deps.sh to install it."
        )
    return max(candidates)[1]


def _free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class ThrowawayPostgres:
    """A private PostgreSQL server in a temp dir, on a free port of 127.0.0.1.

    Use as a context manager, or call ``start()`` / ``stop()``. ``durable=False``
    (the default) turns off fsync, synchronous_commit and full_page_writes.
    """

    def __init__(self, durable: bool = False, startup_timeout: float = 30.0) -> None:
        self.durable = durable
        self.startup_timeout = startup_timeout
        self.bin_dir = find_pg_bin()
        self.port: int | None = None
        self.base_dir: Path | None = None
        self._as_postgres = os.geteuid() == 0
        self._owner_pid = os.getpid()

    # -- paths --------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self._base() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._base() / "sock"

    @property
    def log_file(self) -> Path:
        return self._base() / "server.log"

    def _base(self) -> Path:
        if self.base_dir is None:
            raise RuntimeError("ThrowawayPostgres is not started")
        return self.base_dir

    # -- lifecycle ----------------------------------------------------------
    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> ThrowawayPostgres:
        """Init a cluster, start the server, create role/database ``casegrid``."""
        if self.base_dir is not None:
            return self
        self.base_dir = Path(tempfile.mkdtemp(prefix="casegrid-pg-"))
        atexit.register(self.stop)
        try:
            self.socket_dir.mkdir()
            if self._as_postgres:
                shutil.chown(self.base_dir, OS_USER, OS_USER)
                shutil.chown(self.socket_dir, OS_USER, OS_USER)
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            )
            self._start_server()
            self._wait_ready()
            with self._admin_connect() as conn:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
                        sql.Identifier(DB_USER), sql.Literal(DB_PASSWORD)
                    )
                )
            self._create_db(DB_NAME)
        except BaseException:
            log = self._log_tail()
            self.stop()
            if log:
                print(f"--- PostgreSQL server log ---\n{log}", file=sys.stderr)
            raise
        return self

    def _start_server(self, attempts: int = 3) -> None:
        """pg_ctl start on a free port; retry if another process grabbed the port."""
        for attempt in range(attempts):
            self.port = _free_port()
            opts = [f"-c listen_addresses={HOST}", f"-p {self.port}", f"-k {self.socket_dir}"]
            if not self.durable:
                opts.append("-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
            try:
                self._run(
                    "pg_ctl",
                    "start",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    str(int(self.startup_timeout)),
                    "-o",
                    " ".join(opts),
                )
                return
            except RuntimeError:
                if attempt + 1 == attempts or "already in use" not in self._log_tail():
                    raise

    def stop(self) -> None:
        """Stop the server immediately and delete its files. Safe to call twice."""
        if os.getpid() != self._owner_pid:
            return  # a forked child must not stop its parent's server
        base, self.base_dir = self.base_dir, None
        if base is None:
            return
        atexit.unregister(self.stop)
        if (base / "data" / "postmaster.pid").exists():
            cmd = [
                str(self.bin_dir / "pg_ctl"),
                "stop",
                "-D",
                str(base / "data"),
                "-m",
                "immediate",
                "-w",
            ]
            subprocess.run(self._wrap(cmd), capture_output=True, stdin=subprocess.DEVNULL)
        shutil.rmtree(base, ignore_errors=True)
        self.port = None

    # -- databases ----------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        """eventsourcing environment variables for the ``casegrid`` database."""
        return self.env_for(DB_NAME)

    def env_for(self, dbname: str) -> dict[str, str]:
        """eventsourcing environment variables for database ``dbname``."""
        self._base()
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": HOST,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": DB_USER,
            "POSTGRES_PASSWORD": DB_PASSWORD,
        }

    def create_database(self, name: str) -> dict[str, str]:
        """Create an empty database ``name`` (owned by ``casegrid``); return its env."""
        self._create_db(name)
        return self.env_for(name)

    def _create_db(self, name: str) -> None:
        if not _DB_NAME_RE.match(name):
            raise ValueError(f"invalid database name: {name!r}")
        with self._admin_connect() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(DB_USER)
                )
            )

    # -- helpers ------------------------------------------------------------
    def _admin_connect(self) -> psycopg.Connection:
        return psycopg.connect(
            host=HOST,
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
            connect_timeout=5,
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                with self._admin_connect():
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _wrap(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", OS_USER, "--", *cmd] if self._as_postgres else cmd

    def _run(self, prog: str, *args: str) -> None:
        cmd = self._wrap([str(self.bin_dir / prog), *args])
        res = subprocess.run(
            cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=self._base()
        )
        if res.returncode != 0:
            raise RuntimeError(
                f"{prog} failed (exit {res.returncode}): {shlex.join(cmd)}\n{res.stdout}{res.stderr}"
            )

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, RuntimeError):
            return ""


def main(argv: list[str] | None = None) -> int:
    """Start a server, print ``export`` lines, run until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--durable", action="store_true", help="keep fsync etc. on")
    args = parser.parse_args(argv)
    # Handle SIGINT explicitly too: it is ignored in background jobs of scripts.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: sys.exit(0))
    with ThrowawayPostgres(durable=args.durable) as pg:
        for key, value in pg.env.items():
            print(f"export {key}={shlex.quote(value)}", flush=True)
        print(f"# PostgreSQL running (files in {pg.base_dir}); Ctrl-C to stop", file=sys.stderr)
        while True:
            signal.pause()


if __name__ == "__main__":
    sys.exit(main())
