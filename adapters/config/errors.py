"""pydantic's ValidationError as the domain's ConfigError: the first error, its dotted key
path (`units[2].id`, `time_limits[0].limit`, `categories.events[1].small.01`) and the rule
in the project's wording."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError

from domain.errors import ConfigError

TYPE_RULES = {
    "missing": "is required",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "extra_forbidden": "is not a known key",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_parsing": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "union_tag_not_found": "is required",
}


def dotted(loc: Iterable, prefix: str = "", skip: Iterable[str] = (), data: Any = None) -> str:
    """('units', 2, 'id') -> 'units[2].id', following `data` (the validated input) to tell
    a list position from a mapping key (`small.1`); dict-key markers and union tags
    (`skip`, unless the data has such a key) are left out."""
    out, node, skip = prefix, data, set(skip)
    for part in loc:
        if part == "[key]" or (part in skip and not (isinstance(node, dict) and part in node)):
            continue
        if isinstance(node, list) or (not isinstance(node, dict) and isinstance(part, int)):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return out or "(file)"


def rule_of(err: dict) -> str:
    """The rule an error broke, in the project's wording."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if err.get("input", 0) is None and (kind.endswith("_type") or kind == "value_error"):
        return "is required"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind == "union_tag_invalid":
        tags = ctx.get("expected_tags", "").replace("'", "")
        return f"'{ctx.get('tag')}' is not one of {tags}"
    if kind == "too_short" and ctx.get("min_length") == 1:
        return "must not be empty"
    return TYPE_RULES.get(kind, err["msg"])


def config_error(exc: ValidationError, data: Any, prefix: str = "", skip: Iterable[str] = (),
                 rules: Callable[[dict], str | None] | None = None) -> ConfigError:
    """The first error of validating `data` as a ConfigError; `rules` may word an error
    differently."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(err["loc"])
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        loc += (str(err.get("ctx", {}).get("discriminator", "kind")).strip("'"),)
    rule = (rules(err) if rules else None) or rule_of(err)
    return ConfigError(dotted(loc, prefix, skip, data), rule)
