"""数据质量 (data quality): for data staff (网信中心) — "can these numbers be trusted today?"

The page reads the quality report the pipelines publish beside the warehouse after every
evaluation (`dashboards.session.quality_cursor()`, read through `warehouse.read_api.quality`):

- a banner while publication is paused: which blocking checks failed, since when, and which
  snapshot the pages still show;
- the latest result of every check, grouped by source and model with ✓/!/✗ marks, each linked
  to its run in the Dagster UI (`DashboardConfig.dagster_url`) and to its failing rows;
- the freshness of every source (its newest record, its last load) and of the published
  snapshot, as ages in 天/小时/分钟;
- for a chosen check (failing first): its trend over the runs and the failing rows of one result
  with their key columns — the latest, or the run whose point was clicked in the trend;
- the runs: published (which snapshot) or blocked, blocking failures and warnings.

Only data staff open the page (`shell.guard("quality")`); the callbacks check the section again
and the read API refuses anybody else, so a crafted request gets a note and no rows. The page
redraws on the shell's `QUALITY_STORE` (a new report, which a blocked build publishes without a
new snapshot) and on `SNAPSHOT_STORE`.

Component ids (global in Dash) are the constants below, all prefixed "quality-".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

import dash
import duckdb
import polars as pl
from dash import Input, Output, State, callback, dcc, html

from dashboards.figures.quality import (
    asset_rows,
    check_options,
    dagster_run_url,
    default_check,
    description,
    freshness_rows,
    run_rows,
    sample_rows,
    severity_label,
    status_label,
    status_rows,
    trend_figure,
)
from dashboards.figures.turnaround import no_data_figure
from dashboards.formatting import count, shanghai
from dashboards.i18n import register_messages, t
from dashboards.session import (
    config,
    current_language,
    current_scope,
    quality_cursor,
    warehouse,
)
from dashboards.shell import QUALITY_STORE, SNAPSHOT_STORE, guard, section_allowed
from warehouse.read_api import quality as reads
from warehouse.reader import NoSnapshotError
from warehouse.scope import NotInScopeError, Scope

dash.register_page(__name__, path="/quality", title="数据质量 · 通办", name="quality")

SUMMARY: Final = "quality-summary"
BANNER: Final = "quality-banner"
STATUS_TABLE: Final = "quality-status-table"
FRESHNESS_TABLE: Final = "quality-freshness-table"
CHECK: Final = "quality-check"
REQUESTED: Final = "quality-requested"
TREND: Final = "quality-trend"
SAMPLE: Final = "quality-sample"
SAMPLE_TABLE: Final = "quality-sample-table"
RUNS: Final = "quality-runs"
RUNS_TABLE: Final = "quality-runs-table"
NOTICE: Final = "quality-notice"
STATUS_COLUMNS: Final = (
    "mark",
    "check",
    "suite",
    "severity",
    "description",
    "unexpected",
    "elements",
    "share",
    "evaluated",
    "run",
)
FRESHNESS_COLUMNS: Final = (
    "source",
    "newest",
    "newest_age",
    "loaded",
    "loaded_age",
    "rows",
    "detail",
)
RUN_COLUMNS: Final = ("evaluated", "outcome", "blocking", "warnings", "job", "cursor", "run")
# A table-level check observes whole column lists: the start says enough, Dagster has the rest.
OBSERVED_CHARS: Final = 400
NUMBER_COLUMNS: Final = frozenset(
    {"unexpected", "elements", "share", "rows", "blocking", "warnings", "cursor"}
)

register_messages(
    "quality.",
    {
        "quality.title": {"zh": "数据质量", "en": "Data quality"},
        "quality.intro": {
            "zh": "每次管道运行都检查数据源与模型（结构、空值、取值范围、唯一性、引用完整性、"
            "流程日志完整性）。阻断级检查未通过时暂停发布，各页面继续显示上一个快照；"
            "警告级检查未通过时照常发布，并在此列出。",
            "en": "Every pipeline run checks the sources and the models (schema, nulls, ranges, "
            "uniqueness, referential and workflow-log integrity). A failing blocking check "
            "pauses publication and the pages keep the last snapshot; a failing warning "
            "publishes and is listed here.",
        },
        "quality.no_report": {
            "zh": "尚未发布数据质量报告：管道还没有运行过检查。",
            "en": "No data-quality report is published yet: the pipelines have not run checks.",
        },
        "quality.not_allowed": {
            "zh": "不允许的请求：数据质量报告仅供网信中心数据人员查看。",
            "en": "Not allowed: the data-quality report is for data staff only.",
        },
        "quality.unknown_check": {
            "zh": "没有这项检查。",
            "en": "There is no such check.",
        },
        "quality.banner.title": {
            "zh": "发布已暂停：{count} 项阻断检查未通过",
            "en": "Publication paused: {count} blocking checks failing",
        },
        "quality.banner.since": {
            "zh": "自 {moment} 起，已有 {runs} 次运行被阻断。",
            "en": "Since {moment}; {runs} runs blocked so far.",
        },
        "quality.banner.snapshot": {
            "zh": "各页面仍显示快照 #{number}（数据截至 {moment}），修复后下一次运行将发布新快照。",
            "en": "The pages still show snapshot #{number} (data as of {moment}); the next run "
            "after a fix publishes a new one.",
        },
        "quality.banner.checks": {"zh": "未通过的阻断检查：", "en": "Failing blocking checks:"},
        "quality.section.status": {
            "zh": "各项检查的最新结果",
            "en": "Latest result of every check",
        },
        "quality.status.note": {
            "zh": "按数据源与模型分组；点击检查名查看其趋势与失败样本，点击运行编号打开 Dagster。",
            "en": "Grouped by source and model; click a check for its trend and failing rows, "
            "a run id to open it in Dagster.",
        },
        "quality.section.freshness": {"zh": "数据新鲜度", "en": "Freshness"},
        "quality.freshness.note": {
            "zh": "时间为北京时间；距今按页面刷新时计算。",
            "en": "Times in Beijing time; ages as of this page's refresh.",
        },
        "quality.section.detail": {
            "zh": "单项检查：趋势与失败样本",
            "en": "One check: trend and failing rows",
        },
        "quality.check": {"zh": "检查", "en": "Check"},
        "quality.trend.note": {
            "zh": "点击图中的点，查看该次运行的失败样本。",
            "en": "Click a point to see that run's failing rows.",
        },
        "quality.sample.heading": {
            "zh": "运行 {run}（{moment}）的结果：{status}，不符合 {unexpected} / 共 {elements} 行",
            "en": "Result of run {run} ({moment}): {status}, {unexpected} of {elements} rows "
            "unexpected",
        },
        "quality.sample.kept": {
            "zh": "以下为保留的失败样本（最多 20 行），“键”列标出定位记录所用的字段。",
            "en": "The failing rows kept (at most 20); the key columns locate each record.",
        },
        "quality.sample.none": {
            "zh": "该次结果没有失败样本。",
            "en": "This result kept no failing rows.",
        },
        "quality.sample.observed": {"zh": "观测值：{value}", "en": "Observed: {value}"},
        "quality.sample.key": {"zh": "{column}（键）", "en": "{column} (key)"},
        "quality.open_run": {"zh": "在 Dagster 中打开", "en": "Open in Dagster"},
        "quality.section.runs": {"zh": "最近的运行", "en": "Recent runs"},
        "quality.no_rows": {"zh": "暂无数据", "en": "No data"},
        "quality.col.mark": {"zh": "状态", "en": "Status"},
        "quality.col.check": {"zh": "检查", "en": "Check"},
        "quality.col.suite": {"zh": "检查集", "en": "Suite"},
        "quality.col.severity": {"zh": "级别", "en": "Severity"},
        "quality.col.description": {"zh": "说明", "en": "Description"},
        "quality.col.unexpected": {"zh": "不符合行数", "en": "Unexpected"},
        "quality.col.elements": {"zh": "检查行数", "en": "Rows checked"},
        "quality.col.share": {"zh": "不符合占比", "en": "Share"},
        "quality.col.evaluated": {"zh": "检查时间", "en": "Evaluated"},
        "quality.col.run": {"zh": "运行", "en": "Run"},
        "quality.col.source": {"zh": "来源", "en": "Source"},
        "quality.col.newest": {"zh": "最新记录", "en": "Newest record"},
        "quality.col.newest_age": {"zh": "最新记录距今", "en": "Newest record age"},
        "quality.col.loaded": {"zh": "最近载入", "en": "Last loaded"},
        "quality.col.loaded_age": {"zh": "载入距今", "en": "Load age"},
        "quality.col.rows": {"zh": "行数", "en": "Rows"},
        "quality.col.detail": {"zh": "备注", "en": "Detail"},
        "quality.col.outcome": {"zh": "结果", "en": "Outcome"},
        "quality.col.blocking": {"zh": "阻断失败", "en": "Blocking failures"},
        "quality.col.warnings": {"zh": "警告", "en": "Warnings"},
        "quality.col.job": {"zh": "作业", "en": "Job"},
        "quality.col.cursor": {"zh": "事件游标", "en": "Events cursor"},
    },
)


def utc_now() -> datetime:
    """Now in naive UTC, the warehouse's clock (tests replace it)."""
    return datetime.now(UTC).replace(tzinfo=None)


