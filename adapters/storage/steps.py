"""The ordered schema steps of our own tables (adapters/storage/migrations.py applies them).

Add a step at the end, never edit or renumber one that has shipped: a store records the
versions it has applied. A step must be safe where its effect is already there (a store
built by the code before versions existed): CREATE … IF NOT EXISTS, `add_columns`. Its
transaction must not wait on Python: imports and other slow work go in `before`. A column
added after a table first shipped is added here only, never by the module that owns the
table: every store runs these steps when it opens (adapters/bootstrap.py), or refuses to
open until `casegrid db upgrade` has (CASEGRID_AUTO_MIGRATE=0).

What is under these steps: the tables of the case numbers, the Kafka inbox, offsets,
dead letters, publish positions and parked events, the audit leaves and heads, the
sessions and login failures, saved filters, the notifier's tables and the projection
runner's own (tracking, stalls, fold versions). The read models' tables (cg_cases,
cg_sb_*, cg_trail, cg_patrol) are versioned by their fold `version` instead
(projections/tracking.py): a changed fold replays the log into fresh tables.
"""

from __future__ import annotations

import importlib

from adapters.storage.migrations import Step, add_columns
from adapters.storage.sql import Cur

MODULES = ("adapters.audit.log", "adapters.http.auth_store", "adapters.http.saved_filters",
           "adapters.kafka.store", "adapters.storage.numbers", "projections.notifier",
           "projections.tracking")


def load_modules() -> None:
    """The modules whose tables the steps make, imported before a step's transaction
    (lazily: the HTTP package pulls in the web framework, seconds on a busy machine)."""
    for name in MODULES:
        importlib.import_module(name)


def baseline(cur: Cur) -> None:
    """Every table our adapters own, as each module declares it."""
    from adapters.audit.log import TABLES as AUDIT
    from adapters.http.auth_store import DDL as AUTH
    from adapters.http.saved_filters import DDL as SAVED_FILTERS
    from adapters.kafka.store import DDL as KAFKA
    from adapters.storage.numbers import DDL as NUMBERS
    from projections import notifier, tracking

    for statement in (NUMBERS, *KAFKA, *AUDIT, *AUTH, SAVED_FILTERS, tracking.TRACKING_DDL,
                      tracking.ERRORS_DDL, tracking.VERSIONS_DDL):
        cur.execute(statement)
    notifier.create_tables(cur)


def dead_letter_publishing(cur: Cur) -> None:
    """Dead letters published to the DLQ topic with attempts, last error and parking:
    stores made before these columns get them, their rows kept (attempts 0)."""
    add_columns(cur, "cg_kafka_dead_letters", (("publish_attempts", "INTEGER NOT NULL DEFAULT 0"),
                                               ("publish_error", "TEXT"), ("parked_at", "TEXT")))


def expiry_indexes(cur: Cur) -> None:
    """Every login sweeps expired sessions and stale failure counts by time
    (auth_store.add_session, add_failure): an index each, not a table scan."""
    cur.execute("CREATE INDEX IF NOT EXISTS cg_sessions_expires ON cg_sessions (expires_at)")
    cur.execute("CREATE INDEX IF NOT EXISTS cg_login_failures_last"
                " ON cg_login_failures (last_at)")


def audit_head_published(cur: Cur) -> None:
    """Heads made before the published mark get it (NULL: counted as not yet sent)."""
    add_columns(cur, "cg_audit_heads", (("published_at", "TEXT"),))


STEPS: tuple[Step, ...] = (
    Step(1, "baseline: our tables as of the first versioned release", baseline,
         before=load_modules),
    Step(2, "cg_kafka_dead_letters: publish_attempts, publish_error, parked_at",
         dead_letter_publishing),
    Step(3, "indexes for the session and login-failure expiry sweeps", expiry_indexes),
    Step(4, "cg_audit_heads: published_at", audit_head_published),
)
