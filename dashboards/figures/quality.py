"""Figures and table rows of the data-quality page (数据质量): pure builders from the frames
`warehouse.read_api.quality` returns.

Nothing here reads anything: every builder takes frames (and the moments it measures ages
against) and the language. Times are naive UTC in the frames and shown in Asia/Shanghai; ages
read in 天/小时/分钟 (`dashboards.formatting.duration`).

- `status_label(status, lang)`: "✓ 通过", "! 警告", "✗ 未通过", "– 未运行".
- `trend_figure(frame, lang, check_name)`: one check's unexpected rows per run, each point
  coloured by its status, its run in `customdata` (a click picks that run's failing rows).
- `status_rows(frame, lang)`, `asset_rows(summary, lang)`, `sample_rows(frame)`,
  `run_rows(frame, lang)`, `freshness_rows(...)`: table rows as dicts of text.
- `check_options(frame, lang)`, `default_check(frame)`: the checks to pick from, failing first.
- `dagster_run_url(base, run_id)`: where a run is in the Dagster UI.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

import plotly.graph_objects as go
import polars as pl

from dashboards.figures.turnaround import FONT, no_data_figure
from dashboards.formatting import (
    SUPPRESSED,
    count,
    date_ticks,
    duration,
    percent,
    shanghai,
    to_shanghai,
)
from dashboards.i18n import MESSAGES, register_messages, t

STATUS_ORDER: Final = ("fail", "warn", "pass", "not_run")
STATUS_COLOURS: Final[Mapping[str, str]] = {
    "pass": "#2f855a",
    "warn": "#b7791f",
    "fail": "#c53030",
    "not_run": "#a0aec0",
}
MARKS: Final[Mapping[str, str]] = {"pass": "✓", "warn": "!", "fail": "✗", "not_run": "–"}
LINE_COLOUR: Final = "#cbd2d9"

register_messages(
    "quality.",
    {
        "quality.status.pass": {"zh": "通过", "en": "Pass"},
        "quality.status.warn": {"zh": "警告", "en": "Warning"},
        "quality.status.fail": {"zh": "未通过", "en": "Failed"},
        "quality.status.not_run": {"zh": "未运行", "en": "Not run"},
        "quality.severity.error": {"zh": "阻断", "en": "Blocking"},
        "quality.severity.warn": {"zh": "警告", "en": "Warning"},
        "quality.layer.source": {"zh": "数据源", "en": "Source"},
        "quality.layer.model": {"zh": "模型", "en": "Model"},
        "quality.outcome.published": {"zh": "已发布 #{number}", "en": "Published #{number}"},
        "quality.outcome.published_none": {"zh": "已发布", "en": "Published"},
        "quality.outcome.blocked": {"zh": "已阻断", "en": "Blocked"},
        "quality.outcome.checked": {"zh": "仅检查", "en": "Checked only"},
        "quality.source.events": {"zh": "事件库", "en": "Event store"},
        "quality.source.raw_events": {"zh": "事件库", "en": "Event store"},
        "quality.source.business": {"zh": "业务系统", "en": "Business systems"},
        "quality.source.raw_business": {"zh": "业务系统", "en": "Business systems"},
        "quality.source.snapshot": {"zh": "发布快照", "en": "Published snapshot"},
        "quality.snapshot_row": {
            "zh": "已发布快照 #{number}",
            "en": "Published snapshot #{number}",
        },
        "quality.trend.unexpected": {"zh": "不符合的行数", "en": "Unexpected rows"},
        "quality.trend.evaluated": {"zh": "检查时间", "en": "Evaluated"},
        "quality.trend.hover": {
            "zh": "%{x|%Y-%m-%d %H:%M}<br>%{text}<br>不符合 %{y:,} / 共 %{customdata[1]:,} 行"
            "<br>运行 %{customdata[0]}<extra></extra>",
            "en": "%{x|%Y-%m-%d %H:%M}<br>%{text}<br>%{y:,} unexpected of %{customdata[1]:,} "
            "rows<br>run %{customdata[0]}<extra></extra>",
        },
        "quality.figure.no_results": {
            "zh": "该检查尚无结果",
            "en": "No results for this check yet",
        },
    },
)


def status_label(status: str, lang: str) -> str:
    key = f"quality.status.{status}"
    return f"{MARKS.get(status, '?')} {t(key, lang) if key in MESSAGES else status}"


def severity_label(severity: str, lang: str) -> str:
    key = f"quality.severity.{severity}"
    return t(key, lang) if key in MESSAGES else severity


def source_label(source: str, lang: str) -> str:
    """The hall's name of a known source ("事件库 · events"); other names as they are."""
    key = f"quality.source.{source}"
    return f"{t(key, lang)} · {source}" if key in MESSAGES else source


