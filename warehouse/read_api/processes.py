"""Process-flow (流程视图) reads: the services a scope may inspect, hand-offs between departments,
critical-path attribution in parallel groups, and the process-mining summary."""

from __future__ import annotations

import duckdb
import polars as pl

from warehouse.read_api.frames import query
from warehouse.scope import NotInScopeError, Scope


def _require_flow(scope: Scope) -> None:
    scope.require()
    if not (scope.university or scope.unit_ids):
        raise NotInScopeError(f"process flow is outside the scope of {scope.user_id}")


def processes(cursor: duckdb.DuckDBPyConnection, scope: Scope) -> pl.DataFrame:
    """Services with their size: native from the catalog and imported logs (university-wide
    scopes), or the native services whose nodes a department's scope decides."""
    _require_flow(scope)
    if scope.university:
        return query(
            cursor,
            """
            select processes.*, summary.cases, summary.events
            from dim_processes as processes
            left join mart_process__summary as summary using (process_key)
            where not processes.is_campaign
            order by processes.origin, processes.process_key
            """,
        )
    return query(
        cursor,
        """
        select processes.*, summary.cases, summary.events
        from dim_processes as processes
        left join mart_process__summary as summary using (process_key)
        where process_key in (
            select distinct process_key from mart_turnaround__nodes
            where list_contains(?, department_id)
        )
        order by processes.process_key
        """,
        [sorted(scope.unit_ids)],
    )


def handoffs(cursor: duckdb.DuckDBPyConnection, scope: Scope, process_key: str) -> pl.DataFrame:
    """Department-to-department hand-offs of one service ('*' for all): counts, median waits.

    A department's scope sees the edges that enter or leave its own units.
    """
    _require_flow(scope)
    edge_filter, params = "true", []
    if not scope.university:
        edge_filter = "(list_contains(?, from_department_id) or list_contains(?, to_department_id))"
        params = [sorted(scope.unit_ids), sorted(scope.unit_ids)]
    return query(
        cursor,
        f"""
        select flow.*, source.name_zh as from_name_zh, target.name_zh as to_name_zh
        from mart_handoff__flow as flow
        left join dim_org_units as source on source.unit_id = flow.from_department_id
        left join dim_org_units as target on target.unit_id = flow.to_department_id
        where process_key = ? and {edge_filter}
        order by handoffs desc, from_department_id, to_department_id
        """,
        [process_key, *params],
    )


def critical_path(
    cursor: duckdb.DuckDBPyConnection, scope: Scope, process_key: str
) -> pl.DataFrame:
    """In parallel groups (会签) of one service: which node/department approved last how often."""
    _require_flow(scope)
    unit_filter, params = "true", []
    if not scope.university:
        unit_filter, params = "list_contains(?, department_id)", [sorted(scope.unit_ids)]
    return query(
        cursor,
        f"""
        select paths.*, dim_nodes.node_name_zh, units.name_zh as department_name_zh
        from mart_critical_path__parallel as paths
        left join dim_nodes using (process_key, node_key)
        left join dim_org_units as units on units.unit_id = paths.department_id
        where process_key = ? and {unit_filter}
        order by step, times_last desc, node_key
        """,
        [process_key, *params],
    )


def case_durations(
    cursor: duckdb.DuckDBPyConnection, scope: Scope, process_key: str
) -> pl.DataFrame:
    """How one service's case durations spread over fixed bins (under a minute … over 90
    days): cases and share per bin, the whole service's. A department's scope may see the
    services its nodes decide."""
    _require_flow(scope)
    if not scope.university and process_key not in set(processes(cursor, scope)["process_key"]):
        raise NotInScopeError(f"{process_key} is outside the scope of {scope.user_id}")
    return query(
        cursor,
        """
        select bin, lower_s, upper_s, cases, share
        from mart_process__durations
        where process_key = ?
        order by bin
        """,
        [process_key],
    )


def slowest_cases(
    cursor: duckdb.DuckDBPyConnection, scope: Scope, process_key: str
) -> pl.DataFrame:
    """The 20 longest cases of one service, by id only (no applicant): university-wide scopes."""
    scope.require()
    if not scope.university:
        raise NotInScopeError(f"the slowest cases are outside the scope of {scope.user_id}")
    return query(
        cursor,
        """
        select slowness_rank, case_id, started_at, ended_at, events, duration_s
        from mart_process__slowest_cases
        where process_key = ?
        order by slowness_rank
        """,
        [process_key],
    )
