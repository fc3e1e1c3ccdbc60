"""Errors the domain raises; adapters turn them into exit codes and HTTP statuses."""

from __future__ import annotations


class CasegridError(Exception):
    """Base of every error casegrid reports to a user."""

    kind = "error"

    def to_dict(self) -> dict:
        return {"error": self.kind, "message": str(self)}


class ValidationError(CasegridError):
    """Bad input: names the field and the rule it broke. Nothing is stored."""

    kind = "invalid"

    def __init__(self, field: str, rule: str):
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")

    def to_dict(self) -> dict:
        return {"error": self.kind, "field": self.field, "rule": self.rule, "message": str(self)}


class ConfigError(ValidationError):
    """The city configuration file breaks a rule; `field` is the dotted key path."""

    kind = "config"


class RefusedError(CasegridError):
    """The lifecycle refuses the move: wrong state, wrong role or not the holder."""

    kind = "refused"

    def __init__(self, message: str, *, state: str, trigger: str, role: str):
        self.state = state
        self.trigger = trigger
        self.role = role
        super().__init__(message)

    def to_dict(self) -> dict:
        return {
            "error": self.kind,
            "message": str(self),
            "state": self.state,
            "trigger": self.trigger,
            "role": self.role,
        }


class NotFoundError(CasegridError):
    kind = "not_found"


class ConflictError(CasegridError):
    """Optimistic concurrency kept failing after the bounded retries."""

    kind = "conflict"

    def __init__(self, message: str, *, current_version: int | None = None):
        self.current_version = current_version
        super().__init__(message)

    def to_dict(self) -> dict:
        return {"error": self.kind, "message": str(self), "current_version": self.current_version}
