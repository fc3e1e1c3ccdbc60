"""The demo a new user starts with (`casegrid serve --demo`, adapters/cli/serve.py): a
simulated month of the sample city loaded into an empty store, and the demo logins.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from adapters.bootstrap import Casegrid
from adapters.evidence.demo import add_demo_photos
from adapters.http import geo
from workflows.simulation import Simulation

DEMO_CASES = 600
DEMO_DAYS = 30  # the month up to now, so the queues hold fresh work as well as overdue cases
DEMO_PASSWORD = "demo"


def load_demo(cg: Casegrid, *, cases: int = DEMO_CASES, seed: int = 1, echo=print,
              photos: bool = False) -> bool:
    """Simulate the last month of the sample city into an empty store (False if not empty);
    `photos`: three more cases with real stored photos (adapters/evidence/demo.py).

    The month ends now: cases reported in the last days are still open, with due times
    still ahead, near or just passed, next to older overdue ones.
    """
    if cg.projections.head() > 0:
        return False
    now = datetime.now(UTC)
    first = (now.astimezone(cg.city.tz) - timedelta(days=DEMO_DAYS)).date()
    begin = datetime.combine(first, datetime.min.time(), cg.city.tz)
    sim = Simulation(cg.city, seed=seed, start=begin, days=DEMO_DAYS + 1,
                     end=now - timedelta(minutes=1),
                     locate=lambda cell, fx, fy: geo.point_in(cg.city, cell, fx, fy))
    echo(f"loading the demo: {cases} simulated cases from {begin.date()} over {DEMO_DAYS} days …")
    t0 = time.perf_counter()

    def tick(now):
        from projections.cases import due_case_ids

        cg.projections.catch_up(["cases"])
        return len(cg.service.tick(now, due_case_ids(cg.sql, now)))

    stats = sim.run(cases, cg.service.execute, tick)
    cg.projections.catch_up()
    filed = patrol_reports(cg, first, now, seed=seed)
    if photos:
        add_demo_photos(cg, now)
    cg.projections.catch_up()
    echo(f"demo loaded: {stats.cases} cases, {stats.commands} commands, "
         f"{stats.deadline_misses} missed deadlines, {filed} patrol reports "
         f"in {time.perf_counter() - t0:.0f}s")
    return True


def patrol_reports(cg: Casegrid, first, now: datetime, *, seed: int = 1) -> int:
    """The squads' daily patrol reports (巡查日报) for the simulated days: a day with patrol
    cases in the squad's area reports them, a day without is a nil report (零报告); about one
    in twelve comes after the cut-off and one in twenty is never filed (the tick records it)."""
    rng = random.Random(seed)
    today = now.astimezone(cg.city.tz).date()
    cut_off = cg.patrol.rules.cut_off
    found: dict[tuple, list[str]] = {}
    for cid, grid, at in cg.sql.query("SELECT case_id, grid, reported_at FROM cg_cases"
                                      " WHERE channel = 'patrol'"):
        cell = cg.city.cells.get(grid)
        if cell and cell.squad:
            day = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(cg.city.tz).date()
            found.setdefault((cell.squad, day), []).append(cid)
    reporters = {}
    for u in cg.city.users.values():
        if u.role == "supervisor" and u.squad:
            reporters.setdefault(u.squad, u.id)
    filed, d = 0, first
    while d < today:  # today's is left for the demo's own supervisors to file
        for squad in cg.city.squads:
            luck = rng.random()
            due = datetime.combine(d, cut_off, cg.city.tz)
            at = due - timedelta(minutes=rng.randint(20, 300)) if luck > 0.13 else \
                due + timedelta(minutes=rng.randint(10, 180))
            if luck < 0.05 or at > now or squad not in reporters:
                continue  # never filed
            ids = found.get((squad, d), [])[:50]
            cg.patrol.report(squad=squad, day=d, actor=reporters[squad], nil=not ids,
                             case_ids=ids, at=at,
                             note="" if ids else rng.choice(["", "", "辖区巡查无异常"]))
            filed += 1
        d += timedelta(days=1)
    cg.patrol.tick(now, since=first)  # records the days never filed as missed
    return filed


def demo_logins(cg: Casegrid) -> list:
    from adapters.http.auth import load_credentials

    creds = load_credentials(None, cg.city)
    return [u for u in cg.city.users.values() if u.id in creds.passwords]
