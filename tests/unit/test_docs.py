"""Committed docs that are generated, or promised by the README, stay true."""

from __future__ import annotations

import re
from pathlib import Path

from workflows.diagram import render

ROOT = Path(__file__).resolve().parents[2]


def test_lifecycle_diagram_is_up_to_date():
    committed = (ROOT / "docs" / "lifecycle.md").read_text(encoding="utf-8")
    assert committed == render(), (
        "docs/lifecycle.md is out of date: run `python -m workflows.diagram > docs/lifecycle.md`"
    )


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", readme, flags=re.S)
    assert len(blocks) >= 2, "the README opens with two command blocks"
    test_command = blocks[1].strip()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci, ".ci/run must run the README's test command verbatim"
