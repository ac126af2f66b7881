"""`tongban build` on a small university's simulated week: one line per asset, a published
snapshot and a Dagster home made from the project's template; `--full` rebuilds; an unusable
event store fails in one line with exit 1."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

TONGBAN = str(Path(sys.executable).with_name("tongban"))
AS_OF = "2026-01-05T02:00:00"


def run(args: list[str], home: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TONGBAN_", "DAGSTER_"))}
    environ.update(TONGBAN_HOME=str(home), COLUMNS="120", **extra)
    return subprocess.run(
        [TONGBAN, *args], env=environ, capture_output=True, text=True, timeout=600
    )


def test_build_publishes_and_reports_each_asset(university_dir: Path, tmp_path: Path) -> None:
    shutil.copy(university_dir / "business.db", tmp_path / "business.db")
    assert run(["init", "--size", "small"], tmp_path).returncode == 0
    history = ["simulate", "--size", "small", "--days", "5", "--end", "2026-01-05", "--once"]
    assert run(history, tmp_path).returncode == 0

    built = run(["build", "--as-of", AS_OF], tmp_path)
    assert built.returncode == 0, built.stderr
    lines = built.stderr.splitlines()
    assert lines[0].startswith("warehouse_update into")
    by_asset = {line.split()[0]: line for line in lines[1:-1]}
    assert {"raw_events", "raw_business", "stg_events__all", "published_warehouse"} <= set(by_asset)
    assert " rows " in by_asset["raw_events"] and by_asset["raw_events"].count(" s") >= 1
    assert "snapshot 1" in by_asset["published_warehouse"]
    assert lines[-1].startswith("warehouse_update finished in")
    assert (tmp_path / "warehouse" / "published" / "CURRENT").read_text().strip() == (
        "wh-000001.duckdb"
    )
    config = (tmp_path / "dagster" / "dagster.yaml").read_text(encoding="utf-8")
    assert "QueuedRunCoordinator" in config and "enabled: false" in config

    full = run(["build", "--full", "--as-of", AS_OF], tmp_path)
    assert full.returncode == 0, full.stderr
    assert "warehouse_full_rebuild finished" in full.stderr
    assert "snapshot 2" in full.stderr

    broken = run(["build"], tmp_path, TONGBAN_DB_URL=f"sqlite:///{tmp_path}/missing/events.db")
    assert broken.returncode == 1
    assert "Traceback" not in broken.stderr
    [error] = [line for line in broken.stderr.splitlines() if line.startswith("tongban:")]
    assert "build failed in raw_events" in error