def notice(message_key: str, lang: str) -> html.Div:
    return html.Div(t(message_key, lang), id=NOTICE, className="tb-warning", role="alert")


def _run_link(run_id: str | None, lang: str) -> Any:
    if not run_id:
        return ""
    return html.A(
        run_id[:8],
        href=dagster_run_url(config().dagster_url, run_id),
        target="_blank",
        rel="noopener noreferrer",
        title=f"{t('quality.open_run', lang)}: {run_id}",
        className="tb-run-link",
    )


def _head(columns: Sequence[str], lang: str) -> Any:
    return html.Thead(
        html.Tr(
            [
                html.Th(
                    t(f"quality.col.{key}", lang),
                    className="tb-number" if key in NUMBER_COLUMNS else None,
                )
                for key in columns
            ]
        )
    )


def _cells(row: Mapping[str, Any], columns: Sequence[str]) -> list[Any]:
    return [
        html.Td(row.get(key, ""), className="tb-number" if key in NUMBER_COLUMNS else None)
        for key in columns
    ]


def _table(table_id: str, head: Any, body: list[Any], lang: str) -> html.Div:
    if not body:
        return html.Div(html.P(t("quality.no_rows", lang), className="tb-note"), id=table_id)
    return html.Div(
        html.Table([head, html.Tbody(body)], className="tb-table"),
        id=table_id,
        className="tb-scroll",
    )


