"""流程视图 (process flow): for a chosen service — native or an imported event log — the
department hand-off flow (a Sankey with counts and median waits), who held parallel groups
(会签) up on the critical path, the case-duration distribution, and the slowest cases.

The services offered are exactly those `processes(cursor, scope)` lists for the session's
scope (a department's scope: the services its units take part in). The slowest cases carry case
ids, so the read API serves them to university-wide scopes only; others see a note instead.

One callback (`render`) draws the body whenever the service or the published snapshot
(`shell-snapshot`) changes. A service key the scope's list does not hold gets a "not allowed"
note and no rows. Component ids (global in Dash) are the constants below, prefixed "process-".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import dash
import duckdb
import plotly.graph_objects as go
import polars as pl
from dash import Input, Output, callback, dcc, html

from dashboards.figures.process import (
    case_duration_figure,
    case_duration_histogram,
    critical_path_bars,
    handoff_sankey,
    slowest_rows,
)
from dashboards.figures.turnaround import no_data_figure
from dashboards.formatting import count
from dashboards.i18n import register_messages, t
from dashboards.session import current_language, current_scope, warehouse
from dashboards.shell import SNAPSHOT_STORE, guard, section_allowed
from warehouse.process_report import UnknownProcessError, process_report
from warehouse.read_api import processes as reads
from warehouse.scope import NotInScopeError, Scope

dash.register_page(__name__, path="/process", title="流程视图 · 通办", name="process")

SERVICE: Final = "process-service"
BODY: Final = "process-body"
NOTICE: Final = "process-notice"
SUMMARY: Final = "process-summary"
SANKEY: Final = "process-sankey"
CRITICAL: Final = "process-critical"
DURATIONS: Final = "process-durations"
HISTOGRAM: Final = "process-duration-histogram"
SLOWEST_TABLE: Final = "process-slowest-table"
SLOWEST_COLUMNS: Final = ("rank", "case_id", "started_at", "ended_at", "events", "duration")

register_messages(
    "process.",
    {
        "process.title": {"zh": "流程视图", "en": "Process flow"},
        "process.intro": {
            "zh": "选择一项服务（含导入的真实事件日志），查看部门间流转、会签关键路径与案例时长。",
            "en": "Pick a service (imported event logs included) for its hand-offs between "
            "departments, the critical path of parallel groups and its case durations.",
        },
        "process.service": {"zh": "服务", "en": "Service"},
        "process.origin.imported": {"zh": "导入日志", "en": "imported log"},
        "process.cases": {"zh": "{cases} 件", "en": "{cases} cases"},
        "process.summary": {
            "zh": "该服务全校共 {cases} 件、{events} 个事件",
            "en": "This service university-wide: {cases} cases, {events} events",
        },
        "process.scope.university": {"zh": "全校", "en": "University-wide"},
        "process.scope.unit": {"zh": "本单位", "en": "Your unit"},
        "process.scope.university_title": {
            "zh": "统计范围：全校（该服务的全部案例）",
            "en": "Scope: the whole university (every case of this service)",
        },
        "process.scope.unit_title": {
            "zh": "统计范围：本单位（仅与您所在部门有关的部分）",
            "en": "Scope: your unit (only what involves your departments)",
        },
        "process.durations.scope_note": {
            "zh": "注意：此分布为全校口径（该服务的全部案例），不限于本单位；"
            "上方流转图仅为本单位。",
            "en": "Note: this distribution covers the whole university (every case of the "
            "service), not only your unit; the hand-off flow above is your unit's only.",
        },
        "process.no_services": {
            "zh": "您的权限范围内暂无可查看的服务。",
            "en": "No service in your scope yet.",
        },
        "process.not_allowed": {
            "zh": "不允许的请求：该服务不在您的权限范围内。",
            "en": "Not allowed: that service is outside your scope.",
        },
        "process.section.handoffs": {
            "zh": "部门间流转（次数与等待中位数）",
            "en": "Hand-offs between departments (counts and median waits)",
        },
        "process.handoffs.note": {
            "zh": "左侧为交出案件的部门（或申请人），右侧为接收部门；"
            "悬停查看接收部门的等待中位数。",
            "en": "Left: the department (or applicant) handing the case on; right: the "
            "receiving department. Hover for the median wait there.",
        },
        "process.handoffs.scope_note": {
            "zh": "仅显示进出您所在部门的流转。",
            "en": "Only flows into or out of your departments are shown.",
        },
        "process.section.critical": {
            "zh": "会签关键路径：哪个部门让案件等待",
            "en": "Critical path in parallel groups: who held the case up",
        },
        "process.critical.none": {
            "zh": "该服务没有会签（并行审批）环节，或尚无完整的会签轮次。",
            "en": "This service has no parallel group, or no complete round yet.",
        },
        "process.section.durations": {"zh": "案例时长分布", "en": "Case-duration distribution"},
        "process.durations.note": {
            "zh": "每件从第一个到最后一个事件的时长（自然时间）：最短、中位数、平均、P90、最长。",
            "en": "First to last event of every case (wall-clock): min, median, mean, p90, max.",
        },
        "process.section.slowest": {"zh": "最慢案例", "en": "Slowest cases"},
        "process.slowest.leadership_only": {
            "zh": "最慢案例（案例编号）仅对全校范围的角色显示。",
            "en": "The slowest cases (case ids) are shown to university-wide roles only.",
        },
        "process.col.rank": {"zh": "排名", "en": "Rank"},
        "process.col.case_id": {"zh": "案例编号", "en": "Case id"},
        "process.col.started_at": {"zh": "开始（北京时间）", "en": "Started (Beijing)"},
        "process.col.ended_at": {"zh": "结束（北京时间）", "en": "Ended (Beijing)"},
        "process.col.events": {"zh": "事件数", "en": "Events"},
        "process.col.duration": {"zh": "时长", "en": "Duration"},
        "process.no_data": {"zh": "暂无数据", "en": "No data"},
    },
)


def service_options(catalog: pl.DataFrame, lang: str) -> list[dict[str, str]]:
    """Dropdown options: the service's name, its size, and whether it is an imported log."""
    column = "process_name_en" if lang == "en" else "process_name_zh"
    options = []
    for row in catalog.iter_rows(named=True):
        label = str(row[column] or row["process_key"])
        extra = [t("process.cases", lang, cases=count(row["cases"] or 0))]
        if row["origin"] != "native":
            extra.insert(0, t("process.origin.imported", lang))
        options.append({"label": f"{label}（{'，'.join(extra)}）", "value": row["process_key"]})
    return options


