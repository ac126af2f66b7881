"""The Dagster instance the shell runs jobs in: created from the project's `dagster.yaml`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

# Dagster's own step log stays in the run's record (the UI shows it); the terminal gets one
# line per asset.
QUIET: Final = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
DAGSTER_YAML: Final = Path(__file__).resolve().parents[1] / "pipelines" / "dagster.yaml"


# The template's event log directory; written as a quoted absolute path (JSON is valid YAML).
STORAGE_PLACEHOLDER: Final = "${DAGSTER_HOME}/storage"


def ensure_dagster_home(home: Path) -> Path:
    """Create the Dagster home with the project's `dagster.yaml` (its paths made this home's)
    unless it exists already."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        text = DAGSTER_YAML.read_text(encoding="utf-8")
        written = config.with_name(".dagster.yaml.new")
        storage = json.dumps(str(home.resolve() / "storage"), ensure_ascii=False)
        written.write_text(text.replace(STORAGE_PLACEHOLDER, storage), encoding="utf-8")
        written.replace(config)
    return home