def status_table(status: pl.DataFrame, summary: pl.DataFrame, lang: str) -> html.Div:
    """The latest result of every check, under a heading row per source or model."""
    by_asset: dict[str, list[dict[str, Any]]] = {}
    for row in status_rows(status, lang):
        by_asset.setdefault(str(row["asset"]), []).append(row)
    body: list[Any] = []
    for group in asset_rows(summary, lang):
        body.append(
            html.Tr(
                html.Th(
                    [
                        html.Span(group["name"], className="tb-group-name"),
                        html.Span(f"{group['layer']} · {group['suites']}", className="tb-note"),
                        html.Span(group["counts"], className="tb-group-counts"),
                    ],
                    colSpan=len(STATUS_COLUMNS),
                ),
                className=f"tb-group tb-quality-{group['status']}-group",
            )
        )
        for row in by_asset.get(str(group["asset"]), []):
            cells = {
                **row,
                "check": dcc.Link(
                    row["check"], href="/quality?" + urlencode({"check": row["check_name"]})
                ),
                "mark": html.Span(row["mark"], className=f"tb-mark tb-mark-{row['status']}"),
                "run": _run_link(row["run_id"], lang),
            }
            body.append(
                html.Tr(
                    _cells(cells, STATUS_COLUMNS),
                    className=f"tb-check tb-check-{row['status']}",
                    **{"data-check": row["check_name"]},
                )
            )
    return _table(STATUS_TABLE, _head(STATUS_COLUMNS, lang), body, lang)


def banner(
    state: reads.Publication, snapshot_number: int | None, as_of: datetime | None, lang: str
) -> html.Div | None:
    """Why publication is paused, or None while it is not."""
    if not state.blocked and not state.blocking_checks:
        return None
    parts: list[Any] = [
        html.Strong(t("quality.banner.title", lang, count=len(state.blocking_checks)))
    ]
    if state.since is not None:
        parts.append(
            html.P(
                t(
                    "quality.banner.since",
                    lang,
                    moment=shanghai(state.since, lang),
                    runs=state.blocked_runs,
                )
            )
        )
    if state.blocking_checks:
        parts.append(
            html.P(
                [
                    t("quality.banner.checks", lang),
                    *[
                        html.Code(name, className="tb-banner-check")
                        for name in state.blocking_checks
                    ],
                ]
            )
        )
    if snapshot_number is not None:
        parts.append(
            html.P(
                t(
                    "quality.banner.snapshot",
                    lang,
                    number=snapshot_number,
                    moment=shanghai(as_of, lang),
                )
            )
        )
    return html.Div(parts, id=BANNER, className="tb-banner tb-banner-blocked", role="alert")


def _section(title_key: str, lang: str, *children: Any, note_key: str | None = None) -> Any:
    parts: list[Any] = [html.H2(t(title_key, lang))]
    if note_key is not None:
        parts.append(html.P(t(note_key, lang), className="tb-note"))
    return html.Section([*parts, *children], className="tb-section")