def description(row: Mapping[str, Any], lang: str) -> str:
    text = row.get("description_en") if lang == "en" else row.get("description_zh")
    return str(text or row.get("description_zh") or "")


def dagster_run_url(base: str, run_id: str) -> str:
    """The run's page in the Dagster UI at `base` (e.g. http://127.0.0.1:3000)."""
    return f"{base.rstrip('/')}/runs/{quote(run_id, safe='')}"


def trend_figure(frame: pl.DataFrame, lang: str, check_name: str) -> go.Figure:
    """Unexpected rows of one check per evaluation (`read_api.quality.trend`), coloured by
    status; hover says the rows checked and the run. Each point's `customdata` is
    (run id, rows checked, check name): a click names its run and its check."""
    if frame.is_empty():
        return no_data_figure(lang, text=t("quality.figure.no_results", lang))
    moments = [to_shanghai(moment).replace(tzinfo=None) for moment in frame["evaluated_at"]]
    statuses = frame["status"].to_list()
    figure = go.Figure(
        go.Scatter(
            x=moments,
            y=frame["unexpected_count"].to_list(),
            mode="lines+markers",
            line={"color": LINE_COLOUR, "width": 2},
            marker={
                "size": 11,
                "color": [STATUS_COLOURS.get(s, LINE_COLOUR) for s in statuses],
                "line": {"width": 1, "color": "#ffffff"},
            },
            text=[status_label(s, lang) for s in statuses],
            customdata=[
                [run_id, elements, check_name]
                for run_id, elements in frame.select("run_id", "element_count").iter_rows()
            ],
            hovertemplate=t("quality.trend.hover", lang),
            showlegend=False,
        )
    )
    figure.update_layout(
        font={"family": FONT, "size": 13},
        height=300,
        margin={"l": 10, "r": 20, "t": 20, "b": 40},
        separators=".,",
        clickmode="event",
    )
    # Rows are whole: no 0.2-row ticks when a check fails on one or two.
    most = frame["unexpected_count"].max()
    figure.update_yaxes(
        title=t("quality.trend.unexpected", lang),
        rangemode="tozero",
        tickformat=",d",
        dtick=1 if isinstance(most, int) and most <= 5 else None,
    )
    figure.update_xaxes(title=t("quality.trend.evaluated", lang), tickformatstops=date_ticks(lang))
    return figure


def _when(moment: datetime | None, lang: str) -> str:
    return shanghai(moment, lang) if moment is not None else SUPPRESSED


def _share(unexpected_percent: float | None) -> str:
    """The share of rows that failed; a failure too small for 0.01 % still reads as one."""
    if unexpected_percent is None:
        return SUPPRESSED
    if 0 < unexpected_percent < 0.01:
        return "<0.01%"
    return percent(unexpected_percent / 100, 2)


def status_rows(frame: pl.DataFrame, lang: str) -> list[dict[str, Any]]:
    """One row per check (`read_api.quality.check_status`), text ready to show; `run_id` and
    `check_name`, `asset`, `status` kept for links and grouping."""
    rows = []
    for row in frame.iter_rows(named=True):
        ran = row["run_id"] is not None
        rows.append(
            {
                "asset": row["asset"],
                "check_name": row["check_name"],
                "status": row["status"],
                "run_id": row["run_id"],
                "mark": status_label(row["status"], lang),
                "check": row["check_name"],
                "suite": row["suite"],
                "severity": severity_label(row["severity"], lang),
                "description": description(row, lang),
                "unexpected": count(row["unexpected_count"]) if ran else SUPPRESSED,
                "elements": count(row["element_count"]) if ran else SUPPRESSED,
                "share": _share(row["unexpected_percent"]) if ran else SUPPRESSED,
                "evaluated": _when(row["evaluated_at"], lang),
            }
        )
    return rows


