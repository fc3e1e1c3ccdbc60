"""Signed heads on Kafka (casegrid.audit.v1): the message fits its published schema and
its signature checks from the message alone; a bad --publish value is refused."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from adapters.audit.heads import Head, keygen, load_private, load_public, signature_ok
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
