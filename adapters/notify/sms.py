"""The SMS gateway (短信网关): an interface, and a logging implementation by default.

casegrid never reaches the internet: the `log` gateway writes each message to the log
with the number masked (138****5678), `none` drops it. A city that has a real gateway
adds an implementation of `SmsGateway` here and names it in `notifications.sms.gateway`.
"""

from __future__ import annotations

from typing import Protocol

import structlog

from domain.notify import mask_phone

log = structlog.get_logger("casegrid.sms")


class SmsGateway(Protocol):
    name: str

    def send(self, phone: str, text: str, *, notification_id: str) -> None:
        """Send one message; raise if the gateway did not take it."""


class LoggingSms:
    """Writes the message to the log; the phone number masked, never whole."""

    name = "log"

    def __init__(self) -> None:
        self.sent = 0

    def send(self, phone: str, text: str, *, notification_id: str) -> None:
        self.sent += 1
        log.info("sms_sent", to=mask_phone(phone), text=text, notification_id=notification_id)


class NoSms:
    """Drops every message (a city without SMS)."""

    name = "none"

    def send(self, phone: str, text: str, *, notification_id: str) -> None:
        return None


GATEWAYS = {"log": LoggingSms, "none": NoSms}


def sms_gateway(name: str) -> SmsGateway:
    """The gateway the city file names (notifications.sms.gateway)."""
    return GATEWAYS[name]()
