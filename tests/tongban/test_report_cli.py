"""tongban report process: published receipt log as text and JSON; errors in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.warehouse.test_process_report import (
    AS_OF,
    FIXTURES,
    assert_agrees,
    build_warehouse,
    import_log,
)
from tests.workflow_core.importing.conftest import real_log
from warehouse.paths import WarehousePaths
from warehouse.raw import events_cursor

# Publication and the reader land in parallel with this command; until both do, skip visibly.
publication = pytest.importorskip("warehouse.publication", reason="warehouse.publication absent")
pytest.importorskip("warehouse.reader", reason="warehouse.reader (the published reader) absent")

TONGBAN = str(Path(sys.executable).with_name("tongban"))
PUBLISHED = ["mart_process__summary", "mart_process__activities", "mart_process__dfg"]


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    environ["TONGBAN_HOME"] = str(home)
    environ["COLUMNS"] = "160"
    return subprocess.run(
        [TONGBAN, "report", *args], env=environ, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A TONGBAN_HOME whose warehouse has published the receipt log's process marts."""
    log = real_log("receipt.csv")
    home = tmp_path_factory.mktemp("home")
    import_log(home, log, "receipt")
    # The warehouse root: Settings.warehouse_dir once it exists, home/warehouse until then.
    paths = WarehousePaths(home / "warehouse")
    paths.build_dir.mkdir(parents=True)
    conn = build_warehouse(home, paths.work_db)
    publication.publish(conn, PUBLISHED, paths, as_of=AS_OF, events_cursor=events_cursor(conn))
    conn.close()
    yield home


def test_json_equals_the_pm4py_figures(published: Path) -> None:
    result = run(["process", "receipt", "--json"], published)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["process_key"] == "receipt"
    reference = json.loads((FIXTURES / "pm4py_receipt.json").read_text(encoding="utf-8"))
    assert_agrees(report, reference)


def test_text_shows_counts_durations_activities_and_edges(published: Path) -> None:
    result = run(["process", "receipt"], published)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "receipt: 1,434 cases, 8,577 events" in out
    # the longest case: 23,832,541.524 s = 275 days 20 hours 9 minutes
    assert "275 天 20 小时 9 分钟 (23,832,541.5 s)" in out
    assert "Confirmation of receipt" in out and "1,434" in out
    assert "directly-follows edges (top 15 of 99)" in out


def test_an_unknown_process_fails_in_one_line(published: Path) -> None:
    result = run(["process", "nope"], published)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "unknown process 'nope' (known: receipt)" in lines[0]


def test_nothing_published_fails_in_one_line(tmp_path: Path) -> None:
    result = run(["process", "receipt", "--json"], tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tongban: ") and "no warehouse snapshot" in lines[0]
    assert result.stdout == ""
