"""The Kafka worker's settings (命令行 > environment > `kafka:` in a YAML file > defaults),
opening its store, and creating missing topics. The variables: see adapters/kafka/worker.py.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import structlog
import yaml

from adapters.bootstrap import bootstrap
from adapters.kafka.messages import MAX_MESSAGE_BYTES
from adapters.kafka.outbound import MAX_REQUEST_BYTES
from domain.errors import ConfigError

log = structlog.get_logger("casegrid.kafka")

DEFAULT_TOPICS = {
    "reports": "casegrid.reports.v1",
    "unit_updates": "casegrid.unit-updates.v1",
    "callbacks": "casegrid.callbacks.v1",  # 回访 from the 12345 hotline
    "case_events": "casegrid.case-events.v1",
    "dead_letter": "casegrid.dead-letter.v1",
}
ENV = "CASEGRID_KAFKA_"


@dataclass
class KafkaSettings:
    bootstrap: str = "localhost:9092"
    group: str = "casegrid"
    client_id: str = "casegrid"
    topics: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TOPICS))
    channel_actors: dict[str, str] = field(default_factory=dict)
    source: str = "urn:casegrid"
    batch: int = 500
    poll_ms: int = 200
    session_timeout_ms: int = 10000
    heartbeat_interval_ms: int = 3000
    partitions: int = 3  # used when the worker creates missing topics
    create_topics: bool = True
    max_message_bytes: int = MAX_MESSAGE_BYTES  # larger inbound messages become dead letters

    @classmethod
    def load(cls, path: str | Path | None = None, env: dict | None = None, **overrides) -> KafkaSettings:
        env = dict(os.environ if env is None else env)
        s = cls()
        path = path or env.get(f"{ENV}CONFIG")
        if path:
            try:
                raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
            except FileNotFoundError:
                raise ConfigError("kafka-config", f"no such file '{path}'") from None
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
                raise ConfigError("kafka-config", f"cannot read '{path}': {e}") from None
            section = raw.get("kafka", raw) if isinstance(raw, dict) else None
            if not isinstance(section, dict):
                raise ConfigError("kafka", "must be a mapping")
            s._apply(section, "kafka")
        from_env: dict[str, Any] = {}
        for f in fields(cls):
            v = env.get(f"{ENV}{f.name.upper()}")
            if v is not None and f.name not in ("topics", "channel_actors"):
                from_env[f.name] = v
        topics = {k: env[f"{ENV}TOPIC_{k.upper()}"] for k in DEFAULT_TOPICS if f"{ENV}TOPIC_{k.upper()}" in env}
        if topics:
            from_env["topics"] = topics
        s._apply(from_env, "env")
        s._apply({k: v for k, v in overrides.items() if v is not None}, "option")
        if not 1024 <= s.max_message_bytes <= MAX_REQUEST_BYTES:
            raise ConfigError("max_message_bytes", f"must be between 1024 and {MAX_REQUEST_BYTES} "
                              f"bytes, not {s.max_message_bytes}")
        return s

    def _apply(self, values: dict, where: str) -> None:
        known = {f.name: f for f in fields(self)}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"{where}.{key}", f"unknown setting; known: {', '.join(known)}")
            current = getattr(self, key)
            if isinstance(current, dict):
                if not isinstance(value, dict):
                    raise ConfigError(f"{where}.{key}", "must be a mapping")
                unknown = set(value) - set(current) if key == "topics" else set()
                if unknown:
                    raise ConfigError(f"{where}.{key}", f"unknown topic role(s) {sorted(unknown)}; "
                                      f"known: {', '.join(DEFAULT_TOPICS)}")
                setattr(self, key, {**current, **{k: _text(f"{where}.{key}.{k}", v)
                                                  for k, v in value.items()}})
            elif isinstance(current, bool):
                setattr(self, key, str(value).lower() in ("1", "true", "yes", "on"))
            elif isinstance(current, int):
                try:
                    number = int(value)
                except (TypeError, ValueError):
                    raise ConfigError(f"{where}.{key}", f"'{value}' is not a whole number") from None
                if number < 1 and key != "max_message_bytes":
                    raise ConfigError(f"{where}.{key}", f"must be 1 or more, not {number}")
                setattr(self, key, number)
            else:
                setattr(self, key, _text(f"{where}.{key}", value))

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _text(field: str, value: Any) -> str:
    """A name-like setting: text (or a number written bare in YAML), 1–500 characters,
    no NUL; a list or mapping where a name goes is refused."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(field, f"must be text, not {type(value).__name__}")
    text = str(value)
    if not text.strip() or len(text) > 500 or "\x00" in text:
        raise ConfigError(field, "must be 1–500 characters, no NUL")
    return text


def open_store(*, data_dir=None, env: dict | None = None, config=None, city=None, clock=None):
    """The worker's part of the composition root: the case application with the
    Kafka-aware recorder, its service and SQL helper (adapters/bootstrap.py builds them)."""
    cg = bootstrap(data_dir=data_dir, env=env, config=config, city=city, clock=clock, kafka=True)
    return cg.app, cg.service, cg.sql


def ensure_topics(settings: KafkaSettings) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap, client_id=f"{settings.client_id}-admin",
                             bootstrap_timeout_ms=10000)
    try:
        existing = set(admin.list_topics())
        new = [NewTopic(t, settings.partitions, 1) for t in settings.topics.values() if t not in existing]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
            log.info("topics_created", topics=[t.name for t in new], partitions=settings.partitions)
    finally:
        admin.close()
