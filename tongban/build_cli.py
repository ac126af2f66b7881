"""`tongban build`: the warehouse's update (or full rebuild) job, run in this process.

The same Dagster job the sensor launches, for people without the UI: one line per asset as it
lands (rows, seconds), a one-line error and exit 1 when a step fails. The run is recorded in
the Dagster instance under DAGSTER_HOME (created from `pipelines/dagster.yaml` when missing),
so the UI shows it and the sensor waits for it.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from datetime import datetime
from typing import Any

import click

from tongban.cli import console, one_line_errors
from tongban.dagster_home import QUIET, ensure_dagster_home
from tongban.settings import Settings


def _line(record: Any) -> str | None:
    from dagster import DagsterEventType

    event = record.event_log_entry.dagster_event
    if event is None:
        return None
    if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
        materialization = event.event_specific_data.materialization
        metadata = materialization.metadata
        rows = metadata.get("dagster/row_count")
        seconds = metadata.get("seconds")
        extra = []
        for key in ("new_events", "changed", "snapshot"):
            if key in metadata and metadata[key].value is not None:
                extra.append(f"{key.replace('_', ' ')} {metadata[key].value:,}")
        detail = f" ({', '.join(extra)})" if extra else ""
        return (
            f"{materialization.asset_key.to_user_string():<34}"
            f"{(rows.value if rows else 0):>10,} rows"
            f"{(seconds.value if seconds else 0):>7.2f} s{detail}"
        )
    return None


def _follow(instance: Any, run_id: str, done: threading.Event) -> None:
    from dagster import DagsterEventType

    cursor = None
    while True:
        finished = done.is_set()
        try:
            found = instance.get_records_for_run(
                run_id, cursor=cursor, of_type=DagsterEventType.ASSET_MATERIALIZATION
            )
        except Exception:
            found = None
        if found is not None:
            for record in found.records:
                line = _line(record)
                if line:
                    console.print(line, highlight=False, soft_wrap=True)
            cursor = found.cursor
        if finished:
            return
        time.sleep(0.2)


def _print_checks(result: Any) -> None:
    """One line for the checks, and one per check that failed (warnings included)."""
    latest: dict[str, Any] = {}
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            latest[evaluation.check_name] = evaluation
    if not latest:
        return
    failed = [e for e in latest.values() if not e.passed]
    blocking = [e for e in failed if e.severity.value == "ERROR"]
    console.print(
        f"data quality: {len(latest)} checks, {len(blocking)} blocking failed,"
        f" {len(failed) - len(blocking)} warnings",
        highlight=False,
    )
    for evaluation in failed:
        metadata = evaluation.metadata
        count = metadata.get("unexpected_count")
        sample = metadata.get("sample")
        keys = sample.value[:3] if sample is not None and isinstance(sample.value, list) else []
        console.print(
            f"  {'BLOCKING' if evaluation.severity.value == 'ERROR' else 'warning'}"
            f" {evaluation.check_name} on {evaluation.asset_key.to_user_string()}:"
            f" {count.value if count is not None else '?'} rows"
            + (f", e.g. {keys}" if keys else ""),
            highlight=False,
            soft_wrap=True,
        )
    if blocking:
        console.print(
            "nothing was published: the last good snapshot stays (`tongban quality` for details)",
            highlight=False,
        )


@click.command()
@click.option("--full", is_flag=True, help="Rebuild every model from scratch (raw events stay).")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    default=None,
    help="The build's 'now' in UTC (default: when the run starts).",
)
@one_line_errors
def build(full: bool, as_of: datetime | None) -> None:
    """Build the warehouse and publish a snapshot (the sensor's job, without the UI)."""
    import dagster as dg

    from pipelines.definitions import defs
    from pipelines.jobs import AS_OF_TAG, WAREHOUSE_FULL_REBUILD, WAREHOUSE_UPDATE, as_of_tag
    from pipelines.recovery import executor_tags, fail_orphaned_runs

    settings = Settings.from_env()
    instance = dg.DagsterInstance.from_config(str(ensure_dagster_home(settings.dagster_home)))
    name = WAREHOUSE_FULL_REBUILD if full else WAREHOUSE_UPDATE
    job = defs.resolve_job_def(name)
    tags = executor_tags()
    if as_of:
        tags[AS_OF_TAG] = as_of_tag(as_of)
    for orphan in fail_orphaned_runs(instance):
        console.print(f"run {orphan[:8]} was left unfinished by a stopped process: marked failed")
    run_id = str(uuid.uuid4())
    console.print(f"{name} into {settings.warehouse_dir} (run {run_id[:8]})")
    started = time.perf_counter()
    done = threading.Event()
    follower = threading.Thread(target=_follow, args=(instance, run_id, done), daemon=True)
    follower.start()
    try:
        result = job.execute_in_process(
            run_config=QUIET, instance=instance, run_id=run_id, tags=tags, raise_on_error=False
        )
    finally:
        done.set()
        follower.join()
        instance.dispose()
    elapsed = time.perf_counter() - started
    _print_checks(result)
    if not result.success:
        failures = result.get_step_failure_events()
        if failures:
            error = failures[0].event_specific_data.error  # type: ignore[union-attr]
            message = error.message.strip().splitlines()[-1] if error else "unknown error"
            click.echo(f"tongban: build failed in {failures[0].step_key}: {message}", err=True)
        else:
            click.echo(f"tongban: build {name} failed (run {run_id})", err=True)
        sys.exit(1)
    console.print(f"{name} finished in {elapsed:.1f} s")
