"""A plain `pip install .` (the deploy image's, not the editable one of the tests) carries
every package and every file the app reads at run time: pyproject's package list and
package-data patterns cover the tree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = ("domain", "workflows", "projections", "adapters")


def config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def glob(pattern: str) -> re.Pattern:
    """setuptools' package-data glob: `*` never crosses a `/`."""
    return re.compile("".join("[^/]*" if c == "*" else re.escape(c) for c in pattern))


def test_every_package_is_listed():
    listed = set(config()["packages"])
    found = {str(p.parent.relative_to(ROOT)).replace("/", ".")
             for top in CODE for p in (ROOT / top).rglob("__init__.py")}
    assert found - listed == set(), "packages missing from pyproject [tool.setuptools] packages"


def test_every_data_file_is_packaged():
    data = config()["package-data"]
    missing = []
    for top in CODE:
        for f in (ROOT / top).rglob("*"):
            if not f.is_file() or f.suffix in (".py", ".pyc") or "__pycache__" in f.parts:
                continue
            pkg_dir = f.parent
            while not (pkg_dir / "__init__.py").exists():
                pkg_dir = pkg_dir.parent
            pkg = str(pkg_dir.relative_to(ROOT)).replace("/", ".")
            rel = str(f.relative_to(pkg_dir))
            if not any(glob(pat).fullmatch(rel) for pat in data.get(pkg, [])):
                missing.append(f"{pkg}: {rel}")
    assert not missing, "files a plain install would leave out:\n" + "\n".join(missing)
