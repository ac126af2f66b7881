"""The servers a stage runs are stopped with their children, and their memory is read whole."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tongban.bench.processes import (
    BenchError,
    PeakMemory,
    descendants,
    free_port,
    pss_bytes,
    rss_bytes,
    run_measured,
    serving,
    tree_rss_bytes,
)

# A parent holding 60 MB with a child holding 40 MB of its own, both resident; the parent says
# "ready" once the child has filled its block (a tree still allocating would be measured short).
FAMILY = (
    "import subprocess, sys, time\n"
    "block = bytearray(60 * 2**20)\n"
    "child = subprocess.Popen([sys.executable, '-c',"
    ' \'import time; b = bytearray(40 * 2**20); print("filled", flush=True);'
    " time.sleep(60)'], stdout=subprocess.PIPE, text=True)\n"
    "child.stdout.readline()\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def test_a_tree_is_measured_whole_and_stopped_whole(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", FAMILY], start_new_session=True, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "ready"
        family = descendants(parent.pid)
        assert family[0] == parent.pid
        assert tree_rss_bytes(parent.pid) >= rss_bytes(parent.pid) + 40 * 2**20
        assert 0 < pss_bytes(parent.pid) <= rss_bytes(parent.pid)
    finally:
        os.killpg(parent.pid, 9)
        parent.wait()


def test_run_measured_reports_time_peak_memory_and_status(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "child.log"
    script = "b = bytearray(80 * 2**20); print('done'); raise SystemExit(3)"
    seconds, peak, status = run_measured([sys.executable, "-c", script], os.environ, log)
    assert status == 3
    assert peak >= 80 * 2**20
    assert seconds > 0
    assert log.read_text().strip() == "done"


def test_peak_memory_of_a_gone_process_is_zero() -> None:
    with PeakMemory(2**22 + 12345) as peak:  # no such pid
        time.sleep(0.05)
    assert peak.peak_bytes == 0


def test_serving_waits_for_the_address_and_stops_the_server(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    with serving(
        "a web server", command, os.environ, tmp_path / "web.log", f"http://127.0.0.1:{port}"
    ) as server:
        pid = server.pid
        assert server.process.poll() is None
    assert server.process.poll() is not None
    assert not Path(f"/proc/{pid}").exists()


def test_a_server_that_exits_is_named_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "broken.log"
    command = [sys.executable, "-c", "import sys; print('no database'); sys.exit(2)"]
    with (
        pytest.raises(BenchError, match=r"a broken server exited with status 2; see .*broken\.log"),
        serving("a broken server", command, os.environ, log, f"http://127.0.0.1:{free_port()}"),
    ):
        pass
    assert "no database" in log.read_text()
