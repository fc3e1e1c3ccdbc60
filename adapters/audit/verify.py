"""`audit verify` (审计核验): recompute every leaf from the live event table, compare it
with the leaves logged, and check every stored head's root and signature.

The first bad position is named with its event (case id, version) and what happened
there: `changed` (a field of the event differs), `deleted` (a logged event is gone),
`inserted` (an event the log never held), `reordered` (a logged event at another place
in the log), `leaf_table` (our own leaf rows edited). A head is `bad_signature`
(not signed by the key given: a wrong key or an edited head) or `bad_root` (its root is
not the live tree's of that size)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from adapters.audit.heads import key_id, signature_ok, stored_heads
from adapters.audit.log import Leaf, leaves
from adapters.audit.merkle import Tree
from adapters.audit.rows import EventRows, Seen, seen
from adapters.storage.sql import Sql


@dataclass(frozen=True)
class Problem:
    kind: str
    position: int
    notification_id: int | None = None
    case_id: str | None = None
    version: int | None = None
    detail: str = ""


@dataclass
class Report:
    events: int = 0
    leaves: int = 0
    heads: int = 0
    pending: int = 0  # events after the last leaf: not logged yet
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"ok": self.ok, "events": self.events, "leaves": self.leaves,
                "heads": self.heads, "pending": self.pending,
                "problems": [asdict(p) for p in self.problems]}


def first_mismatch(live: list[Seen], logged: list[Leaf]) -> Problem | None:
    """The first position where the live log and the logged leaves part, told apart by
    the events' identities (case id, version) on either side of it."""
    logged_at = {(leaf.originator_id, leaf.version): leaf.position for leaf in logged}
    live_at = {(r.originator_id, r.version): i for i, r in enumerate(live)}
    for p, leaf in enumerate(logged):
        if leaf.position != p:
            return Problem("leaf_table", p, leaf.notification_id, leaf.originator_id,
                           leaf.version, f"leaf row {p} missing or renumbered")
        if p >= len(live):
            return Problem("deleted", p, leaf.notification_id, leaf.originator_id, leaf.version)
        row = live[p]
        want, got = (leaf.originator_id, leaf.version), (row.originator_id, row.version)
        if want == got:
            if row.notification_id == leaf.notification_id and row.leaf() == leaf.leaf_hash:
                continue
            return Problem("changed", p, row.notification_id, *got)
        return _parted(p, row, leaf, live, logged, live_at, logged_at)
    return None


def _parted(p: int, row: Seen, leaf: Leaf, live: list[Seen], logged: list[Leaf],
            live_at: dict, logged_at: dict) -> Problem:
    want, got = (leaf.originator_id, leaf.version), (row.originator_id, row.version)
    if live_at.get(want, p) != p and logged_at.get(got, p) != p:
        return Problem("reordered", p, row.notification_id, *got,
                       f"logged at position {logged_at[got]}")
    after = live[p + 1] if p + 1 < len(live) else None
    if after is not None and (after.originator_id, after.version) == want:
        return Problem("inserted", p, row.notification_id, *got)
    nxt = logged[p + 1] if p + 1 < len(logged) else None
    if want not in live_at and nxt is not None and (nxt.originator_id, nxt.version) == got:
        return Problem("deleted", p, leaf.notification_id, *want)
    if want not in live_at and got not in logged_at:
        return Problem("changed", p, row.notification_id, *got, "its case id or version")
    return Problem("changed", p, row.notification_id, *got)


def verify(sql: Sql, events: EventRows, public: Ed25519PublicKey) -> Report:
    live = [seen(r) for r in events.all()]  # the states are not kept
    logged = leaves(sql)
    report = Report(events=len(live), leaves=len(logged))
    last_id = logged[-1].notification_id if logged else 0
    report.pending = sum(1 for r in live if r.notification_id > last_id)
    problem = first_mismatch(live, logged)
    if problem is not None:
        report.problems.append(problem)
    tree = Tree([r.leaf() for r in live])
    heads = stored_heads(sql)
    report.heads = len(heads)
    kid = key_id(public)
    for head in heads:
        if not signature_ok(head, public):
            why = "signed by another key" if head.key_id != kid else "signature does not match"
            report.problems.append(Problem("bad_signature", head.size, detail=f"head at {head.at}: {why}"))
        elif head.size > len(live) or tree.root(head.size) != head.root_hash:
            report.problems.append(Problem("bad_root", head.size,
                                           detail=f"head at {head.at}: root differs from the live tree"))
    return report
