"""Data-quality results: the history the checks write, and the report published beside the
warehouse.

The pipelines validate the sources and the marts (`pipelines.quality`) and hand each result
here. The private working database keeps every result (`_quality_history`, one row per check
per run: a run that follows the event store for minutes overwrites its own row with each pass),
each check's progress through the events (`_quality_state`) and when each source was last
taken in (`_quality_loads`). After every evaluation a small report is published as snapshots of
its own (`WarehousePaths.quality`): a build that a blocking check stops publishes no warehouse
snapshot, and the pages must still show why. The report holds:

- `quality_checks` — every check: asset, suite, severity (`error` blocks publication, `warn`
  publishes and is shown), the expectation, bilingual descriptions, the key columns its samples
  name;
- `quality_results` — the latest `RESULTS_PER_CHECK` results of each check (the trend), with a
  bounded sample of failing rows and their keys as JSON;
- `quality_runs` — one row per run that evaluated checks: blocked or published, and which
  warehouse snapshot it published;
- `quality_freshness` — per source, when the warehouse last took it in and how new its newest
  record is.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

import duckdb

from warehouse.paths import WarehousePaths
from warehouse.publication import Snapshot, publish

Severity = Literal["error", "warn"]
SEVERITIES: Final = ("error", "warn")

HISTORY: Final = "_quality_history"
RECENT: Final = "_quality_recent"
STATE: Final = "_quality_state"
LOADS: Final = "_quality_loads"
RUNS: Final = "_quality_runs"

QUALITY_CHECKS: Final = "quality_checks"
QUALITY_RESULTS: Final = "quality_results"
QUALITY_RUNS: Final = "quality_runs"
QUALITY_FRESHNESS: Final = "quality_freshness"
REPORT_TABLES: Final = (QUALITY_CHECKS, QUALITY_RESULTS, QUALITY_RUNS, QUALITY_FRESHNESS)

# The report's trend keeps this many results per check; the history keeps KEEP_DAYS of them.
RESULTS_PER_CHECK: Final = 200
RUNS_KEPT: Final = 500
KEEP_DAYS: Final = 90
# Failing rows kept per result: enough to find the pattern, bounded so a check that fails on
# every row of a million cannot bloat the history.
SAMPLE_ROWS: Final = 20

Outcome = Literal["published", "blocked", "checked"]

_RESULT_COLUMNS: Final = """
    run_id varchar not null, job_name varchar not null,
    evaluated_at timestamp not null, events_cursor bigint not null,
    check_name varchar not null, asset varchar not null, suite varchar not null,
    severity varchar not null, expectation varchar not null,
    success boolean not null, element_count bigint not null,
    unexpected_count bigint not null, unexpected_percent double,
    observed_value varchar, sample varchar not null, scope varchar not null,
    evaluations integer not null, seconds double not null
"""


@dataclass(frozen=True)
class CheckInfo:
    """What a check is, as the report describes it."""

    name: str
    asset: str
    suite: str
    severity: Severity
    expectation: str
    description_zh: str
    description_en: str
    applies_to: Literal["native", "imported", "all"]
    keys: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(
                f"check {self.name}: severity {self.severity!r} is not one of {SEVERITIES}"
            )


@dataclass(frozen=True)
class CheckResult:
    """One evaluation of one check."""

    check_name: str
    success: bool
    element_count: int
    unexpected_count: int
    observed_value: object = None  # JSON-serialisable
    unexpected_percent: float | None = None
    sample: Sequence[Mapping[str, object]] = field(default_factory=tuple)
    scope: Literal["full", "incremental"] = "full"
    seconds: float = 0.0


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    job_name: str
    evaluated_at: datetime  # naive UTC
    events_cursor: int


# Connections whose tables exist: a live pass records through a dozen of these functions, and
# the DDL below costs ~3 ms each time.
_ensured: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()


def ensure_quality(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the quality tables of the working database (idempotent; once per connection)."""
    if conn in _ensured:
        return
    conn.execute(
        f"""
        create table if not exists {QUALITY_CHECKS} (
            check_name varchar primary key, asset varchar not null, suite varchar not null,
            severity varchar not null, expectation varchar not null,
            description_zh varchar not null, description_en varchar not null,
            applies_to varchar not null, key_columns varchar[] not null
        )
        """
    )
    conn.execute(f"create table if not exists {HISTORY} ({_RESULT_COLUMNS})")
    # A run's row is replaced on each of its passes: found by run id, not by a scan of months.
    conn.execute(f"create index if not exists _quality_history_run on {HISTORY} (run_id)")
    present = conn.execute(
        "select count(*) from duckdb_tables() where database_name = current_database()"
        " and schema_name = 'main' and table_name = ?",
        [RECENT],
    ).fetchall()[0][0]
    if not present:
        # The latest results of each check: what the report's trend and the checks' own
        # "did it fail last time" read, kept small whatever the history holds.
        conn.execute(f"create table {RECENT} ({_RESULT_COLUMNS})")
        conn.execute(
            f"insert into {RECENT} select * from {HISTORY} qualify row_number() over ("
            f" partition by check_name order by evaluated_at desc, run_id desc)"
            f" <= {RESULTS_PER_CHECK}"
        )
    conn.execute(
        f"""
        create table if not exists {STATE} (
            check_name varchar primary key, validated_through bigint not null,
            inputs_version bigint, updated_at timestamp not null
        )
        """
    )
    # What the check was when it passed: a changed query or expectation must look again.
    conn.execute(f"alter table {STATE} add column if not exists fingerprint varchar")
    conn.execute(
        f"""
        create table if not exists {LOADS} (
            source varchar primary key, loaded_at timestamp not null, newest_at timestamp,
            row_count bigint, detail varchar
        )
        """
    )
    conn.execute(
        f"""
        create table if not exists {RUNS} (
            run_id varchar primary key, job_name varchar not null,
            started_at timestamp not null, evaluated_at timestamp not null,
            outcome varchar not null, blocking_failures integer not null,
            warnings integer not null, snapshot_number bigint, events_cursor bigint not null
        )
        """
    )
    _ensured.add(conn)


