"""The city file's `notifications` section (通知): rules and the SMS gateway, checked and made
into the domain's Notifying (domain/notify.py). Every error names its dotted key."""

from __future__ import annotations

import re

from pydantic import Field, model_validator

from adapters.config.types import Closed, Duration, checked, one_of
from domain.calendar import WorkCalendar
from domain.errors import ConfigError
from domain.notify import (
    CENTER_ROLES,
    CHANNELS,
    LANGS,
    ON,
    SMS_GATEWAYS,
    Notifying,
    NotifyRule,
    template_error,
)

RULE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
RECIPIENTS = ("unit", "reporter", *(f"role:{r}" for r in CENTER_ROLES))
PHONE = re.compile(r"^\+?\d{6,15}$")


def _rule_id(v):
    if not isinstance(v, str) or not RULE_ID.fullmatch(v):
        raise ValueError("must be 1 to 64 letters, digits, '.', '_' or '-'")
    return v


def _template(v):
    if not isinstance(v, str) or not v.strip() or len(v) > 500 or "\x00" in v:
        raise ValueError("must be a non-empty string (at most 500)")
    why = template_error(v)
    if why:
        raise ValueError(why)
    return v


def _channels(v):
    if not isinstance(v, list) or not v:
        raise ValueError(f"must be a non-empty list of {', '.join(CHANNELS)}")
    for x in v:
        if x not in CHANNELS:
            raise ValueError(f"'{x}' is not one of {', '.join(CHANNELS)}")
    if len(set(v)) != len(v):
        raise ValueError("names a channel twice")
    return tuple(v)


def _phones(v):
    if not isinstance(v, list) or not all(isinstance(p, str) and PHONE.fullmatch(p) for p in v):
        raise ValueError("must be a list of phone numbers (digits, 6 to 15, optional leading +)")
    return tuple(v)


RuleId = checked(_rule_id, {"type": "string", "pattern": RULE_ID.pattern}, str)
Template = checked(_template, {"type": "string", "minLength": 1, "maxLength": 500}, str)
Channels = checked(_channels, {"type": "array", "items": {"enum": list(CHANNELS)},
                               "minItems": 1, "uniqueItems": True}, tuple)
Phones = checked(_phones, {"type": "array", "items": {"type": "string",
                                                      "pattern": PHONE.pattern}}, tuple)


class Templates(Closed):
    """The notice's words per language; fields {number} {category} {unit} {due} {minutes}
    {grid} {state}. A language left out takes the default wording."""

    zh: Template | None = None
    en: Template | None = None


class Rule(Closed):
    """One rule: on a happening, to a recipient, through channels."""

    id: RuleId
    on: one_of(ON)
    to: one_of(RECIPIENTS, f"must be one of {', '.join(RECIPIENTS)}")
    channels: Channels
    minutes_before: Duration | None = Field(
        None, description="due_soon only: working time before the due time, e.g. '60m', '2h'")
    template: Templates | None = None

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, v):
        """YAML 1.1 reads the key `on` as true: take it back."""
        if isinstance(v, dict) and True in v and "on" not in v:
            v = {("on" if k is True else k): x for k, x in v.items()}
        return v


class Sms(Closed):
    """The SMS gateway (短信网关): `log` writes each message to the log with the number masked;
    `numbers` maps a recipient ('unit:hw', 'role:duty_chief') to its phone numbers."""

    gateway: one_of(SMS_GATEWAYS) = "log"
    numbers: dict[str, Phones] | None = None


class NotificationsSection(Closed):
    """Notification rules (通知规则) and the SMS gateway."""

    rules: list[Rule] | None = None
    sms: Sms | None = None


def notifying(spec: NotificationsSection | None, cal: WorkCalendar, units: dict) -> Notifying:
    """The domain's Notifying; rule ids once each, minutes_before exactly for due_soon, SMS
    numbers for known units and roles."""
    if spec is None:
        return Notifying()
    rules: list[NotifyRule] = []
    for i, r in enumerate(spec.rules or ()):
        p = f"notifications.rules[{i}]"
        if any(x.id == r.id for x in rules):
            raise ConfigError(f"{p}.id", f"rule '{r.id}' appears twice")
        minutes = None
        if r.on == "due_soon":
            if r.minutes_before is None:
                raise ConfigError(f"{p}.minutes_before", "is required for on: due_soon")
            try:
                minutes = cal.parse_duration(r.minutes_before)
            except ValueError as e:
                raise ConfigError(f"{p}.minutes_before", str(e)) from None
            if not 0 < minutes <= 100_000:
                raise ConfigError(f"{p}.minutes_before", "must be more than 0 and at most "
                                                         "100000 working minutes")
        elif r.minutes_before is not None:
            raise ConfigError(f"{p}.minutes_before", "is for on: due_soon only")
        if r.to == "reporter" and r.on in ("due_soon", "overdue", "urged"):
            raise ConfigError(f"{p}.to", f"a reporter is not told of '{r.on}'")
        t = r.template
        template = {k: v for k, v in ((lang, getattr(t, lang, None)) for lang in LANGS) if v}
        rules.append(NotifyRule(r.id, r.on, r.to, r.channels, template, minutes))
    sms = spec.sms or Sms()
    numbers: dict[str, tuple[str, ...]] = {}
    for key, phones in (sms.numbers or {}).items():
        kind, _, who = key.partition(":")
        ok = (kind == "unit" and who in units) or (kind == "role" and who in CENTER_ROLES)
        if not ok:
            raise ConfigError(f"notifications.sms.numbers.{key}",
                              "must be 'unit:<unit id>' or 'role:<center role>'")
        numbers[key] = phones
    return Notifying(tuple(rules), sms.gateway, numbers)
