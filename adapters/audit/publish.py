"""Signed heads published to Kafka (`casegrid.audit.v1`, schema audit-head.v1.json), so a
copy of every head lives outside the database."""

from __future__ import annotations

import json
from typing import Any

from adapters.audit.heads import Head

TOPIC = "casegrid.audit.v1"


def head_message(head: Head) -> tuple[bytes, bytes]:
    """(key, value): the key is the signing key's id, the value the head as JSON."""
    value = {"schema": TOPIC, **head.as_dict()}
    return head.key_id.encode("ascii"), json.dumps(value).encode("utf-8")


def publish_head(producer: Any, head: Head, topic: str = TOPIC, *,
                 timeout: float = 30.0) -> None:
    """Send one head and wait for the broker to have it (raises if it does not)."""
    key, value = head_message(head)
    producer.send(topic, key=key, value=value).get(timeout=timeout)
    producer.flush(timeout=timeout)