def summary_body(
    cursor: duckdb.DuckDBPyConnection,
    scope: Scope,
    lang: str,
    now: datetime,
    status: pl.DataFrame,
) -> list[Any]:
    """The banner, the status of every check (`status`, read by the caller) and the
    freshness, for data staff."""
    summary = reads.asset_summary(cursor, scope)
    state = reads.publication(cursor, scope)
    fresh = reads.freshness(cursor, scope, now)
    try:
        snapshot = warehouse().snapshot()
        number, as_of, published_at = snapshot.number, snapshot.as_of, snapshot.published_at
    except NoSnapshotError:
        number, as_of, published_at = None, None, None
    parts: list[Any] = []
    paused = banner(state, number, as_of, lang)
    if paused is not None:
        parts.append(paused)
    parts.append(
        _section(
            "quality.section.status",
            lang,
            status_table(status, summary, lang),
            note_key="quality.status.note",
        )
    )
    rows = freshness_rows(
        fresh,
        lang,
        now=now,
        snapshot_number=number,
        snapshot_as_of=as_of,
        snapshot_published_at=published_at,
    )
    parts.append(
        _section(
            "quality.section.freshness",
            lang,
            _table(
                FRESHNESS_TABLE,
                _head(FRESHNESS_COLUMNS, lang),
                [html.Tr(_cells(row, FRESHNESS_COLUMNS)) for row in rows],
                lang,
            ),
            note_key="quality.freshness.note",
        )
    )
    return parts


def runs_body(cursor: duckdb.DuckDBPyConnection, scope: Scope, lang: str) -> list[Any]:
    rows = run_rows(reads.runs(cursor, scope), lang)
    body = [
        html.Tr(
            _cells({**row, "run": _run_link(row["run_id"], lang)}, RUN_COLUMNS),
            className=f"tb-run tb-run-{row['outcome_key']}",
        )
        for row in rows
    ]
    return [
        _section(
            "quality.section.runs",
            lang,
            _table(RUNS_TABLE, _head(RUN_COLUMNS, lang), body, lang),
        )
    ]


def overview(
    _snapshot: object, _report: object, chosen: object, requested: object = None
) -> tuple[list[Any], list[Any], list[dict[str, str]], Any]:
    """The summary (banner, status, freshness), the runs, and the checks to pick from: the one
    chosen in the picker while it exists, else the one the address asked for (`?check=`), else
    the first failing."""
    lang = current_language()
    scope = current_scope()
    if not section_allowed("quality", scope):
        return [notice("quality.not_allowed", lang)], [], [], None
    try:
        with quality_cursor() as cursor:
            if cursor is None:
                return [html.P(t("quality.no_report", lang), className="tb-note")], [], [], None
            status = reads.check_status(cursor, scope)
            summary = summary_body(cursor, scope, lang, utc_now(), status)
            runs = runs_body(cursor, scope, lang)
    except NotInScopeError:
        return [notice("quality.not_allowed", lang)], [], [], None
    names = set(status["check_name"])
    wanted = [value for value in (chosen, requested) if isinstance(value, str) and value in names]
    value = wanted[0] if wanted else default_check(status)
    # The picker keeps its check: setting it again would draw the trend a second time.
    return summary, runs, check_options(status, lang), dash.no_update if value == chosen else value


def _clicked_run(click: object, check: str) -> str | None:
    """The run of the trend point clicked, when the click was on this check's trend."""
    if not isinstance(click, Mapping):
        return None
    points = click.get("points")
    if not isinstance(points, list) or not points or not isinstance(points[0], Mapping):
        return None
    data = points[0].get("customdata")
    if not isinstance(data, list) or len(data) < 3 or data[2] != check:
        return None
    return data[0] if isinstance(data[0], str) else None


