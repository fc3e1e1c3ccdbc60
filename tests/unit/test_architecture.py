"""The shape of the code, enforced: the import-linter contracts in pyproject.toml
(adapters → workflows | projections → domain; domain imports nothing of the project)."""

from __future__ import annotations

import os
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]


def test_import_linter_contracts_hold():
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        assert lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0, \
            "an import breaks a contract in pyproject.toml: run `lint-imports` to see which"
    finally:
        os.chdir(cwd)


PACKAGES = ("domain", "workflows", "projections", "adapters")
MAX_LINES = 450  # "no module over ~400 lines"


def _modules():
    for pkg in PACKAGES:
        yield from sorted((ROOT / pkg).rglob("*.py"))


def test_no_module_imports_a_private_name_of_another():
    import ast

    bad = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module \
                    and node.module.split(".")[0] in PACKAGES:
                bad += [f"{path.relative_to(ROOT)}:{node.lineno} {node.module}.{a.name}"
                        for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert not bad, "private names imported across modules (make them public):\n" + "\n".join(bad)


def test_modules_stay_small():
    big = [f"{p.relative_to(ROOT)}: {n} lines" for p in _modules()
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert not big, f"modules over {MAX_LINES} lines (split them):\n" + "\n".join(big)
