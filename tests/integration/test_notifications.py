"""Notifications (通知, issue 13 part 4): made once each from the event log and the clock,
on SQLite and PostgreSQL; rules from the city file; SMS numbers masked in the log."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from structlog.testing import capture_logs

from adapters.bootstrap import bootstrap, load_city
from adapters.config.city_build import build_city
from adapters.notify.outbound import message
from adapters.notify.sms import LoggingSms
from adapters.notify.worker import NotifyWorker
from domain.errors import ConfigError, NotFoundError
from domain.notify import mask_phone
from projections.notifications import listing, mark_read, pending
from projections.notifier import Notifier
from tests.support import NOW, T0, act, city, drive, report
from workflows.commands import CaseAction, ReportCase

PHONE = "13812345678"
SCHEMA = Path(__file__).resolve().parents[2] / "adapters" / "schemas" / "notification.v1.json"


def rows(cg) -> list[tuple]:
    return cg.sql.query("SELECT id, recipient_kind, recipient_id, rule, happening FROM"
                        " cg_notifications ORDER BY id")


def restart(cg, env):
    cg.close()
    return bootstrap(env=env, city=city(), clock=lambda: NOW)


def test_each_notification_once_across_restarts_and_crashes(store_env, monkeypatch):
    cg = bootstrap(env=store_env, city=city(), clock=lambda: NOW)
    case = drive(cg.service, "dispatched")
    act(cg.service, case, "urge", "chief_zhao", T0 + timedelta(minutes=5), reason="尽快")
    first = NotifyWorker(cg).run_once(T0)
    made = rows(cg)
    assert first["events"] == 4
    assert {(r[1], r[2], r[3]) for r in made} == {
        ("unit", "hw", "dispatched-unit"), ("unit", "hw", "urged-unit")}

    cg = restart(cg, store_env)  # the worker killed and started again: nothing new
    assert NotifyWorker(cg).run_once(T0)["events"] == 0
    assert rows(cg) == made

    # the position lost (a crash before it was stored): the events again make nothing new
    with cg.sql.transaction() as cur:
        cur.execute("UPDATE cg_tracking SET position = 0 WHERE projection = 'notifications'")
    assert NotifyWorker(cg).run_once(T0)["events"] == 4
    assert rows(cg) == made

    # a crash in the middle of writing a batch: nothing of it stays, the next run makes it
    act(cg.service, case, "urge", "chief_zhao", T0 + timedelta(minutes=6), reason="再催")
    real = Notifier.write

    def crash(self, cur, ops):
        real(self, cur, ops)
        raise RuntimeError("killed mid-batch")

    monkeypatch.setattr(Notifier, "write", crash)
    worker = NotifyWorker(cg)
    worker.runner.batch = 1
    worker.run_once(T0)  # the runner isolates the failing batch and stalls the notifier
    assert rows(cg) == made
    monkeypatch.setattr(Notifier, "write", real)
    cg = restart(cg, store_env)
    w = NotifyWorker(cg)
    w.runner.retry_now()
    w.run_once(T0)
    again = rows(cg)
    assert len(again) == len(made) + 1
    assert [r[3] for r in again].count("urged-unit") == 2
    cg.close()


def test_due_soon_once_per_due_time(store_env):
    cg = bootstrap(env=store_env, city=city(), clock=lambda: NOW)
    case = drive(cg.service, "dispatched")  # E0102 resolve: 4 working hours, due 15:02
    w = NotifyWorker(cg)
    assert w.run_once(T0 + timedelta(hours=2))["due_soon"] == 0  # 11:00: 3 h left
    assert w.run_once(T0.replace(hour=14, minute=10))["due_soon"] == 1  # 52 working min
    assert w.run_once(T0.replace(hour=14, minute=30))["due_soon"] == 0
    cg = restart(cg, store_env)
    w = NotifyWorker(cg)
    assert w.run_once(T0.replace(hour=14, minute=40))["due_soon"] == 0
    soon = [r for r in rows(cg) if r[4] == "due_soon"]
    assert [(r[1], r[2]) for r in soon] == [("unit", "hw")]
    text = cg.sql.query("SELECT text_zh FROM cg_notifications WHERE happening = 'due_soon'")
    assert "15:02" in text[0][0] and "52" in text[0][0]
    # an extension moves the due time: one more notice, for the new due time
    at = T0.replace(hour=14, minute=45)
    act(cg.service, case, "request_extension", "hw_luo", at, extra="1d", reason="需协调")
    act(cg.service, case, "decide_extension", "chief_zhao", at + timedelta(minutes=1),
        approved=True)
    due = cg.app.repository.get(case.id).due_at
    w.run_once(due - timedelta(minutes=30))
    w.run_once(due - timedelta(minutes=20))
    assert len([r for r in rows(cg) if r[4] == "due_soon"]) == 2
    cg.close()


@pytest.mark.skipif("reporter_phone" not in ReportCase.__dataclass_fields__,
                    reason="the reporter's contact (issue 13 part 2) is not in this build")
def test_reporter_told_only_with_contact_and_sms_masks_the_number(sqlite_env):
    cg = bootstrap(env=sqlite_env, city=city(), clock=lambda: NOW)
    silent = report(cg.service, "citizen")
    told = report(cg.service, "citizen", reporter_name="王先生", reporter_phone=PHONE)
    sms = LoggingSms()
    with capture_logs() as logs:
        NotifyWorker(cg, sms=sms).run_once(T0)
    got = cg.sql.query("SELECT recipient_kind, recipient_id, rule, text_zh, text_en,"
                       " sms_due FROM cg_notifications")
    assert [(k, i, r) for k, i, r, *_ in got] == [("reporter", str(told.id), "received-reporter")]
    assert str(silent.id) not in repr(got)
    assert PHONE not in repr(got) and "王先生" not in repr(got)
    assert got[0][5] == 0 and sms.sent == 1
    sent = [e for e in logs if e["event"] == "sms_sent"]
    assert sent and sent[0]["to"] == "138****5678"
    assert PHONE not in repr(logs)
    assert mask_phone("+86 138-1234-5678") == "138****5678"
    assert mask_phone("12345") == "*****"
    cg.close()


def test_unit_and_role_lists_and_read_marks(sqlite_env):
    cg = bootstrap(env=sqlite_env, city=city(), clock=lambda: NOW)
    case = drive(cg.service, "dispatched")
    NotifyWorker(cg).run_once(T0)
    hw, cg_liu, chief = (cg.city.users[u] for u in ("hw_luo", "cg_liu", "chief_zhao"))
    mine = listing(cg.sql, hw)
    assert mine["unread"] == 1 and mine["items"][0]["rule"] == "dispatched-unit"
    assert listing(cg.sql, cg_liu)["total"] == 0
    assert listing(cg.sql, hw, channel="field")["total"] == 1
    nid = mine["items"][0]["id"]
    with pytest.raises(NotFoundError):
        mark_read(cg.sql, cg_liu, nid, NOW)
    assert mark_read(cg.sql, hw, nid, NOW) == 1
    assert listing(cg.sql, hw)["unread"] == 0
    cg.service.tick(T0 + timedelta(days=3), [str(case.id)])  # 超时: the unit and the chief
    NotifyWorker(cg).run_once(T0)
    assert listing(cg.sql, chief)["items"][0]["happening"] == "overdue"
    assert listing(cg.sql, hw)["unread"] == 1
    cg.close()


def _bad(path: list, value, drop: str | None = None):
    raw = copy.deepcopy(load_city().raw)
    node = raw.setdefault("notifications", {"rules": [
        {"id": "a", "on": "dispatched", "to": "unit", "channels": ["console"]}]})
    for k in path[:-1]:
        node = node[k]
    if drop:
        node[path[-1]].pop(drop)
    else:
        node[path[-1]] = value
    with pytest.raises(ConfigError) as e:
        build_city(raw)
    return e.value.field, e.value.rule


@pytest.mark.parametrize(("path", "value", "field", "words"), [
    (["rules", 0, "on"], "sometimes", "notifications.rules[0].on", "is not one of"),
    (["rules", 0, "to"], "mayor", "notifications.rules[0].to", "must be one of"),
    (["rules", 0, "channels"], ["fax"], "notifications.rules[0].channels", "'fax'"),
    (["rules", 0, "channels"], [], "notifications.rules[0].channels", "non-empty"),
    (["rules", 0, "template"], {"zh": "{phone}"}, "notifications.rules[0].template.zh",
     "{phone}"),
    (["rules", 0, "template"], {"zh": "x" * 501}, "notifications.rules[0].template.zh",
     "at most 500"),
    (["rules", 0, "minutes_before"], "1h", "notifications.rules[0].minutes_before",
     "due_soon only"),
    (["rules", 1, "id"], "dispatched-unit", "notifications.rules[1].id", "appears twice"),
    (["rules", 1, "minutes_before"], "1e400m", "notifications.rules[1].minutes_before", ""),
    (["rules", 0, "id"], "a b\x00", "notifications.rules[0].id", "letters"),
    (["sms", "gateway"], "carrier-pigeon", "notifications.sms.gateway", "is not one of"),
    (["sms", "numbers"], {"unit:nope": ["13800000000"]}, "notifications.sms.numbers.unit:nope",
     "unit id"),
    (["sms", "numbers"], {"unit:hw": ["call me"]}, "notifications.sms.numbers.unit:hw",
     "phone numbers"),
])
def test_bad_rules_are_refused_by_field(path, value, field, words):
    got_field, rule = _bad(path, value)
    assert got_field == field and words in rule


def test_due_soon_needs_minutes_and_reporter_not_told_of_overdue():
    assert _bad(["rules", 1], None, drop="minutes_before") == (
        "notifications.rules[1].minutes_before", "is required for on: due_soon")
    assert _bad(["rules", 2, "to"], "reporter")[0] == "notifications.rules[2].to"


def test_sample_rules_and_yaml_on_key():
    rules = {r.id: r for r in city().notify.rules}
    assert rules["due-soon-unit"].minutes_before == 60
    assert rules["overdue-chief"].to == "role:duty_chief"
    assert city().notify.sms_gateway == "log"
    assert CaseAction  # the commands the tests drive


@pytest.mark.skipif("reporter_phone" not in ReportCase.__dataclass_fields__,
                    reason="the reporter's contact (issue 13 part 2) is not in this build")
def test_a_citizens_case_tells_the_reporter_unit_and_desk(store_env):
    """Received, dispatched and closed to the reporter (by SMS, masked in the log), the
    unit's dispatch and closure, the callback (回访) to the acceptor's desk."""
    cg = bootstrap(env=store_env, city=city(), clock=lambda: NOW)
    case = report(cg.service, "hotline", reporter_name="李女士", reporter_phone=PHONE)
    steps = [("verify", "sup_zhang", {"passed": True}), ("file", "acc_wang", {}),
             ("dispatch", "disp_chen", {}), ("resolve", "hw_luo", {}),
             ("check", "sup_zhang", {"passed": True}), ("close", "acc_wang", {}),
             ("callback", "acc_wang", {"rating": "satisfied", "comment": "很好"})]
    for i, (trigger, actor, fields) in enumerate(steps, start=1):
        act(cg.service, case, trigger, actor, T0 + timedelta(minutes=i), **fields)
    sms = LoggingSms()
    with capture_logs() as logs:
        NotifyWorker(cg, sms=sms).run_once(T0)
    got = sorted((r[1], r[3]) for r in rows(cg))
    assert got == [("reporter", "closed-reporter"), ("reporter", "dispatched-reporter"),
                   ("reporter", "received-reporter"), ("role", "callback-acceptor"),
                   ("unit", "closed-unit"), ("unit", "dispatched-unit")]
    assert sms.sent == 3 and PHONE not in repr(logs)
    assert [e["to"] for e in logs if e["event"] == "sms_sent"] == ["138****5678"] * 3
    dump = repr(cg.sql.query("SELECT * FROM cg_notifications"))
    dump += repr(cg.sql.query("SELECT * FROM cg_notify_cases"))
    assert PHONE not in dump and "李女士" not in dump
    desk = listing(cg.sql, cg.city.users["acc_wang"])
    assert [n["happening"] for n in desk["items"]] == ["callback"]
    cg.close()


def test_events_at_the_edges_of_time_are_notified_not_stalled(store_env):
    """Reports an older version stored (year 1, 9999, at +14:00) become notices with
    their texts; the notifier never stalls on them."""
    from dataclasses import replace
    from datetime import UTC, datetime, timezone
    from uuid import uuid4

    from domain.case import Case
    from domain.notify import Notifying, NotifyRule

    rule = NotifyRule("desk", "received", "role:acceptor", ("console", "kafka"),
                      {"zh": "{number} {category} {due}"})
    cg = bootstrap(env=store_env, city=replace(city(), notify=Notifying((rule,))),
                   clock=lambda: NOW)
    odd = [datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
           datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-12))),
           datetime(1900, 6, 1, tzinfo=UTC)]
    for at in odd:
        case = Case._create(Case.Reported, id=uuid4(), occurred_at=at, actor="sup_zhang",
                            role="supervisor", state="pending_filing", step="file", due_at=at,
                            held_by="role:acceptor", reason=None, channel="patrol",
                            category="E0102", grid="44030301000101", urgency="normal",
                            description="旧版本写入", lat=None, lon=None, evidence=[],
                            external_id=None, source_due_at=None, number=None)
        cg.app.save(case)
    w = NotifyWorker(cg)
    w.run_once(NOW)
    assert w.runner.errors() == {}
    texts = [r[0] for r in cg.sql.query("SELECT text_zh FROM cg_notifications")]
    assert len(texts) == 3 and all("暴露垃圾" in t for t in texts)
    assert listing(cg.sql, cg.city.users["acc_wang"])["total"] == 3
    check = Draft202012Validator(json.loads(SCHEMA.read_text()))
    for n in pending(cg.sql, "kafka"):  # the topic's message of each
        assert not list(check.iter_errors(message(n, cg.city)))
    cg.close()


class _Sent:
    def __init__(self, error=None):
        self.is_done, self.exception = True, error

    def succeeded(self):
        return self.exception is None


class _Producer:
    """Takes every message but one case's (refused for good), or none (the broker away)."""

    def __init__(self, refuse: str | None = None, away: bool = False):
        self.refuse, self.away, self.sent = refuse, away, []

    def send(self, topic, key, value):
        from kafka.errors import KafkaConnectionError, MessageSizeTooLargeError

        if self.away:
            return _Sent(KafkaConnectionError("broker away"))
        if key.decode() == self.refuse:
            return _Sent(MessageSizeTooLargeError("too large"))
        self.sent.append(json.loads(value))
        return _Sent()

    def flush(self, timeout=None):
        return None


