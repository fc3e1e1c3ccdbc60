"""What an outsider found in this session's commands outside the audit log (the audit's
own findings: tests/integration/test_audit_outsider.py): each absurd input now gets an
error naming the field (exit 2), never a traceback."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from adapters.cli.app import app
from adapters.kafka.settings import KafkaSettings
from domain.errors import ConfigError

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_a_store_that_cannot_be_opened_is_named(tmp_path, cli_env):
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("x")
    r = run("--data-dir", str(a_file), "case", "list", "--json")
    assert r.exit_code == 2, r.output
    assert "store" in r.output and "Traceback" not in r.output


def test_a_kafka_config_that_is_a_folder_is_named(tmp_path, cli_env):
    r = run("--data-dir", str(tmp_path / "d"), "kafka", "status", "--kafka-config", str(tmp_path),
            "--json")
    assert r.exit_code == 2, r.output
    assert "kafka-config" in r.output


@pytest.mark.parametrize("raw, field", [
    ({"group": ["a", "b"]}, "group"), ({"group": ""}, "group"), ({"partitions": -5}, "partitions"),
    ({"topics": {"reports": ""}}, "topics.reports"), ({"group": "g\x00"}, "group")])
def test_kafka_settings_refuse_nonsense_by_name(tmp_path, raw, field):
    path = tmp_path / "k.yaml"
    path.write_text(json.dumps({"kafka": raw}))
    with pytest.raises(ConfigError) as e:
        KafkaSettings.load(str(path))
    assert field in str(e.value)


def test_an_import_mapping_that_is_a_folder_or_not_utf8_is_named(tmp_path, cli_env):
    rows = tmp_path / "rows.csv"
    rows.write_text("a\n1\n")
    bad = tmp_path / "m.yaml"
    bad.write_bytes(b"\xff\xfe\xfa")
    for mapping in (tmp_path, bad):
        r = run("--data-dir", str(tmp_path / "d"), "import", str(rows), "--mapping", str(mapping),
                "--json")
        assert r.exit_code == 2, r.output
        assert "mapping" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("interval", ["-1", "0", "nan", "inf", "100000"])
def test_projections_follow_refuses_an_absurd_interval(tmp_path, cli_env, interval):
    r = run("--data-dir", str(tmp_path / "d"), "projections", "follow", f"--interval={interval}")
    assert r.exit_code == 2, r.output
    assert "interval" in r.output


@pytest.mark.parametrize("port", ["70000", "-1", "0"])
def test_serve_refuses_a_port_out_of_range(tmp_path, cli_env, port):
    r = run("--data-dir", str(tmp_path / "d"), "serve", f"--port={port}")
    assert r.exit_code == 2, r.output
    assert "port" in r.output