def register_checks(conn: duckdb.DuckDBPyConnection, checks: Iterable[CheckInfo]) -> None:
    """Make `quality_checks` describe exactly `checks` (a renamed check drops out of it)."""
    rows: list[list[object]] = [
        [
            c.name,
            c.asset,
            c.suite,
            c.severity,
            c.expectation,
            c.description_zh,
            c.description_en,
            c.applies_to,
            list(c.keys),
        ]
        for c in checks
    ]
    names = [str(row[0]) for row in rows]
    if len(set(names)) != len(names):
        raise ValueError(f"check names repeat: {sorted({n for n in names if names.count(n) > 1})}")
    ensure_quality(conn)
    existing = conn.execute(
        f"select check_name, asset, suite, severity, expectation, description_zh,"
        f" description_en, applies_to, key_columns from {QUALITY_CHECKS} order by check_name"
    ).fetchall()
    if [list(row) for row in existing] == sorted(rows, key=lambda row: str(row[0])):
        return
    with _transaction(conn):
        conn.execute(f"delete from {QUALITY_CHECKS}")
        if rows:
            conn.executemany(
                f"insert into {QUALITY_CHECKS} values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )


def record_results(
    conn: duckdb.DuckDBPyConnection,
    run: RunInfo,
    checks: Mapping[str, CheckInfo],
    results: Sequence[CheckResult],
) -> None:
    """Store `results` as the run's row for each check (a later pass of the same run replaces
    it and counts one more evaluation)."""
    if not results:
        return
    unknown = sorted(r.check_name for r in results if r.check_name not in checks)
    if unknown:
        raise ValueError(f"results for unregistered checks: {unknown}")
    names = [r.check_name for r in results]
    ensure_quality(conn)

    with _transaction(conn):
        placeholders = ", ".join("?" * len(names))
        previous = dict(
            conn.execute(
                f"select check_name, evaluations from {HISTORY}"
                f" where run_id = ? and check_name in ({placeholders})",
                [run.run_id, *names],
            ).fetchall()
        )
        rows = [
            [
                run.run_id,
                run.job_name,
                run.evaluated_at,
                run.events_cursor,
                r.check_name,
                checks[r.check_name].asset,
                checks[r.check_name].suite,
                checks[r.check_name].severity,
                checks[r.check_name].expectation,
                r.success,
                r.element_count,
                r.unexpected_count,
                r.unexpected_percent,
                None if r.observed_value is None else _json(r.observed_value),
                _json(list(r.sample)[:SAMPLE_ROWS]),
                r.scope,
                int(previous.get(r.check_name, 0)) + 1,
                round(r.seconds, 4),
            ]
            for r in results
        ]
        values = ", ".join("?" * 18)
        for table in (HISTORY, RECENT):
            conn.execute(
                f"delete from {table} where run_id = ? and check_name in ({placeholders})",
                [run.run_id, *names],
            )
            conn.executemany(f"insert into {table} values ({values})", rows)
        conn.execute(
            f"""
            delete from {RECENT}
            where check_name in ({placeholders})
              and (check_name, run_id) not in (
                  select (check_name, run_id) from {RECENT}
                  where check_name in ({placeholders})
                  qualify row_number() over (
                      partition by check_name order by evaluated_at desc, run_id desc
                  ) <= {RESULTS_PER_CHECK}
              )
            """,
            [*names, *names],
        )


def latest_failures(conn: duckdb.DuckDBPyConnection) -> set[str]:
    """The checks whose latest recorded result failed."""
    ensure_quality(conn)
    return {
        str(name)
        for (name,) in conn.execute(
            f"""
            select check_name from {RECENT}
            qualify row_number() over (
                partition by check_name order by evaluated_at desc, evaluations desc
            ) = 1 and not success
            """
        ).fetchall()
    }


def record_run(
    conn: duckdb.DuckDBPyConnection,
    run: RunInfo,
    outcome: Outcome,
    *,
    blocking_failures: int,
    warnings: int,
    snapshot_number: int | None = None,
) -> None:
    """Record how the run's latest evaluation ended (a run keeps one row, its first start)."""
    ensure_quality(conn)
    row = conn.execute(
        f"select started_at, snapshot_number, outcome, blocking_failures, warnings from {RUNS}"
        " where run_id = ?",
        [run.run_id],
    ).fetchall()
    started = row[0][0] if row else run.evaluated_at
    if row and row[0][2] == "blocked" and outcome == "checked":
        # One step of the run blocked it; a later step's clean checks do not unblock it.
        outcome = "blocked"
        blocking_failures = max(blocking_failures, int(row[0][3]))
        warnings = max(warnings, int(row[0][4]))
    # A later pass that publishes nothing keeps the snapshot an earlier pass published.
    number = snapshot_number if snapshot_number is not None else (row[0][1] if row else None)

    with _transaction(conn):
        conn.execute(f"delete from {RUNS} where run_id = ?", [run.run_id])
        conn.execute(
            f"insert into {RUNS} values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run.run_id,
                run.job_name,
                started,
                run.evaluated_at,
                outcome,
                blocking_failures,
                warnings,
                number,
                run.events_cursor,
            ],
        )


