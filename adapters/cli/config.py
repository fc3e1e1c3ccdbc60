"""`casegrid config show`: the loaded, validated city configuration."""

from __future__ import annotations

import typer

from adapters.bootstrap import load_city
from adapters.cli.common import JsonOpt, emit, fail, state
from adapters.views import city_summary
from domain.errors import CasegridError

config_app = typer.Typer(help="The city configuration.", no_args_is_help=True)


@config_app.command("show")
def config_show(ctx: typer.Context, as_json: JsonOpt = False):
    """Print the loaded, validated configuration."""
    try:
        city = load_city(state(ctx).config)
    except CasegridError as e:
        fail(e, as_json)
    summary = city_summary(city)
    emit({"summary": summary, "config": city.raw}, as_json)
