"""The notification worker (通知): the notifier follows the event log, the due-soon watch
runs on the clock, and the outbound channels (SMS, Kafka) deliver what is pending.

    casegrid notifications run [--loop]       # an operator's worker
    create_app(..., follow=True)              # the server runs one in a thread

The notifier has a ProjectionRunner of its own (position `notifications` in cg_tracking):
the read models' rebuild never touches it, and a worker killed at any point, started
again, goes on from the position it committed with the notifications it made.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import structlog

from adapters.background import BackgroundLoop
from adapters.bootstrap import Casegrid, projection_runner
from adapters.notify.outbound import TOPIC, NotificationPublisher, send_sms
from adapters.notify.sms import SmsGateway, sms_gateway
from projections.notifications import counts, due_soon
from projections.notifier import Notifier
from projections.tracking import BACKOFF_MAX

log = structlog.get_logger("casegrid.notify")


class NotifyWorker:
    def __init__(self, cg: Casegrid, *, producer: Any = None, topic: str = TOPIC,
                 sms: SmsGateway | None = None):
        self.cg = cg
        self.runner = projection_runner(cg.app, [Notifier(cg.city, cg.service.clock)],
                                        pipeline=False)
        self.sql = self.runner.sql
        self.sms = sms or sms_gateway(cg.city.notify.sms_gateway)
        self.publisher = producer and NotificationPublisher(self.sql, cg.city, producer, topic)
        self._lock = threading.Lock()
        self._sending = threading.Lock()
        self._loop: BackgroundLoop | None = None

    def setup(self) -> None:
        self.runner.setup()

    def ensure(self) -> None:
        """Notify for every event not yet seen (a reader's catch-up: no delivery here)."""
        with self._lock:
            self.setup()
            self.runner.catch_up()

    def run_once(self, now: datetime | None = None) -> dict:
        """Notify for every event not yet seen and every step now due soon; deliver."""
        with self._lock:  # a reader's ensure() waits for this part only
            self.setup()
            events = self.runner.catch_up()
            soon = due_soon(self.sql, self.cg.city, now or self.cg.service.clock())
        with self._sending:
            texts = send_sms(self.sql, self.cg.city, self.sms, self.cg.app.repository.get)
            published = self.publisher.catch_up() if self.publisher else 0
        if events or soon or texts or published:
            log.info("notify_round", events=events, due_soon=soon, sms=texts, kafka=published)
        return {"events": events, "due_soon": soon, "sms": texts, "kafka": published}

    def status(self) -> dict:
        """The notifier's position against the log's head, a stall, and the notices."""
        self.setup()
        pos, head = self.runner.position(Notifier.name), self.runner.head()
        error = self.runner.errors().get(Notifier.name)
        return {"position": pos, "head": head, "lag_events": head - pos,
                "state": "stalled" if error else ("behind" if pos < head else "ok"),
                "error": error, "sms_gateway": self.sms.name, **counts(self.sql)}

    def follow(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Run rounds every `interval` seconds until `stop`; back off while failing."""
        wait = interval
        while not stop.is_set():
            try:
                self.run_once()
                wait = interval
            except Exception as e:  # noqa: BLE001 - the store or broker went away: retry
                log.warning("notify_error", error=repr(e), retry_in_seconds=wait)
                wait = min(BACKOFF_MAX, wait * 2)
            if stop.wait(wait):
                return

    def start(self, interval: float = 1.0) -> None:
        """The server's worker thread."""
        if self._loop is None:
            self._loop = BackgroundLoop("casegrid-notify",
                                        lambda stop: self.follow(stop, interval))
        self._loop.start()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.stop()
            self._loop = None
