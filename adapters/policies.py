"""The rewards-and-penalties policy in force: --policy FILE, else the city file's inline
`policy:` section, else the sample policy (read by the CLI's reports and the HTTP API)."""

from __future__ import annotations

from pathlib import Path

from adapters.bootstrap import read_yaml
from adapters.config.policy_file import build_policy
from domain.city import City
from domain.policy import Policy

SAMPLE_POLICY = Path(__file__).parent / "cities" / "sample-policy.yaml"


def load_policy(path: str | Path | None, city: City) -> Policy:
    """--policy FILE, else the city file's inline `policy:` section, else the sample policy."""
    if path is None and isinstance(city.raw.get("policy"), dict):
        return build_policy(city.raw["policy"], city, path="(city file: policy)")
    p = Path(path or SAMPLE_POLICY)
    return build_policy(read_yaml(p, "policy"), city, path=str(p))
