"""Many small incremental runs, and runs that die half-way, build what one full build does."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from sqlalchemy import create_engine

from pipelines.extract import catalog_frames, iter_event_batches, read_business_tables
from tests.warehouse.models.conftest import AS_OF, CALENDAR_DEPARTMENTS, EventLog, load_sources
from warehouse.academic_calendar import calendar_frames
from warehouse.modeling import ModelError, load_models, run_models
from warehouse.raw import append_events, ensure_raw_events, events_cursor, replace_table
from workflow_core.catalog.loader import default_catalog

MODELS = load_models()
# Models with state between runs: the rest are rebuilt whole on every run.
STATEFUL = tuple(model.name for model in MODELS if model.materialized != "table")


def _normal(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_normal(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _normal(item)) for key, item in value.items()))
    return value


def _order(row: tuple[Any, ...]) -> str:
    # Floats are ordered by a rounded form: a mean may add its terms in another order.
    return repr(tuple(round(v, 3) if isinstance(v, float) else v for v in row))


def snapshot(conn: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    """Every model table: its column names, then its rows in a canonical order."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    for model in MODELS:
        cursor = conn.execute(f"select * from {model.name}")
        columns = tuple(d[0] for d in cursor.description)
        rows = [tuple(_normal(v) for v in row) for row in cursor.fetchall()]
        tables[model.name] = [columns, *sorted(rows, key=_order)]
    return tables


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def _same_table(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    return len(a) == len(b) and all(
        len(x) == len(y) and all(_same_value(u, v) for u, v in zip(x, y, strict=True))
        for x, y in zip(a, b, strict=True)
    )


def assert_same(built: dict[str, list[Any]], full: dict[str, list[Any]]) -> None:
    assert built.keys() == full.keys()
    differing = [name for name in full if not _same_table(built[name], full[name])]
    for name in differing:  # a few differing rows of each, for the report
        extra = [row for row in built[name] if row not in full[name]][:3]
        missing = [row for row in full[name] if row not in built[name]][:3]
        print(f"{name}: built has {extra}, full has {missing}")
    assert differing == []


def full_build(frames: dict[str, pl.DataFrame], events: pl.DataFrame, as_of: datetime) -> Any:
    conn = duckdb.connect()
    for name, frame in frames.items():
        replace_table(conn, name, frame)
    ensure_raw_events(conn)
    append_events(conn, events, 0)
    run_models(conn, as_of=as_of, full=True)
    built = snapshot(conn)
    conn.close()
    return built


def slices(frame: pl.DataFrame, sizes: Iterable[int]) -> list[pl.DataFrame]:
    out, start = [], 0
    for size in sizes:
        if start >= frame.height:
            break
        out.append(frame.slice(start, size))
        start += size
    if start < frame.height:
        out.append(frame.slice(start))
    return out


def load_in_slices(
    conn: duckdb.DuckDBPyConnection, parts: Sequence[pl.DataFrame], every_full: int = 4
) -> None:
    """Append each slice and bring the models up to date, as the pipelines do.

    The build's `as_of` follows the newest event. Table models are rebuilt whole on every
    run, so most slices run only the models with state (append and incremental) and every
    `every_full`-th slice runs them all.
    """
    for number, part in enumerate(parts, start=1):
        append_events(conn, part, events_cursor(conn))
        now = part["occurred_at"].max()
        assert isinstance(now, datetime)
        everything = number == 1 or number % every_full == 0
        run_models(conn, as_of=now, select=None if everything else STATEFUL)


# --- the hand-made log ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def frames() -> dict[str, pl.DataFrame]:
    conn = duckdb.connect()
    load_sources(conn)
    names = [row[0] for row in conn.execute("show tables").fetchall() if row[0] != "raw_events"]
    loaded = {name: conn.sql(f"select * from {name}").pl() for name in names}
    conn.close()
    return loaded


@pytest.fixture(scope="module")
def full(frames: dict[str, pl.DataFrame], event_log: EventLog) -> Any:
    return full_build(frames, event_log.frame(), AS_OF)


def fresh(frames: dict[str, pl.DataFrame]) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    for name, frame in frames.items():
        replace_table(conn, name, frame)
    ensure_raw_events(conn)
    return conn


def test_small_slices_build_what_one_full_build_does(
    frames: dict[str, pl.DataFrame], event_log: EventLog, full: Any
) -> None:
    # 77 events in slices of 1, 2, 3, 5, 7 … events: streams gain events across many runs
    # (I1 spans nearly all of them), campaigns gain reminders after their registrations.
    conn = fresh(frames)
    parts = slices(event_log.frame(), [1, 2, 3, 5, 7, 4, 6, 8, 5, 9, 3, 7, 6])
    load_in_slices(conn, parts, every_full=7)
    run_models(conn, as_of=AS_OF)
    assert_same(snapshot(conn), full)
    assert len(full["fct_tasks"]) == 1 + 17  # the column names, then the 17 tasks


def test_a_run_stopped_half_way_then_caught_up(
    frames: dict[str, pl.DataFrame], event_log: EventLog, full: Any
) -> None:
    conn = fresh(frames)
    parts = slices(event_log.frame(), [20, 25])
    append_events(conn, parts[0], 0)
    run_models(conn, as_of=AS_OF)
    append_events(conn, parts[1], events_cursor(conn))
    # The run stops after the first half of the models (in dependency order).
    names = [model.name for model in MODELS]
    run_models(conn, as_of=AS_OF, select=names[: len(names) // 2])
    append_events(conn, parts[2], events_cursor(conn))
    run_models(conn, as_of=AS_OF)
    assert_same(snapshot(conn), full)


def test_a_model_that_fails_mid_run_rolls_back_and_the_next_run_catches_up(
    frames: dict[str, pl.DataFrame], event_log: EventLog, full: Any
) -> None:
    conn = fresh(frames)
    parts = slices(event_log.frame(), [30])
    append_events(conn, parts[0], 0)
    run_models(conn, as_of=AS_OF)
    append_events(conn, parts[1], events_cursor(conn))
    broken = tuple(
        dataclasses.replace(model, sql="select error('disk on fire') as task_id")
        if model.name == "fct_tasks"
        else model
        for model in MODELS
    )
    before = conn.execute("select count(*) from fct_tasks").fetchone()
    with pytest.raises(ModelError) as failure:
        run_models(conn, as_of=AS_OF, models=broken)
    assert failure.value.model == "fct_tasks"
    # fct_tasks kept its rows and its mark (its delete was rolled back); what it reads moved on.
    assert conn.execute("select count(*) from fct_tasks").fetchone() == before
    marks = dict(conn.execute("select model, hwm from _model_state").fetchall())
    assert marks["int_tasks__folded"] == len(event_log.rows) and marks["fct_tasks"] == 30
    run_models(conn, as_of=AS_OF)
    assert_same(snapshot(conn), full)


def test_the_session_time_zone_changes_nothing(
    frames: dict[str, pl.DataFrame], event_log: EventLog, full: Any
) -> None:
    # DuckDB's TimeZone defaults to the machine's zone; on a campus server that is
    # Asia/Shanghai. Times in the warehouse are naive UTC and must not move with it.
    conn = fresh(frames)
    conn.execute("set TimeZone = 'Asia/Shanghai'")
    append_events(conn, event_log.frame(), 0)
    run_models(conn, as_of=AS_OF)
    assert_same(snapshot(conn), full)


def _without_clock_readings(tables: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The tables less the facts' absolute working-clock readings (`working_clock_at_*`)."""
    out = {}
    for name, (columns, *rows) in tables.items():
        keep = [i for i, column in enumerate(columns) if not column.startswith("working_clock_at")]
        out[name] = [
            tuple(columns[i] for i in keep),
            *sorted((tuple(row[i] for i in keep) for row in rows), key=_order),
        ]
    return out


def test_a_calendar_reloaded_from_an_earlier_day_changes_no_figure(
    frames: dict[str, pl.DataFrame], event_log: EventLog, full: Any
) -> None:
    # Built first on a calendar from Mon 09-15; then the pipelines reload it from 09-01 (an
    # earlier event arrived): the working clock now starts ten workdays (70 h) earlier. The
    # facts' rows are not rebuilt without new events, so their absolute clock readings are
    # the old calendar's; every duration, and the ageing of open tasks, must not be.
    later = calendar_frames(date(2025, 9, 15), date(2025, 12, 31), CALENDAR_DEPARTMENTS)
    conn = fresh({**frames, **later})
    append_events(conn, event_log.frame(), 0)
    run_models(conn, as_of=AS_OF)
    for name, frame in frames.items():
        if name.startswith("raw_calendar__"):
            replace_table(conn, name, frame)
    run_models(conn, as_of=AS_OF)
    built = snapshot(conn)
    shift = conn.execute(
        "select min(seconds_before) filter (where interval_start >= '2025-09-15')"
        " from int_calendar__working_clock where calendar_id = '*'"
    ).fetchone()
    assert shift == (10 * 7 * 3_600,)
    assert_same(_without_clock_readings(built), _without_clock_readings(full))


# --- a generated university ------------------------------------------------------------------

TONGBAN = str(Path(sys.executable).with_name("tongban"))
END = date(2025, 10, 20)  # thirty days before it: the National Day holiday and its campaign


def tongban(args: list[str], home: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    environ["TONGBAN_HOME"] = str(home)
    done = subprocess.run(
        [TONGBAN, *args], env=environ, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr


def test_a_generated_month_in_slices_equals_a_full_build(tmp_path: Path) -> None:
    tongban(["init", "--size", "small", "--as-of", END.isoformat()], tmp_path)
    tongban(
        [
            *("simulate", "--size", "small", "--days", "30", "--end", END.isoformat()),
            *("--workers", "1", "--once"),
        ],
        tmp_path,
    )
    events_engine = create_engine(f"sqlite:///{tmp_path / 'events.db'}")
    business_engine = create_engine(f"sqlite:///{tmp_path / 'business.db'}")
    business = read_business_tables(business_engine)
    departments = business["raw_business__departments"]["department_id"].to_list()
    frames = {
        **business,
        **catalog_frames(default_catalog()),
        **calendar_frames(date(2025, 9, 1), date(2025, 11, 30), departments),
    }
    parts = list(iter_event_batches(events_engine, 0, batch=1_200))
    events = pl.concat(parts)
    assert events.height > 2_000
    as_of = datetime.combine(END, datetime.min.time())
    full_tables = full_build(frames, events, as_of)
    assert len(full_tables["fct_tasks"]) > 100 and len(full_tables["fct_campaign_rosters"]) > 100

    conn = fresh(frames)
    load_in_slices(conn, parts, every_full=3)
    run_models(conn, as_of=as_of)
    assert_same(snapshot(conn), full_tables)
