"""Commands as they arrive from an adapter (CLI, HTTP, Kafka), before validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID


@dataclass
class ReportCase:
    """上报: a new problem through a channel."""

    channel: str
    category: str
    grid: str
    actor: str
    occurred_at: datetime | None = None
    description: str = ""
    urgency: str = "normal"
    lat: float | None = None
    lon: float | None = None
    evidence: list[str] = field(default_factory=list)
    external_id: str | None = None
    case_id: UUID | None = None  # set by importers that keep their own ids
    source_due_at: datetime | None = None  # the source system's own due time (imports)
    history_from: datetime | None = None  # an import mapping's own earliest business time
    idempotency_key: str | None = None  # the client's: a resend returns the same case
    reporter_name: str | None = None  # citizen / hotline reports: protected contact (回访)
    reporter_phone: str | None = None


@dataclass
class CaseAction:
    """Any lifecycle step on an existing case (核实, 立案, 派遣, …, 督办)."""

    case_id: UUID
    trigger: str
    actor: str
    occurred_at: datetime | None = None
    unit: str | None = None
    passed: bool | None = None
    approved: bool | None = None
    reason: str | None = None
    evidence: list[str] = field(default_factory=list)
    extra: str | None = None  # extension asked for: '2h', '3d' (working time)
    closure_type: str | None = None
    rating: str | None = None
    comment: str | None = None  # 回访: the citizen's words
    expected_version: int | None = None  # the version the actor saw: refuse if it moved on
    history_from: datetime | None = None  # an import mapping's own earliest business time
    idempotency_key: str | None = None  # the client's: a resend of a recorded step is a no-op
    into: str | None = None  # merge (合并): the original case this one repeats (its id)
    assist: list[str] | None = None  # dispatch: assisting units (协办), besides the lead
    assignee: str | None = None  # assign (指派到人): the unit member


Command = ReportCase | CaseAction
