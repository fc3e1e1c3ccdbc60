"""What `casegrid serve --workers N` hands its spawned processes (adapters/http/workers.py)."""

from __future__ import annotations

import pytest

from adapters.http.workers import ENV, ServeSettings


def test_settings_round_trip_with_one_shared_secret(monkeypatch):
    monkeypatch.delenv("CASEGRID_SECRET", raising=False)
    s = ServeSettings(data_dir="/d", config="/c.yaml", credentials=None, tick_every=5.0,
                      secure_cookies=True, demo_logins=True)
    env = s.to_env()
    assert len(env["CASEGRID_SECRET"]) >= 32  # drawn once by the parent, inherited by all
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert ServeSettings.from_env() == s
    monkeypatch.setenv("CASEGRID_SECRET", "set-by-the-operator")
    assert "CASEGRID_SECRET" not in s.to_env()  # an operator's secret is kept


def test_no_settings_is_a_clear_error(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(RuntimeError, match="casegrid serve"):
        ServeSettings.from_env()
