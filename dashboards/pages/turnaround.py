"""办理效能 (turnaround): for leadership and department heads, per service and per department —
volume, 办结率, median/p90 turnaround (working or wall-clock), on-time rate, SLA breaches and the
weekly trend; per node wait vs handling; open-task ageing (正常/临期/超期); a fair department
ranking; approver signals (秒批, after-hours decisions, queues).

University-wide scopes see every service and department; a department approver or a college
office (scope.unit_ids) sees its own departments only — the read API filters by scope in SQL.
Everything is an aggregate; rows under the scope's k keep their sample size and show "—".
Approver signals are summed per department for every scope (the read API names a department's
own approvers to its scope; this page never shows a person), and a department with fewer than
`MIN_APPROVERS` approvers is suppressed like a small sample.

One callback (`render`) draws the page body from the session's scope whenever the service, the
clock, the period or the published snapshot (`shell-snapshot`) changes. Every input is checked
first: the service must be "*" or one `processes(cursor, scope)` lists, the clock one of
`CLOCKS`, the period two ISO dates in order; anything else gets a "not allowed" note and no rows.

Component ids (global in Dash) are the constants below, all prefixed "turnaround-".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Final

import dash
import duckdb
import plotly.graph_objects as go
import polars as pl
from dash import Input, Output, callback, dcc, html

from dashboards.figures.turnaround import (
    CLOCKS,
    MIN_APPROVERS,
    Clock,
    ageing_bars,
    department_names,
    department_rows,
    node_wait_handling,
    ranking_rows,
    service_rows,
    signal_rows,
    weekly_trend,
)
from dashboards.i18n import register_messages, t
from dashboards.session import current_language, current_scope, warehouse
from dashboards.shell import SNAPSHOT_STORE, guard, section_allowed
from warehouse.read_api import processes as process_reads
from warehouse.read_api import turnaround as reads
from warehouse.scope import NotInScopeError, Scope

dash.register_page(__name__, path="/turnaround", title="办理效能 · 通办", name="turnaround")

SERVICE: Final = "turnaround-service"
CLOCK: Final = "turnaround-clock"
PERIOD: Final = "turnaround-period"
BODY: Final = "turnaround-body"
NOTICE: Final = "turnaround-notice"
SERVICES_TABLE: Final = "turnaround-services-table"
TREND: Final = "turnaround-trend"
DEPARTMENTS_TABLE: Final = "turnaround-departments-table"
RANKING_TABLE: Final = "turnaround-ranking-table"
NODES: Final = "turnaround-nodes"
AGEING: Final = "turnaround-ageing"
SIGNALS_TABLE: Final = "turnaround-signals-table"
ALL_SERVICES: Final = "*"
# The earliest and latest days a period may name: wider ranges are typos or probes.
FIRST_DAY: Final = date(2000, 1, 1)
LAST_DAY: Final = date(2100, 12, 31)
_ISO_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
TEXT_COLUMNS: Final = frozenset({"service", "department", "small"})

register_messages(
    "turnaround.",
    {
        "turnaround.title": {"zh": "办理效能", "en": "Turnaround"},
        "turnaround.intro": {
            "zh": "各服务、各部门的办理时长、办结率、准时率与超时；仅显示汇总数据，"
            "样本少于 {k} 的单元格以“—”表示。",
            "en": "Turnaround, completion, on-time rate and breaches per service and "
            "department; aggregates only, cells under {k} shown as “—”.",
        },
        "turnaround.service": {"zh": "服务", "en": "Service"},
        "turnaround.all_services": {"zh": "全部服务", "en": "All services"},
        "turnaround.clock": {"zh": "时长口径", "en": "Time basis"},
        "turnaround.clock.working": {"zh": "工作时间", "en": "Working time"},
        "turnaround.clock.wall": {"zh": "自然时间", "en": "Wall-clock"},
        "turnaround.period": {"zh": "趋势时间范围", "en": "Trend period"},
        "turnaround.period.start": {"zh": "开始日期", "en": "Start date"},
        "turnaround.period.end": {"zh": "结束日期", "en": "End date"},
        "turnaround.not_allowed": {
            "zh": "不允许的请求：所选内容不在您的权限范围内。",
            "en": "Not allowed: that selection is outside your scope.",
        },
        "turnaround.invalid_period": {
            "zh": "所选时间范围无效（开始日期须早于结束日期）。",
            "en": "That period is not valid (it must start before it ends).",
        },
        "turnaround.section.services": {"zh": "各服务", "en": "Per service"},
        "turnaround.section.services_units": {
            "zh": "各服务（本部门办理的环节）",
            "en": "Per service (your departments' steps)",
        },
        "turnaround.section.trend": {"zh": "按周趋势", "en": "Weekly trend"},
        "turnaround.trend.pick": {
            "zh": "全部服务：仅显示每周件数；选择一个服务可查看办理时长趋势。",
            "en": "All services: weekly volume only; pick a service for the turnaround lines.",
        },
        "turnaround.section.departments": {"zh": "各部门", "en": "Per department"},
        "turnaround.section.ranking": {
            "zh": "部门排名（按准时率、P90/时限）",
            "en": "Department ranking (on-time rate, p90 over SLA)",
        },
        "turnaround.ranking.note": {
            "zh": "先比准时率，再比各环节 P90 工作时长与时限之比（按办理量加权），"
            "再比中位时长与时限之比；样本不足的部门列出但不排名。",
            "en": "Ranked by on-time rate, then p90 working time over SLA (weighted by "
            "workload), then median time over SLA; departments with too few decisions are "
            "listed, not ranked.",
        },
        "turnaround.section.nodes": {
            "zh": "各环节：等待与处理",
            "en": "Per node: waiting vs handling",
        },
        "turnaround.nodes.pick": {
            "zh": "请选择一个服务查看其各环节。",
            "en": "Pick a service to see its nodes.",
        },
        "turnaround.section.ageing": {
            "zh": "在办任务时效（正常/临期/超期）",
            "en": "Open tasks by age (on track / due soon / overdue)",
        },
        "turnaround.ageing.note": {
            "zh": "按工作时间计：已用时限不足 75% 为正常，75%–100% 为临期，超过时限为超期。",
            "en": "In working time: under 75 % of the SLA used is on track, 75–100 % due "
            "soon, past the SLA overdue.",
        },
        "turnaround.section.signals": {
            "zh": "审批信号（秒批、非工作时间审批、待办积压）",
            "en": "Approver signals (instant approvals, after hours, queues)",
        },
        "turnaround.signals.note": {
            "zh": "按部门汇总（不列个人）：秒批指打开任务后 30 秒内批准；全部服务合计。"
            "审批数少于 {k} 或审批人少于 {people} 人的部门以“—”表示。",
            "en": "Summed per department (no individuals): instant means approved within "
            "30 s of opening; all services together. Departments with fewer than {k} "
            "decisions or fewer than {people} approvers are shown as “—”.",
        },
        "turnaround.col.service": {"zh": "服务", "en": "Service"},
        "turnaround.col.submitted": {"zh": "申请件数", "en": "Submitted"},
        "turnaround.col.completion_rate": {"zh": "办结率", "en": "Completion"},
        "turnaround.col.finished": {"zh": "样本（已办结）", "en": "Sample (finished)"},
        "turnaround.col.median": {"zh": "中位时长", "en": "Median"},
        "turnaround.col.p90": {"zh": "P90 时长", "en": "P90"},
        "turnaround.col.on_time_rate": {"zh": "准时率", "en": "On time"},
        "turnaround.col.breaches": {"zh": "超时件数", "en": "SLA breaches"},
        "turnaround.col.small": {"zh": "备注", "en": "Note"},
        "turnaround.col.department": {"zh": "部门", "en": "Department"},
        "turnaround.col.decided": {"zh": "样本（办理任务）", "en": "Sample (decided)"},
        "turnaround.col.instances": {"zh": "涉及件数", "en": "Cases"},
        "turnaround.col.returned": {"zh": "退回", "en": "Returned"},
        "turnaround.col.rank": {"zh": "名次", "en": "Rank"},
        "turnaround.col.p90_over_sla": {"zh": "P90/时限", "en": "P90 / SLA"},
        "turnaround.col.median_over_sla": {"zh": "中位/时限", "en": "Median / SLA"},
        "turnaround.col.approvers": {"zh": "审批人数", "en": "Approvers"},
        "turnaround.col.decisions": {"zh": "样本（审批数）", "en": "Sample (decisions)"},
        "turnaround.col.instant": {"zh": "秒批", "en": "Instant"},
        "turnaround.col.instant_share": {"zh": "秒批占比", "en": "Instant share"},
        "turnaround.col.after_hours": {"zh": "非工作时间", "en": "After hours"},
        "turnaround.col.after_hours_share": {"zh": "非工作时间占比", "en": "After-hours share"},
        "turnaround.col.queue_depth": {"zh": "当前待办", "en": "Queue now"},
    },
)

SERVICE_COLUMNS: Final = (
    "service",
    "submitted",
    "completion_rate",
    "finished",
    "median",
    "p90",
    "on_time_rate",
    "breaches",
    "small",
)
UNIT_SERVICE_COLUMNS: Final = (
    "service",
    "department",
    "decided",
    "median",
    "p90",
    "on_time_rate",
    "breaches",
    "small",
)
DEPARTMENT_COLUMNS: Final = (
    "department",
    "decided",
    "instances",
    "median",
    "p90",
    "on_time_rate",
    "breaches",
    "returned",
    "small",
)
RANKING_COLUMNS: Final = (
    "rank",
    "department",
    "decided",
    "on_time_rate",
    "p90_over_sla",
    "median_over_sla",
    "breaches",
    "small",
)
SIGNAL_COLUMNS: Final = (
    "department",
    "approvers",
    "decisions",
    "instant",
    "instant_share",
    "after_hours",
    "after_hours_share",
    "queue_depth",
    "small",
)


class RefusedInputError(ValueError):
    """A callback input that this scope may not ask for (or that is not a valid value)."""

    def __init__(self, message_key: str) -> None:
        super().__init__(message_key)
        self.message_key = message_key


def native_services(cursor: duckdb.DuckDBPyConnection, scope: Scope) -> pl.DataFrame:
    """The catalog's services this scope may see (imported logs have no nodes or SLAs)."""
    return process_reads.processes(cursor, scope).filter(pl.col("origin") == "native")


