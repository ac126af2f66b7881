"""`make demo` on a small university simulates its year (campaigns included), builds and
publishes the warehouse, serves the API, the Dagster UI and the dashboards with live traffic
flowing, a request goes from submission to completion over HTTP while the live approvers work
beside it, and a persona signs in to the dashboards and is offered their pages."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from workflow_core.catalog.examples import example_form
from workflow_core.catalog.loader import default_catalog

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    port, dagster_port, dashboard_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TONGBAN_", "DAGSTER_"))}
    env["TONGBAN_HOME"] = str(tmp_path)
    log = (tmp_path / "demo.log").open("w")
    proc = subprocess.Popen(
        [
            "make",
            "demo",
            "DEMO_SIZE=small",
            f"API_PORT={port}",
            f"DAGSTER_PORT={dagster_port}",
            f"DASHBOARD_PORT={dashboard_port}",
            "LIVE_RATE=5",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # so the whole group (make, uv, gunicorn) stops together
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 480
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"make demo exited early:\n{(tmp_path / 'demo.log').read_text()}")
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        else:
            pytest.fail(f"the API never answered:\n{(tmp_path / 'demo.log').read_text()}")
        # The warehouse was built and published before the API started; the Dagster UI
        # (webserver and daemon, with the new-events sensor on) starts beside it.
        assert (tmp_path / "warehouse" / "published" / "CURRENT").exists()
        dagster = f"http://127.0.0.1:{dagster_port}/server_info"
        deadline = time.monotonic() + 180
        while True:
            try:
                if requests.get(dagster, timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the Dagster UI never answered:\n{_dagster_log(tmp_path)}")
            time.sleep(1)
        dashboards = f"http://127.0.0.1:{dashboard_port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{dashboards}/login", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the dashboards never answered:\n{_log(tmp_path, 'dashboards.log')}")
            time.sleep(1)
        yield base, tmp_path, dashboards
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _dagster_log(home: Path) -> str:
    return _log(home, "dagster.log")


def _log(home: Path, name: str) -> str:
    path = home / name
    return path.read_text(encoding="utf-8")[-3000:] if path.exists() else f"(no {name})"


@pytest.mark.slow
def test_make_demo_serves_a_submit_approve_round_trip(demo: tuple[str, Path, str]) -> None:
    base, home, dashboards = demo
    health = requests.get(f"{base}/healthz", timeout=5).json()
    assert health["status"] == "ok"
    personas = json.loads((home / "personas.json").read_text(encoding="utf-8"))["personas"]
    student = next(p["user_id"] for p in personas["student"] if p["kind"] == "undergraduate")
    definition = requests.get(
        f"{base}/api/v1/processes/enrollment_certificate",
        headers={"X-Remote-User": student},
        timeout=5,
    ).json()
    assert len([n for step in definition["steps"] for n in step["nodes"]]) == 6
    headers = {"X-Remote-User": student}

    # The year of history is in the store before the API serves: 7 campaigns and their
    # registrations, and the services' requests. Live traffic keeps adding events.
    campaigns = requests.get(f"{base}/api/v1/campaigns", headers=headers, timeout=5).json()
    holidays = {c["holiday"] for c in campaigns["campaigns"]}
    assert {"寒假", "暑假", "中秋/国庆"} <= holidays, holidays
    first = health["events"]
    assert first > 50_000
    deadline = time.monotonic() + 60
    while requests.get(f"{base}/healthz", timeout=5).json()["events"] <= first:
        assert time.monotonic() < deadline, "no live traffic reached the store"
        time.sleep(0.5)

    # A request of our own through every node. Live approvers read the same inboxes, so a task
    # may be decided (even returned or rejected) by them first: follow it to its end.
    form = example_form(default_catalog().get("enrollment_certificate"))
    created = requests.post(
        f"{base}/api/v1/instances",
        json={"process_key": "enrollment_certificate", "form": form},
        headers={**headers, "Idempotency-Key": "demo-1"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    instance_id = created.json()["instance"]["instance_id"]
    ours = 0
    for _ in range(30):
        instance = requests.get(
            f"{base}/api/v1/instances/{instance_id}", headers=headers, timeout=5
        ).json()
        if instance["status"] == "completed":
            break
        if instance["status"] == "returned":
            resubmitted = requests.post(
                f"{base}/api/v1/instances/{instance_id}/resubmit",
                json={"form": form},
                headers=headers,
                timeout=10,
            )
            assert resubmitted.status_code in (200, 409), resubmitted.text
            continue
        task = next(t for t in instance["tasks"] if t["status"] == "open")
        approver = task["assignees"][0]
        inbox = requests.get(
            f"{base}/api/v1/inbox", headers={"X-Remote-User": approver}, timeout=5
        ).json()
        if task["task_id"] not in {t["task_id"] for t in inbox["tasks"]}:
            continue  # decided by a live approver since we read the instance
        approved = requests.post(
            f"{base}/api/v1/tasks/{task['task_id']}/approve",
            json={"comment": "同意"},
            headers={"X-Remote-User": approver},
            timeout=10,
        )
        assert approved.status_code in (200, 409), approved.text
        ours += approved.status_code == 200
    final = requests.get(f"{base}/api/v1/instances/{instance_id}", headers=headers, timeout=5)
    assert final.json()["status"] == "completed" and ours > 0
    events = requests.get(
        f"{base}/api/v1/instances/{instance_id}/events", headers=headers, timeout=5
    ).json()
    assert events["events"][-1]["event_type"] == "completed"

    # The dashboards run in demo mode with the persona sign-in, over the published warehouse,
    # and call this API for 催办.
    monitor = personas["class_monitor"][0]["user_id"]
    browser = requests.Session()
    signed_in = browser.post(
        f"{dashboards}/auth/login", data={"user_id": monitor}, allow_redirects=False, timeout=10
    )
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/")
    layout = browser.get(f"{dashboards}/_dash-layout", timeout=30)
    assert layout.status_code == 200, layout.text[:500]
    frame = json.dumps(layout.json(), ensure_ascii=False)
    assert '"/registration"' in frame and "数据截至" in frame, frame[:1000]
    assert (home / "dashboards.log").exists()
