"""The Dagster home made from the project's dagster.yaml keeps its event log in SQLite under
storage/ with kept-open databases in WAL: events written through one instance are read by
another (the UI beside the daemon), a run's events land in its own database, and
wiping leaves nothing open or behind."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import dagster as dg
import yaml

from pipelines.dagster_storage import OPEN_DATABASES, SqliteEventLog
from tongban.dagster_home import ensure_dagster_home


@dg.asset
def roster_count() -> dg.MaterializeResult:  # type: ignore[type-arg]
    return dg.MaterializeResult(metadata={"dagster/row_count": 3})


def _home(tmp_path: Path) -> Path:
    # A path YAML would misread unquoted.
    return ensure_dagster_home(tmp_path / "hall: dagster #1")


def test_the_home_points_the_event_log_at_its_own_storage(tmp_path: Path) -> None:
    home = _home(tmp_path)
    config = yaml.safe_load((home / "dagster.yaml").read_text(encoding="utf-8"))
    storage = config["event_log_storage"]
    assert storage["module"] == "pipelines.dagster_storage"
    assert storage["config"]["base_dir"] == str(home.resolve() / "storage")
    # An existing file is left as it is.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    ensure_dagster_home(home)
    assert "event_log_storage" not in (home / "dagster.yaml").read_text(encoding="utf-8")


def test_events_are_written_kept_open_and_read_by_another_instance(tmp_path: Path) -> None:
    home = _home(tmp_path)
    writer = dg.DagsterInstance.from_config(str(home))
    reader = dg.DagsterInstance.from_config(str(home))
    try:
        assert isinstance(writer.event_log_storage, SqliteEventLog)
        result = dg.materialize([roster_count], instance=writer)
        assert result.success
        for number in range(3):
            writer.report_runless_asset_event(
                dg.AssetMaterialization("roster_count", metadata={"n": number})
            )
        latest = reader.get_latest_materialization_event(dg.AssetKey("roster_count"))
        assert latest is not None and latest.asset_materialization is not None
        assert latest.asset_materialization.metadata["n"].value == 2
        run_events = reader.all_logs(result.run_id)
        assert any(e.dagster_event and e.dagster_event.is_step_success for e in run_events)
        storage = home / "storage"
        # WAL, as Dagster makes a run's database; its index was left in a rollback journal.
        for name, mode in (("index", "wal"), (result.run_id, "wal")):
            database = sqlite3.connect(storage / f"{name}.db")
            try:
                assert database.execute("pragma journal_mode").fetchone() == (mode,), name
            finally:
                database.close()
    finally:
        writer.dispose()
        reader.dispose()


def test_open_databases_are_bounded_and_wiping_closes_them(tmp_path: Path) -> None:
    home = _home(tmp_path)
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        storage = instance.event_log_storage
        assert isinstance(storage, SqliteEventLog)
        runs = [
            dg.materialize([roster_count], instance=instance) for _ in range(OPEN_DATABASES + 2)
        ]
        assert all(run.success for run in runs)
        assert len(storage._engines) <= OPEN_DATABASES
        # The oldest run's database was closed, and still reads.
        assert instance.all_logs(runs[0].run_id)
        instance.wipe()
        assert not storage._engines
        assert instance.get_latest_materialization_event(dg.AssetKey("roster_count")) is None
    finally:
        instance.dispose()
