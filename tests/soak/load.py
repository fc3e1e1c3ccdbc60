"""The soak test's bounded mixed load: HTTP reports and lifecycle steps as the demo users,
Kafka reports with keys (some sent twice), and reads; every acknowledged write recorded.

A write is *acknowledged* when its client got the answer that says it is stored: 201/200
from the API, or the broker's ack (acks=all) of a produced report. A request whose server
was SIGKILLed under it is sent again to another API process with the same idempotency key
and business time, as a real client would, until it is answered."""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from kafka import KafkaProducer

from adapters.kafka.messages import report_case_id
from tests.integration.kafka_support import CATEGORIES, GRIDS, unit_update
from tests.integration.kafka_support import report as kafka_report

PASSWORD = "demo"
CATEGORY, GRID = "E0102", "44030301000101"  # 暴露垃圾 -> hw (环卫所)
# the path an HTTP case walks: (trigger, user, body); the lifecycle of docs/lifecycle.md
USERS = ("sup_zhang", "acc_wang", "disp_chen", "hw_luo", "chief_zhao", "insp_sun")
STEPS = [("file", "acc_wang", {}), ("dispatch", "disp_chen", {}), ("resolve", "hw_luo", {}),
         ("check", "sup_zhang", {"passed": True}), ("close", "acc_wang", {})]
EVENT_OF = {"file": "Filed", "dispatch": "Dispatched", "resolve": "Resolved",
            "check": "Checked", "close": "Closed", "accept": "Accepted"}
UNIT_UPDATE_SHARE = 0.3  # of the cases dispatched over HTTP: accept + resolve over Kafka
TRANSPORT = (httpx.TransportError,)  # refused, reset, timed out: the server died under it


