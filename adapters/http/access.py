"""Who may read and change what, for the HTTP adapter.

Changes are decided by the lifecycle itself (domain.machine.decide via the service,
whose RefusedError becomes 403); this module adds only what the service does not know:

- an inspector (纪检监察) reads everything and changes nothing: every write is 403;
- a unit member sees only cases of their own unit (the case's current unit, or an
  assisting unit of its current dispatch: 协办) and cases they reported themselves; any other case is answered 404, as if it did not exist, so
  that case ids of other units cannot be probed;
- a channel account (公众APP, 12345) reads only the cases it reported;
- everyone else at the center (supervisor, acceptor, duty chief, dispatcher) reads all.
"""

from __future__ import annotations

from domain.city import User
from domain.errors import NotFoundError, RefusedError

CENTER_READERS = ("supervisor", "acceptor", "duty_chief", "dispatcher", "inspector", "system")
TRAIL_READERS = ("inspector", "duty_chief", "acceptor", "dispatcher", "system")


def can_read_case(user: User, case) -> bool:
    if user.role in CENTER_READERS:
        return True
    if user.role == "unit_member":
        return (case.unit == user.unit or case.reporter == user.id
                or user.unit in getattr(case, "assist_units", ()))  # 协办: an assisting unit
    return case.reporter == user.id


def check_read_case(user: User, case) -> None:
    if not can_read_case(user, case):
        raise NotFoundError(f"case_id: no case '{case.id}'")


def check_write(user: User, trigger: str, state: str = "new") -> None:
    if user.role == "inspector":
        raise RefusedError(
            f"refused: role 'inspector' (纪检监察) reads everything and changes nothing; "
            f"trigger '{trigger}' is not allowed",
            state=state, trigger=trigger, role=user.role,
        )


class Forbidden(Exception):
    """403 for a read the role may not make at all (not a lifecycle refusal)."""

    def __init__(self, rule: str, *, role: str, field: str = "role"):
        self.rule = rule
        self.role = role
        self.field = field
        super().__init__(rule)

    def to_dict(self) -> dict:
        return {"error": "forbidden", "field": self.field, "rule": self.rule, "role": self.role,
                "message": f"{self.field}: {self.rule}"}


def require_role(user: User, roles: tuple[str, ...], what: str) -> None:
    if user.role not in roles:
        raise Forbidden(f"{what} is for roles {', '.join(roles)}, not '{user.role}'", role=user.role)


def unit_scope(user: User, unit: str | None) -> str | None:
    """The unit filter a reader may use: a unit member is always pinned to their own unit."""
    if user.role == "unit_member":
        if unit not in (None, user.unit):
            raise Forbidden(f"a unit member reads only their own unit '{user.unit}'",
                            role=user.role, field="unit")
        return user.unit
    if user.role == "channel":
        raise Forbidden("a channel account reads only its own reports, by case id", role=user.role)
    return unit
