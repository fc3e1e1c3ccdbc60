"""The CLI's global options, in a module of their own so that every command group sees the
same values even when the CLI runs as `python -m adapters.cli` (a second module instance)."""

from __future__ import annotations


class CliState:
    data_dir: str | None = None
    config: str | None = None


STATE = CliState()
