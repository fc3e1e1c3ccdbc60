"""`casegrid sessions revoke USER`: end every console/API session of a user at once (a lost
phone, a leaver, a suspected password leak), in every running server process: sessions are
rows of the store's database (adapters/http/auth_store.py).

    casegrid sessions revoke chief_zhao [--json]
"""

from __future__ import annotations

from typing import Annotated

import typer

from adapters.cli.common import JsonOpt, casegrid, emit, fail, out
from domain.errors import CasegridError

sessions_app = typer.Typer(help="Console and API sessions (logins).", no_args_is_help=True)


@sessions_app.command("revoke")
def revoke(ctx: typer.Context, user: Annotated[str, typer.Argument(help="User id from the city file")],
           as_json: JsonOpt = False):
    """End every session of USER now (they must log in again)."""
    from adapters.http.auth_store import store_for

    cg = casegrid(ctx, as_json)
    try:
        cg.city.user(user, "user")
        n = store_for(cg.sql).revoke_user(user, "cli")
    except CasegridError as e:
        fail(e, as_json)
    finally:
        cg.close()
    emit({"user": user, "revoked": n}, as_json,
         lambda: out.print(f"{user}: {n} session(s) revoked"))
