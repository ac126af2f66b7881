"""Turnaround (办理效能) reads for leadership and department heads: per service, per node and per
department, open-task ageing and approver signals. Aggregates only.

University-wide scopes see every service and department; a department approver (or a college
or 书院 office) sees the rows of its own units. Every row keeps its sample size and a
`is_small_sample` mark (fewer than `k`): tiny samples are marked, never hidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Final, Literal

import duckdb
import polars as pl

from warehouse.read_api.frames import query
from warehouse.scope import NotInScopeError, Scope

Grain = Literal["all", "month", "week"]
GRAINS: Final[tuple[str, ...]] = ("all", "month", "week")
ALL_TIME: Final = date(1970, 1, 1)


def _period(grain: str, since: date | None, until: date | None) -> tuple[str, list[object]]:
    if grain not in GRAINS:
        raise ValueError(f"unknown period grain {grain!r}: one of {', '.join(GRAINS)}")
    if since is not None and until is not None and since > until:
        raise ValueError(f"period starts {since} after it ends {until}")
    clauses = ["period_grain = ?"]
    params: list[object] = [grain]
    if grain != "all" and since is not None:
        clauses.append("period_start >= ?")
        params.append(since)
    if grain != "all" and until is not None:
        clauses.append("period_start <= ?")
        params.append(until)
    return " and ".join(clauses), params


def _units(scope: Scope, column: str) -> tuple[str, list[object]]:
    scope.require()
    if scope.university:
        return "true", []
    if not scope.unit_ids:
        raise NotInScopeError(f"turnaround is outside the scope of {scope.user_id}")
    return f"list_contains(?, {column})", [sorted(scope.unit_ids)]


def _mark(frame: pl.DataFrame, sample: str, scope: Scope) -> pl.DataFrame:
    return frame.with_columns((pl.col(sample) < scope.k).alias("is_small_sample"))


def services(
    cursor: duckdb.DuckDBPyConnection,
    scope: Scope,
    grain: Grain = "all",
    since: date | None = None,
    until: date | None = None,
) -> pl.DataFrame:
    """Per service and period: volume, 办结率, outcomes, turnaround (wall and working)."""
    scope.require()
    if not scope.university:
        raise NotInScopeError(f"service-wide turnaround is outside the scope of {scope.user_id}")
    period, params = _period(grain, since, until)
    frame = query(
        cursor,
        f"""
        select services.*, processes.process_name_zh, processes.process_name_en,
            processes.origin
        from mart_turnaround__services as services
        join dim_processes as processes using (process_key)
        where {period}
        order by process_key, period_start
        """,
        params,
    )
    return _mark(frame, "finished", scope)


def nodes(
    cursor: duckdb.DuckDBPyConnection,
    scope: Scope,
    process_key: str | None = None,
    grain: Grain = "all",
    since: date | None = None,
    until: date | None = None,
) -> pl.DataFrame:
    """Per node and department: wait vs handling, duration percentiles, on-time rate, breaches."""
    period, params = _period(grain, since, until)
    units, unit_params = _units(scope, "department_id")
    process = "and process_key = ?" if process_key is not None else ""
    frame = query(
        cursor,
        f"""
        select nodes.*, dim_nodes.node_name_zh, dim_nodes.node_name_en,
            units.name_zh as department_name_zh
        from mart_turnaround__nodes as nodes
        left join dim_nodes using (process_key, node_key)
        left join dim_org_units as units on units.unit_id = nodes.department_id
        where {period} and {units} {process}
        order by process_key, step, node_key, department_id, period_start
        """,
        [*params, *unit_params, *([process_key] if process_key is not None else [])],
    )
    return _mark(frame, "decided", scope)


def departments(
    cursor: duckdb.DuckDBPyConnection,
    scope: Scope,
    grain: Grain = "all",
    since: date | None = None,
    until: date | None = None,
    process_key: str = "*",
) -> pl.DataFrame:
    """Per department: workload, turnaround, SLA-relative time, on-time rate, signals."""
    return departments_of_services(cursor, scope, [process_key], grain, since, until)


def departments_of_services(
    cursor: duckdb.DuckDBPyConnection,
    scope: Scope,
    process_keys: Sequence[str],
    grain: Grain = "all",
    since: date | None = None,
    until: date | None = None,
) -> pl.DataFrame:
    """`departments` for each of `process_keys` in one query (a unit's table of every
    service, one read where a read per service took 3-5 ms each), ordered by service."""
    period, params = _period(grain, since, until)
    units, unit_params = _units(scope, "department_id")
    frame = query(
        cursor,
        f"""
        select departments.*, units.unit_type, units.name_zh as department_name_zh,
            units.name_en as department_name_en
        from mart_turnaround__departments as departments
        left join dim_org_units as units on units.unit_id = departments.department_id
        where {period} and {units} and list_contains(?, process_key)
        order by process_key, department_id, period_start
        """,
        [*params, *unit_params, list(process_keys)],
    )
    return _mark(frame, "decided", scope)


def open_task_ageing(
    cursor: duckdb.DuckDBPyConnection, scope: Scope, process_key: str | None = None
) -> pl.DataFrame:
    """Open tasks at the snapshot's as-of: on track, due soon (临期), overdue (超期)."""
    units, unit_params = _units(scope, "department_id")
    process = "and process_key = ?" if process_key is not None else ""
    return query(
        cursor,
        f"""
        select ageing.*, units.name_zh as department_name_zh
        from mart_open_tasks__ageing as ageing
        left join dim_org_units as units on units.unit_id = ageing.department_id
        where {units} {process}
        order by process_key, node_key, department_id, ageing_status
        """,
        [*unit_params, *([process_key] if process_key is not None else [])],
    )


def approver_signals(
    cursor: duckdb.DuckDBPyConnection,
    scope: Scope,
    grain: Literal["all", "month"] = "all",
    since: date | None = None,
    until: date | None = None,
) -> pl.DataFrame:
    """秒批 (approvals within 30 s of opening), after-hours decisions and queues.

    A university-wide scope sees them per department (approvers are not named to leadership);
    a department's own approver scope sees them per approver.
    """
    if grain not in ("all", "month"):
        raise ValueError(f"unknown period grain {grain!r}: all or month")
    period, params = _period(grain, since, until)
    units, unit_params = _units(scope, "department_id")
    if scope.university:
        frame = query(
            cursor,
            f"""
            select
                department_id, period_grain, period_start,
                cast(sum(decisions) as bigint) as decisions,
                cast(sum(approvals) as bigint) as approvals,
                cast(sum(instant_approvals) as bigint) as instant_approvals,
                cast(sum(after_hours_decisions) as bigint) as after_hours_decisions,
                cast(sum(queue_depth) as bigint) as queue_depth,
                count(distinct approver_id) as approvers
            from mart_approver__signals
            where {period}
            group by all
            order by department_id, period_start
            """,
            params,
        )
    else:
        frame = query(
            cursor,
            f"""
            select signals.*, people.person_name as approver_name
            from mart_approver__signals as signals
            left join dim_people as people on people.person_id = signals.approver_id
            where {period} and {units}
            order by department_id, approver_id, period_start
            """,
            [*params, *unit_params],
        )
    return _mark(frame, "decisions", scope)
