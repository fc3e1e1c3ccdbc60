"""Notification rules (通知规则): on which happening whom to tell, through which channels, in
which words. Built from the city file's `notifications` section (adapters/config/notify_file.py).

A rule: `on` a happening (dispatched, due_soon N working minutes before a step's due time,
overdue, urged, closed, callback, received), `to` a recipient (the unit holding the case,
the reporter who left contact, or a center role `role:<role>`), `channels` (console,
field, sms, kafka) and a template per language with the fields of TEMPLATE_FIELDS.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

ON = ("received", "dispatched", "due_soon", "overdue", "urged", "closed", "callback")
CHANNELS = ("console", "field", "sms", "kafka")
CENTER_ROLES = ("supervisor", "acceptor", "duty_chief", "dispatcher", "inspector")
LANGS = ("zh", "en")
TEMPLATE_FIELDS = ("number", "category", "unit", "due", "minutes", "grid", "state")
SMS_GATEWAYS = ("log", "none")

DEFAULT_TEMPLATES = {
    "received": ("您反映的问题已受理，案件编号 {number}。",
                 "Your report was received: case {number}."),
    "dispatched": ("案件 {number}（{category}）已派遣至{unit}，请于 {due} 前处置。",
                   "Case {number} ({category}) was dispatched to {unit}; due {due}."),
    "due_soon": ("案件 {number}（{category}）将于 {due} 到期，剩余 {minutes} 个工作分钟。",
                 "Case {number} ({category}) is due {due}: {minutes} working minutes left."),
    "overdue": ("案件 {number}（{category}）已超时（应于 {due} 前完成）。",
                "Case {number} ({category}) is overdue (was due {due})."),
    "urged": ("案件 {number}（{category}）被督办，请尽快处置。",
              "Case {number} ({category}) was urged: please act now."),
    "closed": ("案件 {number}（{category}）已结案。", "Case {number} ({category}) was closed."),
    "callback": ("案件 {number} 已完成回访。", "Case {number}: the reporter was called back."),
}


def template_error(text: str) -> str | None:
    """Why a template cannot be used (unknown field, bad braces), or None."""
    try:
        names = [f for _, f, spec, conv in string.Formatter().parse(text) if f is not None]
    except ValueError as e:
        return f"is not a valid template: {e}"
    for n in names:
        if n not in TEMPLATE_FIELDS:
            return f"names '{{{n}}}', not one of {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}"
    return None


@dataclass(frozen=True)
class NotifyRule:
    id: str
    on: str  # one of ON
    to: str  # 'unit' | 'reporter' | 'role:<center role>'
    channels: tuple[str, ...]
    template: dict[str, str]  # lang -> text
    minutes_before: float | None = None  # due_soon only: working minutes before due

    def render(self, lang: str, values: dict[str, str]) -> str:
        text = self.template.get(lang) or DEFAULT_TEMPLATES[self.on][LANGS.index(lang)]
        return text.format(**{k: values.get(k, "") for k in TEMPLATE_FIELDS})


@dataclass(frozen=True)
class Notifying:
    """The city's notification rules and SMS gateway (短信网关)."""

    rules: tuple[NotifyRule, ...] = ()
    sms_gateway: str = "log"
    sms_numbers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # 'unit:hw' -> numbers

    def on(self, happening: str) -> list[NotifyRule]:
        return [r for r in self.rules if r.on == happening]


def mask_phone(phone: str) -> str:
    """138****5678: the first three and last four digits, never the whole number."""
    digits = "".join(ch for ch in str(phone) if ch.isdigit())
    if len(digits) == 13 and digits.startswith("86"):  # +86 138…: the mobile number itself
        digits = digits[2:]
    if len(digits) < 8:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
