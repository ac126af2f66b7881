"""A warehouse job run in this process, warm, as Dagster's daemon runs the sensor's runs.

The daemon launches runs in its own process (`SyncInMemoryRunLauncher`, see
`pipelines/dagster.yaml`), where Dagster, the definitions and Great Expectations are imported
once; a `tongban build` pays those imports on every call. So a figure for what one update costs
comes from a process that has run the job before, like the daemon.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tongban.bench.processes import BenchError


@contextlib.contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """This process's environment replaced by `env` for the block (the pipelines' resources
    read their settings from it when a run starts)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass(frozen=True)
class JobRun:
    seconds: float
    assets: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    checks: int = 0


def run_job(env: Mapping[str, str], name: str) -> JobRun:
    """Run job `name` to its end in this process; its time and each asset's own seconds.

    The sensor's `live_update` makes a single pass here: in the daemon it goes on following
    the store for up to two minutes, which is about latency under traffic, not one update."""
    import dagster as dg

    from pipelines.definitions import build_definitions
    from pipelines.environment import resources
    from pipelines.recovery import executor_tags
    from tongban.dagster_home import QUIET, ensure_dagster_home

    defs = _definitions(build_definitions, resources, env)
    with environment(env):
        instance = dg.DagsterInstance.from_config(
            str(ensure_dagster_home(Path(env["DAGSTER_HOME"])))
        )
        try:
            job = defs.resolve_job_def(name)
            started = time.perf_counter()
            result = job.execute_in_process(
                run_config=QUIET,
                instance=instance,
                run_id=str(uuid.uuid4()),
                tags=executor_tags(),
                raise_on_error=False,
            )
            seconds = time.perf_counter() - started
        finally:
            instance.dispose()
    if not result.success:
        raise BenchError(f"the {name} job failed (run {result.run_id}); see the Dagster UI")
    return JobRun(seconds, *_assets(result), checks=_checks(result))


_DEFINITIONS: dict[tuple[tuple[str, str], ...], Any] = {}


def _definitions(build: Any, resources: Any, env: Mapping[str, str]) -> Any:
    """The definitions bound to `env`'s resources, made once per environment (loading every
    SQL model is part of a process's start-up, not of a run)."""
    key = tuple(sorted(env.items()))
    if key not in _DEFINITIONS:
        from pipelines.resources import LiveUpdate

        _DEFINITIONS[key] = build(
            resources={**resources(env), "live": LiveUpdate(follow_seconds=0)}
        )
    return _DEFINITIONS[key]


def _assets(result: Any) -> tuple[dict[str, float], dict[str, int]]:
    seconds: dict[str, float] = {}
    rows: dict[str, int] = {}
    for event in result.all_events:
        if event.event_type_value != "ASSET_MATERIALIZATION":
            continue
        materialization = event.event_specific_data.materialization
        name = materialization.asset_key.to_user_string()
        metadata = materialization.metadata
        if "seconds" in metadata:
            seconds[name] = float(metadata["seconds"].value)
        if "dagster/row_count" in metadata:
            rows[name] = int(metadata["dagster/row_count"].value)
    return seconds, rows


def _checks(result: Any) -> int:
    return sum(1 for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION")
