"""The soak test's process supervisor: named casegrid processes started, SIGKILLed at random
(a seeded RNG) and restarted, every one in its own process group with its own log."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def kind_of(name: str) -> str:
    """A process's kind: its name without the trailing number (api0 -> api)."""
    return name.rstrip("0123456789")


@dataclass
class Spec:
    """One named process: its command line (after `python -m adapters.cli`, or a whole argv
    with `raw`), and whether the chaos may kill it."""

    name: str
    args: list[str]
    killable: bool = True
    raw: bool = False
    group: str = ""  # kills keep at least one process of each group alive (e.g. "api")
    writer: bool = True  # records events (stopped first at the end); False: follows the log
    children: bool = False  # a supervisor of its own (serve --workers): kill one of its
    #                         worker processes, which it must restart
    env: dict[str, str] = field(default_factory=dict)  # on top of the supervisor's

    def argv(self) -> list[str]:
        return list(self.args) if self.raw else [sys.executable, "-m", "adapters.cli", *self.args]


@dataclass
class Running:
    spec: Spec
    proc: subprocess.Popen
    started: float
    starts: int = 1
    kills: int = 0
    exits: list[int] = field(default_factory=list)  # exit codes seen on their own (not killed)


class Supervisor:
    """Starts every Spec, keeps them running (an exit on its own is restarted and recorded),
    and on `chaos()` SIGKILLs one at random and restarts it after a pause."""

    def __init__(self, env: dict[str, str], logs: Path, seed: int, whole_share: float = 0.25):
        self.env = env
        self.logs = logs
        self.rng = random.Random(seed)
        self.whole_share = whole_share  # of the kills of a `children` process
        self.procs: dict[str, Running] = {}
        self.events: list[tuple[float, str, str]] = []  # (time, name, what)
        self._lock = threading.Lock()
        self._down: dict[str, float] = {}  # name -> when to restart it
        self.stopped: set[str] = set()  # stopped for good (the run's end)
        logs.mkdir(parents=True, exist_ok=True)

    # -- lifecycle -----------------------------------------------------------
    def _spawn(self, spec: Spec) -> subprocess.Popen:
        fh = open(self.logs / f"{spec.name}.log", "ab")  # noqa: SIM115 - the child holds it
        try:
            return subprocess.Popen(spec.argv(), cwd=ROOT, env={**self.env, **spec.env},
                                    stdout=fh, stderr=fh,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            fh.close()

    def start(self, specs: list[Spec]) -> None:
        for spec in specs:
            self.procs[spec.name] = Running(spec, self._spawn(spec), time.monotonic())
            self.events.append((time.monotonic(), spec.name, "start"))

    def _kill_group(self, proc: subprocess.Popen, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def workers_of(self, name: str) -> list[int]:
        """The worker processes a `children` process spawned (multiprocessing's spawn_main)."""
        pid = self.procs[name].proc.pid
        kids: list[int] = []
        for task in Path(f"/proc/{pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                kids += [int(k) for k in (task / "children").read_text().split()]
        out = []
        for kid in kids:
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{kid}/cmdline").read_bytes():
                    out.append(kid)
        return sorted(out)

    def kill(self, name: str, restart_after: float) -> None:
        """SIGKILL the process (and anything it started) and schedule its restart; for a
        `children` process, mostly one of its workers (it restarts them itself), else
        (`whole_share` of the time) the whole of it, supervisor and workers."""
        with self._lock:
            run = self.procs[name]
            if run.spec.children and self.rng.random() >= self.whole_share:
                pid = self.rng.choice(self.workers_of(name))
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                run.kills += 1
                self.events.append((time.monotonic(), name, f"SIGKILL worker {pid}"))
                return
            self._kill_group(run.proc, signal.SIGKILL)
            run.proc.wait()
            run.kills += 1
            self._down[name] = time.monotonic() + restart_after
            self.events.append((time.monotonic(), name, "SIGKILL"))

    def tend(self) -> None:
        """Restart what is due, and whatever exited on its own (recording its exit code)."""
        now = time.monotonic()
        with self._lock:
            for name, run in self.procs.items():
                if name in self.stopped:
                    continue
                if name in self._down:
                    if now < self._down[name]:
                        continue
                    del self._down[name]
                elif run.proc.poll() is None:
                    continue
                else:
                    run.exits.append(run.proc.returncode)
                    self.events.append((now, name, f"exited {run.proc.returncode}"))
                run.proc = self._spawn(run.spec)
                run.started, run.starts = now, run.starts + 1
                self.events.append((now, name, "restart"))

    def pick(self) -> str | None:
        """A victim: of the kinds killed least so far (api, kafka-in, deadlines, …: the name
        without its number), one at random; so a short run still kills one of every kind."""
        choices = self.victims()
        if not choices:
            return None
        killed = {kind_of(n): 0 for n in self.procs}
        for n, r in self.procs.items():
            killed[kind_of(n)] += r.kills
        least = min(killed[kind_of(n)] for n in choices)
        return self.rng.choice([n for n in choices if killed[kind_of(n)] == least])

    def victims(self) -> list[str]:
        """The processes a kill may choose now: killable, up, and not the last of their group up."""
        up = {n for n, r in self.procs.items() if n not in self._down and r.proc.poll() is None}
        out = []
        for name in sorted(up):
            spec = self.procs[name].spec
            if not spec.killable:
                continue
            if spec.children and len(self.workers_of(name)) < 2:
                continue  # one worker left (or none yet): let the others come back first
            if spec.group and not any(self.procs[o].spec.group == spec.group and o != name
                                      for o in up):
                continue
            out.append(name)
        return out

    def chaos(self, stop: threading.Event, every: tuple[float, float],
              down: tuple[float, float]) -> None:
        """Until `stop`: every `every` s (uniform) SIGKILL one process at random, restart it
        `down` s later; restart anything that died on its own."""
        nxt = time.monotonic() + self.rng.uniform(*every)
        while not stop.wait(0.1):
            self.tend()
            if time.monotonic() >= nxt:
                victim = self.pick()
                if victim:
                    self.kill(victim, self.rng.uniform(*down))
                nxt = time.monotonic() + self.rng.uniform(*every)

    def restart_all_down(self) -> None:
        """Bring every killed process back now (the run's end: everything up to drain)."""
        with self._lock:
            for name in self._down:
                self._down[name] = 0.0
        self.tend()

    def stop(self, names: list[str] | None = None, timeout: float = 15.0) -> dict[str, int | None]:
        """SIGTERM these (default: all), SIGKILL what is still up after `timeout`; their exit
        codes. A stopped process is not restarted."""
        with self._lock:
            names = [n for n in (names or list(self.procs)) if n not in self.stopped]
            self.stopped.update(names)
            for name in names:
                self._down.pop(name, None)
                if self.procs[name].proc.poll() is None:
                    self._kill_group(self.procs[name].proc, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            codes: dict[str, int | None] = {}
            for name in names:
                run = self.procs[name]
                try:
                    codes[name] = run.proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self._kill_group(run.proc, signal.SIGKILL)
                    run.proc.wait()
                    codes[name] = None  # did not stop on SIGTERM
            return codes

    def kills(self) -> dict[str, int]:
        return {n: r.kills for n, r in self.procs.items() if r.kills}

    def unexpected_exits(self) -> dict[str, list[int]]:
        return {n: r.exits for n, r in self.procs.items() if r.exits}

    def log_tail(self, name: str, lines: int = 20) -> str:
        try:
            text = (self.logs / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
