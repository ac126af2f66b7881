"""tongban import-log: a real log imports once; a repeat or a broken file fails in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from workflow_core.store.schema import events, instances, log_imports

TONGBAN = str(Path(sys.executable).with_name("tongban"))
REAL_LOGS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real_logs"


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    environ["TONGBAN_HOME"] = str(home)
    return subprocess.run(
        [TONGBAN, *args], env=environ, capture_output=True, text=True, timeout=300
    )


def counts(home: Path) -> tuple[int, int, int]:
    engine = create_engine(f"sqlite:///{home / 'events.db'}")
    with engine.connect() as conn:
        found = tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (events, instances, log_imports)
        )
    engine.dispose()
    return found  # type: ignore[return-value]


@pytest.fixture
def receipt() -> Path:
    path = REAL_LOGS / "receipt.csv"
    if not path.exists():
        pytest.skip(f"the real event log receipt.csv is absent (expected at {REAL_LOGS})")
    return path


def test_import_once_refuse_the_repeat_and_rebuild(tmp_path: Path, receipt: Path) -> None:
    first = run(["import-log", str(receipt), "--process-key", "receipt"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "1,434 cases, 8,577 events" in " ".join(first.stderr.split())
    assert counts(tmp_path) == (1_434 + 8_577, 1_434, 1)
    again = run(["import-log", str(receipt), "--process-key", "receipt"], tmp_path)
    assert again.returncode == 1
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and "already imported as process 'receipt'" in lines[0], lines
    assert counts(tmp_path) == (1_434 + 8_577, 1_434, 1)
    rebuilt = run(["rebuild-projections"], tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert counts(tmp_path) == (1_434 + 8_577, 1_434, 1)


def test_a_broken_file_fails_in_one_line_naming_the_row(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text(
        "case:concept:name,concept:name,time:timestamp\n"
        "c1,register,2024-03-01T09:00:00+08:00\n"
        "c1,check,not a time\n",
        encoding="utf-8",
    )
    result = run(["import-log", str(path), "--process-key", "broken"], tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "row 2 (line 3): unparsable timestamp" in lines[0], result.stderr
    assert counts(tmp_path) == (0, 0, 0)


def test_columns_can_be_named_and_the_format_chosen(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    path.write_text(
        "Case,Step,When,Who,Office\n"
        "k1,提交,2024-03-01T09:00:00+08:00,u1,教务处\n"
        "k1,审批,2024-03-01T10:00:00+08:00,u2,学工部\n",
        encoding="utf-8",
    )
    unknown = run(["import-log", str(path), "--process-key", "hall_log"], tmp_path)
    assert unknown.returncode == 1 and "pass --format" in unknown.stderr
    args = ["import-log", str(path), "--process-key", "hall_log", "--format", "csv"]
    named = ["--case", "Case", "--activity", "Step", "--timestamp", "When"]
    result = run([*args, *named, "--resource", "Who", "--group", "Office"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert counts(tmp_path) == (3, 1, 1)