@dataclass
class Ledger:
    """What the clients were told is stored, and everything that went wrong."""

    reports: dict[str, dict] = field(default_factory=dict)  # idempotency key -> ack
    steps: list[dict] = field(default_factory=list)  # {case_id, trigger, actor, at, version}
    kafka: dict[str, dict] = field(default_factory=dict)  # external id -> {case_id, sends}
    unit_updates: list[dict] = field(default_factory=list)  # {case_id, trigger, actor, at}
    reads: int = 0
    not_ready: list[str] = field(default_factory=list)  # /readyz answers other than 200
    latency: dict[str, list[float]] = field(default_factory=dict)  # by request kind
    retries: int = 0  # requests sent again after a transport error
    errors: list[str] = field(default_factory=list)  # answers no correct server gives
    lock: threading.Lock = field(default_factory=threading.Lock)

    def percentiles(self) -> dict[str, dict[str, float]]:
        """p50 and p95 seconds of the answered requests, by kind (POST: the writes)."""
        out = {}
        for method, xs in self.latency.items():
            xs = sorted(xs)
            if xs:
                out[method] = {"n": len(xs), "p50": round(xs[len(xs) // 2], 3),
                               "p95": round(xs[int(len(xs) * 0.95)], 3)}
        return out

    def error(self, what: str) -> None:
        with self.lock:
            if len(self.errors) < 200:
                self.errors.append(what)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Tokens:
    """One session per user for the whole run, shared by every client thread (a login
    costs a deliberately slow password hash: seconds on a loaded machine)."""

    def __init__(self):
        self.tokens: dict[str, str] = {}
        self.lock = threading.Lock()


class Api:
    """A client of the API processes: any of them answers, a dead one is skipped."""

    def __init__(self, ports: list[int], ledger: Ledger, rng: random.Random, tokens: Tokens,
                 give_up: float = 60.0):
        self.urls = [f"http://127.0.0.1:{p}" for p in ports]
        self.ledger, self.rng, self.give_up = ledger, rng, give_up
        self.client = httpx.Client(timeout=httpx.Timeout(30.0, connect=2.0))
        self.shared = tokens

    def close(self) -> None:
        self.client.close()

    def send(self, method: str, path: str, user: str | None = None, body: dict | None = None,
             label: str | None = None) -> httpx.Response | None:
        """The first answer any server gives; None if none answered within `give_up` s."""
        deadline = time.monotonic() + self.give_up
        start = self.rng.randrange(len(self.urls))
        attempt = 0
        while time.monotonic() < deadline:
            url = self.urls[(start + attempt) % len(self.urls)]
            attempt += 1
            try:
                headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
                t = time.monotonic()
                r = self.client.request(method, url + path, json=body, headers=headers)
                with self.ledger.lock:
                    self.ledger.latency.setdefault(label or method, []).append(
                        time.monotonic() - t)
            except TRANSPORT:
                with self.ledger.lock:
                    self.ledger.retries += 1
                time.sleep(0.1 if attempt % len(self.urls) else 0.5)
                continue
            if r.status_code == 401 and user:  # a session the store does not know: log in again
                with self.shared.lock:
                    if self.shared.tokens.get(user) == headers["Authorization"][7:]:
                        del self.shared.tokens[user]
                continue
            return r
        return None

    def token(self, user: str) -> str:
        with self.shared.lock:  # one login at a time: the others wait for its token
            if user not in self.shared.tokens:
                r = self.send("POST", "/api/login", None, {"user": user, "password": PASSWORD},
                              label="POST login")
                if r is None or r.status_code != 200:
                    raise RuntimeError(f"login {user}: {r and r.status_code} {r and r.text[:200]}")
                self.shared.tokens[user] = r.json()["token"]
            return self.shared.tokens[user]


class UnitUpdates:
    """A member unit's system: unit updates produced to the unit-updates topic, keyed by
    case id (so one case's updates are applied in order), acknowledged by the broker."""

    def __init__(self, bootstrap: str, topic: str, ledger: Ledger, tag: str):
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0,
                                      max_in_flight_requests_per_connection=1)
        self.topic, self.ledger, self.tag = topic, ledger, tag
        self.n = 0
        self.lock = threading.Lock()

    def send(self, case_id: str, action: str) -> None:
        with self.lock:
            self.n += 1
            mid = f"{self.tag}-u{self.n}"
        at = now_iso()
        doc = unit_update(case_id, 0, action, message_id=mid, source=f"{self.tag}-erp",
                          occurred_at=at)
        self.producer.send(self.topic, key=case_id.encode(),
                           value=json.dumps(doc).encode()).get(timeout=30)
        with self.ledger.lock:
            self.ledger.unit_updates.append({"case_id": case_id, "trigger": action,
                                             "actor": doc["actor"], "at": at})

    def close(self) -> None:
        self.producer.close(timeout=10)


class Desk(threading.Thread):
    """One client desk: reports a case over HTTP (with an idempotency key) and walks it
    through the lifecycle, each step with expected_version, its key and a fixed `at`; for
    some cases, once dispatched, the unit accepts and resolves it over Kafka instead."""

    def __init__(self, n: int, api: Api, ledger: Ledger, stop: threading.Event, tag: str,
                 pause: float, units: UnitUpdates | None = None):
        super().__init__(name=f"soak-desk-{n}", daemon=True)
        self.n, self.api, self.ledger, self.stop, self.tag, self.pause = n, api, ledger, stop, tag, pause
        self.units = units

    def run(self) -> None:
        i = 0
        try:
            while not self.stop.is_set():
                i += 1
                self.one_case(f"{self.tag}-d{self.n}-{i}")
                self.stop.wait(self.pause)
        except Exception as e:  # noqa: BLE001 - the test reports it
            self.ledger.error(f"{self.name}: {type(e).__name__}: {e}")
        finally:
            self.api.close()

    def one_case(self, key: str) -> None:
        at = now_iso()
        body = {"channel": "patrol", "category": CATEGORY, "grid": GRID, "at": at,
                "description": f"soak {key}", "idempotency_key": key}
        r = self.api.send("POST", "/api/cases", "sup_zhang", body)
        if r is None:
            return  # never answered: not acknowledged
        if r.status_code != 201:
            return self.ledger.error(f"report {key}: {r.status_code} {r.text[:300]}")
        case = r.json()
        with self.ledger.lock:
            self.ledger.reports[key] = {"case_id": case["case_id"], "at": at, "actor": "sup_zhang"}
        version = case["version"]
        depth = self.api.rng.randint(1, len(STEPS))  # some cases stop part way
        for k, (trigger, user, extra) in enumerate(STEPS[:depth]):
            if self.stop.is_set():
                return
            version = self.step(case["case_id"], trigger, user, extra, version, f"{key}-{k}")
            if version is None:
                return
            if (trigger == "dispatch" and self.units is not None
                    and self.api.rng.random() < UNIT_UPDATE_SHARE):
                self.units.send(case["case_id"], "accept")
                self.units.send(case["case_id"], "resolve")
                return

    def step(self, case_id: str, trigger: str, user: str, extra: dict, version: int,
             key: str) -> int | None:
        at = now_iso()
        body = {**extra, "at": at, "expected_version": version, "idempotency_key": key}
        for _ in range(5):
            r = self.api.send("POST", f"/api/cases/{case_id}/{trigger}", user, body)
            if r is None:
                return None
            if r.status_code == 409:  # moved under us (a deadline tick): reload, decide again
                body["expected_version"] = r.json().get("current_version", version)
                continue
            if r.status_code != 200:
                self.ledger.error(f"{trigger} {case_id}: {r.status_code} {r.text[:300]}")
                return None
            got = r.json()
            with self.ledger.lock:
                self.ledger.steps.append({"case_id": case_id, "trigger": trigger, "actor": user,
                                          "at": at, "version": got["version"]})
            return got["version"]
        self.ledger.error(f"{trigger} {case_id}: still 409 after 5 reloads")
        return None


class Reader(threading.Thread):
    """Reads as the center and the inspector would: a case, the queues, the scoreboard, lists;
    and /readyz, as a load balancer would."""

    def __init__(self, n: int, api: Api, ledger: Ledger, stop: threading.Event, pause: float):
        super().__init__(name=f"soak-reader-{n}", daemon=True)
        self.api, self.ledger, self.stop, self.pause = api, ledger, stop, pause

    def run(self) -> None:
        try:
            while not self.stop.wait(self.pause):
                with self.ledger.lock:
                    known = list(self.ledger.reports.values())
                paths = [("acc_wang", "/api/queues", "GET queues"),
                         ("chief_zhao", "/api/scoreboard", "GET scoreboard"),
                         ("insp_sun", "/api/cases?limit=20", "GET case list")]
                if known:
                    paths.append(("insp_sun", f"/api/cases/{self.api.rng.choice(known)['case_id']}",
                                  "GET case"))
                user, path, label = self.api.rng.choice(paths)
                r = self.api.send("GET", path, user, label=label)
                if r is None:
                    continue
                if r.status_code != 200:
                    self.ledger.error(f"GET {path}: {r.status_code} {r.text[:300]}")
                with self.ledger.lock:
                    self.ledger.reads += 1
                ready = self.api.send("GET", "/readyz", label="GET readyz")
                if ready is not None and ready.status_code != 200:
                    with self.ledger.lock:
                        self.ledger.not_ready.append(f"{ready.status_code} {ready.text[:300]}")
        except Exception as e:  # noqa: BLE001 - the test reports it
            self.ledger.error(f"{self.name}: {type(e).__name__}: {e}")
        finally:
            self.api.close()


class KafkaReporter(threading.Thread):
    """Reports produced to the reports topic keyed by external id; about one in eight is
    sent again (the same message, or a new message id for the same report)."""

    def __init__(self, bootstrap: str, topic: str, ledger: Ledger, stop: threading.Event,
                 rng: random.Random, tag: str, pause: float):
        super().__init__(name="soak-kafka", daemon=True)
        self.bootstrap, self.topic, self.ledger, self.stop = bootstrap, topic, ledger, stop
        self.rng, self.tag, self.pause = rng, tag, pause

    def run(self) -> None:
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=0,
                                 max_in_flight_requests_per_connection=1)
        sent: list[dict] = []
        i = 0
        try:
            while not self.stop.wait(self.pause):
                if sent and self.rng.random() < 0.125:
                    doc = dict(self.rng.choice(sent))
                    if self.rng.random() < 0.5:
                        doc["message_id"] = f"{doc['message_id']}-again"
                else:
                    i += 1
                    doc = kafka_report(i, source="soak", message_id=f"{self.tag}-m{i}",
                                       external_id=f"{self.tag}-x{i}",
                                       category=CATEGORIES[i % len(CATEGORIES)],
                                       grid=GRIDS[i % len(GRIDS)])
                key = doc["external_id"].encode()
                producer.send(self.topic, key=key, value=json.dumps(doc).encode()).get(timeout=30)
                sent.append(doc)
                with self.ledger.lock:
                    ack = self.ledger.kafka.setdefault(doc["external_id"], {
                        "case_id": str(report_case_id("soak", doc["external_id"])), "sends": 0})
                    ack["sends"] += 1
        except Exception as e:  # noqa: BLE001 - the test reports it
            self.ledger.error(f"{self.name}: {type(e).__name__}: {e}")
        finally:
            producer.close(timeout=10)
