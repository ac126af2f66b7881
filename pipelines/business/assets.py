"""The business systems, the process catalog and the academic calendar, as raw tables.

The frequent `warehouse_update` run loads them only when missing (the nightly
`business_refresh` and the full rebuild reload them); the calendar is reloaded whenever the
range or the departments it must cover change, so it always matches what a full build makes.
"""

import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Final

import dagster as dg
import duckdb

from pipelines.extract import catalog_frames, read_business_tables
from pipelines.jobs import refreshes_sources, run_as_of
from pipelines.quality.asset_checks import (
    check_results,
    evaluate_and_report,
    maybe_build_docs,
    selected_checks,
    specs_for,
)
from pipelines.quality.checks import RAW_BUSINESS
from pipelines.resources import BusinessSystems, Catalog, WarehouseResource
from warehouse.academic_calendar import calendar_frames
from warehouse.quality import record_load, utc_now
from warehouse.raw import ensure_raw_events, replace_table

CALENDAR_LOOKBACK: Final = timedelta(days=7)
CALENDAR_LOOKAHEAD: Final = timedelta(days=400)  # SLA due dates look ahead
IMPORTED_EVENT_TYPES: Final = ("case_imported", "activity")


def _tables(conn: duckdb.DuckDBPyConnection, prefix: str) -> dict[str, int]:
    names = [
        str(row[0])
        for row in conn.execute(
            "select table_name from information_schema.tables"
            " where table_schema = 'main' and starts_with(table_name, ?)",
            [prefix],
        ).fetchall()
    ]
    return {
        name: int(conn.execute(f"select count(*) from {name}").fetchall()[0][0]) for name in names
    }


def _result(counts: dict[str, int], loaded: bool, started: float) -> dg.MaterializeResult:  # type: ignore[type-arg]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(counts.values()),
            "tables": dg.MetadataValue.json(counts),
            "reloaded": loaded,
            "seconds": round(time.perf_counter() - started, 3),
        }
    )


@dg.asset(group_name="business", kinds={"duckdb"}, check_specs=specs_for([RAW_BUSINESS]))
def raw_business(
    context: dg.AssetExecutionContext,
    business_systems: BusinessSystems,
    warehouse: WarehouseResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:  # type: ignore[type-arg]
    """The business systems' rosters, classes, staff and roles, dates kept (学籍, 人事)."""
    started = time.perf_counter()
    checks = selected_checks(context, [RAW_BUSINESS])
    with warehouse.connect() as conn:
        loaded = refreshes_sources(context) or not _tables(conn, "raw_business__")
        if loaded:
            with business_systems.engine() as engine:
                frames = read_business_tables(engine)
            for name, frame in frames.items():
                replace_table(conn, name, frame)
        counts = _tables(conn, "raw_business__")
        if loaded:
            record_load(conn, "business", utc_now(), rows=sum(counts.values()))
        yield _result(counts, loaded, started)
        if checks:
            evaluation = evaluate_and_report(context, conn, warehouse.paths, checks)
            if evaluation.blocked:
                # The models' step will not run: the docs show what stopped the run now.
                maybe_build_docs(context, warehouse.gx_dir)
            yield from check_results(evaluation, checks)


@dg.asset(group_name="business", kinds={"duckdb"})
def raw_catalog(
    context: dg.AssetExecutionContext, catalog: Catalog, warehouse: WarehouseResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The process catalog (事项目录): every service, its steps and nodes with their SLAs."""
    started = time.perf_counter()
    with warehouse.connect() as conn:
        loaded = refreshes_sources(context) or not _tables(conn, "raw_catalog__")
        if loaded:
            for name, frame in catalog_frames(catalog.load()).items():
                replace_table(conn, name, frame)
        counts = _tables(conn, "raw_catalog__")
    return _result(counts, loaded, started)


@dg.asset(group_name="business", kinds={"duckdb"}, deps=[raw_business, "raw_events"])
def raw_calendar(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The academic calendar: workdays, holidays and 调休, each department's working hours."""
    started = time.perf_counter()
    as_of = run_as_of(context)
    with warehouse.connect() as conn:
        first_day, last_day = calendar_range(conn, as_of)
        departments = calendar_departments(conn)
        loaded = refreshes_sources(context) or _stored_calendar(conn) != (
            first_day,
            last_day,
            departments,
        )
        if loaded:
            for name, frame in calendar_frames(first_day, last_day, departments).items():
                replace_table(conn, name, frame)
        counts = _tables(conn, "raw_calendar__")
    return _result(counts, loaded, started)


def calendar_range(conn: duckdb.DuckDBPyConnection, as_of: datetime) -> tuple[date, date]:
    """From a week before the first native event (or as_of − 400 days) to as_of + 400 days."""
    ensure_raw_events(conn)
    placeholders = ", ".join("?" for _ in IMPORTED_EVENT_TYPES)
    rows = conn.execute(
        f"select min(occurred_at) from raw_events where event_type not in ({placeholders})",
        list(IMPORTED_EVENT_TYPES),
    ).fetchall()
    earliest = rows[0][0]
    first = earliest - CALENDAR_LOOKBACK if earliest is not None else as_of - CALENDAR_LOOKAHEAD
    return first.date(), (as_of + CALENDAR_LOOKAHEAD).date()


def calendar_departments(conn: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """Every department, college and residential college: tasks are assigned to all three."""
    found: set[str] = set()
    for table, column in (
        ("raw_business__departments", "department_id"),
        ("raw_business__colleges", "college_id"),
        ("raw_business__residential_colleges", "residential_college_id"),
    ):
        if column in _columns(conn, table):
            rows = conn.execute(f"select distinct {column} from {table}").fetchall()
            found.update(str(row[0]) for row in rows if row[0] is not None)
    return tuple(sorted(found))


def _columns(conn: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = conn.execute(
        "select column_name from information_schema.columns"
        " where table_schema = 'main' and table_name = ?",
        [table],
    ).fetchall()
    return {str(row[0]) for row in rows}


def _stored_calendar(
    conn: duckdb.DuckDBPyConnection,
) -> tuple[date, date, tuple[str, ...]] | None:
    if not _columns(conn, "raw_calendar__days") or not _columns(
        conn, "raw_calendar__working_intervals"
    ):
        return None
    days = conn.execute("select min(day), max(day) from raw_calendar__days").fetchall()[0]
    calendars = conn.execute(
        "select distinct calendar_id from raw_calendar__working_intervals"
    ).fetchall()
    departments = tuple(sorted(str(row[0]) for row in calendars if row[0] != "*"))
    return days[0], days[1], departments
