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
