"""What an endpoint takes from its request: the Casegrid, fresh read models, log fields."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import Depends, Request

from adapters.bootstrap import Casegrid


def note(request: Request, **fields: Any) -> None:
    """Fields for this request's log line (user, role, case_id) and for structlog inside it."""
    request.scope.setdefault("cg_log", {}).update(fields)
    structlog.contextvars.bind_contextvars(**fields)


async def grid_of(request: Request) -> Casegrid:
    return request.app.state.cg


Cg = Annotated[Casegrid, Depends(grid_of)]


def fresh(request: Request) -> None:
    """Catch the read models up before reading them."""
    request.app.state.follower.ensure()
