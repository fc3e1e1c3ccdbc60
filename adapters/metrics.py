"""Process-wide Prometheus counters (指标) fed by the log lines the workflows already write.

Workflows must not import adapters, so nothing in them counts: `observe` is a structlog
processor (installed by adapters/logs.py) that sees every `command_recorded`,
`command_refused` and `deadline_missed` line of this process and counts it. Labels are
bounded: a trigger outside the lifecycle's list is counted as "other"; no ids, no names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from domain.lifecycle import TRIGGERS

REGISTRY = CollectorRegistry(auto_describe=True)
KNOWN = frozenset(TRIGGERS)

COMMANDS = Counter("casegrid_commands", "Commands handled by this process, by trigger and outcome",
                   ("trigger", "outcome"), registry=REGISTRY)
DEADLINE_MISSES = Counter("casegrid_deadline_misses_recorded",
                          "DeadlineMissed events (超时) this process recorded", registry=REGISTRY)
REQUEST_SECONDS = Histogram("casegrid_http_request_seconds",
                            "HTTP request latency by method, route template and status class",
                            ("method", "route", "status"), registry=REGISTRY,
                            buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
OUTCOMES = {"command_recorded": "recorded", "command_refused": "refused"}


def observe(_logger, _method, event_dict: dict) -> dict:
    """structlog processor: count the lines that mean a command or a missed deadline."""
    event = event_dict.get("event")
    outcome = OUTCOMES.get(event)
    if outcome:
        trigger = event_dict.get("command")
        COMMANDS.labels(trigger if trigger in KNOWN else "other", outcome).inc()
    elif event == "deadline_missed":
        DEADLINE_MISSES.inc()
    return event_dict
