"""The demo a new user starts with (`casegrid serve --demo`, adapters/cli/serve.py): a
simulated month of the sample city loaded into an empty store, and the demo logins.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from adapters.bootstrap import Casegrid
from workflows.simulation import Simulation

DEMO_CASES = 600
DEMO_DAYS = 30  # the month up to now, so the queues hold fresh work as well as overdue cases
DEMO_PASSWORD = "demo"


def load_demo(cg: Casegrid, *, cases: int = DEMO_CASES, seed: int = 1, echo=print) -> bool:
    """Simulate the last month of the sample city into an empty store (False if not empty).

    The month ends now: cases reported in the last days are still open, with due times
    still ahead, near or just passed, next to older overdue ones.
    """
    if cg.projections.head() > 0:
        return False
    now = datetime.now(UTC)
    first = (now.astimezone(cg.city.tz) - timedelta(days=DEMO_DAYS)).date()
    begin = datetime.combine(first, datetime.min.time(), cg.city.tz)
    sim = Simulation(cg.city, seed=seed, start=begin, days=DEMO_DAYS + 1,
                     end=now - timedelta(minutes=1))
    echo(f"loading the demo: {cases} simulated cases from {begin.date()} over {DEMO_DAYS} days …")
    t0 = time.perf_counter()

    def tick(now):
        from projections.cases import due_case_ids

        cg.projections.catch_up(["cases"])
        return len(cg.service.tick(now, due_case_ids(cg.sql, now)))

    stats = sim.run(cases, cg.service.execute, tick)
    cg.projections.catch_up()
    echo(f"demo loaded: {stats.cases} cases, {stats.commands} commands, "
         f"{stats.deadline_misses} missed deadlines in {time.perf_counter() - t0:.0f}s")
    return True


def demo_logins(cg: Casegrid) -> list:
    from adapters.http.auth import load_credentials

    creds = load_credentials(None, cg.city)
    return [u for u in cg.city.users.values() if u.id in creds.passwords]
