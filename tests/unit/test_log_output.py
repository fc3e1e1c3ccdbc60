"""The structlog output the project configures (adapters/logs.py) survives a closed or
broken stream: the line is dropped, the code that logged goes on; a request logged to such
a stream is still answered (adapters/http/request_log.py has no suppression of its own)."""

from __future__ import annotations

import io
import sys

import pytest
import structlog

from adapters.logs import SafeLogger, SafeLoggerFactory, safe_output, setup_logging


class Broken(io.TextIOBase):
    """A stream whose reader went away."""

    def __init__(self, error: Exception):
        self.error = error

    def write(self, text: str) -> int:
        raise self.error


def closed() -> io.StringIO:
    stream = io.StringIO()
    stream.close()
    return stream


@pytest.mark.parametrize("stream", [closed(), Broken(BrokenPipeError(32, "Broken pipe")),
                                    Broken(OSError(28, "No space left on device")),
                                    Broken(UnicodeEncodeError("ascii", "故", 0, 1, "no"))],
                         ids=["closed", "broken-pipe", "disk-full", "unencodable"])
@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_line_to_a_stream_that_fails_is_dropped(monkeypatch, stream, fmt):
    monkeypatch.setattr(sys, "stderr", stream)
    setup_logging("info", fmt)
    log = structlog.get_logger("casegrid.test")
    log.info("request", path="/api/cases", status=200)
    log.warning("follower_error", error="x")
    log.error("boom", exc_info=False)
    log.bind(case_id="c1").info("bound")


def test_the_output_writes_while_the_stream_is_open(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    setup_logging("info", "json")
    structlog.get_logger("casegrid.test").info("written", n=1)
    assert '"event": "written"' in stream.getvalue()
    assert isinstance(structlog.get_config()["logger_factory"], SafeLoggerFactory)


def test_no_stderr_at_all_logs_nowhere_not_to_stdout(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stderr", None)  # a process started with `2>&-`
    setup_logging("info", None)
    structlog.get_logger("casegrid.test").info("nowhere")
    assert capsys.readouterr().out == ""  # stdout stays the command's (--json) alone


def test_other_errors_are_not_swallowed():
    class Faulty:
        def msg(self, message):
            raise RuntimeError("a bug, not a stream")

    with pytest.raises(RuntimeError):
        SafeLogger(Faulty()).msg("x")


def test_safe_output_wraps_an_embedded_apps_default_once(monkeypatch):
    structlog.reset_defaults()  # the stock output (the test session's is made safe already)
    monkeypatch.setattr(sys, "stdout", closed())  # structlog's default prints to stdout
    with pytest.raises(ValueError):
        structlog.get_logger("casegrid.test").info("unsafe by default")
    safe_output()
    safe_output()  # twice: wrapped once
    factory = structlog.get_config()["logger_factory"]
    assert isinstance(factory, SafeLoggerFactory)
    assert not isinstance(factory.inner, SafeLoggerFactory)
    structlog.get_logger("casegrid.test").info("dropped")


@pytest.mark.parametrize("how", ["serve", "embedded"])
def test_a_request_logged_to_a_closed_stream_is_answered(tmp_path, monkeypatch, how):
    from fastapi.testclient import TestClient

    from adapters.bootstrap import bootstrap
    from adapters.http import create_app
    from tests.support import city

    structlog.reset_defaults()  # the stock output (the test session's is made safe already)
    cg = bootstrap(data_dir=tmp_path, city=city())
    try:
        if how == "serve":
            monkeypatch.setattr(sys, "stderr", closed())
            setup_logging("info", "json")  # as `casegrid serve` does, to a stream now closed
        else:  # an app built without setup_logging: structlog's default prints to stdout
            monkeypatch.setattr(sys, "stdout", closed())
        client = TestClient(create_app(cg, follow=False))
        assert client.get("/healthz").status_code == 200  # its request line: dropped
        assert client.get("/no/such/page").status_code == 404
    finally:
        cg.close()