def test_the_topic_parks_a_refused_notice_and_waits_out_a_broker_away(sqlite_env):
    from adapters.notify.outbound import NotificationPublisher

    cg = bootstrap(env=sqlite_env, city=city(), clock=lambda: NOW)
    a, b = drive(cg.service, "dispatched"), drive(cg.service, "dispatched")
    w = NotifyWorker(cg)
    w.run_once(T0)
    away = NotificationPublisher(w.sql, cg.city, _Producer(away=True))
    with pytest.raises(Exception, match="broker away"):
        away.step()
    assert w.status()["kafka"] == {"pending": 2, "parked": 0}
    p = _Producer(refuse=str(a.id))
    assert NotificationPublisher(w.sql, cg.city, p).catch_up() == 2
    assert [m["case_id"] for m in p.sent] == [str(b.id)]
    assert w.status()["kafka"] == {"pending": 0, "parked": 1}
    again = _Producer()
    assert NotificationPublisher(w.sql, cg.city, again).catch_up() == 0 and again.sent == []
    cg.close()


@pytest.mark.skipif("reporter_phone" not in ReportCase.__dataclass_fields__,
                    reason="the reporter's contact (issue 13 part 2) is not in this build")
@pytest.mark.parametrize("between", [True, False], ids=["round-between", "one-batch"])
def test_citizens_whose_reports_were_merged_follow_the_original(store_env, between):
    """Two citizens and a supervisor report one problem: the citizens' reports are merged
    into the supervisor's; each citizen is told of its own receipt and of the original's
    dispatch and closure, by SMS to their own phone, once each."""
    cg = bootstrap(env=store_env, city=city(), clock=lambda: NOW)
    original = report(cg.service, "patrol")
    phones = ["13800000001", "13900000002"]
    dups = [report(cg.service, "citizen", at=T0 + timedelta(minutes=1), reporter_name=n,
                   reporter_phone=p) for n, p in zip(("甲", "乙"), phones, strict=True)]
    for i, d in enumerate(dups, start=2):
        act(cg.service, d, "merge", "acc_wang", T0 + timedelta(minutes=i), reason="重复上报",
            into=str(original.id))
    sms = LoggingSms()
    with capture_logs() as logs:
        if between:  # a round between merge and dispatch, or all in one batch
            NotifyWorker(cg, sms=sms).run_once(T0)
        steps = [("file", "acc_wang", {}), ("dispatch", "disp_chen", {}),
                 ("resolve", "hw_luo", {}), ("check", "sup_zhang", {"passed": True}),
                 ("close", "acc_wang", {})]
        for i, (trigger, actor, fields) in enumerate(steps, start=5):
            act(cg.service, original, trigger, actor, T0 + timedelta(minutes=i), **fields)
        NotifyWorker(cg, sms=sms).run_once(T0)
        NotifyWorker(cg, sms=sms).run_once(T0)  # again: nothing new, nothing resent
    told = sorted((r[2], r[3]) for r in rows(cg) if r[1] == "reporter")
    assert told == sorted((str(d.id), rule) for d in dups for rule in (
        "received-reporter", "dispatched-reporter", "closed-reporter"))
    assert sms.sent == 6
    sent = sorted(e["to"] for e in logs if e["event"] == "sms_sent")
    assert sent == ["138****0001"] * 3 + ["139****0002"] * 3
    assert not any(p in repr(logs) for p in phones)
    cg.close()


