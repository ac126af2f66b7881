"""`tongban simulate` on a small university in two processes: writes the services' history and
the 元旦 campaign, refuses to simulate the same seed into the same store twice, and with --once
leaves it as it is."""

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
    args = ["simulate", "--size", "small", "--days", "10", "--end", "2026-01-01", "--seed", "5"]
    first = run([*args, "--workers", "2"], tmp_path)
    assert first.returncode == 0, first.stderr
    output = " ".join(first.stderr.split())
    assert "2 processes" in output
    with engine.connect() as conn:
        written = conn.execute(select(func.count()).select_from(events)).scalar_one()
        types = set(conn.execute(select(events.c.event_type).distinct()).scalars())
    assert written > 0
    assert f"{written:,} events" in output
    assert {"campaign_opened", "campaign_reminded", "approved", "completed"} <= types
    wrong = run([*args[:2], "demo", *args[3:], "--seed", "6"], tmp_path)
    assert wrong.returncode == 1 and "not a demo university" in wrong.stderr
    assert "--size small" in wrong.stderr and "Traceback" not in wrong.stderr
    kept = run([*args, "--once"], tmp_path)
    assert kept.returncode == 0, kept.stderr
    assert "already in the store" in kept.stderr
    again = run(args, tmp_path)
    assert again.returncode == 1
    assert "already holds history simulated with seed 5" in again.stderr
    assert "Traceback" not in again.stderr
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == written
    engine.dispose()
