"""`tongban serve` starts gunicorn over the published warehouse and answers HTTP with only local
scripts and styles; dev authentication without demo mode stops it with one line."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from tests.warehouse.conftest import TONGBAN, BuiltUniversity
from tongban.serve_cli import secret_key
from tongban.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    env.update({"TONGBAN_HOME": str(home), **extra})
    return env


def test_serve_answers_and_serves_everything_itself(small_university: BuiltUniversity) -> None:
    port = free_port()
    env = environment(
        small_university.home,
        TONGBAN_AUTH="dev",
        TONGBAN_DEMO="1",
        TONGBAN_SECRET_KEY="a test secret key for serving",
    )
    server = subprocess.Popen(
        [TONGBAN, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[0]
            try:
                first = requests.get(f"{base}/", allow_redirects=False, timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "tongban serve did not answer in 60 s"
                time.sleep(0.25)
        assert first.status_code == 302
        assert first.headers["Location"].endswith("/login")
        page = requests.get(f"{base}/login", timeout=5)
        assert page.status_code == 200
        assert '<html lang="zh-CN">' in page.text
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(source.startswith("/") for source in sources), sources
        assert "/assets/tongban.css" in page.text
        assert requests.get(f"{base}/assets/tongban.css", timeout=5).status_code == 200
        refused = requests.post(f"{base}/_dash-update-component", json={}, timeout=5)
        assert refused.status_code == 401
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert "tongban-dashboards" in output or "Booting worker" in output


def test_dev_authentication_without_demo_mode_stops_with_one_line(
    small_university: BuiltUniversity,
) -> None:
    env = environment(small_university.home, TONGBAN_AUTH="dev", TONGBAN_SECRET_KEY="k" * 32)
    result = subprocess.run(
        [TONGBAN, "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tongban: dev authentication") and "TONGBAN_DEMO=1" in lines[0]


def test_the_session_key_is_made_once_and_kept(tmp_path: Path) -> None:
    settings = Settings.from_env({"TONGBAN_HOME": str(tmp_path)})
    first = secret_key(settings)
    assert len(first) == 64
    assert secret_key(settings) == first
    assert oct(settings.secret_key_path.stat().st_mode & 0o777) == "0o600"
    given = Settings.from_env({"TONGBAN_HOME": str(tmp_path), "TONGBAN_SECRET_KEY": "given"})
    assert secret_key(given) == "given"
