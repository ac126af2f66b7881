"""The tongban command: init is repeatable, and bad configuration fails with one clear line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tongban.settings import Settings

TONGBAN = str(Path(sys.executable).with_name("tongban"))


def run(args: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    environ.update({"TONGBAN_HOME": str(home), **env})
    return subprocess.run(
        [TONGBAN, *args], env=environ, capture_output=True, text=True, timeout=300
    )


def test_settings_default_under_home_and_yield_to_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env({"TONGBAN_HOME": str(tmp_path)})
    assert settings.db_url == f"sqlite:///{tmp_path / 'events.db'}"
    assert settings.business_db_url == f"sqlite:///{tmp_path / 'business.db'}"
    assert settings.personas_path == tmp_path / "personas.json"
    custom = Settings.from_env(
        {"TONGBAN_HOME": str(tmp_path), "TONGBAN_DB_URL": "postgresql://db/events"}
    )
    assert custom.db_url == "postgresql://db/events"


def test_dashboard_settings_default_to_sso_headers_on_localhost(tmp_path: Path) -> None:
    settings = Settings.from_env({"TONGBAN_HOME": str(tmp_path)})
    assert (settings.auth, settings.demo, settings.secret_key) == ("header", False, None)
    assert (settings.dashboard_host, settings.dashboard_port) == ("127.0.0.1", 8050)
    assert settings.api_url == "http://127.0.0.1:8000"
    assert settings.dagster_url == "http://127.0.0.1:3000"
    assert settings.secret_key_path == tmp_path / "dashboard-secret-key"
    demo = Settings.from_env(
        {
            "TONGBAN_HOME": str(tmp_path),
            "TONGBAN_AUTH": "Dev",
            "TONGBAN_DEMO": "1",
            "TONGBAN_SECRET_KEY": "s3cret",
            "TONGBAN_DASHBOARD_HOST": "0.0.0.0",
            "TONGBAN_DASHBOARD_PORT": "9050",
            "TONGBAN_API_URL": "http://api:8000/",
            "TONGBAN_DAGSTER_URL": "http://dagster.example:3000/",
        }
    )
    assert (demo.auth, demo.demo, demo.secret_key) == ("dev", True, "s3cret")
    assert (demo.dashboard_host, demo.dashboard_port) == ("0.0.0.0", 9050)
    assert demo.api_url == "http://api:8000"
    assert demo.dagster_url == "http://dagster.example:3000"
    assert not Settings.from_env({"TONGBAN_HOME": str(tmp_path), "TONGBAN_DEMO": "0"}).demo


def test_init_small_creates_both_databases_and_personas_and_can_run_again(tmp_path: Path) -> None:
    first = run(["init", "--size", "small", "--as-of", "2026-03-02"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "events.db").exists()
    assert (tmp_path / "business.db").exists()
    personas = json.loads((tmp_path / "personas.json").read_text(encoding="utf-8"))
    assert set(personas["personas"]) >= {"student", "counsellor", "leadership", "data_staff"}
    again = run(["init", "--size", "small"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert "already generated" in again.stderr


@pytest.mark.parametrize(
    ("variable", "url", "expected"),
    [
        ("TONGBAN_DB_URL", "not a url", "not a database URL"),
        ("TONGBAN_DB_URL", "mysql://localhost/x", "unsupported database 'mysql'"),
        ("TONGBAN_DB_URL", "postgresql://postgres@127.0.0.1:1/x", "cannot connect"),
        ("TONGBAN_BUSINESS_DB_URL", "postgresql://postgres@127.0.0.1:1/x", "cannot connect"),
    ],
)
def test_a_bad_database_url_is_one_line_not_a_traceback(
    tmp_path: Path, variable: str, url: str, expected: str
) -> None:
    result = run(["init", "--size", "small"], tmp_path, **{variable: url})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_serving_before_init_says_what_to_do(tmp_path: Path) -> None:
    result = run(["api", "--port", "0"], tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "tongban: the event store is not initialised or not migrated: run `tongban init` first"
    )
