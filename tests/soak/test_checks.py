"""The soak test's checkers catch what they are there to catch (no servers: an in-memory
store): an acknowledged write missing or stored twice, an outbound event missing, out of
order or under the wrong key. A checker that cannot fail would make the soak test pass
whatever the stack does."""

from __future__ import annotations

import json
from datetime import timedelta

from adapters.kafka.messages import report_case_id
from adapters.kafka.outbound import envelope
from tests.soak.checks import check_writes, outbound_problems, read_store
from tests.soak.load import Ledger
from tests.support import CATEGORY, GRID, T0, grid
from workflows.commands import CaseAction, ReportCase


def stack():
    """Two cases reported over 'HTTP' (an idempotency key) and one from 'Kafka', one filed;
    the ledger that acknowledges exactly what is stored."""
    cg = grid()
    ledger = Ledger()
    for key in ("k1", "k2"):
        case = cg.service.report(ReportCase(
            channel="patrol", category=CATEGORY, grid=GRID, actor="sup_zhang", occurred_at=T0,
            description=f"soak {key}", idempotency_key=key))
        ledger.reports[key] = {"case_id": str(case.id), "at": T0.isoformat(), "actor": "sup_zhang"}
    for n, (trigger, actor) in enumerate([("file", "acc_wang"), ("dispatch", "disp_chen"),
                                          ("accept", "hw_luo")], start=1):
        at = T0 + timedelta(minutes=5 * n)
        done = cg.service.act(CaseAction(case.id, trigger, actor, at))
        ledger.steps.append({"case_id": str(case.id), "trigger": trigger, "actor": actor,
                             "at": at.isoformat(), "version": done.version})
    cid = report_case_id("soak", "x1")
    cg.service.report(ReportCase(channel="hotline", category=CATEGORY, grid=GRID,
                                 actor="hotline_12345", occurred_at=T0, external_id="x1",
                                 case_id=cid))
    ledger.kafka["x1"] = {"case_id": str(cid), "sends": 2}
    return cg, ledger


def test_the_writes_check_holds_only_when_each_acknowledged_write_is_stored_once():
    cg, ledger = stack()
    stored = read_store(cg)
    assert check_writes(ledger, stored) == []

    ledger.reports["lost"] = {"case_id": "0b7c1a2e-0000-4000-8000-000000000000", "at": "",
                              "actor": "sup_zhang"}
    step = dict(ledger.steps[0], trigger="close")
    ledger.steps.append(step)
    ledger.kafka["x2"] = {"case_id": str(report_case_id("soak", "x2")), "sends": 1}
    problems = check_writes(ledger, stored)
    assert any("HTTP report lost" in p and "not stored" in p for p in problems)
    assert any(p.startswith("close of") and "stored 0 times" in p for p in problems)
    assert any("Kafka report x2" in p for p in problems)

    ledger = stack()[1]
    ledger.unit_updates.append({"case_id": ledger.steps[0]["case_id"], "trigger": "resolve",
                                "actor": "hw_luo", "at": ledger.steps[0]["at"]})
    problems = check_writes(ledger, read_store(cg))
    assert any("Kafka unit update resolve" in p and "stored 0 times" in p for p in problems)
    assert any("unit updates sent ['Resolved'], stored []" in p for p in problems)

    ledger = stack()[1]
    ledger.steps.append(dict(ledger.steps[0]))  # acknowledged twice, stored once
    assert any("2 acknowledged file, 1 stored" in p for p in check_writes(ledger, read_store(cg)))


def records_of(cg) -> list[tuple[bytes, bytes]]:
    notes = cg.app.recorder.select_notifications(start=1, limit=1000)
    out = []
    for note in notes:
        ev = cg.app.mapper.to_domain_event(note)
        out.append((str(ev.originator_id).encode(), json.dumps(envelope(ev, note.id),
                                                               default=str).encode()))
    return out


def test_the_outbound_check_wants_every_event_once_in_case_order():
    cg, _ = stack()
    stored = read_store(cg)
    assert "Accepted" in [type(e).__name__ for evs in stored.cases.values() for e in evs]
    records = records_of(cg)
    assert outbound_problems(records, stored) == []
    accepted = [r for r in records if ".Accepted." in json.loads(r[1])["type"]]
    assert any("versions on the topic [1, 2, 3]" in p  # a 签收 the publisher left out
               for p in outbound_problems([r for r in records if r not in accepted], stored))
    assert outbound_problems(records + records, stored) == []  # repeats (at least once) are fine

    filed = next(i for i, (_, v) in enumerate(records) if ".Filed." in json.loads(v)["type"])
    reported = filed - 1  # the same case's Reported, just before it in the log
    assert any("versions on the topic [1, 3, 4]" in p
               for p in outbound_problems(records[:filed] + records[filed + 1:], stored))
    swapped = list(records)
    swapped[reported], swapped[filed] = swapped[filed], swapped[reported]
    assert any("versions on the topic [2, 1, 3, 4]" in p for p in outbound_problems(swapped, stored))
    wrong_key = [(b"another-case", v) for _, v in records]
    assert any("key b'another-case'" in p for p in outbound_problems(wrong_key, stored))
