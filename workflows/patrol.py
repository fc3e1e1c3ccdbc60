"""Patrol report service: daily reports and nil reports (零报告), and the cut-off tick.

Validates, then records PatrolDay events through the same eventsourcing application as
the cases. Configuration: the optional `patrol:` section of the city file (read from
`city.raw`, see docs/reports.md); without it the 000_…txt defaults apply (17:00 cut-off,
summary by 09:00, every calendar day).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import structlog
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from domain import validate
from domain.calendar import parse_hours
from domain.city import City
from domain.errors import ConfigError, ConflictError, RefusedError, ValidationError
from domain.patrol import PatrolDay, patrol_day_id
from domain.times import check_business_time, parse_day, parse_time

log = structlog.get_logger("casegrid.patrol")

REPORTER_ROLES = ("supervisor", "unit_member", "acceptor", "duty_chief")


@dataclass(frozen=True)
class PatrolRules:
    cut_off: time = time(17, 0)  # 当日下午5时
    summary_by: time = time(9, 0)  # 次日上午9时前汇总公示
    days: str = "all"  # all: every calendar day; workdays: the calendar's working days
    start: date | None = None  # first day the rule applies (the tick looks no further back)
    lookback_days: int = 31  # without start: how far back the tick looks

    def applies(self, city: City, d: date) -> bool:
        if self.start and d < self.start:
            return False
        return self.days == "all" or city.calendar.is_workday(d)

    def cut_off_at(self, city: City, d: date) -> datetime:
        return datetime.combine(d, self.cut_off, city.tz)


def patrol_rules(city: City) -> PatrolRules:
    raw = city.raw.get("patrol") if isinstance(city.raw, dict) else None
    if raw is None:
        return PatrolRules()
    if not isinstance(raw, dict):
        raise ConfigError("patrol", "must be a mapping")
    out = {}
    for key in ("cut_off", "summary_by"):
        if key in raw:
            try:
                out[key] = parse_hours([[raw[key], "23:59"]])[0][0]
            except ValueError:
                raise ConfigError(f"patrol.{key}", f"'{raw[key]}' is not a clock time HH:MM") from None
    if "days" in raw:
        if raw["days"] not in ("all", "workdays"):
            raise ConfigError("patrol.days", "must be 'all' or 'workdays'")
        out["days"] = raw["days"]
    if raw.get("start") is not None:
        try:
            out["start"] = date.fromisoformat(str(raw["start"]))
        except ValueError:
            raise ConfigError("patrol.start", f"'{raw['start']}' is not a date YYYY-MM-DD") from None
    if "lookback_days" in raw:
        n = raw["lookback_days"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError("patrol.lookback_days", "must be a whole number of days ≥ 1")
        out["lookback_days"] = n
    return PatrolRules(**out)


class PatrolService:
    def __init__(self, app, city: City, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 retries: int = 8):
        self.app = app
        self.city = city
        self.rules = patrol_rules(city)
        self.clock = clock
        self.retries = retries

    # ------------------------------------------------------------------ reads

    def get(self, squad: str, day: date) -> PatrolDay | None:
        try:
            return self.app.repository.get(patrol_day_id(squad, day))
        except AggregateNotFoundError:
            return None

    # ------------------------------------------------------------------ writes

    def report(self, *, squad: str, day: date | str, actor: str, nil: bool = False,
               case_ids: list[str] | None = None, findings: int | None = None, note: str = "",
               at: datetime | None = None, idempotency_key: str | None = None) -> PatrolDay:
        """巡查日报: record the day's findings, or (nil=True) an explicit nil report. With an
        idempotency key and `at`, a resend of a report already recorded answers that day."""
        key = validate.key(idempotency_key)
        self._squad(squad)
        d = parse_day(day, "date")
        user = self.city.user(actor) if actor else None
        if user is None:
            raise ValidationError("actor", "is required")
        if user.role not in REPORTER_ROLES:
            raise RefusedError(
                f"refused: a patrol report comes from roles {', '.join(REPORTER_ROLES)},"
                f" not '{user.role}'", state="patrol_day", trigger="patrol_report", role=user.role)
        if user.role in ("supervisor", "unit_member") and user.squad != squad:
            raise RefusedError(
                f"refused: '{user.id}' belongs to squad '{user.squad}', not '{squad}'",
                state="patrol_day", trigger="patrol_report", role=user.role)
        now = self.clock()
        intake = self.city.intake
        if d < intake.history_from.date():
            raise ValidationError("date", f"{d} is before {intake.history_from.date()}, the "
                                          "earliest business day accepted (history_from)")
        when = now if at is None else check_business_time(
            parse_time(at, "at", self.city.tz), "at", now=now, earliest=intake.history_from,
            future_skew=intake.future_skew)
        if d > when.astimezone(self.city.tz).date():
            raise ValidationError("date", f"{d} is in the future; report a day once it has begun")
        if case_ids is not None and not isinstance(case_ids, (list, tuple)):
            raise ValidationError("case_ids", "must be a list of case ids")
        if case_ids and len(case_ids) > 500:
            raise ValidationError("case_ids", f"has {len(case_ids)} ids; at most 500")
        ids = [validate.identifier(c, f"case_ids[{i}]") or "" for i, c in enumerate(case_ids or [])]
        ids = [c for c in ids if c]
        if nil and (ids or findings):
            raise ValidationError("nil", "a nil report (零报告) lists no findings")
        n = 0 if nil else (findings if findings is not None else len(ids))
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 100_000:
            raise ValidationError("findings", "must be a whole number from 0 to 100000")
        if not nil and n == 0:
            raise ValidationError("findings", "a report without findings is a nil report: use --nil")
        note = validate.text(note, "note", limit=intake.max_description) or ""

        def once():
            held = self.get(squad, d)
            if (key and at is not None and held is not None and held.reporter == user.id
                    and held.reported_at == when):
                return held  # the field app's resend: already recorded
            pd = held or PatrolDay.open(
                squad, d, self.rules.cut_off_at(self.city, d), when)
            pd.report(at=when, actor=user.id, role=user.role, nil=nil, case_ids=ids, findings=n,
                      note=note.strip())
            self.app.save(pd)
            return pd

        pd = self._retrying(once)
        log.info("patrol_reported", squad=squad, day=d.isoformat(), nil=nil, findings=n,
                 late=pd.reported_at > pd.cut_off, actor=user.id)
        return pd

    def tick(self, now: datetime, *, since: date | None = None) -> list[PatrolDay.PatrolReportMissed]:
        """Record PatrolReportMissed for every squad-day whose cut-off has passed unreported."""
        if now.tzinfo is None:
            now = now.replace(tzinfo=self.city.tz)
        today = now.astimezone(self.city.tz).date()
        first = since or self.rules.start or today - timedelta(days=self.rules.lookback_days)
        if self.rules.start and first < self.rules.start:
            first = self.rules.start
        recorded = []
        d = first
        while d <= today:
            if self.rules.applies(self.city, d) and now > self.rules.cut_off_at(self.city, d):
                for squad in self.city.squads:
                    recorded += self._miss(squad, d, now)
            d += timedelta(days=1)
        for e in recorded:
            log.info("patrol_report_missed", squad=e.squad, day=e.day, cut_off=e.cut_off.isoformat())
        return recorded

    def _miss(self, squad: str, d: date, now: datetime) -> list:
        def once():
            pd = self.get(squad, d)
            cut = self.rules.cut_off_at(self.city, d)
            if pd is None:
                pd = PatrolDay.open(squad, d, cut, cut)
            if not pd.miss(now):
                return []
            events = [e for e in pd.pending_events if isinstance(e, PatrolDay.PatrolReportMissed)]
            self.app.save(pd)
            return events

        return self._retrying(once)

    def _retrying(self, fn):
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except IntegrityError:
                log.info("version_conflict_retry", attempt=attempt + 1)
        raise ConflictError(f"conflict: patrol day kept changing; gave up after {self.retries} retries")

    def _squad(self, squad: str) -> None:
        if squad not in self.city.squads:
            raise ValidationError("squad", f"unknown squad '{squad}'; one of "
                                  f"{', '.join(self.city.squads)}")
