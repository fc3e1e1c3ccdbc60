"""Storage dialects: SQL on SQLite and PostgreSQL (sql.py) and the event log read straight
from eventsourcing's tables (events.py), behind projections/ports.py."""
