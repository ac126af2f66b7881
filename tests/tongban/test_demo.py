"""`make demo` on a small university serves the API: /healthz answers and a request goes
from submission through every approval over HTTP."""

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
def demo(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    env["TONGBAN_HOME"] = str(tmp_path)
    log = (tmp_path / "demo.log").open("w")
    proc = subprocess.Popen(
        ["make", "demo", "DEMO_SIZE=small", f"API_PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # so the whole group (make, uv, gunicorn) stops together
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
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
        yield base, tmp_path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.mark.slow
def test_make_demo_serves_a_submit_approve_round_trip(demo: tuple[str, Path]) -> None:
    base, home = demo
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
    form = example_form(default_catalog().get("enrollment_certificate"))
    created = requests.post(
        f"{base}/api/v1/instances",
        json={"process_key": "enrollment_certificate", "form": form},
        headers={"X-Remote-User": student, "Idempotency-Key": "demo-1"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    instance_id = created.json()["instance"]["instance_id"]
    for _ in range(6):
        instance = requests.get(
            f"{base}/api/v1/instances/{instance_id}",
            headers={"X-Remote-User": student},
            timeout=5,
        ).json()
        task = next(t for t in instance["tasks"] if t["status"] == "open")
        approver = task["assignees"][0]
        inbox = requests.get(
            f"{base}/api/v1/inbox", headers={"X-Remote-User": approver}, timeout=5
        ).json()
        assert task["task_id"] in {t["task_id"] for t in inbox["tasks"]}
        approved = requests.post(
            f"{base}/api/v1/tasks/{task['task_id']}/approve",
            json={"comment": "同意"},
            headers={"X-Remote-User": approver},
            timeout=10,
        )
        assert approved.status_code == 200, approved.text
    final = requests.get(
        f"{base}/api/v1/instances/{instance_id}", headers={"X-Remote-User": student}, timeout=5
    ).json()
    assert (final["status"], final["outcome"]) == ("completed", "approved")
    events = requests.get(
        f"{base}/api/v1/instances/{instance_id}/events",
        headers={"X-Remote-User": student},
        timeout=5,
    ).json()
    assert events["events"][-1]["event_type"] == "completed"
