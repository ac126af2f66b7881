"""Figures and table rows of the turnaround page (办理效能): pure builders from read-API frames.

Every builder takes the frames `warehouse.read_api.turnaround` returns and the language, and
never reads anything itself. Two rules hold throughout:

- A row the read API marks `is_small_sample` (fewer decisions than the scope's k) keeps its
  sample size but shows no figure: rates and durations read "—" in tables and are left out
  (None) of charts. The sample size stays visible, so a small department is marked, not hidden.
- `clock` is "working" (working seconds under the academic calendar) or "wall" (wall-clock);
  the builders pick the matching columns (`duration_median_s` / `duration_working_median_s`).

Builders:
- `weekly_trend(frame, lang, clock, kind)`: volume per ISO week (bars) and median/p90 turnaround
  (lines, hours); `kind` "service" reads `services(grain="week")` of one service, "department"
  reads `departments(grain="week")`.
- `node_wait_handling(frame, lang, clock)`: per node and department, median wait vs handling.
- `ageing_bars(frame, lang, names)`: open tasks per department, 正常/临期/超期 in green/yellow/red.
- `service_rows`, `department_rows`, `ranking_rows`: table rows (dicts of text).
- `department_signals(frame, k)` / `signal_rows(frame, lang, names, k)`: approver signals summed
  per department (never per person, for any scope), small cells suppressed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

import plotly.graph_objects as go
import polars as pl

from dashboards.formatting import SUPPRESSED, count, date_ticks, duration, month_day, percent
from dashboards.i18n import register_messages, t

Clock = Literal["working", "wall"]
CLOCKS: Final[tuple[Clock, ...]] = ("working", "wall")
AGEING: Final[tuple[str, ...]] = ("on_track", "due_soon", "overdue")
AGEING_COLOURS: Final[Mapping[str, str]] = {
    "on_track": "#2f855a",
    "due_soon": "#d69e2e",
    "overdue": "#c53030",
}
WAIT_COLOUR: Final = "#a0aec0"
HANDLING_COLOUR: Final = "#9b1c1c"
VOLUME_COLOUR: Final = "#cbd2d9"
FONT: Final = (
    '"PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", '
    '"WenQuanYi Micro Hei", system-ui, sans-serif'
)
APPLICANT: Final = "applicant"
# A department's approver signals describe people: with fewer approvers than this, its shares
# would be one or two identifiable persons' habits, so they are suppressed like a small sample.
MIN_APPROVERS: Final = 3

register_messages(
    "turnaround.",
    {
        "turnaround.figure.no_data": {"zh": "暂无数据", "en": "No data"},
        "turnaround.figure.week": {"zh": "周（起始日）", "en": "Week starting"},
        "turnaround.figure.week_of": {
            "zh": "{year}年{day}起一周",
            "en": "Week of {day}, {year}",
        },
        "turnaround.figure.volume": {"zh": "件数", "en": "Requests"},
        "turnaround.figure.decided": {"zh": "办理任务数", "en": "Decided tasks"},
        "turnaround.figure.hours": {"zh": "小时", "en": "Hours"},
        "turnaround.figure.median": {"zh": "中位办理时长", "en": "Median turnaround"},
        "turnaround.figure.p90": {"zh": "P90 办理时长", "en": "P90 turnaround"},
        "turnaround.figure.wait": {"zh": "等待（中位）", "en": "Waiting (median)"},
        "turnaround.figure.handling": {"zh": "处理（中位）", "en": "Handling (median)"},
        "turnaround.figure.small": {"zh": "样本不足", "en": "too few"},
        "turnaround.figure.open_tasks": {"zh": "在办任务数", "en": "Open tasks"},
        "turnaround.ageing.on_track": {"zh": "正常", "en": "On track"},
        "turnaround.ageing.due_soon": {"zh": "临期", "en": "Due soon"},
        "turnaround.ageing.overdue": {"zh": "超期", "en": "Overdue"},
        "turnaround.applicant": {"zh": "申请人", "en": "Applicant"},
    },
)


def clocked(column: str, clock: Clock) -> str:
    """The working-time twin of a wall-clock column: "duration_p90_s" → "duration_working_p90_s"."""
    if clock == "wall":
        return column
    head, tail = column.split("_", 1)
    return f"{head}_working_{tail}"


def _layout(figure: go.Figure, *, height: int) -> go.Figure:
    figure.update_layout(
        font={"family": FONT, "size": 13},
        height=height,
        margin={"l": 10, "r": 20, "t": 30, "b": 40},
        legend={"orientation": "h", "y": -0.2},
        separators=".,",
    )
    return figure


def no_data_figure(lang: str, *, height: int = 260, text: str | None = None) -> go.Figure:
    """Nothing to plot, said in words: no empty axes."""
    figure = _layout(go.Figure(), height=height)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.add_annotation(
        text=text if text is not None else t("turnaround.figure.no_data", lang),
        showarrow=False,
        font={"size": 16, "color": "#616e7c"},
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
    )
    return figure


def _shown(value: float | None, small: bool) -> float | None:
    return None if small or value is None else value


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value / 3600, 2)


def department_names(frame: pl.DataFrame, lang: str) -> dict[str, str]:
    """Department id → its name in `lang`, from any frame carrying `department_name_zh/_en`."""
    names: dict[str, str] = {}
    if frame.is_empty() or "department_id" not in frame.columns:
        return names
    english = lang == "en" and "department_name_en" in frame.columns
    column = "department_name_en" if english else "department_name_zh"
    if column not in frame.columns:
        return names
    for unit, name in frame.select("department_id", column).unique().iter_rows():
        if unit is not None and name:
            names[str(unit)] = str(name)
    return names


def name_of(unit: str | None, names: Mapping[str, str], lang: str) -> str:
    if unit is None or unit == APPLICANT:
        return t("turnaround.applicant", lang)
    return names.get(unit, unit)


def weekly_trend(
    frame: pl.DataFrame, lang: str, clock: Clock, kind: Literal["service", "department"]
) -> go.Figure:
    """Volume per week (bars) and median/p90 turnaround in hours (lines); small weeks have no
    line point. With several services (departments) in `frame`, the summed volume alone."""
    if frame.is_empty():
        return no_data_figure(lang, height=320)
    if kind == "service":
        series, volume, volume_label = (
            "process_key",
            "submitted",
            t("turnaround.figure.volume", lang),
        )
        median, p90 = clocked("turnaround_median_s", clock), clocked("turnaround_p90_s", clock)
    else:
        series, volume, volume_label = (
            "department_id",
            "decided",
            t("turnaround.figure.decided", lang),
        )
        median, p90 = clocked("duration_median_s", clock), clocked("duration_p90_s", clock)
    # Medians of several services (or departments) do not combine: their weeks show the
    # summed volume only.
    combined = frame[series].n_unique() > 1
    weeks = (
        frame.group_by("period_start").agg(pl.col(volume).sum()).sort("period_start")
        if combined
        else frame.sort("period_start")
    )
    x = [day.isoformat() for day in weeks["period_start"].to_list()]
    week_labels = [
        t("turnaround.figure.week_of", lang, day=month_day(day, lang), year=day.year)
        for day in weeks["period_start"].to_list()
    ]
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            x=x,
            y=weeks[volume].to_list(),
            name=volume_label,
            marker_color=VOLUME_COLOUR,
            yaxis="y" if combined else "y2",
            customdata=week_labels,
            hovertemplate="%{customdata}: %{y}<extra></extra>",
        )
    )
    lines = () if combined else ((median, "median", "solid"), (p90, "p90", "dot"))
    small = [] if combined else weeks["is_small_sample"].to_list()
    for column, key, dash_style in lines:
        seconds = [_shown(v, s) for v, s in zip(weeks[column].to_list(), small, strict=True)]
        figure.add_trace(
            go.Scatter(
                x=x,
                y=[_hours(v) for v in seconds],
                name=t(f"turnaround.figure.{key}", lang),
                mode="lines+markers",
                line={"color": HANDLING_COLOUR, "dash": dash_style},
                text=[duration(v, lang) for v in seconds],
                customdata=week_labels,
                hovertemplate="%{customdata}: %{text}<extra></extra>",
                connectgaps=False,
            )
        )
    _layout(figure, height=360)
    # A date axis (plotly thins the ticks out) with short dates in the reader's language, and
    # the legend above the plot: rotated ISO weeks were clipped and ran into a legend below.
    week_axis = {
        "title": t("turnaround.figure.week", lang),
        "type": "date",
        "tickformatstops": date_ticks(lang),
        "tickangle": 0,
        "automargin": True,
        # "period" (labels centred on their month) drew no labels at all with these stops.
        "ticklabelmode": "instant",
        # A label at the right edge would print over the volume axis's "0".
        "ticklabeloverflow": "hide past domain",
    }
    figure.update_layout(
        margin={"l": 10, "r": 20, "t": 40, "b": 50},
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"},
    )
    if combined:
        figure.update_layout(
            xaxis=week_axis,
            yaxis={"title": volume_label, "rangemode": "tozero"},
        )
        return figure
    figure.update_layout(
        xaxis=week_axis,
        yaxis={"title": t("turnaround.figure.hours", lang), "rangemode": "tozero"},
        yaxis2={
            "title": volume_label,
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "rangemode": "tozero",
        },
    )
    return figure


def node_wait_handling(
    frame: pl.DataFrame,
    lang: str,
    clock: Clock,
    services: Mapping[str, str] | None = None,
) -> go.Figure:
    """Per node and department (in process order): median wait and median handling, stacked,
    in hours. Small samples keep their row, labelled, with no bar. Nodes of several services
    (a department's own view) are grouped by service and named with it (`services`: key →
    name), since many services share a node name ("所在单位审核")."""
    if frame.is_empty():
        return no_data_figure(lang, height=320)
    several = frame["process_key"].n_unique() > 1
    rows = frame.sort(["process_key", "step", "node_key", "department_id"])
    node_column = "node_name_en" if lang == "en" else "node_name_zh"
    names = department_names(rows, lang)
    small = rows["is_small_sample"].to_list()
    labels = []
    for process, node, key, unit, decided, tiny in zip(
        rows["process_key"].to_list(),
        rows[node_column].to_list(),
        rows["node_key"].to_list(),
        rows["department_id"].to_list(),
        rows["decided"].to_list(),
        small,
        strict=True,
    ):
        label = f"{node or key} · {name_of(unit, names, lang)} (n={decided})"
        if several:
            label = f"{(services or {}).get(process, process)} · {label}"
        if tiny:
            label += f" {t('turnaround.figure.small', lang)}"
        labels.append(label)
    figure = go.Figure()
    for column, key, colour in (
        (clocked("wait_median_s", clock), "wait", WAIT_COLOUR),
        (clocked("handling_median_s", clock), "handling", HANDLING_COLOUR),
    ):
        seconds = [_shown(v, s) for v, s in zip(rows[column].to_list(), small, strict=True)]
        figure.add_trace(
            go.Bar(
                y=labels,
                x=[_hours(v) for v in seconds],
                name=t(f"turnaround.figure.{key}", lang),
                orientation="h",
                marker_color=colour,
                text=[duration(v, lang) for v in seconds],
                hovertemplate="%{y}: %{text}<extra></extra>",
            )
        )
    _layout(figure, height=max(260, 28 * len(labels) + 100))
    figure.update_layout(
        barmode="stack",
        xaxis={"title": t("turnaround.figure.hours", lang), "rangemode": "tozero"},
        yaxis={"autorange": "reversed", "automargin": True},
    )
    return figure


def ageing_bars(frame: pl.DataFrame, lang: str, names: Mapping[str, str]) -> go.Figure:
    """Open tasks per department by ageing status, stacked 正常/临期/超期 (green/yellow/red)."""
    if frame.is_empty():
        return no_data_figure(lang, height=260, text=None)
    totals = (
        frame.group_by("department_id", "ageing_status")
        .agg(pl.col("open_tasks").sum())
        .pivot(on="ageing_status", index="department_id", values="open_tasks")
        .fill_null(0)
    )
    for status in AGEING:
        if status not in totals.columns:
            totals = totals.with_columns(pl.lit(0, dtype=pl.Int64).alias(status))
    totals = totals.sort(["overdue", "due_soon", "department_id"], descending=[True, True, False])
    labels = [name_of(unit, names, lang) for unit in totals["department_id"].to_list()]
    figure = go.Figure()
    for status in AGEING:
        figure.add_trace(
            go.Bar(
                y=labels,
                x=totals[status].to_list(),
                name=t(f"turnaround.ageing.{status}", lang),
                orientation="h",
                marker_color=AGEING_COLOURS[status],
                hovertemplate="%{y}: %{x}<extra></extra>",
            )
        )
    _layout(figure, height=max(220, 28 * len(labels) + 100))
    figure.update_layout(
        barmode="stack",
        xaxis={"title": t("turnaround.figure.open_tasks", lang), "rangemode": "tozero"},
        yaxis={"autorange": "reversed", "automargin": True},
    )
    return figure


def _on_time(decided: int, breaches: int) -> float | None:
    return (decided - breaches) / decided if decided else None


def service_on_time(nodes: pl.DataFrame) -> pl.DataFrame:
    """Per service, from its nodes: decided tasks, breaches and the on-time rate (exact: the
    rate is the share of decided tasks not breached, so summing both keeps it exact)."""
    if nodes.is_empty():
        return pl.DataFrame(
            schema={"process_key": pl.String, "decided": pl.Int64, "breaches": pl.Int64}
        )
    return nodes.group_by("process_key").agg(pl.col("decided").sum(), pl.col("breaches").sum())


def service_rows(
    services: pl.DataFrame, nodes: pl.DataFrame, lang: str, clock: Clock
) -> list[dict[str, str]]:
    """One row per service (university-wide scopes): volume, 办结率, median/p90 turnaround,
    on-time rate and SLA breaches of its tasks; small services read "—" but keep their size."""
    on_time = {
        key: (decided, breaches) for key, decided, breaches in service_on_time(nodes).iter_rows()
    }
    name_column = "process_name_en" if lang == "en" else "process_name_zh"
    rows = []
    for row in services.sort("submitted", descending=True).iter_rows(named=True):
        tiny = bool(row["is_small_sample"])
        decided, breaches = on_time.get(row["process_key"], (0, 0))
        task_tiny = tiny or decided == 0
        rows.append(
            {
                "process_key": row["process_key"],
                "service": str(row[name_column] or row["process_key"]),
                "submitted": count(row["submitted"]),
                "completion_rate": percent(_shown(row["completion_rate"], tiny)),
                "finished": count(row["finished"]),
                "median": duration(_shown(row[clocked("turnaround_median_s", clock)], tiny), lang),
                "p90": duration(_shown(row[clocked("turnaround_p90_s", clock)], tiny), lang),
                "on_time_rate": percent(None if task_tiny else _on_time(decided, breaches)),
                "breaches": SUPPRESSED if task_tiny else count(breaches),
                "small": t("turnaround.figure.small", lang) if tiny else "",
            }
        )
    return rows


def department_rows(
    departments: pl.DataFrame, lang: str, clock: Clock, names: Mapping[str, str]
) -> list[dict[str, str]]:
    """One row per department: decided tasks (the sample), cases, median/p90 duration, on-time
    rate, breaches, returns; small departments keep their sample size, the rest reads "—"."""
    rows = []
    for row in departments.sort("decided", descending=True).iter_rows(named=True):
        tiny = bool(row["is_small_sample"])
        rows.append(
            {
                "department_id": row["department_id"],
                "department": name_of(row["department_id"], names, lang),
                "decided": count(row["decided"]),
                "instances": SUPPRESSED if tiny else count(row["instances"]),
                "median": duration(_shown(row[clocked("duration_median_s", clock)], tiny), lang),
                "p90": duration(_shown(row[clocked("duration_p90_s", clock)], tiny), lang),
                "on_time_rate": percent(_shown(row["on_time_rate"], tiny)),
                "breaches": SUPPRESSED if tiny else count(row["breaches"]),
                "returned": SUPPRESSED if tiny else count(row["returned"]),
                "small": t("turnaround.figure.small", lang) if tiny else "",
            }
        )
    return rows


def p90_over_sla(nodes: pl.DataFrame) -> dict[str, float]:
    """Per department: its nodes' working-time p90 over their SLA, weighted by decided tasks.

    A department that handles slow, long-SLA nodes is compared against its own targets, and a
    department with much work at one node weighs that node accordingly: the measure is
    workload-adjusted and SLA-relative, so departments with different work compare fairly.
    """
    usable = nodes.filter(
        pl.col("sla_hours").is_not_null()
        & (pl.col("sla_hours") > 0)
        & pl.col("duration_working_p90_s").is_not_null()
    )
    if usable.is_empty():
        return {}
    weighted = usable.group_by("department_id").agg(
        (
            (pl.col("duration_working_p90_s") / (pl.col("sla_hours") * 3600)) * pl.col("decided")
        ).sum()
        / pl.col("decided").sum()
    )
    return {str(unit): float(value) for unit, value in weighted.iter_rows()}


def ranking_rows(
    departments: pl.DataFrame, nodes: pl.DataFrame, lang: str, names: Mapping[str, str]
) -> list[dict[str, str]]:
    """The fair department ranking: departments with enough decisions, best first by on-time
    rate, then by p90 over SLA (workload-weighted), then by median time over SLA; departments
    under the minimum sample are listed after them, marked and unranked."""
    ratios = p90_over_sla(nodes)
    ranked: list[tuple[float, float, float, str, dict[str, Any]]] = []
    unranked: list[dict[str, Any]] = []
    for row in departments.iter_rows(named=True):
        if row["is_small_sample"] or row["on_time_rate"] is None:
            unranked.append(row)
            continue
        ratio = ratios.get(row["department_id"])
        median_ratio = row["sla_ratio_median"]
        ranked.append(
            (
                -float(row["on_time_rate"]),
                float("inf") if ratio is None else ratio,
                float("inf") if median_ratio is None else float(median_ratio),
                str(row["department_id"]),
                row,
            )
        )
    ranked.sort(key=lambda item: item[:4])
    rows: list[dict[str, str]] = []
    previous: tuple[float, float, float] | None = None
    rank = 0
    for position, (on_time, ratio, median_ratio, unit, row) in enumerate(ranked, start=1):
        # Equal on every key is a tie: both get the better rank.
        if previous != (on_time, ratio, median_ratio):
            rank = position
        previous = (on_time, ratio, median_ratio)
        rows.append(
            {
                "rank": str(rank),
                "department_id": unit,
                "department": name_of(unit, names, lang),
                "decided": count(row["decided"]),
                "on_time_rate": percent(-on_time),
                "p90_over_sla": SUPPRESSED if ratio == float("inf") else f"{ratio:.2f}×",
                "median_over_sla": (
                    SUPPRESSED if median_ratio == float("inf") else f"{median_ratio:.2f}×"
                ),
                "breaches": count(row["breaches"]),
                "small": "",
            }
        )
    for row in sorted(unranked, key=lambda r: (-int(r["decided"]), str(r["department_id"]))):
        unit = str(row["department_id"])
        rows.append(
            {
                "rank": SUPPRESSED,
                "department_id": unit,
                "department": name_of(unit, names, lang),
                "decided": count(row["decided"]),
                "on_time_rate": SUPPRESSED,
                "p90_over_sla": SUPPRESSED,
                "median_over_sla": SUPPRESSED,
                "breaches": SUPPRESSED,
                "small": t("turnaround.figure.small", lang),
            }
        )
    return rows


def department_signals(signals: pl.DataFrame, k: int) -> pl.DataFrame:
    """Approver signals summed per department: never a row per person.

    `approver_signals` answers a university-wide scope per department and a department's own
    scope per approver (with the approver's name); either way this returns one row per
    department — decisions (the sample), approvals, 秒批, after-hours decisions, the queue at
    as-of and how many approvers it sums — and no approver id or name. A department is a small
    cell (`is_small_sample`) under `k` decisions, or when it has fewer than `MIN_APPROVERS`
    approvers: then its shares would describe one or two identifiable people.
    """
    columns = {
        "department_id": pl.String,
        "decisions": pl.Int64,
        "instant_approvals": pl.Int64,
        "after_hours_decisions": pl.Int64,
        "queue_depth": pl.Int64,
        "approvers": pl.Int64,
        "is_small_sample": pl.Boolean,
    }
    if signals.is_empty():
        return pl.DataFrame(schema=columns)
    if "approver_id" in signals.columns:
        approvers = pl.col("approver_id").drop_nulls().n_unique()
    elif "approvers" in signals.columns:
        approvers = pl.col("approvers").sum()
    else:
        approvers = pl.lit(0)
    summed = signals.group_by("department_id").agg(
        pl.col("decisions").sum(),
        pl.col("instant_approvals").sum(),
        pl.col("after_hours_decisions").sum(),
        pl.col("queue_depth").sum(),
        approvers.cast(pl.Int64).alias("approvers"),
    )
    return summed.with_columns(
        ((pl.col("decisions") < k) | (pl.col("approvers") < MIN_APPROVERS)).alias("is_small_sample")
    ).select(pl.col(name).cast(dtype) for name, dtype in columns.items())


def signal_rows(
    signals: pl.DataFrame, lang: str, names: Mapping[str, str], k: int
) -> list[dict[str, str]]:
    """Approver signals per department (see `department_signals`): decisions and approvers
    (the sample sizes), 秒批 and after-hours counts and shares, the queue at as-of. A small
    cell keeps its sample sizes; every other figure reads "—". No staff names, for any scope."""
    rows = []
    per_department = department_signals(signals, k)
    ordered = per_department.sort(["decisions", "department_id"], descending=[True, False])
    for row in ordered.iter_rows(named=True):
        tiny = bool(row["is_small_sample"])
        decisions = int(row["decisions"])
        instant = row["instant_approvals"]
        after_hours = row["after_hours_decisions"]
        rows.append(
            {
                "department_id": str(row["department_id"]),
                "department": name_of(row["department_id"], names, lang),
                "approvers": count(row["approvers"]),
                "decisions": count(decisions),
                "instant": SUPPRESSED if tiny else count(instant),
                "instant_share": percent(None if tiny or not decisions else instant / decisions),
                "after_hours": SUPPRESSED if tiny else count(after_hours),
                "after_hours_share": percent(
                    None if tiny or not decisions else after_hours / decisions
                ),
                "queue_depth": SUPPRESSED if tiny else count(row["queue_depth"]),
                "small": t("turnaround.figure.small", lang) if tiny else "",
            }
        )
    return rows