def default_service(catalog: pl.DataFrame) -> str | None:
    """The service with the most cases: the richest flow to start from."""
    if catalog.is_empty():
        return None
    ranked = catalog.with_columns(pl.col("cases").fill_null(0)).sort(
        ["cases", "process_key"], descending=[True, False]
    )
    return str(ranked["process_key"][0])


def notice(message_key: str, lang: str) -> html.Div:
    return html.Div(t(message_key, lang), id=NOTICE, className="tb-warning", role="alert")


def graph(graph_id: str, figure: go.Figure) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=figure, config={"displaylogo": False})


def table(
    table_id: str, columns: Sequence[str], rows: Sequence[Mapping[str, str]], lang: str
) -> html.Div:
    if not rows:
        return html.Div(html.P(t("process.no_data", lang), className="tb-note"), id=table_id)
    head = html.Thead(html.Tr([html.Th(t(f"process.col.{key}", lang)) for key in columns]))
    body_rows = html.Tbody(
        [
            html.Tr(
                [
                    html.Td(row[key], className=None if key == "case_id" else "tb-number")
                    for key in columns
                ]
            )
            for row in rows
        ]
    )
    return html.Div(
        html.Table([head, body_rows], className="tb-table"), id=table_id, className="tb-scroll"
    )


def scope_tag(whole: bool, lang: str) -> html.Span:
    """The scope a figure counts, said next to its title: 全校 (every case) or 本单位."""
    kind = "university" if whole else "unit"
    return html.Span(
        t(f"process.scope.{kind}", lang),
        className=f"tb-scope tb-scope-{kind}",
        title=t(f"process.scope.{kind}_title", lang),
    )


def section(
    title_key: str, lang: str, *children: Any, whole: bool, notes: Sequence[str] = ()
) -> html.Section:
    """A titled section; `whole` says whether its figure counts the whole university (全校)
    or only the scope's own units (本单位) — always labelled, so no one mistakes one for the
    other."""
    parts: list[Any] = [html.H2([t(title_key, lang), " ", scope_tag(whole, lang)])]
    parts.extend(html.P(t(key, lang), className="tb-note") for key in notes)
    return html.Section([*parts, *children], className="tb-section")


