"""Notifications onto `casegrid.notifications.v1` and through the SMS gateway, each once.

Both follow the notifications table as an outbox: a notification whose rule names the
channel waits there (kafka_due / sms_due = 1) until the channel has it; then it is marked
delivered, in our own database. Kafka: every pending notification of a batch is sent keyed
by its case id, the producer flushed, every send checked, and only the ones the broker
took are marked (a crash between the flush and the mark repeats them with the same id:
at least once, never skipped). The message is adapters/schemas/notification.v1.json.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog

from adapters.kafka.failures import describe, is_transient
from adapters.kafka.outbound import outcome
from adapters.notify.sms import SmsGateway
from domain.city import City
from domain.notify import mask_phone
from domain.times import as_zone
from projections.notifications import claim, delivered, parked, pending, reclaim, release
from projections.ports import Sql
from projections.times import from_ts

TOPIC = "casegrid.notifications.v1"
CLAIM_TIMEOUT = timedelta(minutes=10)  # an SMS claim older than this was a worker's crash
SCHEMA = "casegrid.notification.v1"
log = structlog.get_logger("casegrid.notify")


def _iso(text: str, city: City) -> str:
    return as_zone(from_ts(text), city.tz).isoformat()  # the edge of time clamped


def message(n: dict, city: City) -> dict:
    """A notifications row → the notification.v1 message."""
    return {"schema": SCHEMA, "id": n["id"], "case_id": n["case_id"],
            "case_number": n["case_number"], "rule": n["rule"], "happening": n["happening"],
            "recipient": {"kind": n["recipient_kind"], "id": n["recipient_id"]},
            "text": {"zh": n["text_zh"], "en": n["text_en"]},
            "channels": n["channels"].split(","), "occurred_at": _iso(n["at"], city),
            "created_at": _iso(n["created_at"], city)}


class NotificationPublisher:
    def __init__(self, sql: Sql, city: City, producer: Any, topic: str = TOPIC, *,
                 batch: int = 500, send_timeout: float = 30.0):
        self.sql, self.city, self.producer, self.topic = sql, city, producer, topic
        self.batch, self.send_timeout = batch, send_timeout

    def step(self) -> int:
        """Publish the next batch; how many the broker took. Raises when it took none of a
        batch (a broker that is away): the caller backs off and tries again."""
        rows = pending(self.sql, "kafka", self.batch)
        if not rows:
            return 0
        futures = []
        for n in rows:
            value = json.dumps(message(n, self.city), ensure_ascii=False).encode("utf-8")
            futures.append((n["id"], self.producer.send(self.topic, key=n["case_id"].encode(),
                                                        value=value)))
        failed: BaseException | None = None
        try:
            self.producer.flush(timeout=self.send_timeout)
        except Exception as e:  # noqa: BLE001 - the futures say which went out
            failed = e
        ok, bad = [], []
        for nid, f in futures:
            err = outcome(f)
            if err is None:
                ok.append(nid)
            elif not is_transient(err):  # too large, cannot be encoded: parked, not lost
                bad.append(nid)
                log.error("notification_parked", topic=self.topic, notification_id=nid,
                          error=describe(err))
            else:
                failed = failed or err
        delivered(self.sql, "kafka", ok, datetime.now(UTC))
        parked(self.sql, "kafka", bad, datetime.now(UTC))
        log.info("notifications_published", topic=self.topic, sent=len(ok),
                 parked=len(bad), failed=len(futures) - len(ok) - len(bad))
        if failed is not None and not ok:
            raise failed
        return len(ok) + len(bad)

    def catch_up(self) -> int:
        done = 0
        while k := self.step():
            done += k
        return done


def phones_of(n: dict, city: City, case_of: Any) -> list[str]:
    """Where an SMS goes: the configured numbers of a unit or role; for a reporter, the
    phone of the contact on the case (protected data: read here, never stored or logged)."""
    if n["recipient_kind"] != "reporter":
        return list(city.notify.sms_numbers.get(f"{n['recipient_kind']}:{n['recipient_id']}", ()))
    try:
        contact = getattr(case_of(UUID(n["recipient_id"])), "contact", None)  # a merged
        # duplicate's reporter follows the original: the phone is on the duplicate
    except Exception:  # noqa: BLE001 - a case that cannot be read gets no SMS
        return []
    phone = (contact or {}).get("reporter_phone")
    return [phone] if phone else []


def send_sms(sql: Sql, city: City, gateway: SmsGateway, case_of: Any, batch: int = 500) -> int:
    """Send the pending SMS notices; how many messages went out. Each notice is claimed
    first (a second worker, e.g. the server's thread beside `notifications run`, skips it);
    a notice with no number is marked delivered (nobody to tell); one the gateway refused
    is released, to be tried again next round; a claim left by a worker killed mid-send is
    taken back after CLAIM_TIMEOUT (at least once)."""
    sent = 0
    now = datetime.now(UTC)
    reclaim(sql, "sms", now - CLAIM_TIMEOUT)
    while rows := pending(sql, "sms", batch):
        done = 0
        for n in rows:
            if not claim(sql, "sms", n["id"], datetime.now(UTC)):
                continue  # another worker has it
            try:
                for phone in phones_of(n, city, case_of):
                    gateway.send(phone, n["text_zh"], notification_id=n["id"])
                    sent += 1
            except Exception as e:  # noqa: BLE001 - released, tried again next round
                release(sql, "sms", n["id"])
                log.warning("sms_failed", notification_id=n["id"], error=describe(e),
                            to=[mask_phone(p) for p in phones_of(n, city, case_of)])
                continue
            delivered(sql, "sms", [n["id"]], datetime.now(UTC))
            done += 1
        if done < len(rows):
            break
    return sent