def test_assisting_units_hear_of_their_request_and_their_own_miss(store_env):
    """协办: the lead and each assisting unit are told of the dispatch; an assisting unit's
    miss is its own notice (and the duty chief's), not the lead's."""
    cg = bootstrap(env=store_env, city=city(), clock=lambda: NOW)
    case = drive(cg.service, "pending_dispatch")
    case = act(cg.service, case, "dispatch", "disp_chen", T0 + timedelta(minutes=5),
               assist=["cgj", "gs"])
    if not hasattr(case, "current_assists"):
        pytest.skip("assisting units (issue 13 part 3) are not in this build")
    w = NotifyWorker(cg)
    w.run_once(T0)
    told = sorted((r[2], r[3]) for r in rows(cg))
    assert told == [("cgj", "dispatched-unit"), ("gs", "dispatched-unit"),
                    ("hw", "dispatched-unit")]
    act(cg.service, case, "assist_feedback", "cg_liu", T0 + timedelta(minutes=20),
        comment="已协助清运")
    later = case.current_assists[0]["due_at"] + timedelta(hours=30)
    cg.projections.catch_up()
    from projections.cases import due_case_ids
    cg.service.tick(later, due_case_ids(cg.sql, later))
    w.run_once(T0)
    misses = sorted((r[1], r[2], r[3]) for r in rows(cg) if r[4] == "overdue")
    assert ("unit", "gs", "overdue-unit") in misses and ("role", "duty_chief",
                                                          "overdue-chief") in misses
    assert ("unit", "cgj", "overdue-unit") not in misses
    gs = listing(cg.sql, cg.city.users["gs_ma"])
    assert {n["happening"] for n in gs["items"]} == {"dispatched", "overdue"}
    cg.close()