def body(
    cursor: duckdb.DuckDBPyConnection, scope: Scope, lang: str, process_key: str, cases: int
) -> list[Any]:
    """The page body for a service this scope's list holds."""
    handoffs = reads.handoffs(cursor, scope, process_key)
    critical = reads.critical_path(cursor, scope, process_key)
    try:
        report: dict[str, Any] | None = process_report(cursor, process_key)
    except UnknownProcessError:
        # Listed in the catalog but no case yet: the distribution says there is no data.
        report = None
    slowest = reads.slowest_cases(cursor, scope, process_key) if scope.university else None
    spread = reads.case_durations(cursor, scope, process_key)
    summary = report["case_duration_s"] if report is not None else None
    events = report["events"] if report is not None else 0
    handoff_notes = ["process.handoffs.note"]
    if not scope.university:
        handoff_notes.append("process.handoffs.scope_note")
    critical_figure = (
        no_data_figure(lang, text=t("process.critical.none", lang))
        if critical.is_empty()
        else critical_path_bars(critical, lang, scope.k)
    )
    # The hand-offs and the critical path are filtered to a department's own units by the
    # read API; the case counts and durations (process_report) are always the whole service.
    flows_whole = scope.university
    duration_notes = ["process.durations.note"]
    if not scope.university:
        duration_notes.append("process.durations.scope_note")
    parts: list[Any] = [
        html.P(
            [
                scope_tag(True, lang),
                " ",
                t("process.summary", lang, cases=count(cases), events=count(events)),
            ],
            id=SUMMARY,
            className="tb-summary",
        ),
        section(
            "process.section.handoffs",
            lang,
            graph(SANKEY, handoff_sankey(handoffs, lang, scope.k)),
            whole=flows_whole,
            notes=handoff_notes,
        ),
        section(
            "process.section.critical", lang, graph(CRITICAL, critical_figure), whole=flows_whole
        ),
        section(
            "process.section.durations",
            lang,
            graph(HISTOGRAM, case_duration_histogram(spread, lang, scope.k)),
            graph(DURATIONS, case_duration_figure(summary, cases, slowest, lang, scope.k)),
            whole=True,
            notes=duration_notes,
        ),
    ]
    if slowest is not None:
        parts.append(
            section(
                "process.section.slowest",
                lang,
                table(SLOWEST_TABLE, SLOWEST_COLUMNS, slowest_rows(slowest, lang), lang),
                whole=True,
            )
        )
    else:
        parts.append(
            section(
                "process.section.slowest",
                lang,
                html.P(
                    t("process.slowest.leadership_only", lang),
                    id=SLOWEST_TABLE,
                    className="tb-note",
                ),
                whole=True,
            )
        )
    return parts


def layout(**_: object) -> html.Div:
    denied = guard("process")
    if denied is not None:
        return denied
    lang = current_language()
    scope = current_scope()
    with warehouse().cursor() as cursor:
        catalog = reads.processes(cursor, scope)
    return html.Div(
        [
            html.H1(t("process.title", lang)),
            html.P(t("process.intro", lang), className="tb-note"),
            html.Div(
                html.Label(
                    [
                        t("process.service", lang),
                        dcc.Dropdown(
                            id=SERVICE,
                            options=service_options(catalog, lang),
                            value=default_service(catalog),
                            clearable=False,
                        ),
                    ],
                    className="tb-control tb-control-wide",
                ),
                className="tb-controls",
            ),
            dcc.Loading(html.Div(id=BODY), type="dot"),
        ],
        className="tb-page tb-process",
    )


@callback(Output(BODY, "children"), Input(SNAPSHOT_STORE, "data"), Input(SERVICE, "value"))
def render(_snapshot: object, service: object) -> list[Any]:
    """The page body for the session's scope; a refusal note (no rows) for any other key."""
    lang = current_language()
    scope = current_scope()
    if not section_allowed("process", scope):
        return [notice("process.not_allowed", lang)]
    try:
        with warehouse().cursor() as cursor:
            catalog = reads.processes(cursor, scope)
            if catalog.is_empty():
                return [notice("process.no_services", lang)]
            listed = (
                catalog.filter(pl.col("process_key") == service)
                if isinstance(service, str)
                else catalog.clear()
            )
            if listed.is_empty():
                return [notice("process.not_allowed", lang)]
            cases = int(listed["cases"].fill_null(0)[0])
            return body(cursor, scope, lang, str(service), cases)
    except NotInScopeError:
        return [notice("process.not_allowed", lang)]
