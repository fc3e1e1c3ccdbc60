"""A realistic synthetic stretch of city life, driven through the real service (模拟).

Each case gets a script of timed commands drawn from a seeded RNG (channel mix,
refusals, misroutes and returns, extensions, shelving, reworks, late steps, urging);
all scripts are merged in time order and executed in batches, with a deadline tick
at the end of every simulated day. The same seed and start give the same cases.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from uuid import UUID

from domain.city import City
from workflows.commands import CaseAction, Command, ReportCase

CHANNEL_MIX = [("patrol", 55), ("citizen", 14), ("hotline", 16), ("camera", 8),
               ("inspection", 4), ("unit", 3)]
DESCRIPTIONS = ["现场发现", "群众反映", "巡查发现问题", "影响市容", "影响通行", "需尽快处理"]


@dataclass
class SimStats:
    commands: int = 0
    cases: int = 0
    refused: int = 0
    errors: Counter = field(default_factory=Counter)
    deadline_misses: int = 0
    first_errors: list = field(default_factory=list)


class Simulation:
    def __init__(self, city: City, *, seed: int, start: datetime, days: int, end: datetime,
                 locate=None):
        """`locate(cell, fx, fy)`: a point inside the cell for fractions fx, fy in [0, 1)
        (the map's layout); without it a located report lies anywhere in the sample box."""
        self.city = city
        self.locate = locate
        self.rng = random.Random(seed)
        self.start = start
        self.end = min(start + timedelta(days=days), end)
        self.cells = sorted(city.cells)
        self.categories = sorted(city.categories)
        self.users_by_role: dict[str, list[str]] = {}
        for u in sorted(city.users.values(), key=lambda u: u.id):
            self.users_by_role.setdefault(u.role, []).append(u.id)
        self.unit_members: dict[str, list[str]] = {}
        for u in sorted(city.users.values(), key=lambda u: u.id):
            if u.unit:
                self.unit_members.setdefault(u.unit, []).append(u.id)

    # --------------------------------------------------------------- scripts

    def _who(self, role: str) -> str:
        return self.rng.choice(self.users_by_role[role])

    def _after(self, t: datetime, step: str | None, cat: str, urg: str, late_p: float) -> datetime:
        """When the next step happens: within its limit, or late with probability late_p."""
        limit = self.city.limit(step, cat, urg) if step else 60
        limit = limit or 60
        frac = self.rng.uniform(1.05, 2.5) if self.rng.random() < late_p else self.rng.uniform(0.05, 0.9)
        return self.city.calendar.add(t, max(1.0, limit * frac))

    def _report_time(self) -> datetime:
        span = (self.end - self.start).total_seconds()
        day = self.start + timedelta(seconds=self.rng.uniform(0, span))
        hour = self.rng.choice([7, 8, 9, 9, 10, 10, 11, 14, 15, 15, 16, 17, 19, 21])
        t = datetime.combine(day.date(), time(hour, self.rng.randrange(60)), tzinfo=self.city.tz)
        return max(self.start, min(t, self.end - timedelta(minutes=1)))

    def script(self, n: int) -> Iterator[tuple[datetime, int, Command]]:
        rng = self.rng
        for i in range(n):
            cid = UUID(int=rng.getrandbits(128), version=4)
            yield from ((t, i * 100 + k, c) for k, (t, c) in enumerate(self._case(cid)))

    def _case(self, cid: UUID) -> list[tuple[datetime, Command]]:
        rng, city = self.rng, self.city
        out: list[tuple[datetime, Command]] = []
        channel = rng.choices([c for c, _ in CHANNEL_MIX], [w for _, w in CHANNEL_MIX])[0]
        cell = city.cells[rng.choice(self.cells)]
        cat = rng.choice(self.categories)
        urg = "urgent" if rng.random() < 0.1 else "normal"
        rule = city.route(cat, cell)
        right_unit = rule.unit if rule else rng.choice(sorted(city.units))
        actor = {
            "patrol": "supervisor", "citizen": "channel", "hotline": "channel",
            "camera": "system", "inspection": "acceptor", "unit": "unit_member",
        }[channel]
        if channel == "unit":
            who = rng.choice(self.unit_members.get(right_unit) or self.users_by_role["unit_member"])
        elif channel in ("citizen", "hotline"):
            who = "hotline_12345" if channel == "hotline" and "hotline_12345" in city.users else None
            who = who or self._who("channel")
        else:
            who = self._who(actor)
        t = self._report_time()
        out.append((t, ReportCase(
            channel=channel, category=cat, grid=cell.code, actor=who, occurred_at=t,
            description=f"{city.categories[cat].name}，{rng.choice(DESCRIPTIONS)}", urgency=urg,
            lat=round(22.56 + rng.uniform(0, 0.03), 6) if rng.random() < 0.6 else None,
            lon=None, evidence=[f"https://evidence.example/{cid.hex[:12]}/report.jpg"],
            case_id=cid,
        )))
        if out[0][1].lat is not None:
            out[0][1].lon = round(114.11 + rng.uniform(0, 0.03), 6)
            if self.locate is not None:  # the same draws, placed inside the report's cell
                out[0][1].lat, out[0][1].lon = self.locate(
                    cell.code, (out[0][1].lat - 22.56) / 0.03, (out[0][1].lon - 114.11) / 0.03)

        def act(trigger, actor, step, late=0.08, **kw):
            nonlocal t
            t = self._after(t, step, cat, urg, late)
            out.append((t, CaseAction(cid, trigger, actor, t, **kw)))

        if channel in ("citizen", "hotline"):
            ok = rng.random() < 0.9
            act("verify", self._who("supervisor"), "verify", passed=ok,
                reason=None if ok else "现场核实无此问题")
            if not ok:
                act("refuse", self._who("acceptor"), "file", reason="核实不属实，不予立案")
                return out
        if rng.random() < 0.05:
            act("refuse", self._who("acceptor"), "file", reason="重复上报，作废")
            return out
        act("file", self._who(rng.choice(["acceptor", "acceptor", "duty_chief"])), "file")
        if rng.random() < 0.06 and len(self.unit_members) > 1:
            wrong = rng.choice([u for u in sorted(self.unit_members) if u != right_unit])
            act("dispatch", self._who("dispatcher"), "dispatch", unit=wrong, reason="按属地经验派遣")
            act("return", rng.choice(self.unit_members[wrong]), "resolve", late=0.02,
                reason="不属于本单位职责")
        act("dispatch", self._who("dispatcher"), "dispatch", unit=right_unit)
        member = rng.choice(self.unit_members.get(right_unit) or ["?"])
        if member == "?":
            return out
        roll = rng.random()
        if roll < 0.03:
            act("request_shelve", member, "resolve", late=0.0, reason="需列入年度预算，暂无法处置")
            approved = rng.random() < 0.6
            act("decide_shelve", self._who("duty_chief"), "resolve", late=0.0, approved=approved,
                reason="同意挂账" if approved else "不同意挂账，继续处置")
            if approved:
                if rng.random() < 0.5:
                    act("close", self._who("duty_chief"), "close", reason="挂账案件特殊结案")
                return out
        elif roll < 0.11:
            act("request_extension", member, "resolve", late=0.0, reason="需协调施工队伍",
                extra=rng.choice(["4h", "1d", "2d"]))
            ok = rng.random() < 0.75
            act("decide_extension", self._who("duty_chief"), "resolve", late=0.0, approved=ok,
                reason=None if ok else "理由不充分")
        late_resolve = 0.15
        if rng.random() < 0.25:  # the center presses on a slow case
            act("urge", self._who("duty_chief"), "resolve", late=0.0, reason="请加快处置")
        act("resolve", member, "resolve", late=late_resolve,
            evidence=[f"https://evidence.example/{cid.hex[:12]}/after.jpg"])
        if rng.random() < 0.1:
            act("check", self._who("supervisor"), "check", passed=False, reason="现场未整改到位，返工")
            act("resolve", member, "resolve", late=0.2,
                evidence=[f"https://evidence.example/{cid.hex[:12]}/after2.jpg"])
        act("check", self._who("supervisor"), "check", passed=True)
        act("close", self._who("acceptor"), "close")
        if rng.random() < 0.8:
            act("evaluate", self._who("duty_chief"), None, late=0.0,
                rating=rng.choices(["satisfied", "basic", "unsatisfied"], [80, 15, 5])[0])
        return out

    # --------------------------------------------------------------- running

    def run(
        self,
        n: int,
        execute: Callable[[list[Command]], list],
        tick: Callable[[datetime], int],
        *,
        batch: int = 200,
        progress: Callable[[int], None] | None = None,
    ) -> SimStats:
        stats = SimStats(cases=n)
        heap = list(self.script(n))
        heapq.heapify(heap)
        pending: list[Command] = []
        next_tick = datetime.combine(self.start.date() + timedelta(days=1), time(0), self.city.tz)

        def flush():
            if not pending:
                return
            for o in execute(pending):
                if o.error is not None:
                    stats.refused += 1
                    stats.errors[type(o.error).__name__] += 1
                    if len(stats.first_errors) < 5:
                        stats.first_errors.append(str(o.error))
            stats.commands += len(pending)
            if progress:
                progress(len(pending))
            pending.clear()

        while heap:
            t, _, cmd = heapq.heappop(heap)
            if t >= self.end:
                continue  # beyond the simulated stretch: the case stays open
            while t >= next_tick:
                flush()
                stats.deadline_misses += tick(next_tick)
                next_tick += timedelta(days=1)
            pending.append(cmd)
            if len(pending) >= batch:
                flush()
        flush()
        stats.deadline_misses += tick(self.end)
        return stats
