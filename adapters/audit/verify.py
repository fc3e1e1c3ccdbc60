"""`audit verify` (审计核验): recompute every leaf from the live event table, compare it
with the leaves logged, and check every stored head's root and signature.

The first bad position is named with its event (case id, version) and what happened
there: `changed` (a field of the event differs), `deleted` (a logged event is gone),
`inserted` (an event the log never held), `reordered` (a logged event at another place
in the log), `leaf_table` (our own leaf rows edited). A head is `bad_signature`
(not accepted by the keyring: an unknown key, an edited head, a time outside its key's
validity), `bad_root` (its root is not the live tree's of that size) or `inconsistent`
(its tree is not an extension of the head signed before it: RFC 9162 §2.1.4 consistency
proof). Events after the last good head are `pending`: not yet covered by a signed head,
named (the first of them), never silently passed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from adapters.audit.heads import Head, stored_heads
from adapters.audit.keys import Keyring
from adapters.audit.log import Leaf, leaves
from adapters.audit.merkle import Tree
from adapters.audit.proofs import consistency_path, verify_consistency
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
    unlogged: int = 0  # events after the last leaf: not logged yet
    pending: int = 0  # events after the last good signed head: not yet covered
    first_pending: Problem | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"ok": self.ok, "events": self.events, "leaves": self.leaves,
                "heads": self.heads, "unlogged": self.unlogged, "pending": self.pending,
                "first_pending": asdict(self.first_pending) if self.first_pending else None,
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


def verify(sql: Sql, events: EventRows, keys: Keyring) -> Report:
    live = [seen(r) for r in events.all()]  # the states are not kept
    logged = leaves(sql)
    report = Report(events=len(live), leaves=len(logged))
    last_id = logged[-1].notification_id if logged else 0
    report.unlogged = sum(1 for r in live if r.notification_id > last_id)
    problem = first_mismatch(live, logged)
    if problem is not None:
        report.problems.append(problem)
    tree = Tree([r.leaf() for r in live])
    heads = stored_heads(sql)
    report.heads = len(heads)
    good = []
    for head in heads:
        why = keys.refusal(head)
        if why is not None:
            report.problems.append(Problem("bad_signature", head.size, detail=f"head at {head.at}: {why}"))
            continue
        good.append(head)
        if head.size > len(live) or tree.root(head.size) != head.root_hash:
            report.problems.append(Problem("bad_root", head.size,
                                           detail=f"head at {head.at}: root differs from the live tree"))
    report.problems.extend(inconsistent_heads(good, [tree, Tree([x.leaf_hash for x in logged])]))
    covered = max((h.size for h in good if h.size <= len(live)
                   and tree.root(h.size) == h.root_hash), default=0)
    report.pending = len(live) - covered
    if report.pending:
        r = live[covered]
        report.first_pending = Problem("pending", covered, r.notification_id, r.originator_id,
                                       r.version, "not yet covered by a signed head")
    return report


def inconsistent_heads(heads: list[Head], trees: list[Tree]) -> list[Problem]:
    """Each head, in the order signed, checked to extend the one before it: a consistency
    proof (RFC 9162 §2.1.4) from a tree whose prefix is the later head, verified against
    both signed roots. A head no tree here reproduces is `bad_root` already."""
    out = []
    ordered = sorted(heads, key=lambda h: (h.at, h.size))
    for a, b in zip(ordered, ordered[1:], strict=False):
        what = f"head at {b.at} (size {b.size}) is not an extension of head at {a.at} (size {a.size})"
        if b.size < a.size:
            out.append(Problem("inconsistent", b.size, detail=f"{what}: the tree shrank"))
            continue
        if a.size == 0:
            continue  # the empty tree is a prefix of every tree
        source = next((t for t in trees if b.size <= len(t.leaves) and t.root(b.size) == b.root_hash),
                      None)
        if source is None:
            continue
        if not verify_consistency(a.size, b.size, a.root_hash, b.root_hash,
                                  consistency_path(source, a.size, b.size)):
            out.append(Problem("inconsistent", b.size, detail=what))
    return out