def checked_service(value: object, allowed: Sequence[str]) -> str:
    if value == ALL_SERVICES or (isinstance(value, str) and value in allowed):
        return str(value)
    raise RefusedInputError("turnaround.not_allowed")


def checked_clock(value: object) -> Clock:
    for clock in CLOCKS:
        if value == clock:
            return clock
    raise RefusedInputError("turnaround.not_allowed")


def checked_day(value: object) -> date | None:
    """An ISO day from the date picker (it may append a time), or None when cleared."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _ISO_DAY.fullmatch(value[:10]) or len(value) > 26:
        raise RefusedInputError("turnaround.invalid_period")
    try:
        day = date.fromisoformat(value[:10])
    except ValueError as error:
        raise RefusedInputError("turnaround.invalid_period") from error
    if not FIRST_DAY <= day <= LAST_DAY:
        raise RefusedInputError("turnaround.invalid_period")
    return day


def checked_period(start: object, end: object) -> tuple[date | None, date | None]:
    since, until = checked_day(start), checked_day(end)
    if since is not None and until is not None and since > until:
        raise RefusedInputError("turnaround.invalid_period")
    return since, until


def notice(message_key: str, lang: str) -> html.Div:
    return html.Div(t(message_key, lang), id=NOTICE, className="tb-warning", role="alert")


def table(
    table_id: str, columns: Sequence[str], rows: Sequence[Mapping[str, str]], lang: str
) -> html.Div:
    """A plain table of already formatted text (Dash escapes it: names are never HTML)."""
    if not rows:
        return html.Div(
            html.P(t("turnaround.figure.no_data", lang), className="tb-note"), id=table_id
        )
    # Numbers align right (tb-number); the stylesheet draws the table (tb-table).
    classes = [None if key in TEXT_COLUMNS else "tb-number" for key in columns]
    head = html.Thead(
        html.Tr(
            [
                html.Th(t(f"turnaround.col.{key}", lang), className=cls)
                for key, cls in zip(columns, classes, strict=True)
            ]
        )
    )
    body = html.Tbody(
        [
            html.Tr(
                [
                    html.Td(row.get(key, ""), className=cls)
                    for key, cls in zip(columns, classes, strict=True)
                ],
                className="tb-small-sample" if row.get("small") else None,
            )
            for row in rows
        ]
    )
    return html.Div(
        html.Table([head, body], className="tb-table"), id=table_id, className="tb-scroll"
    )


def graph(graph_id: str, figure: go.Figure) -> dcc.Graph:
    return dcc.Graph(
        id=graph_id,
        figure=figure,
        config={"displaylogo": False, "responsive": True},
    )


def section(title_key: str, lang: str, *children: Any, note_key: str | None = None) -> html.Section:
    parts: list[Any] = [html.H2(t(title_key, lang))]
    if note_key is not None:
        parts.append(html.P(t(note_key, lang), className="tb-note"))
    return html.Section([*parts, *children], className="tb-section")


def _names(*frames: pl.DataFrame, lang: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for frame in frames:
        for unit, name in department_names(frame, lang).items():
            names.setdefault(unit, name)
    return names


def _service_names(services: pl.DataFrame, lang: str) -> dict[str, str]:
    column = "process_name_en" if lang == "en" else "process_name_zh"
    return {
        str(key): str(name or key)
        for key, name in services.select("process_key", column).iter_rows()
    }


def body(
    cursor: duckdb.DuckDBPyConnection,
    scope: Scope,
    lang: str,
    service: str,
    clock: Clock,
    since: date | None,
    until: date | None,
) -> list[Any]:
    """The page body for validated inputs: every figure from the read API, for this scope."""
    catalog = native_services(cursor, scope)
    process_key = None if service == ALL_SERVICES else service
    departments = reads.departments(cursor, scope, process_key=service)
    nodes = reads.nodes(cursor, scope, process_key=process_key)
    ageing = reads.open_task_ageing(cursor, scope, process_key=process_key)
    signals = reads.approver_signals(cursor, scope)
    # Names come from every department in scope: a service's own frames miss the departments
    # that only appear in the approver signals (which are not per service).
    every_department = departments if process_key is None else reads.departments(cursor, scope)
    names = _names(departments, every_department, nodes, ageing, lang=lang)
    parts: list[Any] = []

    if scope.university:
        services = reads.services(cursor, scope)
        all_nodes = nodes if process_key is None else reads.nodes(cursor, scope)
        parts.append(
            section(
                "turnaround.section.services",
                lang,
                table(
                    SERVICES_TABLE,
                    SERVICE_COLUMNS,
                    service_rows(services, all_nodes, lang, clock),
                    lang,
                ),
            )
        )
        weekly = reads.services(cursor, scope, grain="week", since=since, until=until)
        if process_key is not None:
            weekly = weekly.filter(pl.col("process_key") == process_key)
        trend = weekly_trend(weekly, lang, clock, "service")
    else:
        service_names = _service_names(catalog, lang)
        keys = [process_key] if process_key is not None else list(service_names)
        rows: list[dict[str, str]] = []
        every_service = reads.departments_of_services(cursor, scope, keys)
        for key in keys:
            per_service = every_service.filter(pl.col("process_key") == key)
            for row in department_rows(per_service, lang, clock, names):
                rows.append({**row, "service": service_names.get(key, key)})
        parts.append(
            section(
                "turnaround.section.services_units",
                lang,
                table(SERVICES_TABLE, UNIT_SERVICE_COLUMNS, rows, lang),
            )
        )
        weekly = reads.departments(
            cursor, scope, grain="week", since=since, until=until, process_key=service
        )
        trend = weekly_trend(weekly, lang, clock, "department")

    parts.append(
        section(
            "turnaround.section.trend",
            lang,
            graph(TREND, trend),
            note_key="turnaround.trend.pick" if process_key is None and scope.university else None,
        )
    )
    parts.append(
        section(
            "turnaround.section.departments",
            lang,
            table(
                DEPARTMENTS_TABLE,
                DEPARTMENT_COLUMNS,
                department_rows(departments, lang, clock, names),
                lang,
            ),
        )
    )
    if scope.university:
        parts.append(
            section(
                "turnaround.section.ranking",
                lang,
                table(
                    RANKING_TABLE,
                    RANKING_COLUMNS,
                    ranking_rows(departments, nodes, lang, names),
                    lang,
                ),
                note_key="turnaround.ranking.note",
            )
        )
    if process_key is None and scope.university:
        # Every node of every service is hundreds of bars: ask for one service instead.
        node_part: Any = html.P(t("turnaround.nodes.pick", lang), id=NODES, className="tb-note")
    else:
        node_part = graph(
            NODES, node_wait_handling(nodes, lang, clock, _service_names(catalog, lang))
        )
    parts.append(section("turnaround.section.nodes", lang, node_part))
    parts.append(
        section(
            "turnaround.section.ageing",
            lang,
            graph(AGEING, ageing_bars(ageing, lang, names)),
            note_key="turnaround.ageing.note",
        )
    )
    parts.append(
        section(
            "turnaround.section.signals",
            lang,
            html.P(
                t("turnaround.signals.note", lang, k=scope.k, people=MIN_APPROVERS),
                className="tb-note",
            ),
            table(SIGNALS_TABLE, SIGNAL_COLUMNS, signal_rows(signals, lang, names, scope.k), lang),
        )
    )
    return parts


def layout(**_: object) -> html.Div:
    denied = guard("turnaround")
    if denied is not None:
        return denied
    lang = current_language()
    scope = current_scope()
    with warehouse().cursor() as cursor:
        catalog = native_services(cursor, scope)
    options = [{"label": t("turnaround.all_services", lang), "value": ALL_SERVICES}] + [
        {"label": name, "value": key} for key, name in _service_names(catalog, lang).items()
    ]
    return html.Div(
        [
            html.H1(t("turnaround.title", lang)),
            html.P(t("turnaround.intro", lang, k=scope.k), className="tb-note"),
            html.Div(
                [
                    html.Label(
                        [
                            t("turnaround.service", lang),
                            dcc.Dropdown(
                                id=SERVICE,
                                options=options,
                                value=ALL_SERVICES,
                                clearable=False,
                            ),
                        ],
                        className="tb-control",
                    ),
                    html.Label(
                        [
                            t("turnaround.clock", lang),
                            dcc.RadioItems(
                                id=CLOCK,
                                options=[
                                    {"label": t(f"turnaround.clock.{c}", lang), "value": c}
                                    for c in CLOCKS
                                ],
                                value="working",
                                inline=True,
                            ),
                        ],
                        className="tb-control",
                    ),
                    html.Label(
                        [
                            t("turnaround.period", lang),
                            dcc.DatePickerRange(
                                id=PERIOD,
                                display_format="YYYY-MM-DD",
                                start_date_placeholder_text=t("turnaround.period.start", lang),
                                end_date_placeholder_text=t("turnaround.period.end", lang),
                                first_day_of_week=1,
                                clearable=True,
                                min_date_allowed=FIRST_DAY.isoformat(),
                                max_date_allowed=scope.on.isoformat(),
                            ),
                        ],
                        className="tb-control",
                    ),
                ],
                className="tb-controls",
            ),
            dcc.Loading(html.Div(id=BODY), type="dot"),
        ],
        className="tb-page tb-turnaround",
    )


@callback(
    Output(BODY, "children"),
    Input(SNAPSHOT_STORE, "data"),
    Input(SERVICE, "value"),
    Input(CLOCK, "value"),
    Input(PERIOD, "start_date"),
    Input(PERIOD, "end_date"),
)
def render(
    _snapshot: object, service: object, clock: object, start: object, end: object
) -> list[Any]:
    """The page body for the session's scope; a refusal note (no rows) for invalid input."""
    lang = current_language()
    scope = current_scope()
    if not section_allowed("turnaround", scope):
        return [notice("turnaround.not_allowed", lang)]
    try:
        chosen_clock = checked_clock(clock)
        since, until = checked_period(start, end)
        with warehouse().cursor() as cursor:
            allowed = native_services(cursor, scope)["process_key"].to_list()
            chosen = checked_service(service, allowed)
            return body(cursor, scope, lang, chosen, chosen_clock, since, until)
    except RefusedInputError as refused:
        return [notice(refused.message_key, lang)]
    except NotInScopeError:
        return [notice("turnaround.not_allowed", lang)]
