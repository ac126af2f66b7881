"""The Dagster instance the shell runs jobs in: created from the project's `dagster.yaml`."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Final

# Dagster's own step log stays in the run's record (the UI shows it); the terminal gets one
# line per asset.
QUIET: Final = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
DAGSTER_YAML: Final = Path(__file__).resolve().parents[1] / "pipelines" / "dagster.yaml"


def ensure_dagster_home(home: Path) -> Path:
    """Create the Dagster home with the project's `dagster.yaml` unless it exists already."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(DAGSTER_YAML, config)
    return home
