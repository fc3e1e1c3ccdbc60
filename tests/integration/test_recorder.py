"""Our PostgreSQL recorder (adapters/storage/recorder.py): a batch is all or nothing, a
version already taken is eventsourcing's IntegrityError, the pooled connections stay
usable after a conflict, and notification ids follow the batch's order."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, StoredEvent

from adapters.storage.recorder import TOPIC, CasegridPostgresRecorder


def test_batches_are_all_or_nothing_and_conflicts_are_integrity_errors(pg_env):
    app = Application(env=pg_env | {"APPLICATION_RECORDER_TOPIC": TOPIC})
    rec = app.recorder
    assert isinstance(rec, CasegridPostgresRecorder)
    taken = uuid.uuid4()
    first = [StoredEvent(taken, 1, "t", b'{"a":1}')] + [
        StoredEvent(uuid.uuid4(), v, "t", bytes([v]) * 300) for v in range(1, 40)]
    ids = rec.insert_events(first)
    assert ids == sorted(ids) and len(ids) == 40
    for _ in range(rec.datastore.pool.max_size + 2):  # each pooled connection meets one
        fresh = uuid.uuid4()
        with pytest.raises(IntegrityError):
            rec.insert_events([StoredEvent(fresh, 1, "t", b"{}"), StoredEvent(taken, 1, "t", b"{}")])
        assert rec.select_events(fresh) == []  # nothing of the failed batch stayed
    assert len(rec.select_notifications(1, 1000)) == 40
    again = rec.insert_events([StoredEvent(taken, 2, "t", b"{}")])
    assert again[0] > ids[-1]
    stored = rec.select_events(taken)
    assert [(e.originator_version, e.state) for e in stored] == [(1, b'{"a":1}'), (2, b"{}")]
    app.close()
