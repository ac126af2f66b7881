"""Fixtures for importing real event logs: where the shared logs live, and table counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from workflow_core.store.schema import events, instances, log_imports, tasks

# CI clones the repository with `shared/` beside it: <clone>/../shared/data/real_logs.
REAL_LOGS = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "real_logs"


def real_log(name: str) -> Path:
    path = REAL_LOGS / name
    if not path.exists():
        pytest.skip(f"the real event log {name} is absent (expected at {REAL_LOGS.resolve()})")
    return path


def counts(engine: Engine) -> dict[str, int]:
    """Rows in every table an import writes to."""
    with engine.connect() as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (events, instances, tasks, log_imports)
        }
