"""The `casegrid` command line (typer): the app and its global options in app.py, one module
per command group, shared helpers in common.py. Every command takes --json."""

from adapters.cli.app import app, main

__all__ = ["app", "main"]
