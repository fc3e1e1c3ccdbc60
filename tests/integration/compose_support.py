"""deploy/compose.yaml read as Docker Compose reads it, for tests/integration/test_compose_stack.py:
the .env interpolation (`${V}`, `${V:-default}`, `${V:?message}`, `$$`), the Dockerfile's
ENV / WORKDIR / ENTRYPOINT / CMD / HEALTHCHECK, and each service's container paths and
hostnames rewritten to a local directory and 127.0.0.1 ports."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


class MissingVariable(ValueError):
    """`${V:?message}` with V unset or empty: compose refuses to start, naming it."""


def read_env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def interpolate(value, env: dict[str, str]):
    """Compose's variable substitution, recursively through lists and mappings."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        got = env.get(name)
        empty = got is None or (op is not None and op.startswith(":") and got == "")
        if op and op.endswith("-"):
            return arg if empty else got
        if op and op.endswith("?"):
            if empty:
                raise MissingVariable(f"{name}: {arg}")
            return got
        return got or ""

    return _VAR.sub(one, value)


def load_compose(env: dict[str, str], path: Path = DEPLOY / "compose.yaml") -> dict:
    return interpolate(yaml.safe_load(path.read_text(encoding="utf-8")), env)


@dataclass
class Dockerfile:
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] | None = None  # compose's form: ["CMD-SHELL", "…"]


def read_dockerfile(path: Path = DEPLOY / "Dockerfile") -> Dockerfile:
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    d = Dockerfile()
    for line in text.splitlines():
        word, _, rest = line.strip().partition(" ")
        rest = rest.strip()
        if word == "ENV":
            d.env.update(dict(kv.split("=", 1) for kv in shlex.split(rest)))
        elif word == "WORKDIR":
            d.workdir = rest
        elif word in ("ENTRYPOINT", "CMD"):
            setattr(d, word.lower(), yaml.safe_load(rest) if rest.startswith("[") else
                    ["/bin/sh", "-c", rest])
        elif word == "HEALTHCHECK":
            shell = re.sub(r"^(--\S+\s+)*CMD\s+", "", rest)
            d.healthcheck = None if rest == "NONE" else ["CMD-SHELL", shell]
    return d


@dataclass
class Local:
    """Where the containers' names land on this machine."""

    deploy: Path          # the operator's deploy/ (with .env, city.yaml, secrets/)
    volumes: Path         # named volumes
    root: Path            # everything else of the container's file system
    addresses: dict[str, str]  # "service:port" inside compose → "127.0.0.1:port" here

    def path(self, service: dict, compose: dict, container_path: str) -> str:
        """The local path of a container path: a mounted volume or secret, else under root."""
        mounts = {f"/run/secrets/{s}": str(self.deploy / compose["secrets"][s]["file"])
                  for s in service.get("secrets", [])}
        for v in service.get("volumes", []):
            src, dst = v.split(":")[:2]
            mounts[dst] = str(self.deploy / src if src.startswith(".") else self.volumes / src)
        for dst in sorted(mounts, key=len, reverse=True):
            if container_path == dst or container_path.startswith(dst + "/"):
                return mounts[dst] + container_path[len(dst):]
        return str(self.root) + container_path

    def rewrite(self, service: dict, compose: dict, value: str, hosts: bool = True) -> str:
        """Hostnames and ports to 127.0.0.1 ones, absolute container paths to local ones
        (a bare service name too when `hosts`: env values, not a command's words)."""
        for inside, here in self.addresses.items():
            value = value.replace(inside, here)
        host, _, _ = value.partition(":")
        names = {a.split(":")[0] for a in self.addresses} if hosts else set()
        if value in names or value == "0.0.0.0":
            return "127.0.0.1"
        if value.startswith("/") and host == value and not value.startswith(("/dev/", "/bin/")):
            return self.path(service, compose, value)
        return value


def service_process(name: str, compose: dict, docker: Dockerfile, local: Local,
                    ports: dict[str, str]) -> tuple[list[str], dict[str, str], str]:
    """A casegrid service's argv (entry point + command), environment and working directory,
    as its container would have them, rewritten for this machine. `ports` maps a container
    port in the command (`--port 8000`) or an env var's value (`POSTGRES_PORT: "5432"`) to
    the local one."""
    s = compose["services"][name]
    argv = list(s.get("entrypoint") or docker.entrypoint) + list(s.get("command") or docker.cmd)
    env = dict(docker.env) | {k: str(v) for k, v in (s.get("environment") or {}).items()}
    argv = [ports.get(a, local.rewrite(s, compose, a, hosts=False)) for a in argv]
    env = {k: (ports[v] if k.endswith("_PORT") and v in ports else local.rewrite(s, compose, v))
           for k, v in env.items()}
    return argv, env, local.path(s, compose, docker.workdir)


def healthcheck(name: str, compose: dict, docker: Dockerfile) -> list[str] | None:
    """The health check compose runs for a service: its own, else the image's (casegrid's
    image only); None when disabled or there is none."""
    s = compose["services"][name]
    hc = s.get("healthcheck")
    if hc is None:
        return docker.healthcheck if s.get("build") else None
    if hc.get("disable"):
        return None
    return list(hc["test"])


def as_argv(test: list[str]) -> list[str]:
    """A healthcheck `test:` as compose executes it."""
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", test[1]]
    if test[0] == "CMD":
        return list(test[1:])
    raise ValueError(f"healthcheck form {test[0]!r}")
