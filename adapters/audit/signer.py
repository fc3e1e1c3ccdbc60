"""The tree-head signer (签名树头定时签发): each step logs the new events as leaves, signs a
head when the tree grew past the last head, and (with a broker) publishes every head
not yet on casegrid.audit.v1, oldest first. Run as a singleton ('audit-signer' lease)
by `casegrid audit sign --loop`; a step never raises, so no event and no broker outage
stops the loop (each failure is logged and tried again next step)."""

from __future__ import annotations

from typing import Any

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.audit.heads import Head
from adapters.audit.log import AuditGap
from adapters.audit.publish import TOPIC, publish_pending
from adapters.audit.service import AuditLog

LEASE = "audit-signer"
BOOTSTRAP_TIMEOUT_MS = 5000  # a broker that is away costs a round 5 s, not 30


def kafka_producer(bootstrap: str) -> Any:
    from kafka import KafkaProducer

    from adapters.kafka.outbound import producer_config

    return KafkaProducer(**producer_config(bootstrap, "casegrid-audit"),
                         bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS)


class Signer:
    def __init__(self, log: AuditLog, private: Ed25519PrivateKey, bootstrap: str | None = None,
                 topic: str = TOPIC, *, producer_factory=kafka_producer):
        self.log = log
        self.private = private
        self.bootstrap = bootstrap
        self.topic = topic
        self.producer_factory = producer_factory
        self.producer: Any = None
        self.logger = structlog.get_logger("casegrid.audit").bind(command="audit sign",
                                                                   actor="audit-signer")

    def step(self) -> Head | None:
        """One round: sign if the tree grew, then publish what is pending."""
        head = None
        try:
            head = self.log.sign_if_grown(self.private)
        except AuditGap as e:
            self.logger.error("audit_gap", error=str(e))
        except Exception as e:  # noqa: BLE001 - store away: try again next step
            if not self.log.sql.is_store_error(e):
                raise
            self.logger.warning("audit_store_error", error=repr(e)[:300])
        if head is not None:
            self.logger.info("head_signed", size=head.size, root_hash=head.root_hash.hex(),
                             key_id=head.key_id, at=head.at)
        if self.bootstrap:
            self.publish()
        self.logger.info("audit_tick", signed=head is not None)
        return head

    def publish(self) -> int:
        """Send every unpublished head; a broker that is away is logged, not raised."""
        from kafka.errors import KafkaError

        try:
            if self.producer is None:
                self.producer = self.producer_factory(self.bootstrap)
            sent = publish_pending(self.log.sql, self.producer, self.topic)
        except Exception as e:  # noqa: BLE001 - broker or store away: try again next round
            event = "heads_not_published" if isinstance(e, KafkaError) else "heads_publish_error"
            self.logger.warning(event, bootstrap=self.bootstrap,
                                error=f"{type(e).__name__}: {e}"[:300])
            self.close()
            return 0
        if sent:
            self.logger.info("heads_published", count=len(sent), sizes=[h.size for h in sent])
        return len(sent)

    def close(self) -> None:
        producer, self.producer = self.producer, None
        if producer is not None:
            try:
                producer.close(timeout=5)
            except Exception:  # noqa: BLE001 - closing a broken producer
                self.logger.debug("producer_close_failed")
