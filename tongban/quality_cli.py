"""`tongban quality [--json]`: the latest data-quality status, for scripts and alerts.

Reads the published quality report (`WarehousePaths(settings.warehouse_dir).quality`, written
by the pipelines after every evaluation, a blocked build included), never the pipelines' work
database; the statuses are those of the data-quality page (`warehouse.read_api.quality`). The
command is run by whoever may read the files, so it reads as data staff, failing keys included.

Printed: every check's latest result (failing blocking checks first), a summary line, and the
freshness of each source; `--json` prints the same as one document with stable keys, times in
Asia/Shanghai with their offset. Exit status: 0 when no blocking (`error`) check's latest result
failed, 1 when one did, 2 when no report has been published yet.
Registered on the `tongban` command group at the end of `tongban/cli.py`.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import click
import duckdb

from tongban.cli import one_line_errors
from tongban.settings import Settings
from warehouse.paths import WarehousePaths
from warehouse.publication import SNAPSHOT_TABLE
from warehouse.scope import Scope

NO_REPORT: Final = "no data-quality report yet: run `tongban build`"
KEYS_SHOWN: Final = 3
EXIT_BLOCKING: Final = 1
EXIT_NO_REPORT: Final = 2


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON document.")
@one_line_errors
def quality(as_json: bool) -> None:
    """The latest data-quality status: each check's result, publication, freshness.

    Exits 0 when no blocking check fails, 1 when one does, 2 when nothing was checked yet.
    """
    from warehouse.reader import NoSnapshotError, Warehouse

    settings = Settings.from_env()
    paths = WarehousePaths(settings.warehouse_dir).quality
    try:
        with Warehouse(paths) as report, report.cursor() as cursor:
            status = quality_status(cursor, datetime.now(UTC).replace(tzinfo=None))
    except NoSnapshotError:
        click.echo(f"tongban: {NO_REPORT}", err=True)
        sys.exit(EXIT_NO_REPORT)
    if as_json:
        click.echo(json.dumps(status, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(render_text(status))
    sys.exit(EXIT_BLOCKING if status["summary"]["failing_blocking"] else 0)


def quality_status(cursor: duckdb.DuckDBPyConnection, now: datetime) -> dict[str, Any]:
    """The status as plain JSON values, from a cursor on the quality report; `now` naive UTC."""
    from warehouse.read_api import quality as reads  # polars: not on every `tongban` start

    scope = Scope(
        user_id="tongban quality",
        on=now.date(),
        roles=frozenset({reads.DATA_STAFF}),
        university=True,
    )
    checks = [_check(cursor, scope, row) for row in reads.check_status(cursor, scope).to_dicts()]
    # Failing blocking checks first, then warnings, passes and checks that never ran.
    order = {status: rank for rank, status in enumerate(reads.STATUSES)}
    checks.sort(key=lambda c: (order.get(c["status"], len(order)), c["asset"], c["check"]))
    publication = reads.publication(cursor, scope)
    freshness = [
        {
            "source": row["source"],
            "loaded_at": _moment(row["loaded_at"]),
            "newest_at": _moment(row["newest_at"]),
            "rows": row["row_count"],
            "detail": row["detail"],
            "loaded_age_s": _seconds(row["loaded_age_s"]),
            "newest_age_s": _seconds(row["newest_age_s"]),
        }
        for row in reads.freshness(cursor, scope, now).to_dicts()
    ]
    snapshot = publication.last_snapshot
    snapshot_at = publication.last_published_at
    if snapshot is None:  # published before the runs the report keeps: the load says which
        loaded = next((row for row in freshness if row["source"] == "snapshot"), None)
        if loaded is not None and str(loaded["detail"] or "").isdigit():
            snapshot = int(str(loaded["detail"]))
            snapshot_at = None
    counts = {status: sum(c["status"] == status for c in checks) for status in reads.STATUSES}
    described = cursor.execute(f"select number, published_at from {SNAPSHOT_TABLE}").fetchall()
    return {
        "report": {
            "number": int(described[0][0]) if described else None,
            "published_at": _moment(described[0][1]) if described else None,
        },
        "summary": {
            "checks": len(checks),
            "failing_blocking": counts[reads.FAIL],
            "warnings": counts[reads.WARN],
            "passing": counts[reads.PASS],
            "not_run": counts[reads.NOT_RUN],
            "publication_blocked": publication.blocked,
            "blocked_since": _moment(publication.since),
            "blocked_runs": publication.blocked_runs,
            "blocking_checks": list(publication.blocking_checks),
            "published_snapshot": snapshot,
            "snapshot_published_at": (_moment(snapshot_at) if snapshot_at is not None else None),
        },
        "checks": checks,
        "freshness": freshness,
    }


def _check(
    cursor: duckdb.DuckDBPyConnection, scope: Scope, row: Mapping[str, Any]
) -> dict[str, Any]:
    from warehouse.read_api import quality as reads

    status = str(row["status"])
    keys: list[dict[str, Any]] = []
    if status in (reads.FAIL, reads.WARN) and row["sample_rows"]:
        sample = reads.failing_sample(cursor, scope, str(row["check_name"]))
        for record in sample.rows.head(KEYS_SHOWN).to_dicts():
            named = {k: record[k] for k in sample.keys if k in record}
            keys.append(named or dict(record))  # a check without key columns: the whole row
    return {
        "check": row["check_name"],
        "asset": row["asset"],
        "suite": row["suite"],
        "severity": row["severity"],
        "status": status,
        "unexpected_count": row["unexpected_count"],
        "element_count": row["element_count"],
        "evaluated_at": _moment(row["evaluated_at"]),
        "run_id": row["run_id"],
        "job_name": row["job_name"],
        "failing_keys": [{k: _plain(v) for k, v in named.items()} for named in keys],
    }


def render_text(status: Mapping[str, Any]) -> str:
    """The status for people: a summary line, one line per check, one per source."""
    summary = status["summary"]
    lines = [summary_line(summary)]
    report = status["report"]
    if report["number"] is not None:
        lines.append(
            f"quality report #{report['number']} of {_local(report['published_at'])}"
            " (times in Asia/Shanghai)"
        )
    checks = status["checks"]
    if checks:
        width = max(len(c["check"]) for c in checks)
        asset_width = max(len(c["asset"]) for c in checks)
        lines.append("")
        for c in checks:
            when = _local(c["evaluated_at"]) if c["evaluated_at"] else "never evaluated"
            count = c["unexpected_count"]
            failing = f"{count:>9,} failing" if count is not None else " " * 17
            keys = "; ".join(
                ", ".join(f"{k}={v}" for k, v in named.items()) for named in c["failing_keys"]
            )
            lines.append(
                f"{c['status'].upper():<7} {c['severity']:<5} {c['check']:<{width}} "
                f"{c['asset']:<{asset_width}} {failing}  {when}"
                + (f"  e.g. {keys}" if keys else "")
            )
    if status["freshness"]:
        lines.append("")
        lines.append("freshness:")
        for f in status["freshness"]:
            parts = [f"loaded {_local(f['loaded_at'])} ({_age(f['loaded_age_s'])} ago)"]
            if f["newest_at"] is not None:
                parts.append(f"newest {_local(f['newest_at'])} ({_age(f['newest_age_s'])} old)")
            if f["rows"] is not None:
                parts.append(f"{f['rows']:,} rows")
            lines.append(f"  {f['source']}: " + ", ".join(parts))
    return "\n".join(lines)


def summary_line(summary: Mapping[str, Any]) -> str:
    """`N checks: x failing blocking, y warnings; publication …; snapshot #n still published`."""
    head = (
        f"{summary['checks']} checks: {summary['failing_blocking']} failing blocking, "
        f"{summary['warnings']} warnings"
    )
    if summary["not_run"]:
        head += f", {summary['not_run']} not run"
    if summary["publication_blocked"]:
        since = summary["blocked_since"]
        runs = summary["blocked_runs"]
        publication = (
            f"publication BLOCKED since {_local(since)} ({runs} run{'s' if runs != 1 else ''})"
            if since
            else "publication BLOCKED"
        )
    else:
        publication = "publication not blocked"
    number = summary["published_snapshot"]
    if number is None:
        snapshot = "no snapshot published yet"
    else:
        at = summary["snapshot_published_at"]
        snapshot = f"snapshot #{number}" + (f" of {_local(at)}" if at else "")
        snapshot += " still published" if summary["publication_blocked"] else " published"
    return f"{head}; {publication}; {snapshot}"


def _moment(value: object) -> str | None:
    """A naive UTC timestamp as ISO 8601 in Asia/Shanghai, to the second, with its offset."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return moment.astimezone(_campus_tz()).replace(microsecond=0).isoformat()


@functools.cache
def _campus_tz() -> ZoneInfo:
    return ZoneInfo("Asia/Shanghai")


def _local(moment: str | None) -> str:
    """`2026-11-02 10:00:00` from `_moment`'s ISO text (already in Asia/Shanghai)."""
    return moment[:19].replace("T", " ") if moment else "—"


def _seconds(value: object) -> float | None:
    return None if value is None else round(float(value), 1)  # type: ignore[arg-type]


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "unknown age"
    whole = int(abs(seconds))
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if whole >= size:
            text = f"{whole // size} {unit}"
            break
    else:
        text = f"{whole} s"
    return text if seconds >= 0 else f"{text} in the future"


def _plain(value: object) -> object:
    """A sample value as JSON: kept when it is one, else its text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
