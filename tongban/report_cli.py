"""`tongban report process KEY [--json]`: the process-mining summary of one process.

Reads the PUBLISHED warehouse (the snapshot `CURRENT` names), never the pipelines' work database.
Registered on the `tongban` command group at the end of `tongban/cli.py`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

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
    """Reports read from the published warehouse."""


@report.command("process")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--top", default=TOP, show_default=True, help="Activities and DFG edges shown.")
def process(key: str, as_json: bool, top: int) -> None:
    """Cases, events, case durations, activities and the directly-follows graph of KEY."""
    from warehouse.reader import NoSnapshotError, Warehouse

    paths = WarehousePaths(warehouse_root(Settings.from_env()))
    try:
        with Warehouse(paths) as warehouse, warehouse.cursor() as cursor:
            result = process_report(cursor, key)
    except (UnknownProcessError, NoSnapshotError) as exc:
        click.echo(f"tongban: {exc}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _print(result, top)


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
