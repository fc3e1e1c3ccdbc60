"""Every case event goes out, the mixins' too (found by the soak, docs/soak.md).

签收 `Accepted`, `ContactGiven`, the 协办 and merge events are defined in mixins of `Case`
and stored under their own module's topic; the publisher used to send only topics under
`domain.case:Case.`, so a consumer saw gaps in a case's stream versions. Here a citizen's
case (its contact given) is dispatched with an assisting unit, accepted, another report is
merged into it, and the topic must hold every stored version of both cases, in order, with
the contact never in the data.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from kafka import KafkaProducer

from adapters.kafka.outbound import CASE_TOPICS, OutboundPublisher, producer_config
from adapters.kafka.worker import open_store
from deploy.tansu import ThrowawayBroker, create_topics
from tests.integration.kafka_support import drain, topics_for, unique_tag
from tests.support import T0, act, city, report

pytestmark = pytest.mark.kafka

PHONE = "13800138000"


def test_mixin_events_are_published_without_gaps_and_without_contact(tmp_path):
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
           "SQLITE_DBNAME": str(tmp_path / "casegrid.sqlite")}
    app, svc, _sql = open_store(env=env, city=city())
    case = report(svc, "citizen", reporter_name="李四", reporter_phone=PHONE)
    t = T0
    for trigger, actor, fields in [("verify", "sup_zhang", {"passed": True}), ("file", "acc_wang", {}),
                                   ("dispatch", "disp_chen", {"assist": ["gaj"]}),
                                   ("accept", "hw_luo", {})]:
        t += timedelta(minutes=1)
        act(svc, case, trigger, actor, t, **fields)
    dup = report(svc, "patrol", at=t)
    act(svc, dup, "merge", "acc_wang", t + timedelta(minutes=1), reason="重复上报",
        into=str(case.id))
    stored = {}
    for note in app.recorder.select_notifications(start=1, limit=1000):
        stored.setdefault(str(note.originator_id), []).append((note.originator_version, note.topic))
    topics = {topic for versions in stored.values() for _, topic in versions}
    assert not topics - CASE_TOPICS, topics - CASE_TOPICS
    assert any("case_accept" in t for t in topics) and any("case_merge" in t for t in topics)

    with ThrowawayBroker() as broker:
        tag = unique_tag()
        topic = topics_for(tag)["case_events"]
        create_topics(broker.bootstrap, [topic], partitions=1)
        producer = KafkaProducer(**producer_config(broker.bootstrap, tag))
        try:
            pub = OutboundPublisher(app, producer, topic)
            assert pub.catch_up() >= sum(len(v) for v in stored.values())
        finally:
            producer.close()
            app.close()
        total = sum(len(v) for v in stored.values())
        out = [json.loads(r.value) for r in drain(broker.bootstrap, topic, expect=total, quiet=0.5)]
    got = {}
    for doc in out:
        got.setdefault(doc["case_id"], []).append(doc["stream_version"])
    assert got == {cid: [v for v, _ in versions] for cid, versions in stored.items()}
    types = [doc["type"] for doc in out]
    for name in ("Accepted", "ContactGiven", "AssistRequested", "MergedInto", "DuplicateMerged"):
        assert f"casegrid.case.{name}.v1" in types, name
    raw = json.dumps(out, ensure_ascii=False)
    assert PHONE not in raw and "李四" not in raw
