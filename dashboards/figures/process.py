"""Figures and table rows of the process view (流程视图): pure builders from read-API frames.

- `handoff_sankey(frame, lang, k)`: `processes.handoffs` as a two-column Sankey, the department
  that handed a case on (or the applicant) on the left, the receiving department on the right;
  a link's value is the frame's `handoffs`, its hover the median wait in the receiving
  department (wall-clock and working time). Flows of fewer than `k` hand-offs are small cells:
  left out, and counted in a note under the figure.
- `critical_path_bars(frame, lang, k)`: `processes.critical_path`, per parallel group (会签)
  member: the share of complete rounds it approved last (it held the case up) and its median
  hold; members of fewer than `k` rounds are marked and drawn without a bar.
- `case_duration_figure(summary, slowest, lang, k)`: the case-duration distribution as its
  quantiles (min, median, mean, p90, max of every case) and, for university-wide scopes, the
  slowest cases one dot each; a log axis when the durations are skewed (max ≥ 10 × median).
- `slowest_rows(frame, lang)`: the slowest cases table (ids only; the read API decides who may).

Every builder answers an empty frame with a figure that says "暂无数据".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import plotly.graph_objects as go
import polars as pl

from dashboards.figures.turnaround import APPLICANT, FONT, no_data_figure
from dashboards.formatting import SUPPRESSED, count, duration, shanghai
from dashboards.i18n import register_messages, t

QUANTILES: Final[tuple[str, ...]] = ("min", "median", "mean", "p90", "max")
LABEL_POSITIONS: Final[tuple[str, ...]] = (
    "bottom center",
    "top center",
    "bottom center",
    "top center",
    "bottom center",
)
SKEWED: Final = 10.0
ACCENT: Final = "#9b1c1c"
MUTED: Final = "#a0aec0"

register_messages(
    "process.",
    {
        "process.figure.applicant": {"zh": "申请人（提交/重新提交）", "en": "Applicant (submit)"},
        "process.figure.to": {"zh": "→ {name}", "en": "→ {name}"},
        "process.figure.link_hover": {
            "zh": "{source} → {target}<br>流转 {handoffs} 次（{instances} 件）<br>"
            "等待中位 {wait}（工作时间 {wait_working}）",
            "en": "{source} → {target}<br>{handoffs} hand-offs ({instances} cases)<br>"
            "median wait {wait} ({wait_working} working)",
        },
        "process.figure.hidden_flows": {
            "zh": "另有 {count} 条流转少于 {k} 次，未显示",
            "en": "{count} flows with fewer than {k} hand-offs are not shown",
        },
        "process.figure.share_last": {"zh": "最后审批的轮次占比（%）", "en": "Approved last (%)"},
        "process.figure.critical_hover": {
            "zh": "{label}<br>最后审批 {last}/{rounds} 轮<br>独占等待中位 {hold}",
            "en": "{label}<br>last in {last} of {rounds} rounds<br>median hold {hold}",
        },
        "process.figure.small": {"zh": "样本不足", "en": "too few"},
        "process.figure.step": {"zh": "第 {step} 步", "en": "step {step}"},
        "process.figure.all_cases": {"zh": "全部案例", "en": "All cases"},
        "process.figure.slowest": {"zh": "最慢案例", "en": "Slowest cases"},
        "process.figure.case_hours": {"zh": "案例时长（小时）", "en": "Case duration (hours)"},
        "process.figure.case_hours_log": {
            "zh": "案例时长（小时，对数刻度）",
            "en": "Case duration (hours, log scale)",
        },
        "process.quantile.min": {"zh": "最短", "en": "min"},
        "process.quantile.median": {"zh": "中位数", "en": "median"},
        "process.quantile.mean": {"zh": "平均", "en": "mean"},
        "process.quantile.p90": {"zh": "P90", "en": "p90"},
        "process.quantile.max": {"zh": "最长", "en": "max"},
        "process.figure.cases": {"zh": "案例数", "en": "Cases"},
        "process.figure.bin_under": {"zh": "不足 {upper}", "en": "under {upper}"},
        "process.figure.bin_between": {"zh": "{lower}–{upper}", "en": "{lower}–{upper}"},
        "process.figure.bin_over": {"zh": "{lower} 以上", "en": "{lower} or more"},
        "process.figure.bin_hover": {
            "zh": "{label}：{cases} 件（{share}）",
            "en": "{label}: {cases} cases ({share})",
        },
        "process.figure.too_few_cases": {
            "zh": "案例少于 {k} 件，不予显示",
            "en": "Fewer than {k} cases: not shown",
        },
    },
)


def _layout(figure: go.Figure, *, height: int) -> go.Figure:
    figure.update_layout(
        font={"family": FONT, "size": 13},
        height=height,
        margin={"l": 10, "r": 20, "t": 30, "b": 40},
        legend={"orientation": "h", "y": -0.2},
        separators=".,",
    )
    return figure


def _department(unit: str | None, name: str | None, lang: str) -> str:
    if unit is None or unit == APPLICANT:
        return t("process.figure.applicant", lang)
    return name or unit


def shown_handoffs(frame: pl.DataFrame, k: int) -> pl.DataFrame:
    """The flows a Sankey may draw: at least `k` hand-offs (smaller flows are small cells)."""
    return frame.filter(pl.col("handoffs") >= k)


def handoff_sankey(frame: pl.DataFrame, lang: str, k: int) -> go.Figure:
    """Department hand-offs as a two-column Sankey (see the module docstring)."""
    shown = shown_handoffs(frame, k)
    if shown.is_empty():
        return no_data_figure(lang, height=420)
    sources: list[str] = []
    targets: list[str] = []
    labels: dict[str, str] = {}
    for row in shown.iter_rows(named=True):
        source = f"from:{row['from_department_id']}"
        target = f"to:{row['to_department_id']}"
        labels.setdefault(source, _department(row["from_department_id"], row["from_name_zh"], lang))
        labels.setdefault(
            target,
            t(
                "process.figure.to",
                lang,
                name=_department(row["to_department_id"], row["to_name_zh"], lang),
            ),
        )
        sources.append(source)
        targets.append(target)
    order = list(labels)
    index = {key: position for position, key in enumerate(order)}
    hovers = [
        t(
            "process.figure.link_hover",
            lang,
            source=labels[f"from:{row['from_department_id']}"],
            target=labels[f"to:{row['to_department_id']}"],
            handoffs=count(row["handoffs"]),
            instances=count(row["instances"]),
            wait=duration(row["wait_median_s"], lang),
            wait_working=duration(row["wait_working_median_s"], lang),
        )
        for row in shown.iter_rows(named=True)
    ]
    figure = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={
                "label": [labels[key] for key in order],
                "pad": 14,
                "thickness": 14,
                "color": [MUTED if key.startswith("from:") else ACCENT for key in order],
                "hovertemplate": "%{label}: %{value}<extra></extra>",
            },
            link={
                "source": [index[key] for key in sources],
                "target": [index[key] for key in targets],
                "value": shown["handoffs"].to_list(),
                "customdata": hovers,
                "hovertemplate": "%{customdata}<extra></extra>",
                "color": "rgba(155, 28, 28, 0.25)",
            },
        )
    )
    _layout(figure, height=max(420, 26 * len(order)))
    hidden = frame.height - shown.height
    if hidden:
        figure.add_annotation(
            text=t("process.figure.hidden_flows", lang, count=hidden, k=k),
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0,
            y=-0.06,
            xanchor="left",
            font={"size": 12, "color": "#616e7c"},
        )
    return figure


def critical_path_bars(frame: pl.DataFrame, lang: str, k: int) -> go.Figure:
    """Who held parallel groups up: per member, the share of rounds it approved last."""
    if frame.is_empty():
        return no_data_figure(lang, height=260)
    rows = frame.sort(["step", "times_last", "node_key"], descending=[False, True, False])
    labels: list[str] = []
    shares: list[float | None] = []
    hovers: list[str] = []
    for row in rows.iter_rows(named=True):
        tiny = int(row["rounds"]) < k
        label = (
            f"{t('process.figure.step', lang, step=row['step'])} · "
            f"{row['node_name_zh'] or row['node_key']} · "
            f"{_department(row['department_id'], row['department_name_zh'], lang)}"
        )
        if tiny:
            label += f" ({t('process.figure.small', lang)})"
        labels.append(label)
        shares.append(None if tiny else round(float(row["share_last"]) * 100, 1))
        hovers.append(
            t(
                "process.figure.critical_hover",
                lang,
                label=label,
                last=SUPPRESSED if tiny else count(row["times_last"]),
                rounds=count(row["rounds"]),
                hold=SUPPRESSED if tiny else duration(row["hold_median_s"], lang),
            )
        )
    figure = go.Figure(
        go.Bar(
            y=labels,
            x=shares,
            orientation="h",
            marker_color=ACCENT,
            customdata=hovers,
            text=[SUPPRESSED if share is None else f"{share:.1f}%" for share in shares],
            hovertemplate="%{customdata}<extra></extra>",
        )
    )
    _layout(figure, height=max(220, 28 * len(labels) + 100))
    figure.update_layout(
        xaxis={"title": t("process.figure.share_last", lang), "range": [0, 100]},
        yaxis={"autorange": "reversed", "automargin": True},
        showlegend=False,
    )
    return figure


def bin_label(lower: float, upper: float | None, lang: str) -> str:
    """A duration bin for people: 不足 1分钟, 1分钟–15分钟, 90天 以上."""
    if upper is None:
        return t("process.figure.bin_over", lang, lower=duration(lower, lang))
    if lower <= 0:
        return t("process.figure.bin_under", lang, upper=duration(upper, lang))
    return t(
        "process.figure.bin_between", lang, lower=duration(lower, lang), upper=duration(upper, lang)
    )


def case_duration_histogram(bins: pl.DataFrame, lang: str, k: int) -> go.Figure:
    """How the service's cases spread over the fixed duration bins (read_api case_durations):
    bars of cases per bin, every bin shown so services compare on one axis."""
    total = int(bins["cases"].sum()) if not bins.is_empty() else 0
    if total == 0:
        return no_data_figure(lang, height=280)
    if total < k:
        return no_data_figure(lang, height=280, text=t("process.figure.too_few_cases", lang, k=k))
    labels = [
        bin_label(float(lower), None if upper is None else float(upper), lang)
        for lower, upper in zip(bins["lower_s"], bins["upper_s"], strict=True)
    ]
    cases = [int(value) for value in bins["cases"]]
    shares = [float(value or 0.0) for value in bins["share"]]
    figure = go.Figure(
        go.Bar(
            x=labels,
            y=cases,
            marker={"color": ACCENT},
            text=[f"{share:.0%}" if share else "" for share in shares],
            textposition="outside",
            cliponaxis=False,
            hovertext=[
                t(
                    "process.figure.bin_hover",
                    lang,
                    label=label,
                    cases=count(value),
                    share=f"{share:.1%}",
                )
                for label, value, share in zip(labels, cases, shares, strict=True)
            ],
            hoverinfo="text",
        )
    )
    _layout(figure, height=280)
    figure.update_layout(
        showlegend=False,
        xaxis={"type": "category", "tickangle": 0},
        yaxis={"title": t("process.figure.cases", lang), "rangemode": "tozero"},
    )
    return figure


def case_duration_figure(
    summary: Mapping[str, float] | None,
    cases: int,
    slowest: pl.DataFrame | None,
    lang: str,
    k: int,
) -> go.Figure:
    """The case-duration distribution: the quantiles of all cases, and the slowest cases."""
    if summary is None or cases == 0:
        return no_data_figure(lang, height=240)
    if cases < k:
        return no_data_figure(lang, height=240, text=t("process.figure.too_few_cases", lang, k=k))
    median = summary.get("median") or 0.0
    skewed = median > 0 and summary.get("max", 0.0) >= SKEWED * median
    figure = go.Figure()
    all_cases = t("process.figure.all_cases", lang)
    figure.add_trace(
        go.Scatter(
            x=[round(summary[name] / 3600, 3) for name in QUANTILES],
            y=[all_cases] * len(QUANTILES),
            mode="markers+text",
            marker={"size": 12, "color": ACCENT},
            text=[t(f"process.quantile.{name}", lang) for name in QUANTILES],
            # Alternating above and below: the median and the mean (or p90 and max) often sit
            # close together, and two labels on one side would print over each other.
            textposition=list(LABEL_POSITIONS),
            cliponaxis=False,
            customdata=[duration(summary[name], lang) for name in QUANTILES],
            hovertemplate="%{text}: %{customdata}<extra></extra>",
            name=all_cases,
        )
    )
    if slowest is not None and not slowest.is_empty():
        seconds = slowest["duration_s"].to_list()
        figure.add_trace(
            go.Scatter(
                x=[round(value / 3600, 3) for value in seconds],
                y=[t("process.figure.slowest", lang)] * len(seconds),
                mode="markers",
                marker={"size": 9, "color": MUTED, "line": {"color": ACCENT, "width": 1}},
                text=slowest["case_id"].to_list(),
                customdata=[duration(value, lang) for value in seconds],
                hovertemplate="%{text}: %{customdata}<extra></extra>",
                name=t("process.figure.slowest", lang),
            )
        )
    _layout(figure, height=260)
    figure.update_layout(
        showlegend=False,
        xaxis={
            "title": t(
                "process.figure.case_hours_log" if skewed else "process.figure.case_hours", lang
            ),
            "type": "log" if skewed else "linear",
        },
        # Room under the bottom row for the labels printed below its dots (最短, 平均, 最长),
        # clear of the axis's tick labels.
        yaxis={"automargin": True, "range": [-0.75, len(figure.data) - 0.5]},
    )
    return figure


def slowest_rows(frame: pl.DataFrame, lang: str) -> list[dict[str, str]]:
    """The slowest cases: rank, case id, first and last event (Beijing time), events, duration."""
    return [
        {
            "rank": str(row["slowness_rank"]),
            "case_id": str(row["case_id"]),
            "started_at": shanghai(row["started_at"], lang),
            "ended_at": shanghai(row["ended_at"], lang),
            "events": count(row["events"]),
            "duration": duration(row["duration_s"], lang),
        }
        for row in frame.sort("slowness_rank").iter_rows(named=True)
    ]
