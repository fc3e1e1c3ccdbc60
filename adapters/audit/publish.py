"""Signed heads published to Kafka (`casegrid.audit.v1`, schema audit-head.v1.json), so a
copy of every head lives outside the database."""

from __future__ import annotations

import json
from typing import Any

from adapters.audit.heads import Head, mark_published, unpublished
from adapters.storage.sql import Sql

TOPIC = "casegrid.audit.v1"


def head_message(head: Head) -> tuple[bytes, bytes]:
    """(key, value): the key is the signing key's id, the value the head as JSON."""
    value = {"schema": TOPIC, **head.as_dict()}
    # an edited row (a key id that is not ASCII) is still sendable: never a halt
    return head.key_id.encode("utf-8", "replace"), json.dumps(value).encode("utf-8")


def publish_head(producer: Any, head: Head, topic: str = TOPIC, *,
                 timeout: float = 30.0) -> None:
    """Send one head and wait for the broker to have it (raises if it does not)."""
    key, value = head_message(head)
    producer.send(topic, key=key, value=value).get(timeout=timeout)
    producer.flush(timeout=timeout)


def publish_pending(sql: Sql, producer: Any, topic: str = TOPIC, *,
                    timeout: float = 30.0) -> list[Head]:
    """Send every stored head not yet published, oldest first, marking each once the
    broker has it; stops at the first failure (raised), so the order holds and the rest
    are sent next time. At least once: a crash between the send and the mark resends
    that one head (a head is identified by key_id, size and at)."""
    sent = []
    for head in unpublished(sql):
        publish_head(producer, head, topic, timeout=timeout)
        mark_published(sql, head)
        sent.append(head)
    return sent