def _clipped(text: str, limit: int = OBSERVED_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sample_body(sample: reads.Sample, lang: str) -> list[Any]:
    """The result's heading, its observed value and its failing rows, key columns marked."""
    parts: list[Any] = [
        html.P(
            [
                t(
                    "quality.sample.heading",
                    lang,
                    run=sample.run_id[:8],
                    moment=shanghai(sample.evaluated_at, lang),
                    status=status_label(sample.status, lang),
                    unexpected=count(sample.unexpected_count),
                    elements=count(sample.element_count),
                ),
                " ",
                _run_link(sample.run_id, lang),
            ],
            className="tb-sample-heading",
        )
    ]
    if sample.observed_value is not None:
        parts.append(
            html.P(
                t(
                    "quality.sample.observed",
                    lang,
                    value=_clipped(json.dumps(sample.observed_value, ensure_ascii=False)),
                ),
                className="tb-note",
            )
        )
    if sample.rows.is_empty():
        parts.append(
            html.Div(html.P(t("quality.sample.none", lang), className="tb-note"), id=SAMPLE_TABLE)
        )
        return parts
    columns = sample.rows.columns
    keys = set(sample.keys)
    labels = {
        name: t("quality.sample.key", lang, column=name) if name in keys else name
        for name in columns
    }
    head = html.Thead(
        html.Tr(
            [
                html.Th(labels[name], className="tb-key" if name in keys else None)
                for name in columns
            ]
        )
    )
    body = [
        html.Tr(
            [html.Td(row[name], className="tb-key" if name in keys else None) for name in columns]
        )
        for row in sample_rows(sample.rows)
    ]
    parts.append(html.P(t("quality.sample.kept", lang), className="tb-note"))
    parts.append(
        html.Div(
            html.Table([head, html.Tbody(body)], className="tb-table"),
            id=SAMPLE_TABLE,
            className="tb-scroll",
        )
    )
    return parts


def detail(check: object, _report: object, click: object) -> tuple[Any, list[Any]]:
    """The chosen check's trend and the failing rows of its latest result (or of the run
    clicked in the trend)."""
    lang = current_language()
    scope = current_scope()
    empty = no_data_figure(lang)
    if not section_allowed("quality", scope):
        return empty, [notice("quality.not_allowed", lang)]
    if check is None:
        return empty, []
    if not isinstance(check, str):
        return empty, [notice("quality.unknown_check", lang)]
    try:
        with quality_cursor() as cursor:
            if cursor is None:
                return empty, [html.P(t("quality.no_report", lang), className="tb-note")]
            trend = reads.trend(cursor, scope, check)
            run = _clicked_run(click, check)
            if run is not None and run not in set(trend["run_id"]):
                run = None
            sample = reads.failing_sample(cursor, scope, check, run) if trend.height else None
            described = reads.check_status(cursor, scope).filter(pl.col("check_name") == check)
    except NotInScopeError:
        return empty, [notice("quality.not_allowed", lang)]
    except LookupError:
        return empty, [notice("quality.unknown_check", lang)]
    figure = trend_figure(trend, lang, check)
    parts: list[Any] = []
    if not described.is_empty():
        row = described.row(0, named=True)
        parts.append(
            html.P(
                [
                    html.Strong(check),
                    f" · {severity_label(row['severity'], lang)} · {description(row, lang)}",
                ],
                className="tb-check-description",
            )
        )
    if sample is not None:
        parts.extend(sample_body(sample, lang))
    return figure, parts


def layout(check: str | None = None, **_: object) -> html.Div:
    denied = guard("quality")
    if denied is not None:
        return denied
    lang = current_language()
    return html.Div(
        [
            html.H1(t("quality.title", lang)),
            html.P(t("quality.intro", lang), className="tb-note"),
            dcc.Loading(html.Div(id=SUMMARY), type="dot"),
            _section(
                "quality.section.detail",
                lang,
                html.Div(
                    html.Label(
                        [
                            t("quality.check", lang),
                            # Its options come with the report (the callback below): a value
                            # set before them would be cleared, so the address's check waits
                            # in REQUESTED.
                            dcc.Dropdown(id=CHECK, options=[], clearable=False),
                        ],
                        className="tb-control tb-control-wide",
                    ),
                    className="tb-controls tb-controls-flat",
                ),
                dcc.Graph(
                    id=TREND,
                    figure=no_data_figure(lang),
                    config={"displaylogo": False, "responsive": True},
                ),
                html.P(t("quality.trend.note", lang), className="tb-note"),
                dcc.Loading(html.Div(id=SAMPLE), type="dot"),
            ),
            html.Div(id=RUNS),
            dcc.Store(id=REQUESTED, data=check if isinstance(check, str) else None),
        ],
        className="tb-page tb-quality",
    )


callback(
    Output(SUMMARY, "children"),
    Output(RUNS, "children"),
    Output(CHECK, "options"),
    Output(CHECK, "value"),
    Input(SNAPSHOT_STORE, "data"),
    Input(QUALITY_STORE, "data"),
    State(CHECK, "value"),
    State(REQUESTED, "data"),
)(overview)

callback(
    Output(TREND, "figure"),
    Output(SAMPLE, "children"),
    Input(CHECK, "value"),
    Input(QUALITY_STORE, "data"),
    Input(TREND, "clickData"),
)(detail)
