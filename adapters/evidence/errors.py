"""An upload refused for its size or its kind; both name the field and the rule, like any
ValidationError, and nothing is stored. The HTTP adapter answers 413 and 415."""

from __future__ import annotations

from domain.errors import ValidationError


class TooLarge(ValidationError):
    """413: more bytes (or pixels) than allowed."""

    kind = "too_large"


class Unsupported(ValidationError):
    """415: not a JPEG, PNG or WebP image."""

    kind = "unsupported_media_type"