@dataclass(frozen=True)
class CheckState:
    validated_through: int  # events up to this event_id passed the check
    inputs_version: int | None  # the change counter of its inputs when it last passed
    fingerprint: str | None = None  # the check's definition when it last passed


def check_states(conn: duckdb.DuckDBPyConnection) -> dict[str, CheckState]:
    ensure_quality(conn)
    return {
        str(name): CheckState(int(through), None if version is None else int(version), fingerprint)
        for name, through, version, fingerprint in conn.execute(
            f"select check_name, validated_through, inputs_version, fingerprint from {STATE}"
        ).fetchall()
    }


def advance(
    conn: duckdb.DuckDBPyConnection,
    states: Mapping[str, CheckState],
    now: datetime,
) -> None:
    """Record how far each check has passed (checks not named keep their state)."""
    if not states:
        return
    ensure_quality(conn)
    names = list(states)

    with _transaction(conn):
        placeholders = ", ".join("?" * len(names))
        conn.execute(f"delete from {STATE} where check_name in ({placeholders})", names)
        conn.executemany(
            f"insert into {STATE} (check_name, validated_through, inputs_version, updated_at,"
            " fingerprint) values (?, ?, ?, ?, ?)",
            [
                [n, s.validated_through, s.inputs_version, now, s.fingerprint]
                for n, s in states.items()
            ],
        )


def reset_states(conn: duckdb.DuckDBPyConnection) -> None:
    """Forget every check's progress: the next evaluation looks at everything again."""
    ensure_quality(conn)
    conn.execute(f"delete from {STATE}")


def record_load(
    conn: duckdb.DuckDBPyConnection,
    source: str,
    loaded_at: datetime,
    *,
    newest_at: datetime | None = None,
    rows: int | None = None,
    detail: str | None = None,
) -> None:
    """Record that the warehouse took `source` in at `loaded_at` (naive UTC)."""
    ensure_quality(conn)
    with _transaction(conn):
        conn.execute(f"delete from {LOADS} where source = ?", [source])
        conn.execute(
            f"insert into {LOADS} values (?, ?, ?, ?, ?)",
            [source, loaded_at, newest_at, rows, detail],
        )


def prune(conn: duckdb.DuckDBPyConnection, now: datetime, keep_days: int = KEEP_DAYS) -> int:
    """Drop results older than `keep_days`, except each check's latest; the rows dropped."""
    ensure_quality(conn)
    cutoff = now - timedelta(days=keep_days)
    row = conn.execute(
        f"""
        delete from {HISTORY}
        where evaluated_at < ?
          and (check_name, evaluated_at) not in (
              select (check_name, max(evaluated_at)) from {HISTORY} group by check_name
          )
        """,
        [cutoff],
    ).fetchall()
    conn.execute(f"delete from {RUNS} where evaluated_at < ?", [cutoff])
    return int(row[0][0]) if row else 0


def publish_report(
    conn: duckdb.DuckDBPyConnection, paths: WarehousePaths, now: datetime, events_cursor: int
) -> Snapshot:
    """Publish the report (a new snapshot under `paths.quality`) from the working database."""
    ensure_quality(conn)
    _report_views(conn)
    return publish(
        conn,
        REPORT_TABLES,
        paths.quality,
        as_of=now,
        events_cursor=events_cursor,
        forward=False,
        grace_seconds=60.0,
    )


def _report_views(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        f"""
        create or replace view {QUALITY_RESULTS} as select * from {RECENT}
        """
    )
    conn.execute(
        f"""
        create or replace view {QUALITY_RUNS} as
        select * from {RUNS} order by evaluated_at desc limit {RUNS_KEPT}
        """
    )
    conn.execute(
        f"""
        create or replace view {QUALITY_FRESHNESS} as
        select source, loaded_at, newest_at, row_count, detail from {LOADS}
        """
    )


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default, sort_keys=True)


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    isoformat = getattr(value, "isoformat", None)  # dates, pandas timestamps
    if callable(isoformat):
        return isoformat()
    return str(value)


@contextmanager
def _transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    conn.begin()
    try:
        yield
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
