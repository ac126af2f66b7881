"""`tongban simulate` on a small university: says what it simulates, writes history, and refuses
to simulate the same seed into the same store twice."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from workflow_core.store.db import make_engine
from workflow_core.store.migrate import upgrade
from workflow_core.store.schema import events

TONGBAN = str(Path(sys.executable).with_name("tongban"))


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    environ["TONGBAN_HOME"] = str(home)
    return subprocess.run(
        [TONGBAN, *args], env=environ, capture_output=True, text=True, timeout=300
    )


def test_simulate_writes_history_once_per_seed(university_dir: Path, tmp_path: Path) -> None:
    shutil.copy(university_dir / "business.db", tmp_path / "business.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'events.db'}")
    upgrade(engine)
    args = ["simulate", "--size", "small", "--days", "3", "--end", "2026-03-05", "--seed", "5"]
    first = run(args, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "non-campaign services only" in " ".join(first.stderr.split())
    with engine.connect() as conn:
        written = conn.execute(select(func.count()).select_from(events)).scalar_one()
    assert written > 0
    assert f"{written:,} events" in first.stderr
    again = run(args, tmp_path)
    assert again.returncode == 1
    assert "already holds history simulated with seed 5" in again.stderr
    assert "Traceback" not in again.stderr
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == written
    engine.dispose()
