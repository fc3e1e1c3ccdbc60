"""The soak test's final checks, each returning the problems it found (empty: it holds):
every acknowledged write present once, projections equal to a rebuild, the outbound topic
complete and in order per case, and `casegrid audit verify` passing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from adapters.bootstrap import Casegrid
from domain.case_base import CaseEvent
from tests.integration.kafka_support import drain
from tests.soak.load import EVENT_OF, Ledger

ROOT = Path(__file__).resolve().parents[2]
PAGE = 5000


@dataclass
class Stored:
    """Every case event in the store, read back from the event log: the events of case
    aggregates (the mixins' too: 签收 Accepted, 协办, 回访, 合并), not patrol days."""

    cases: dict[str, list] = field(default_factory=lambda: defaultdict(list))  # id -> events
    positions: dict[tuple[str, int], int] = field(default_factory=dict)  # (id, version) -> id

    @property
    def events(self) -> int:
        return len(self.positions)


def read_store(cg: Casegrid) -> Stored:
    out = Stored()
    start = 1
    while True:
        notes = cg.app.recorder.select_notifications(start=start, limit=PAGE)
        for note in notes:
            ev = cg.app.mapper.to_domain_event(note)
            if isinstance(ev, CaseEvent):  # every event of a case, whatever module defines it
                cid = str(ev.originator_id)
                out.cases[cid].append(ev)
                out.positions[(cid, int(ev.originator_version))] = note.id
        if len(notes) < PAGE:
            return out
        start = notes[-1].id + 1


def kind(ev) -> str:
    return type(ev).__name__


def same_time(a: datetime, iso: str) -> bool:
    return a == datetime.fromisoformat(iso)


def check_writes(ledger: Ledger, stored: Stored) -> list[str]:
    """Each acknowledged report and step is in the store exactly once."""
    problems: list[str] = []
    described = Counter(getattr(evs[0], "description", None) for evs in stored.cases.values())
    external = Counter(getattr(evs[0], "external_id", None) for evs in stored.cases.values())
    for key, ack in ledger.reports.items():
        evs = stored.cases.get(ack["case_id"])
        if not evs:
            problems.append(f"HTTP report {key}: acknowledged as case {ack['case_id']}, not stored")
            continue
        reported = [e for e in evs if kind(e) == "Reported"]
        if len(reported) != 1 or reported[0].description != f"soak {key}":
            problems.append(f"HTTP report {key}: case {ack['case_id']} has {len(reported)} "
                            f"Reported events ({[e.description for e in reported]})")
        if described[f"soak {key}"] != 1:
            problems.append(f"HTTP report {key}: {described[f'soak {key}']} cases carry it")
    for step in ledger.steps:
        evs = stored.cases.get(step["case_id"], [])
        hits = [e for e in evs if kind(e) == EVENT_OF[step["trigger"]]
                and e.actor == step["actor"] and same_time(e.occurred_at, step["at"])]
        if len(hits) != 1:
            problems.append(f"{step['trigger']} of {step['case_id']} at {step['at']} "
                            f"(acknowledged, version {step['version']}): stored {len(hits)} times")
    for upd in ledger.unit_updates:
        evs = stored.cases.get(upd["case_id"], [])
        hits = [i for i, e in enumerate(evs) if kind(e) == EVENT_OF[upd["trigger"]]
                and e.actor == upd["actor"] and same_time(e.occurred_at, upd["at"])]
        if len(hits) != 1:
            problems.append(f"Kafka unit update {upd['trigger']} of {upd['case_id']} at "
                            f"{upd['at']} (acked): stored {len(hits)} times")
    order = defaultdict(list)  # a case's unit updates apply in the order they were sent
    for upd in ledger.unit_updates:
        order[upd["case_id"]].append(EVENT_OF[upd["trigger"]])
    for cid, sent in order.items():
        got = [kind(e) for e in stored.cases.get(cid, []) if kind(e) in set(sent)]
        if got != sent:
            problems.append(f"case {cid}: unit updates sent {sent}, stored {got}")
    per_case = Counter((s["case_id"], s["trigger"]) for s in ledger.steps)
    for (cid, trigger), n in per_case.items():
        stored_n = sum(1 for e in stored.cases.get(cid, []) if kind(e) == EVENT_OF[trigger])
        if stored_n != n:
            problems.append(f"case {cid}: {n} acknowledged {trigger}, {stored_n} stored")
    for xid, ack in ledger.kafka.items():
        evs = stored.cases.get(ack["case_id"])
        if not evs:
            problems.append(f"Kafka report {xid} (acked {ack['sends']}x): case {ack['case_id']} "
                            "not stored")
            continue
        reported = [e for e in evs if kind(e) == "Reported"]
        if len(reported) != 1 or external[xid] != 1:
            problems.append(f"Kafka report {xid}: {len(reported)} Reported events, "
                            f"{external[xid]} cases carry it")
    return problems


def dead_letters(cg: Casegrid) -> list[str]:
    """Every message the load sends is valid: a dead letter means one was applied wrongly
    (e.g. a unit's resolve before its accept)."""
    rows = cg.sql.query("SELECT topic, partition_id, kafka_offset, error_kind, error"
                        " FROM cg_kafka_dead_letters")
    return [f"dead letter {t}/{p}@{o} {k}: {e}" for t, p, o, k, e in rows]


def projection_tables(cg: Casegrid) -> dict[str, list]:
    """Every row of every projection's tables, in a stable order. A scoreboard count that
    went to zero is left out (a rebuild never writes it)."""
    out: dict[str, list] = {}
    for name, proj in cg.projections.projections.items():
        for table in proj.tables:
            q = (f"SELECT * FROM {table}" if table != "cg_sb_counts" else
                 "SELECT day, dim, key, name, n FROM cg_sb_counts WHERE n <> 0")
            rows = cg.sql.query(q)
            out[f"{name}.{table}"] = sorted(rows, key=repr)
    return out


def check_projections(cg: Casegrid) -> tuple[list[str], int]:
    """The projections as the followers left them equal a rebuild from the log."""
    followed = projection_tables(cg)
    cg.projections.rebuild()
    rebuilt = projection_tables(cg)
    problems = []
    for table, rows in rebuilt.items():
        got = followed.get(table, [])
        if got != rows:
            extra = [r for r in got if r not in rows][:3]
            lacking = [r for r in rows if r not in got][:3]
            problems.append(f"{table}: followed {len(got)} rows, rebuilt {len(rows)}; "
                            f"only followed {extra}; only rebuilt {lacking}")
    return problems, sum(len(r) for r in rebuilt.values())


def check_outbound(bootstrap: str, topic: str, stored: Stored) -> tuple[list[str], int]:
    """The whole outbound topic, from the start, checked against the store."""
    # the publisher has caught up before this runs: everything is on the broker already
    records = drain(bootstrap, topic, expect=stored.events, timeout=30.0, quiet=3.0)
    return outbound_problems([(r.key, r.value) for r in records], stored), len(records)


def outbound_problems(records: list[tuple[bytes, bytes]], stored: Stored) -> list[str]:
    """Every stored case event is on the topic (key: its case), and each case's events
    (duplicates by id dropped, the first copy kept) come in stream order 1, 2, 3, …"""
    seen: dict[str, list[int]] = defaultdict(list)
    ids: set[str] = set()
    problems: list[str] = []
    for key, value in records:
        env = json.loads(value)
        if env["id"] in ids:
            continue
        ids.add(env["id"])
        cid, v = env["case_id"], env["stream_version"]
        if key.decode() != cid:
            problems.append(f"event {env['id']}: key {key!r}, case {cid}")
        if stored.positions.get((cid, v)) != env["position"]:
            problems.append(f"case {cid} v{v}: position {env['position']} on the topic, "
                            f"{stored.positions.get((cid, v))} in the store")
        seen[cid].append(v)
    for cid, evs in stored.cases.items():
        want = [int(e.originator_version) for e in evs]
        if seen.get(cid) != want:
            missing = [f"v{e.originator_version} {kind(e)}" for e in evs
                       if int(e.originator_version) not in (seen.get(cid) or [])]
            problems.append(f"case {cid}: versions on the topic {seen.get(cid)}, stored {want}"
                            + (f"; missing {', '.join(missing)}" if missing else ""))
    for cid in set(seen) - set(stored.cases):
        problems.append(f"case {cid}: on the topic, not in the store")
    return problems


def log_findings(logs: Path) -> dict[str, int]:
    """Lines in the processes' logs that a healthy run should not have, counted by kind:
    false projection stalls, tracebacks, connections refused by PostgreSQL."""
    marks = {"projection_stalled": '"projection_stalled"', "traceback": "Traceback (most recent",
             "too_many_clients": "too many clients"}
    found = dict.fromkeys(marks, 0)
    for log in sorted(logs.glob("*.log")):
        text = log.read_text(errors="replace")
        for name, mark in marks.items():
            found[name] += text.count(mark)
    return found


def check_audit_topic(bootstrap: str, topic: str, cg: Casegrid) -> tuple[list[str], int]:
    """Every signed head stored is also on the audit topic (a copy outside the database)."""
    stored = {(int(size), root, at) for size, root, at in cg.sql.query(
        "SELECT size, root_hash, at FROM cg_audit_heads")}
    records = drain(bootstrap, topic, expect=len(stored), timeout=30.0, quiet=2.0)
    published = set()
    for rec in records:
        head = json.loads(rec.value)
        published.add((int(head["size"]), head["root_hash"], head["at"]))
    missing = sorted(stored - published)
    problems = [f"head size {s} at {at}: stored, not on {topic}" for s, _, at in missing[:10]]
    if published - stored:
        problems.append(f"{len(published - stored)} heads on {topic} that are not stored")
    return problems, len(records)


def audit_verify(env: dict[str, str], pub: Path, strict: bool) -> tuple[int, dict]:
    """`casegrid audit verify --json` as an operator runs it (`--strict`: every event under
    a signed head, where this checkout has it): exit code and report."""
    res = subprocess.run([sys.executable, "-m", "adapters.cli", "audit", "verify", "--key",
                          str(pub), "--json", *(["--strict"] if strict else [])], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=300)
    try:
        report = json.loads(res.stdout)
    except json.JSONDecodeError:
        report = {"stdout": res.stdout[-2000:], "stderr": res.stderr[-2000:]}
    return res.returncode, report
