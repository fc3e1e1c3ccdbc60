"""The JSON API's request bodies (unknown fields are refused: 422)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from domain.lifecycle import CHANNELS, CLOSURE_TYPES, RATINGS


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(description="User id from the city file, e.g. acc_wang")
    password: str


class ReportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: str = Field(description=", ".join(CHANNELS))
    category: str = Field(description="Category code, e.g. E0102 (暴露垃圾)")
    grid: str = Field(description="14-digit grid cell code")
    description: str = ""
    urgency: str = "normal"
    lat: float | None = None
    lon: float | None = None
    evidence: list[str] = []
    external_id: str | None = None
    at: datetime | None = Field(None, description="Business time (default now); naive = city zone")
    idempotency_key: str | None = Field(
        None, description="The client's key (1-64 of A-Z a-z 0-9 _ -): a resend with the same "
                          "key never makes a second case")
    reporter_name: str | None = Field(
        None, description="citizen, hotline: the reporter's name (protected; at most 40)")
    reporter_phone: str | None = Field(
        None, description="citizen, hotline: the reporter's phone (protected; 5-20 of digits + - "
                          "and spaces)")


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: str | None = Field(None, description="dispatch: member unit (default the routing rule's)")
    passed: bool | None = Field(None, description="verify, check: the outcome")
    approve: bool | None = Field(None, description="decide-extension, decide-shelve: the decision")
    reason: str | None = None
    extra: str | None = Field(None, description="request-extension: working time, e.g. 4h, 2d")
    closure_type: str | None = Field(None, description="close: " + ", ".join(CLOSURE_TYPES))
    rating: str | None = Field(None, description="evaluate, callback: " + ", ".join(RATINGS))
    comment: str | None = Field(None, description="callback (回访): the citizen's comment")
    into: str | None = Field(None, description="merge (合并): the original case this one "
                                               "repeats, its id or readable number")
    assist: list[str] | None = Field(None, description="dispatch: assisting units (协办), "
                                                       "besides the lead unit")
    assignee: str | None = Field(None, description="assign (指派到人): a member of the unit")
    evidence: list[str] = []
    at: datetime | None = Field(None, description="Business time (default now)")
    expected_version: int | None = Field(
        None, description="The case version the client saw; 409 with the current one if stale")
    idempotency_key: str | None = Field(
        None, description="The client's key with `at` unchanged: a resend of a step already "
                          "recorded answers the case as it is")


class PatrolBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    squad: str = Field(description="Squad id (巡查中队), e.g. patrol-1")
    date: str = Field(description="The day reported, YYYY-MM-DD")
    nil: bool = Field(False, description="零报告: nothing found today")
    case_ids: list[str] = []
    findings: int | None = None
    note: str = ""
    at: datetime | None = None
    idempotency_key: str | None = Field(
        None, description="The client's key with `at` unchanged: a resend of a report already "
                          "recorded answers that day")


class CompareBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str
    policy: dict = Field(description="The other policy, as the policy file's mapping")
    base: dict | None = Field(None, description="Base policy mapping (default the current one)")
    now: str | None = None