def test_two_workers_send_each_sms_once_and_a_dead_claim_is_taken_back(sqlite_env,
                                                                       monkeypatch):
    """The server's thread and `notifications run` side by side: each text goes out once;
    a notice claimed by a worker that died mid-send is sent after the claim times out."""
    import threading
    from dataclasses import replace
    from datetime import UTC, datetime

    from adapters.notify.outbound import CLAIM_TIMEOUT, send_sms
    from domain.notify import Notifying
    from projections.notifications import claim

    numbers = {"unit:hw": ("13800000000",)}
    town = replace(city(), notify=Notifying(city().notify.rules, "log", numbers))
    cg = bootstrap(env=sqlite_env, city=town, clock=lambda: NOW)
    for i in range(12):
        drive(cg.service, "dispatched", at=T0 + timedelta(minutes=10 * i))
    NotifyWorker(cg).ensure()
    dead = cg.sql.query("SELECT id FROM cg_notifications WHERE sms_due = 1 ORDER BY id")[0][0]
    assert claim(cg.sql, "sms", dead, datetime.now(UTC))  # a worker that then died
    other = bootstrap(env=sqlite_env, city=town, clock=lambda: NOW)
    gates = [LoggingSms(), LoggingSms()]
    runs = [threading.Thread(target=send_sms, args=(g.sql, town, gate, g.app.repository.get))
            for g, gate in zip((cg, other), gates, strict=True)]
    for r in runs:
        r.start()
    for r in runs:
        r.join(30)
    assert sum(g.sent for g in gates) == 11  # each once; the claimed one waits
    monkeypatch.setattr("adapters.notify.outbound.CLAIM_TIMEOUT", -CLAIM_TIMEOUT)  # old now
    assert send_sms(cg.sql, town, gates[0], cg.app.repository.get) == 1
    assert send_sms(cg.sql, town, gates[0], cg.app.repository.get) == 0
    other.close()
    cg.close()
