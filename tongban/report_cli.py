"""`tongban report process KEY [--json] [--from-store]`, `tongban report log FILE [--json]`: the
process-mining summary of one process.

`process` reads the PUBLISHED warehouse (the snapshot `CURRENT` names), never the pipelines' work
database; with `--from-store`, the event store's events of KEY, through the warehouse's own
process models in memory (`tongban.report_store`): a log just imported is reported without a
build. `log` reports on a XES or CSV file as `import-log` would read it, writing nothing.
Registered on the `tongban` command group in `tongban/cli.py` (imported when called).
"""

from __future__ import annotations

import json
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

from tongban.log_options import log_columns, log_format_of, log_reading_options
from tongban.settings import Settings
from warehouse.paths import WarehousePaths
from warehouse.process_report import UnknownProcessError, process_report

TOP = 15


def warehouse_root(settings: Settings) -> Path:
    # TODO: Settings.warehouse_dir once it lands; until then the warehouse lives under home.
    root = getattr(settings, "warehouse_dir", None)
    return Path(root) if root is not None else settings.home / "warehouse"


def humanise(seconds: float) -> str:
    """`1 天 2 小时 3 分钟 (93,784.0 s)`; under a minute, just the seconds."""
    whole = int(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    parts = [
        f"{value} {unit}"
        for value, unit in ((days, "天"), (hours, "小时"), (minutes, "分钟"))
        if value
    ]
    exact = f"{seconds:,.1f} s"
    return f"{' '.join(parts)} ({exact})" if parts else exact


@click.group()
def report() -> None:
    """Reports read from the published warehouse (or, when asked, the event store)."""


@report.command("process")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--top", default=TOP, show_default=True, help="Activities and DFG edges shown.")
@click.option(
    "--from-store",
    "from_store",
    is_flag=True,
    help="Compute it from the event store's events of KEY, without a build (e.g. a log just"
    " imported). Checks what the figures rest on, not every data-quality check.",
)
def process(key: str, as_json: bool, top: int, from_store: bool) -> None:
    """Cases, events, case durations, activities and the directly-follows graph of KEY."""
    settings = Settings.from_env()
    result = _from_store(settings, key) if from_store else _published(settings, key)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _print(result, top)


def _fail(message: str) -> NoReturn:
    click.echo(f"tongban: {message}", err=True)
    sys.exit(1)


def _published(settings: Settings, key: str) -> dict[str, Any]:
    from warehouse.reader import NoSnapshotError, Warehouse

    paths = WarehousePaths(warehouse_root(settings))
    try:
        with Warehouse(paths) as warehouse, warehouse.cursor() as cursor:
            return process_report(cursor, key)
    except (UnknownProcessError, NoSnapshotError) as exc:
        # A log imported since the last build is in the store, not yet in the warehouse.
        _fail(f"{exc}; a process imported since the last build: `tongban build`, or --from-store")


def _from_store(settings: Settings, key: str) -> dict[str, Any]:
    from tongban.report_store import store_report
    from warehouse.process_direct import ProcessInputError
    from workflow_core.errors import WorkflowError

    try:
        return store_report(settings.db_url, key)
    except (UnknownProcessError, ProcessInputError) as exc:
        _fail(f"{exc} (in the event store)" if isinstance(exc, UnknownProcessError) else str(exc))
    except WorkflowError as exc:  # the store cannot be opened
        _fail(exc.message)


@report.command("log")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--process-key",
    "process_key",
    default=None,
    help="The name the report gives the process  [default: from the file name]",
)
@log_reading_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--top", default=TOP, show_default=True, help="Activities and DFG edges shown.")
def log(
    path: Path,
    process_key: str | None,
    log_format: str | None,
    case: str | None,
    activity: str | None,
    timestamp: str | None,
    resource: str | None,
    group: str | None,
    as_json: bool,
    top: int,
) -> None:
    """The report of a XES or CSV event log, read and checked as `tongban import-log` reads it,
    without importing it: nothing is written."""
    from workflow_core.importing.model import LogImportError, read_log_bytes

    kind = log_format_of(path, log_format)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The file is read, hashed and inflated (outside the GIL) while Polars and DuckDB load.
        read = pool.submit(read_log_bytes, path) if kind == "xes" else None
        from tongban.report_store import log_report
        from warehouse.process_direct import ProcessInputError

        key = process_key or default_process_key(path)
        try:
            result = log_report(
                path,
                key,
                kind,
                log_columns(case, activity, timestamp, resource, group),
                read=read,
            )
        except (LogImportError, ProcessInputError) as exc:
            _fail(str(exc))
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _print(result, top)


def default_process_key(path: Path) -> str:
    """`BPIC 2012.xes.gz` → `bpic_2012`: the file's name without its log suffixes, as a key."""
    stem = path.name.lower()
    for suffix in (".gz", ".xes", ".csv"):
        stem = stem.removesuffix(suffix)
    key = re.sub(r"[^a-z0-9_]+", "_", stem).strip("_")[:40]
    return key if len(key) >= 2 else "log"


def _print(result: dict[str, Any], top: int) -> None:
    out = Console()
    durations = result["case_duration_s"]
    out.print(
        f"[bold]{result['process_key']}[/bold]: {result['cases']:,} cases, "
        f"{result['events']:,} events"
    )
    summary = Table(title="case duration (first to last event)", title_justify="left")
    summary.add_column("statistic")
    summary.add_column("duration", justify="right", no_wrap=True)
    for name in ("min", "median", "mean", "p90", "max"):
        summary.add_row(name, humanise(durations[name]))
    out.print(summary)

    activities = result["activity_counts"]
    table = Table(
        title=f"activities (top {min(top, len(activities))} of {len(activities)})",
        title_justify="left",
    )
    table.add_column("activity")
    table.add_column("events", justify="right")
    for activity, count in list(activities.items())[:top]:
        table.add_row(activity, f"{count:,}")
    out.print(table)

    edges = result["dfg"]
    dfg = Table(
        title=f"directly-follows edges (top {min(top, len(edges))} of {len(edges)})",
        title_justify="left",
    )
    dfg.add_column("from")
    dfg.add_column("to")
    dfg.add_column("pairs", justify="right")
    dfg.add_column("median", justify="right", no_wrap=True)
    dfg.add_column("mean", justify="right", no_wrap=True)
    for edge in edges[:top]:
        dfg.add_row(
            edge["from"],
            edge["to"],
            f"{edge['count']:,}",
            humanise(edge["median_s"]),
            humanise(edge["mean_s"]),
        )
    out.print(dfg)
