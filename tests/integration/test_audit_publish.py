"""Signed heads on Kafka (casegrid.audit.v1): the message fits its published schema and
its signature checks from the message alone; a bad --publish value is refused; heads
signed while the broker is down are all sent, in order and once, when it is back (Tansu)."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from adapters.audit.heads import (
    Head,
    keygen,
    load_private,
    load_public,
    signature_ok,
    stored_heads,
    unpublished,
)
from adapters.audit.publish import TOPIC, publish_head
from adapters.audit.service import audit_log
from adapters.bootstrap import bootstrap
from adapters.cli.app import app
from adapters.kafka.messages import schema
from tests.support import NOW, T0, city, drive


class Sent:
    def __init__(self):
        self.messages, self.flushed = [], False

    def send(self, topic, key, value):
        self.messages.append((topic, key, value))
        return self

    def get(self, timeout):
        return None

    def flush(self, timeout):
        self.flushed = True


def test_a_published_head_fits_the_schema_and_verifies_alone(sqlite_env, tmp_path):
    cg = bootstrap(env=sqlite_env, city=city(), clock=lambda: NOW)
    drive(cg.service, "closed", T0)
    pub, kid = keygen(tmp_path / "k")
    head = audit_log(cg).sign(load_private(tmp_path / "k"))
    producer = Sent()
    publish_head(producer, head)
    cg.close()
    [(topic, key, value)] = producer.messages
    assert producer.flushed and topic == TOPIC == "casegrid.audit.v1" and key == kid.encode()
    doc = json.loads(value)
    assert not list(Draft202012Validator(schema("audit-head.v1.json")).iter_errors(doc))
    again = Head(doc["size"], bytes.fromhex(doc["root_hash"]), doc["at"],
                 bytes.fromhex(doc["signature"]), doc["key_id"])
    assert again.size == head.size > 0 and signature_ok(again, load_public(pub))


def test_bad_publish_values_are_refused(tmp_path):
    keygen(tmp_path / "k")
    for value in ("", " ", "x" * 501, "a\x00b"):
        r = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "d"), "audit", "head",
                                     "--key", str(tmp_path / "k"), "--publish", value, "--json"])
        assert r.exit_code == 2 and json.loads(r.stderr)["field"] == "publish", r.output
    assert not (tmp_path / "d").exists()  # refused before the store was opened


@pytest.mark.kafka
def test_heads_stored_while_the_broker_is_down_are_all_published_once_it_is_up(tmp_path):
    """Broker down: `audit sign --bootstrap` and `audit head --publish` store their heads
    unsent; broker up: the next round sends every one, oldest first, exactly once, and
    `audit head --publish` sends its own."""
    from deploy.tansu import ThrowawayBroker, create_topics, free_port
    from tests.integration.kafka_support import drain, unique_tag

    run = CliRunner().invoke
    data, key, topic = tmp_path / "d", tmp_path / "k", f"{unique_tag()}.audit.v1"
    base = ["--data-dir", str(data), "audit"]
    keygen(key)
    down = f"127.0.0.1:{free_port()}"

    def report():
        r = run(app, ["--data-dir", str(data), "case", "report", "--channel", "patrol",
                      "--category", "E0102", "--grid", "44030301000101", "--actor", "sup_zhang"])
        assert r.exit_code == 0, r.output

    report()
    r = run(app, [*base, "sign", "--key", str(key), "--bootstrap", down, "--topic", topic, "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["signed"]["size"] == 1, r.output
    report()
    r = run(app, [*base, "head", "--key", str(key), "--publish", down, "--topic", topic])
    assert r.exit_code == 1 and "the head is stored" in r.stderr, r.output
    cg = bootstrap(data_dir=data, city=city())
    assert [h.size for h in unpublished(cg.sql)] == [1, 2]
    with ThrowawayBroker() as broker:
        create_topics(broker.bootstrap, [topic])
        report()
        r = run(app, [*base, "sign", "--key", str(key), "--bootstrap", broker.bootstrap,
                      "--topic", topic, "--json"])
        assert r.exit_code == 0 and json.loads(r.stdout)["signed"]["size"] == 3, r.output
        assert unpublished(cg.sql) == []
        r = run(app, [*base, "sign", "--key", str(key), "--bootstrap", broker.bootstrap,
                      "--topic", topic])
        assert r.exit_code == 0 and "no new events" in r.stdout, r.output
        r = run(app, [*base, "head", "--key", str(key), "--publish", broker.bootstrap,
                      "--topic", topic])  # on demand, broker up: sent at once
        assert r.exit_code == 0 and unpublished(cg.sql) == [], r.output
        got = drain(broker.bootstrap, topic, expect=4, timeout=20)
    stored = stored_heads(cg.sql)
    cg.close()
    docs = [json.loads(m.value) for m in got]
    assert [(d["size"], d["at"]) for d in docs] == [(h.size, h.at) for h in stored]
    public = load_public(f"{key}.pub")
    assert all(signature_ok(Head(d["size"], bytes.fromhex(d["root_hash"]), d["at"],
                                 bytes.fromhex(d["signature"]), d["key_id"]), public) for d in docs)