def asset_rows(summary: pl.DataFrame, lang: str) -> list[dict[str, Any]]:
    """One heading per source or model (`read_api.quality.asset_summary`): its name, its layer,
    its worst status and its counts "✓ 3 · ! 1 · ✗ 0"."""
    rows = []
    for row in summary.iter_rows(named=True):
        counts = " · ".join(
            f"{MARKS[status]} {t(f'quality.status.{status}', lang)} {row[status]}"
            for status in ("pass", "warn", "fail", "not_run")
            if row[status] or status != "not_run"
        )
        rows.append(
            {
                "asset": row["asset"],
                "status": row["status"],
                "name": source_label(row["asset"], lang),
                "layer": t(f"quality.layer.{row['layer']}", lang),
                "counts": counts,
                "suites": ", ".join(row["suites"]),
            }
        )
    return rows


def check_options(frame: pl.DataFrame, lang: str) -> list[dict[str, str]]:
    """The checks to pick from, failing first, then warning, passing, not run."""
    ordered = frame.with_columns(
        pl.col("status")
        .replace_strict({s: i for i, s in enumerate(STATUS_ORDER)}, default=len(STATUS_ORDER))
        .alias("_order")
    ).sort("_order", "asset", "check_name", maintain_order=True)
    return [
        {"label": f"{status_label(status, lang)} · {asset} · {name}", "value": name}
        for status, asset, name in ordered.select("status", "asset", "check_name").iter_rows()
    ]


def default_check(frame: pl.DataFrame) -> str | None:
    """The check a page opens on: the first failing one, else warning, else the first."""
    for status in STATUS_ORDER:
        found = frame.filter(pl.col("status") == status)
        if not found.is_empty():
            return str(found["check_name"][0])
    return None


def _cell(value: object) -> str:
    if value is None:
        return SUPPRESSED
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:,}" if isinstance(value, int) else f"{value:,.6g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def sample_rows(frame: pl.DataFrame) -> list[dict[str, str]]:
    """The failing rows as text, every column kept (`Sample.rows`)."""
    return [{name: _cell(value) for name, value in row.items()} for row in frame.to_dicts()]


def run_rows(frame: pl.DataFrame, lang: str) -> list[dict[str, Any]]:
    """One row per run (`read_api.quality.runs`)."""
    rows = []
    for row in frame.iter_rows(named=True):
        outcome = str(row["outcome"])
        if outcome == "published" and row["snapshot_number"] is not None:
            shown = t("quality.outcome.published", lang, number=row["snapshot_number"])
        elif outcome == "published":
            shown = t("quality.outcome.published_none", lang)
        else:
            key = f"quality.outcome.{outcome}"
            shown = t(key, lang) if key in MESSAGES else outcome
        rows.append(
            {
                "run_id": row["run_id"],
                "outcome_key": outcome,
                "evaluated": _when(row["evaluated_at"], lang),
                "job": row["job_name"],
                "outcome": shown,
                "blocking": count(row["blocking_failures"]),
                "warnings": count(row["warnings"]),
                "cursor": count(row["events_cursor"]),
            }
        )
    return rows


def _age(moment: datetime | None, now: datetime, lang: str) -> str:
    return SUPPRESSED if moment is None else duration((now - moment).total_seconds(), lang)


def freshness_rows(
    frame: pl.DataFrame,
    lang: str,
    *,
    now: datetime,
    snapshot_number: int | None,
    snapshot_as_of: datetime | None,
    snapshot_published_at: datetime | None,
) -> list[dict[str, str]]:
    """Per source (`read_api.quality.freshness`), then the published snapshot: the newest record
    and when it was taken in, each with its age at `now` (naive UTC). The snapshot the pages
    read (`snapshot_number`, from the warehouse itself) replaces the report's own "snapshot"
    row, which says only when the pipelines last published one."""
    if snapshot_number is not None:
        frame = frame.filter(pl.col("source") != "snapshot")
    rows = [
        {
            "source": source_label(str(row["source"]), lang),
            "newest": _when(row["newest_at"], lang),
            "newest_age": _age(row["newest_at"], now, lang),
            "loaded": _when(row["loaded_at"], lang),
            "loaded_age": _age(row["loaded_at"], now, lang),
            "rows": count(row["row_count"]),
            "detail": str(row["detail"] or ""),
        }
        for row in frame.iter_rows(named=True)
    ]
    if snapshot_number is not None:
        rows.append(
            {
                "source": t("quality.snapshot_row", lang, number=snapshot_number),
                "newest": _when(snapshot_as_of, lang),
                "newest_age": _age(snapshot_as_of, now, lang),
                "loaded": _when(snapshot_published_at, lang),
                "loaded_age": _age(snapshot_published_at, now, lang),
                "rows": SUPPRESSED,
                "detail": "",
            }
        )
    return rows
