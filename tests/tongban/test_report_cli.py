"""tongban report: receipt as text and JSON, published, from the store or a file; 1-line errors."""

from __future__ import annotations

import json
import os
import sqlite3
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
from tongban.report_cli import default_process_key
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


# --- --from-store: the event store's events, the warehouse's models in memory, no build -------


@pytest.fixture(scope="module")
def imported_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TONGBAN_HOME whose event store holds the receipt log, and no warehouse at all."""
    home = tmp_path_factory.mktemp("imported")
    import_log(home, real_log("receipt.csv"), "receipt")
    return home


def test_from_store_equals_the_pm4py_figures_without_a_build(imported_only: Path) -> None:
    result = run(["process", "receipt", "--from-store", "--json"], imported_only)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    reference = json.loads((FIXTURES / "pm4py_receipt.json").read_text(encoding="utf-8"))
    assert_agrees(report, reference)
    assert not (imported_only / "warehouse").exists()  # nothing built, nothing published


def test_from_store_equals_the_published_report(published: Path) -> None:
    direct = run(["process", "receipt", "--from-store", "--json"], published)
    built = run(["process", "receipt", "--json"], published)
    assert direct.returncode == built.returncode == 0, direct.stderr + built.stderr
    # Equal but for the last bits of a mean: DuckDB sums in whatever order its threads meet.
    assert_agrees(json.loads(direct.stdout), json.loads(built.stdout))


def test_from_store_text_is_the_same_summary(imported_only: Path) -> None:
    result = run(["process", "receipt", "--from-store"], imported_only)
    assert result.returncode == 0, result.stderr
    assert "receipt: 1,434 cases, 8,577 events" in result.stdout


def test_from_store_an_unknown_process_names_the_stores_processes(imported_only: Path) -> None:
    result = run(["process", "nope", "--from-store"], imported_only)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == ["tongban: unknown process 'nope' (known: receipt) (in the event store)"]


def test_an_unpublished_process_points_to_build_or_from_store(imported_only: Path) -> None:
    result = run(["process", "receipt"], imported_only)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no warehouse snapshot" in lines[0]
    assert lines[0].endswith("`tongban build`, or --from-store")


def test_from_store_refuses_an_event_the_figures_cannot_rest_on(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    import_log(home, real_log("receipt.csv"), "receipt")
    # A row no importer writes: an activity without its name, appended behind the store's back.
    with sqlite3.connect(home / "events.db") as db:
        stream, version = db.execute(
            "select stream_id, max(stream_version) from events where process_key = 'receipt'"
            " group by stream_id order by stream_id limit 1"
        ).fetchone()
        db.execute(
            "insert into events (stream_id, stream_version, stream_type, occurred_at,"
            " recorded_at, event_type, process_key, process_version, actor_id, actor_role,"
            " schema_version, payload) values (?, ?, 'imported', '2011-01-01 00:00:00.000000',"
            " '2026-01-01 00:00:00.000000', 'activity', 'receipt', 1, 'unknown', 'resource', 1,"
            " '{\"sequence\": 999}')",
            (stream, version + 1),
        )
    result = run(["process", "receipt", "--from-store", "--json"], home)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tongban: process 'receipt': 1 event(s) fail a check")
    assert f"(first: {stream} version {version + 1})" in lines[0]
    assert "`tongban build` runs every data-quality check" in lines[0]


# --- report log: a file, read as import-log reads it, nothing written --------------------------


def test_a_log_file_equals_the_pm4py_figures_and_writes_nothing(tmp_path: Path) -> None:
    result = run(["log", str(real_log("receipt.csv")), "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["process_key"] == "receipt"
    reference = json.loads((FIXTURES / "pm4py_receipt.json").read_text(encoding="utf-8"))
    assert_agrees(report, reference)
    assert list(tmp_path.iterdir()) == []


def test_a_log_file_and_its_import_report_the_same(imported_only: Path, tmp_path: Path) -> None:
    direct = run(["log", str(real_log("receipt.csv")), "--json"], tmp_path)
    stored = run(["process", "receipt", "--from-store", "--json"], imported_only)
    assert direct.returncode == stored.returncode == 0, direct.stderr + stored.stderr
    assert_agrees(json.loads(direct.stdout), json.loads(stored.stdout))


def test_a_broken_log_file_fails_in_one_line_naming_its_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "case:concept:name,concept:name,time:timestamp\n"
        "c1,register,2024-03-01T09:00:00+08:00\n"
        "c1,decide,yesterday\n",
        encoding="utf-8",
    )
    result = run(["log", str(path), "--process-key", "bad_log"], tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == ["tongban: bad.csv: row 2 (line 3): unparsable timestamp 'yesterday'"]


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("bpic2012.xes.gz", "bpic2012"),
        ("BPI Challenge 2017.xes", "bpi_challenge_2017"),
        ("x.csv", "log"),
    ],
)
def test_the_default_process_key_comes_from_the_file_name(name: str, key: str) -> None:
    assert default_process_key(Path(name)) == key
