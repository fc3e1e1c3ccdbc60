"""Errors the domain raises; adapters turn them into exit codes and HTTP statuses."""

from __future__ import annotations

MAX_MESSAGE = 500


def printable(text: object, limit: int = MAX_MESSAGE) -> str:
    """Text safe to print, log and send as UTF-8 JSON: control characters and lone
    surrogates escaped (a message often quotes the bad input), at most `limit` chars."""
    text = str(text)
    if not (text.isprintable() and text.isascii()):
        text = "".join(ch if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF
                       else ch.encode("unicode_escape", "backslashreplace").decode("ascii")
                       for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class CasegridError(Exception):
    """Base of every error casegrid reports to a user."""

    kind = "error"

    def __init__(self, message: object = ""):
        super().__init__(printable(message))

    def to_dict(self) -> dict:
        return {"error": self.kind, "message": str(self)}


class ValidationError(CasegridError):
    """Bad input: names the field and the rule it broke. Nothing is stored."""

    kind = "invalid"

    def __init__(self, field: str, rule: str):
        self.field = printable(field, 200)
        self.rule = printable(rule)
        super().__init__(f"{self.field}: {self.rule}")

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
