"""去向登记 (live whereabouts): a campaign's progress per class in the user's scope, the
cumulative curve with the deadline, destinations, late and changed registrations, the named
list of students who have not registered (export, 催办) and how past reminders worked.

Monitors, counsellors, college/书院 offices and student affairs see their classes by name;
aggregate-only scopes (leadership, data staff) see the counts, with small cells suppressed by
the read API ("—"), and the named section is not rendered for them at all.

Every callback takes the scope from the session, never from the browser, and validates each
input against it: the campaign must be one of `campaigns(cursor, scope)`, a college or a class
one the scope sees in that campaign, an enum one of its values. An invalid input is answered
with empty outputs and a "not allowed" note, never with other rows. The callbacks are plain
functions registered at the bottom of the module, so tests call them directly.

Component ids (global in Dash) are the constants below, all prefixed "registration-".
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, Literal, NamedTuple

import dash
import duckdb
import plotly.graph_objects as go
import polars as pl
from dash import Input, Output, State, callback, ctx, dash_table, dcc, html
from dash.exceptions import PreventUpdate

from dashboards import exports, reminders
from dashboards.figures.registration import (
    cumulative_curve,
    destinations_bars,
    empty_figure,
    progress_bars,
)
from dashboards.formatting import SUPPRESSED, count, duration, percent, shanghai, shanghai_date
from dashboards.i18n import register_messages, t
from dashboards.session import config, current_language, current_scope, warehouse
from dashboards.shell import SNAPSHOT_STORE, guard
from warehouse.read_api import registration as read
from warehouse.scope import Scope

dash.register_page(__name__, path="/registration", title="去向登记 · 通办", name="registration")

CAMPAIGN: Final = "registration-campaign"
LEVEL: Final = "registration-level"
COLLEGE: Final = "registration-college"
CLASSES: Final = "registration-classes"
NOTICE: Final = "registration-notice"
SUMMARY: Final = "registration-summary"
PROGRESS_TABLE: Final = "registration-progress-table"
PROGRESS_CHART: Final = "registration-progress-chart"
CURVE: Final = "registration-curve"
DESTINATIONS_CHART: Final = "registration-destinations-chart"
DESTINATIONS_TABLE: Final = "registration-destinations-table"
EFFECT_TABLE: Final = "registration-reminder-effect-table"
NAMED_NOTICE: Final = "registration-named-notice"
UNREGISTERED_TABLE: Final = "registration-unregistered-table"
EXPORT_CSV: Final = "registration-export-csv"
EXPORT_XLSX: Final = "registration-export-xlsx"
DOWNLOAD: Final = "registration-download"
REMIND: Final = "registration-remind"
REMIND_MESSAGE: Final = "registration-remind-message"
REMIND_RESULT: Final = "registration-remind-result"
LIST_KIND: Final = "registration-list-kind"
REGISTRATIONS_TABLE: Final = "registration-registrations-table"
EXCLUDED_TABLE: Final = "registration-excluded-table"
REMINDED_TABLE: Final = "registration-reminded-table"

LEVELS: Final[tuple[read.RollUp, ...]] = ("college", "grade", "residential_college", "class")
LIST_KINDS: Final[dict[str, Literal["late", "changed", "all"]]] = {
    "late": "late",
    "changed": "changed",
    "all": "all",
}
EXPORT_FORMATS: Final = ("csv", "xlsx")
# Values the business systems write in Chinese, and their message keys.
VALUE_KEYS: Final = {
    "留校": "registration.value.stay",
    "离校": "registration.value.leave",
    "休学": "registration.value.suspended",
    "已离校": "registration.value.left",
    "在读": "registration.value.enrolled",
}
MAX_REMIND: Final = 500  # one click reminds a list, not the university
MAX_MESSAGE: Final = 2000  # the workflow API's limit on free text
_KEY_COLUMN: Final = {
    "class": "class_id",
    "grade": "grade",
    "college": "college_id",
    "residential_college": "residential_college_id",
}

register_messages(
    "registration.",
    {
        "registration.title": {"zh": "去向登记", "en": "Holiday whereabouts"},
        "registration.campaign": {"zh": "登记活动", "en": "Campaign"},
        "registration.open": {"zh": "进行中", "en": "open"},
        "registration.closed": {"zh": "已截止", "en": "closed"},
        "registration.deadline": {"zh": "截止 {moment}", "en": "deadline {moment}"},
        "registration.no_campaigns": {
            "zh": "您负责的班级暂无去向登记活动。",
            "en": "No whereabouts campaign includes the classes in your care.",
        },
        "registration.level": {"zh": "汇总层级", "en": "Roll up by"},
        "registration.level.college": {"zh": "学院", "en": "College"},
        "registration.level.grade": {"zh": "年级", "en": "Grade"},
        "registration.level.residential_college": {"zh": "书院", "en": "书院"},
        "registration.level.class": {"zh": "班级", "en": "Class"},
        "registration.college": {"zh": "学院", "en": "College"},
        "registration.college.all": {"zh": "全部学院", "en": "All colleges"},
        "registration.classes": {"zh": "班级", "en": "Classes"},
        "registration.classes.all": {"zh": "全部班级", "en": "All classes"},
        "registration.drill_hint": {
            "zh": "点击表格中的学院或班级可逐级查看。",
            "en": "Click a college or a class in the table to drill down.",
        },
        "registration.not_allowed": {
            "zh": "所选内容不在您的权限范围内。",
            "en": "That selection is outside what you may see.",
        },
        "registration.summary": {
            "zh": "已登记 {registered} / 应登记 {eligible}（{rate}），名册 {roster} 人，"
            "不计入 {excluded} 人；逾期 {late} 人，修改 {changed} 人",
            "en": "{registered} of {eligible} registered ({rate}); roster {roster}, "
            "{excluded} excluded; {late} late, {changed} changed",
        },
        "registration.section.progress": {"zh": "登记进度", "en": "Progress"},
        "registration.section.curve": {"zh": "累计登记（按小时）", "en": "Registrations by hour"},
        "registration.section.destinations": {"zh": "去向分布", "en": "Destinations"},
        "registration.section.effect": {"zh": "催办效果", "en": "Effect of reminders"},
        "registration.section.unregistered": {"zh": "未登记学生名单", "en": "Not registered yet"},
        "registration.section.registrations": {
            "zh": "逾期与修改的登记",
            "en": "Late and changed registrations",
        },
        "registration.section.excluded": {
            "zh": "不计入的学生（休学、已离校）",
            "en": "Students excluded (suspended, left)",
        },
        "registration.section.reminded": {
            "zh": "催办后完成登记的学生",
            "en": "Students who registered after a reminder",
        },
        "registration.col.unit": {"zh": "单位", "en": "Unit"},
        "registration.col.roster": {"zh": "名册人数", "en": "Roster"},
        "registration.col.excluded": {"zh": "不计入", "en": "Excluded"},
        "registration.col.eligible": {"zh": "应登记", "en": "Expected"},
        "registration.col.registered": {"zh": "已登记", "en": "Registered"},
        "registration.col.not_registered": {"zh": "未登记", "en": "Missing"},
        "registration.col.rate": {"zh": "登记率", "en": "Rate"},
        "registration.col.late": {"zh": "逾期", "en": "Late"},
        "registration.col.changed": {"zh": "修改", "en": "Changed"},
        "registration.col.stay_or_leave": {"zh": "留校/离校", "en": "Stay or leave"},
        "registration.value.stay": {"zh": "留校", "en": "Staying"},
        "registration.value.leave": {"zh": "离校", "en": "Leaving"},
        "registration.value.suspended": {"zh": "休学", "en": "Suspended"},
        "registration.value.left": {"zh": "已离校", "en": "Left the university"},
        "registration.value.enrolled": {"zh": "在读", "en": "Enrolled"},
        "registration.none": {"zh": "无", "en": "None"},
        "registration.filter_placeholder": {"zh": "筛选…", "en": "Filter…"},
        "registration.col.province": {"zh": "目的省份", "en": "Province"},
        "registration.col.students": {"zh": "人数", "en": "Students"},
        "registration.col.earliest_return": {"zh": "最早返校", "en": "Earliest return"},
        "registration.col.latest_return": {"zh": "最晚返校", "en": "Latest return"},
        "registration.col.class": {"zh": "班级", "en": "Class"},
        "registration.col.class_id": {"zh": "班级编号", "en": "Class id"},
        "registration.col.college": {"zh": "学院", "en": "College"},
        "registration.col.student_id": {"zh": "学号", "en": "Student id"},
        "registration.col.name": {"zh": "姓名", "en": "Name"},
        "registration.col.phone": {"zh": "手机", "en": "Phone"},
        "registration.col.reminders": {"zh": "已催办次数", "en": "Reminders"},
        "registration.col.last_reminded": {"zh": "最近催办", "en": "Last reminded"},
        "registration.col.first_registered": {"zh": "首次登记", "en": "First registered"},
        "registration.col.latest_submitted": {"zh": "最近提交", "en": "Latest submission"},
        "registration.col.is_late": {"zh": "逾期", "en": "Late"},
        "registration.col.changes": {"zh": "修改次数", "en": "Changes"},
        "registration.col.city": {"zh": "目的城市", "en": "City"},
        "registration.col.leave_date": {"zh": "离校日期", "en": "Leaves"},
        "registration.col.return_date": {"zh": "返校日期", "en": "Returns"},
        "registration.col.status": {"zh": "状态", "en": "Status"},
        "registration.col.reminded": {"zh": "被催办人数", "en": "Reminded"},
        "registration.col.after_reminder": {"zh": "催办后登记", "en": "Registered after"},
        "registration.col.share_after": {"zh": "催办后登记率", "en": "Share registered"},
        "registration.col.median_to_register": {
            "zh": "催办到登记（中位数）",
            "en": "Reminder to registration (median)",
        },
        "registration.col.to_register": {"zh": "催办到登记", "en": "Reminder to registration"},
        "registration.yes": {"zh": "是", "en": "yes"},
        "registration.no": {"zh": "否", "en": "no"},
        "registration.list_kind.late": {"zh": "逾期登记", "en": "Late"},
        "registration.list_kind.changed": {"zh": "修改过登记", "en": "Changed"},
        "registration.list_kind.all": {"zh": "全部已登记", "en": "All registered"},
        "registration.export_csv": {"zh": "导出 CSV", "en": "Export CSV"},
        "registration.export_xlsx": {"zh": "导出 Excel", "en": "Export Excel"},
        "registration.remind": {"zh": "催办所选学生", "en": "Remind the selected students"},
        "registration.remind_message": {
            "zh": "催办留言（可选）",
            "en": "Message with the reminder (optional)",
        },
        "registration.remind_hint": {
            "zh": "在名单中勾选学生后点击“催办”，系统将通过办事大厅通知学生并记录催办。",
            "en": "Tick students in the list, then remind: the hall notifies them and records it.",
        },
        "registration.remind.none_selected": {
            "zh": "请先在名单中勾选要催办的学生。",
            "en": "Tick the students to remind in the list first.",
        },
        "registration.remind.too_many": {
            "zh": "一次最多催办 {count} 人。",
            "en": "Remind at most {count} students at once.",
        },
        "registration.remind.message_too_long": {
            "zh": "留言最多 {count} 字。",
            "en": "The message may have at most {count} characters.",
        },
        "registration.remind.done": {
            "zh": "已催办 {count} 人：{names}",
            "en": "Reminded {count}: {names}",
        },
        "registration.remind.refused": {
            "zh": "未能催办 {name}（{student_id}）：{reason}",
            "en": "Could not remind {name} ({student_id}): {reason}",
        },
        "registration.remind.not_listed": {
            "zh": "不在您的未登记名单中",
            "en": "not on your list of students who have not registered",
        },
        "registration.remind.error": {
            "zh": "催办失败，未记录任何催办：{reason}",
            "en": "Reminding failed, nothing was recorded: {reason}",
        },
        "registration.remind.pending_refresh": {
            "zh": "催办记录将在下一次数据更新后计入名单。",
            "en": "The list counts the reminder once the next snapshot lands.",
        },
        "registration.aggregates_only": {
            "zh": "您的角色仅可查看汇总数据；人数少于 {k} 人的单元格不予显示（“—”）。",
            "en": "Your role sees aggregates only; cells under {k} students show “—”.",
        },
        "registration.empty_list": {"zh": "无", "en": "None"},
        "registration.export_file": {"zh": "未登记名单", "en": "not-registered"},
    },
)


# --- validation -------------------------------------------------------------------------------


class Selection(NamedTuple):
    """A request's inputs once checked against the scope; `allowed` False answers nothing.

    (A NamedTuple, not a dataclass: Dash executes page modules before they are in sys.modules,
    where dataclasses look their annotations up.)
    """

    allowed: bool
    campaign_id: str | None = None
    deadline: datetime | None = None
    college_id: str | None = None
    class_ids: tuple[str, ...] = ()
    opens: datetime | None = None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _text_list(value: object) -> list[str] | None:
    """A list of ids from the browser, or None when it is anything else."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return list(dict.fromkeys(value))
    return None


def select(
    cursor: duckdb.DuckDBPyConnection,
    scope: Scope,
    campaign: object,
    college: object = None,
    classes: object = None,
) -> Selection:
    """Check a campaign, a college and classes from the browser against the scope."""
    refused = Selection(allowed=False)
    campaign_id = _text(campaign)
    if campaign_id is None or scope.is_empty or not (scope.university or scope.class_ids):
        return refused
    known = read.campaigns(cursor, scope)
    match = known.filter(pl.col("campaign_id") == campaign_id)
    if match.is_empty():
        return refused
    deadline = match["deadline"][0]
    college_id = None
    if college is not None:
        college_id = _text(college)
        colleges = read.progress(cursor, scope, campaign_id, by="college")["college_id"]
        if college_id is None or college_id not in set(colleges.to_list()):
            return refused
    chosen = _text_list(classes)
    if chosen is None:
        return refused
    if chosen:
        visible = read.progress(cursor, scope, campaign_id, by="class", college_id=college_id)
        if not set(chosen) <= set(visible["class_id"].to_list()):
            return refused
        # A named scope's classes are its own (the read API checks it again, but a crafted id
        # should never reach a named query).
        if not scope.university and not set(chosen) <= scope.class_ids:
            return refused
    opens = match["opens_at"][0]
    return Selection(True, campaign_id, deadline, college_id, tuple(sorted(chosen)), opens)


def _classes_of(
    cursor: duckdb.DuckDBPyConnection, scope: Scope, selection: Selection
) -> list[str] | None:
    """The classes a chart covers: those chosen, else those of the chosen college, else all."""
    if selection.class_ids:
        return list(selection.class_ids)
    if selection.college_id is not None and selection.campaign_id is not None:
        frame = read.progress(
            cursor, scope, selection.campaign_id, by="class", college_id=selection.college_id
        )
        return frame["class_id"].to_list()
    return None


# --- tables: rows and columns as text ---------------------------------------------------------


def _columns(spec: Sequence[tuple[str, str]], lang: str) -> list[dict[str, str]]:
    # Plain text columns: a name with markup in it shows as the characters typed.
    return [{"id": column, "name": t(key, lang), "type": "text"} for column, key in spec]


PROGRESS_COLUMNS: Final = (
    ("name", "registration.col.unit"),
    ("roster", "registration.col.roster"),
    ("excluded", "registration.col.excluded"),
    ("eligible", "registration.col.eligible"),
    ("registered", "registration.col.registered"),
    ("not_registered", "registration.col.not_registered"),
    ("rate", "registration.col.rate"),
    ("late", "registration.col.late"),
    ("changed", "registration.col.changed"),
)
DESTINATION_COLUMNS: Final = (
    ("stay_or_leave", "registration.col.stay_or_leave"),
    ("province", "registration.col.province"),
    ("students", "registration.col.students"),
    ("earliest_return", "registration.col.earliest_return"),
    ("latest_return", "registration.col.latest_return"),
)
EFFECT_COLUMNS: Final = (
    ("class_id", "registration.col.class_id"),
    ("reminded", "registration.col.reminded"),
    ("after_reminder", "registration.col.after_reminder"),
    ("share_after", "registration.col.share_after"),
    ("median", "registration.col.median_to_register"),
)
UNREGISTERED_COLUMNS: Final = (
    ("student_id", "registration.col.student_id"),
    ("student_name", "registration.col.name"),
    ("class_name", "registration.col.class"),
    ("college_name", "registration.col.college"),
    ("phone", "registration.col.phone"),
    ("reminders", "registration.col.reminders"),
    ("last_reminded", "registration.col.last_reminded"),
)
REGISTRATION_COLUMNS: Final = (
    ("student_id", "registration.col.student_id"),
    ("student_name", "registration.col.name"),
    ("class_id", "registration.col.class_id"),
    ("first_registered", "registration.col.first_registered"),
    ("latest_submitted", "registration.col.latest_submitted"),
    ("is_late", "registration.col.is_late"),
    ("changes", "registration.col.changes"),
    ("stay_or_leave", "registration.col.stay_or_leave"),
    ("province", "registration.col.province"),
    ("city", "registration.col.city"),
    ("leave_date", "registration.col.leave_date"),
    ("return_date", "registration.col.return_date"),
)
EXCLUDED_COLUMNS: Final = (
    ("student_id", "registration.col.student_id"),
    ("student_name", "registration.col.name"),
    ("class_id", "registration.col.class_id"),
    ("status", "registration.col.status"),
)
REMINDED_COLUMNS: Final = (
    ("student_id", "registration.col.student_id"),
    ("student_name", "registration.col.name"),
    ("class_id", "registration.col.class_id"),
    ("first_registered", "registration.col.first_registered"),
    ("to_register", "registration.col.to_register"),
)
# What the export of the not-registered list carries (frame columns of the read API).
EXPORT_COLUMNS: Final = (
    ("student_id", "registration.col.student_id"),
    ("student_name", "registration.col.name"),
    ("class_id", "registration.col.class_id"),
    ("class_name_zh", "registration.col.class"),
    ("college_name_zh", "registration.col.college"),
    ("phone", "registration.col.phone"),
    ("reminders", "registration.col.reminders"),
    ("last_reminded_at", "registration.col.last_reminded"),
)


def progress_rows(frame: pl.DataFrame, level: str) -> list[dict[str, Any]]:
    """One row per unit, counts formatted ("—" where suppressed); `id` is the unit's key."""
    key = _KEY_COLUMN.get(level, "class_id")
    rows = []
    for row in frame.iter_rows(named=True):
        rows.append(
            {
                "id": str(row[key]),
                "name": str(row["name"]),
                "roster": count(row["roster"]),
                "excluded": count(row["excluded"]),
                "eligible": count(row["eligible"]),
                "registered": count(row["registered"]),
                "not_registered": count(row["not_registered"]),
                "rate": percent(row["registration_rate"]),
                "late": count(row["registered_late"]),
                "changed": count(row["changed"]),
            }
        )
    return rows


def value_label(value: object, lang: str) -> str:
    """A value the business systems write in Chinese (留校/离校, 休学/已离校) in `lang`; any
    other value as it is."""
    if value is None:
        return ""
    text = str(value)
    return t(VALUE_KEYS[text], lang) if text in VALUE_KEYS else text


def destination_rows(frame: pl.DataFrame, lang: str) -> list[dict[str, Any]]:
    return [
        {
            "stay_or_leave": value_label(row["stay_or_leave"], lang),
            "province": row["destination_province"] or SUPPRESSED,
            "students": count(row["students"]),
            "earliest_return": shanghai_date(row["earliest_return"], lang),
            "latest_return": shanghai_date(row["latest_return"], lang),
        }
        for row in frame.iter_rows(named=True)
    ]


def effect_rows(frame: pl.DataFrame, lang: str) -> list[dict[str, Any]]:
    rows = []
    for row in frame.iter_rows(named=True):
        reminded = row["reminded"]
        after = row["registered_after_reminder"]
        rows.append(
            {
                "id": str(row["class_id"]),
                "class_id": str(row["class_id"]),
                "reminded": count(reminded),
                "after_reminder": count(after),
                "share_after": percent(after / reminded if reminded else None),
                "median": duration(row["median_seconds_to_register"], lang),
            }
        )
    return rows


def unregistered_rows(frame: pl.DataFrame, lang: str) -> list[dict[str, Any]]:
    """The named list: every value a string or a number, shown as text (never markup)."""
    return [
        {
            "id": str(row["student_id"]),
            "student_id": str(row["student_id"]),
            "student_name": str(row["student_name"]),
            "class_name": str(row["class_name_zh"] or row["class_id"]),
            "college_name": str(row["college_name_zh"] or ""),
            "phone": str(row["phone"] or ""),
            "reminders": int(row["reminders"] or 0),
            "last_reminded": shanghai(row["last_reminded_at"], lang)
            if row["last_reminded_at"] is not None
            else "",
        }
        for row in frame.iter_rows(named=True)
    ]


def registration_rows(frame: pl.DataFrame, lang: str) -> list[dict[str, Any]]:
    yes, no = t("registration.yes", lang), t("registration.no", lang)
    return [
        {
            "id": str(row["student_id"]),
            "student_id": str(row["student_id"]),
            "student_name": str(row["student_name"]),
            "class_id": str(row["class_id"]),
            "first_registered": shanghai(row["first_registered_at"], lang),
            "latest_submitted": shanghai(row["latest_submitted_at"], lang),
            "is_late": yes if row["is_late"] else no,
            "changes": int(row["changes"] or 0),
            "stay_or_leave": value_label(row["stay_or_leave"], lang),
            "province": str(row["destination_province"] or ""),
            "city": str(row["destination_city"] or ""),
            "leave_date": "" if row["leave_date"] is None else shanghai_date(row["leave_date"]),
            "return_date": "" if row["return_date"] is None else shanghai_date(row["return_date"]),
        }
        for row in frame.iter_rows(named=True)
    ]


def excluded_rows(frame: pl.DataFrame, lang: str = "zh") -> list[dict[str, Any]]:
    return [
        {
            "id": str(row["student_id"]),
            "student_id": str(row["student_id"]),
            "student_name": str(row["student_name"]),
            "class_id": str(row["class_id"]),
            "status": value_label(row["status"], lang),
        }
        for row in frame.iter_rows(named=True)
    ]


def reminded_rows(frame: pl.DataFrame, lang: str) -> list[dict[str, Any]]:
    """Who registered after a reminder (`read.reminded`), and how long after the first one."""
    return [
        {
            "id": str(row["student_id"]),
            "student_id": str(row["student_id"]),
            "student_name": str(row["student_name"]),
            "class_id": str(row["class_id"]),
            "first_registered": shanghai(row["first_registered_at"], lang),
            "to_register": duration(row["seconds_from_reminder_to_registration"], lang),
        }
        for row in frame.iter_rows(named=True)
    ]


def _summary(frame: pl.DataFrame, lang: str) -> str:
    """The headline over the units shown (suppressed units add nothing they would reveal)."""
    if frame.is_empty():
        return ""

    def total(column: str) -> int | None:
        values = frame[column]
        return None if values.null_count() == len(values) else int(values.sum())

    eligible, registered = total("eligible"), total("registered")
    rate = registered / eligible if eligible and registered is not None else None
    return t(
        "registration.summary",
        lang,
        registered=count(registered),
        eligible=count(eligible),
        rate=percent(rate),
        roster=count(total("roster")),
        excluded=count(total("excluded")),
        late=count(total("registered_late")),
        changed=count(total("changed")),
    )


def _table(table_id: str, spec: Sequence[tuple[str, str]], lang: str, **extra: Any) -> html.Div:
    """A DataTable in the page's style, and under it "无" / "None" while it has no rows (a
    clientside callback shows the note; see `empty_note`)."""
    if extra.get("filter_action") == "native":
        # Names are Chinese: the case toggle ("Aa", English tooltip) has nothing to do.
        extra.setdefault(
            "filter_options",
            {"case": "insensitive", "placeholder_text": t("registration.filter_placeholder", lang)},
        )
    table = dash_table.DataTable(
        id=table_id,
        columns=_columns(spec, lang),
        data=[],
        page_size=extra.pop("page_size", 20),
        style_as_list_view=True,
        style_table={"overflowX": "auto"},
        style_cell={
            "textAlign": "left",
            "fontFamily": "inherit",
            "fontSize": "0.9rem",
            "padding": "0.35rem 0.6rem",
            "border": "none",
            "borderBottom": "1px solid #d9e2ec",
        },
        style_header={
            "fontWeight": "600",
            "backgroundColor": "#f5f7fa",
            "borderBottom": "2px solid #d9e2ec",
        },
        css=[{"selector": ".dash-filter--case", "rule": "display: none"}],
        **extra,
    )
    return html.Div(
        [
            table,
            html.P(
                t("registration.none", lang),
                id=empty_note(table_id),
                className="tb-empty",
                style={"display": "block"},
            ),
        ],
        className="tb-datatable",
    )


def empty_note(table_id: str) -> str:
    """The id of the "无" note under a table."""
    return f"{table_id}-empty"


# Shows a table's "无" note when it has no rows (after its filter, once it has drawn).
EMPTY_NOTE_JS: Final = """
function (data, shown) {
    var rows = Array.isArray(shown) ? shown : (Array.isArray(data) ? data : []);
    return {display: rows.length ? "none" : "block"};
}
"""


# --- callbacks (plain functions, registered below) --------------------------------------------


def filter_options(
    campaign: object, college: object, _snapshot: object
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The colleges and classes the scope sees in the campaign (the class list narrowed to the
    chosen college)."""
    scope = current_scope()
    with warehouse().cursor() as cursor:
        selection = select(cursor, scope, campaign, college)
        if not selection.allowed or selection.campaign_id is None:
            return [], []
        colleges = read.progress(cursor, scope, selection.campaign_id, by="college")
        classes = read.progress(
            cursor, scope, selection.campaign_id, by="class", college_id=selection.college_id
        )
    return (
        [{"label": str(r["name"]), "value": str(r["college_id"])} for r in colleges.to_dicts()],
        [{"label": str(r["name"]), "value": str(r["class_id"])} for r in classes.to_dicts()],
    )


OverviewOutputs = tuple[
    str,
    str,
    list[dict[str, Any]],
    list[dict[str, str]],
    go.Figure,
    go.Figure,
    go.Figure,
    list[dict[str, Any]],
    list[dict[str, Any]],
]


def _refused_overview(lang: str) -> OverviewOutputs:
    # Built only when refused: three empty figures cost ≈ 45 ms, a third of an answer.
    return (
        t("registration.not_allowed", lang),
        "",
        [],
        _columns(PROGRESS_COLUMNS, lang),
        empty_figure(lang),
        empty_figure(lang),
        empty_figure(lang),
        [],
        [],
    )


def overview(
    campaign: object, level: object, college: object, classes: object, _snapshot: object
) -> OverviewOutputs:
    """Progress per unit (table and bars), the hourly curve, destinations, reminder effect."""
    lang = current_language()
    scope = current_scope()
    by = level if isinstance(level, str) and level in LEVELS else None
    if by is None:
        return _refused_overview(lang)
    with warehouse().cursor() as cursor:
        selection = select(cursor, scope, campaign, college, classes)
        if not selection.allowed or selection.campaign_id is None:
            return _refused_overview(lang)
        campaign_id = selection.campaign_id
        progress = read.progress(cursor, scope, campaign_id, by=by, college_id=selection.college_id)
        chosen = _classes_of(cursor, scope, selection)
        if selection.class_ids and by == "class":
            progress = progress.filter(pl.col("class_id").is_in(list(selection.class_ids)))
        # The headline counts the chosen classes, else the chosen college, else everything:
        # each from its own roll-up, so a suppressed class never hides in a larger total.
        if selection.class_ids:
            totals = read.progress(cursor, scope, campaign_id, by="class").filter(
                pl.col("class_id").is_in(list(selection.class_ids))
            )
        elif selection.college_id is not None:
            totals = read.progress(
                cursor, scope, campaign_id, by="college", college_id=selection.college_id
            )
        else:
            totals = read.progress(cursor, scope, campaign_id, by="university")
        curve = read.curve(cursor, scope, campaign_id, chosen)
        destinations = read.destinations(cursor, scope, campaign_id, chosen)
        effect = read.reminder_effect(cursor, scope, campaign_id)
    if chosen is not None:
        effect = effect.filter(pl.col("class_id").is_in(chosen))
    return (
        "",
        _summary(totals, lang),
        progress_rows(progress, by),
        _columns(PROGRESS_COLUMNS, lang),
        progress_bars(progress, lang),
        cumulative_curve(curve, lang, deadline=selection.deadline, opens=selection.opens),
        destinations_bars(destinations, lang),
        destination_rows(destinations, lang),
        effect_rows(effect, lang),
    )


def drill(active_cell: object, level: object, campaign: object) -> tuple[str, Any, Any]:
    """A click on a college row opens its classes; on a class row, that class's students."""
    if not isinstance(active_cell, dict) or not isinstance(active_cell.get("row_id"), str):
        raise PreventUpdate
    row_id = active_cell["row_id"]
    scope = current_scope()
    with warehouse().cursor() as cursor:
        if level == "college":
            selection = select(cursor, scope, campaign, row_id)
            if selection.allowed:
                return "class", row_id, []
        elif level == "class":
            selection = select(cursor, scope, campaign, None, [row_id])
            if selection.allowed:
                return "class", dash.no_update, [row_id]
    raise PreventUpdate


NamedOutputs = tuple[
    str,
    list[dict[str, Any]],
    list[int],
    list[dict[str, Any]],
    list[dict[str, Any]],
    list[dict[str, Any]],
]


def named_lists(
    campaign: object,
    college: object,
    classes: object,
    kind: object,
    _snapshot: object,
    selected_ids: object = None,
) -> NamedOutputs:
    """The named lists within scope: not registered (keeping the ticked students ticked),
    late or changed registrations, excluded students, registered after a reminder."""
    lang = current_language()
    scope = current_scope()
    refused: NamedOutputs = (t("registration.not_allowed", lang), [], [], [], [], [])
    only = LIST_KINDS.get(kind) if isinstance(kind, str) else None
    if not scope.personal_data or only is None:
        return refused
    with warehouse().cursor() as cursor:
        selection = select(cursor, scope, campaign, college, classes)
        if not selection.allowed or selection.campaign_id is None:
            return refused
        campaign_id = selection.campaign_id
        chosen = _named_classes(cursor, scope, selection)
        if chosen == []:
            return ("", [], [], [], [], [])
        roster = read.named_roster(cursor, scope, campaign_id, chosen)
        listed = read.registrations(cursor, scope, campaign_id, chosen, only=only)
    rows = unregistered_rows(read.unregistered(roster), lang)
    ticked = set(_text_list(selected_ids) or [])
    selected = [i for i, row in enumerate(rows) if row["id"] in ticked]
    return (
        "",
        rows,
        selected,
        registration_rows(listed, lang),
        excluded_rows(read.excluded(roster), lang),
        reminded_rows(read.reminded(roster), lang),
    )


def _named_classes(
    cursor: duckdb.DuckDBPyConnection, scope: Scope, selection: Selection
) -> list[str]:
    """The classes whose students a named list shows: always within the scope's own classes."""
    chosen = _classes_of(cursor, scope, selection)
    mine = sorted(scope.class_ids) if chosen is None else chosen
    return [c for c in mine if c in scope.class_ids]


def export_file(fmt: object, campaign: object, college: object, classes: object) -> dict[str, Any]:
    """The not-registered list of the current selection as a CSV or Excel download."""
    if fmt not in EXPORT_FORMATS:
        raise PreventUpdate
    lang = current_language()
    scope = current_scope()
    if not scope.personal_data:
        raise PreventUpdate
    with warehouse().cursor() as cursor:
        selection = select(cursor, scope, campaign, college, classes)
        if not selection.allowed or selection.campaign_id is None:
            raise PreventUpdate
        chosen = _named_classes(cursor, scope, selection)
        frame = (
            read.unregistered_students(cursor, scope, selection.campaign_id, chosen)
            if chosen
            else None
        )
    if frame is None:
        raise PreventUpdate
    stem = f"{t('registration.export_file', lang)}-{selection.campaign_id}"
    if fmt == "csv":
        return dcc.send_bytes(
            exports.to_csv(frame, EXPORT_COLUMNS, lang), f"{stem}.csv", type=exports.CSV_MEDIA_TYPE
        )
    return dcc.send_bytes(
        exports.to_xlsx(frame, EXPORT_COLUMNS, lang, sheet=t("registration.title", lang)),
        f"{stem}.xlsx",
        type=exports.XLSX_MEDIA_TYPE,
    )


def export(
    _csv: int | None, _xlsx: int | None, campaign: object, college: object, classes: object
) -> dict[str, Any]:
    fmt = {EXPORT_CSV: "csv", EXPORT_XLSX: "xlsx"}.get(str(ctx.triggered_id))
    return export_file(fmt, campaign, college, classes)


def send_reminders(
    n_clicks: int | None, selected_ids: object, campaign: object, message: object
) -> list[Any]:
    """催办 the ticked students through the workflow API, as the signed-in user; says per
    student who was reminded and who was refused."""
    if not n_clicks:
        raise PreventUpdate
    lang = current_language()
    scope = current_scope()
    ids = _text_list(selected_ids)
    if not ids:
        return [html.P(t("registration.remind.none_selected", lang))]
    if len(ids) > MAX_REMIND:
        return [html.P(t("registration.remind.too_many", lang, count=count(MAX_REMIND)))]
    text = message.strip() if isinstance(message, str) else ""
    if len(text) > MAX_MESSAGE:
        return [html.P(t("registration.remind.message_too_long", lang, count=MAX_MESSAGE))]
    if not scope.personal_data:
        return [html.P(t("registration.not_allowed", lang))]
    with warehouse().cursor() as cursor:
        selection = select(cursor, scope, campaign)
        if not selection.allowed or selection.campaign_id is None:
            return [html.P(t("registration.not_allowed", lang))]
        listed = read.unregistered_students(cursor, scope, selection.campaign_id)
    names = dict(zip(listed["student_id"].to_list(), listed["student_name"].to_list(), strict=True))
    # Only students on the user's own list are sent: anything else is refused here.
    sendable = [s for s in ids if s in names]
    outcome = reminders.remind(
        config().api_url,
        scope.user_id,
        selection.campaign_id,
        sendable,
        text,
        key=uuid.uuid4().hex,
    )
    refused = {s: t("registration.remind.not_listed", lang) for s in ids if s not in names}
    refused.update(outcome.refused)
    return reminder_report(outcome, refused, names, lang)


def reminder_report(
    outcome: reminders.ReminderOutcome,
    refused: dict[str, str],
    names: dict[str, str],
    lang: str,
) -> list[Any]:
    """What happened to each student, as text (names are never markup)."""
    lines: list[Any] = []
    if outcome.error is not None:
        lines.append(
            html.P(t("registration.remind.error", lang, reason=outcome.error), className="tb-bad")
        )
    if outcome.reminded:
        who = "、".join(f"{names.get(s, s)}（{s}）" for s in outcome.reminded)
        lines.append(
            html.P(t("registration.remind.done", lang, count=len(outcome.reminded), names=who))
        )
        lines.append(html.P(t("registration.remind.pending_refresh", lang), className="tb-note"))
    for student_id, reason in refused.items():
        lines.append(
            html.P(
                t(
                    "registration.remind.refused",
                    lang,
                    name=names.get(student_id, SUPPRESSED),
                    student_id=student_id,
                    reason=reason,
                ),
                className="tb-bad",
            )
        )
    return lines


# --- layout -----------------------------------------------------------------------------------


def _campaign_label(row: dict[str, Any], lang: str) -> str:
    state = t("registration.open" if row["is_open"] else "registration.closed", lang)
    deadline = t("registration.deadline", lang, moment=shanghai(row["deadline"], lang))
    return f"{row['campaign_title']}（{state}，{deadline}）"


def _section(title_key: str, lang: str, *children: Any) -> html.Section:
    return html.Section([html.H2(t(title_key, lang)), *children], className="tb-section")


def _graph(graph_id: str) -> dcc.Graph:
    # The mode bar's links and logo reach plotly's servers: off, the page stays offline-clean.
    return dcc.Graph(
        id=graph_id,
        figure=go.Figure(),
        config={"displaylogo": False, "displayModeBar": False, "responsive": True},
    )


def _named_section(lang: str) -> html.Div:
    return html.Div(
        [
            html.Div(id=NAMED_NOTICE, className="tb-note"),
            _section(
                "registration.section.unregistered",
                lang,
                html.Div(
                    [
                        html.Button(
                            t("registration.export_csv", lang),
                            id=EXPORT_CSV,
                            className="tb-button",
                            type="button",
                        ),
                        html.Button(
                            t("registration.export_xlsx", lang),
                            id=EXPORT_XLSX,
                            className="tb-button",
                            type="button",
                        ),
                        dcc.Download(id=DOWNLOAD),
                    ],
                    className="tb-actions",
                ),
                _table(
                    UNREGISTERED_TABLE,
                    UNREGISTERED_COLUMNS,
                    lang,
                    row_selectable="multi",
                    selected_rows=[],
                    sort_action="native",
                    filter_action="native",
                    page_size=50,
                ),
                html.P(t("registration.remind_hint", lang), className="tb-note"),
                html.Div(
                    [
                        dcc.Input(
                            id=REMIND_MESSAGE,
                            type="text",
                            maxLength=MAX_MESSAGE,
                            placeholder=t("registration.remind_message", lang),
                            debounce=True,
                            className="tb-input",
                        ),
                        html.Button(
                            t("registration.remind", lang),
                            id=REMIND,
                            className="tb-button tb-button-primary",
                            type="button",
                        ),
                    ],
                    className="tb-actions",
                ),
                dcc.Loading(html.Div(id=REMIND_RESULT, role="status")),
            ),
            _section(
                "registration.section.registrations",
                lang,
                dcc.RadioItems(
                    id=LIST_KIND,
                    options=[
                        {"label": t(f"registration.list_kind.{k}", lang), "value": k}
                        for k in LIST_KINDS
                    ],
                    value="late",
                    inline=True,
                ),
                _table(
                    REGISTRATIONS_TABLE,
                    REGISTRATION_COLUMNS,
                    lang,
                    sort_action="native",
                    filter_action="native",
                ),
            ),
            _section(
                "registration.section.reminded",
                lang,
                _table(REMINDED_TABLE, REMINDED_COLUMNS, lang, sort_action="native"),
            ),
            _section(
                "registration.section.excluded",
                lang,
                _table(EXCLUDED_TABLE, EXCLUDED_COLUMNS, lang),
            ),
        ]
    )


def layout(**_: object) -> html.Div:
    denied = guard("registration")
    if denied is not None:
        return denied
    lang = current_language()
    scope = current_scope()
    with warehouse().cursor() as cursor:
        known = read.campaigns(cursor, scope)
        current = read.current_campaign(cursor, scope)
        colleges = read.progress(cursor, scope, current, by="college").height if current else 0
    if known.is_empty():
        return html.Div(
            [html.H1(t("registration.title", lang)), html.P(t("registration.no_campaigns", lang))]
        )
    # Several colleges open on the colleges, one on its classes (a monitor's, a counsellor's).
    several_colleges = scope.university or colleges > 1
    controls = html.Div(
        [
            html.Label(
                [
                    t("registration.campaign", lang),
                    dcc.Dropdown(
                        id=CAMPAIGN,
                        options=[
                            {"label": _campaign_label(row, lang), "value": row["campaign_id"]}
                            for row in known.to_dicts()
                        ],
                        value=current,
                        clearable=False,
                    ),
                ],
                className="tb-control tb-control-wide",
            ),
            html.Label(
                [
                    t("registration.level", lang),
                    dcc.RadioItems(
                        id=LEVEL,
                        options=[
                            {"label": t(f"registration.level.{level}", lang), "value": level}
                            for level in LEVELS
                        ],
                        value="college" if several_colleges else "class",
                        inline=True,
                    ),
                ],
                className="tb-control",
            ),
            html.Label(
                [
                    t("registration.college", lang),
                    dcc.Dropdown(
                        id=COLLEGE, options=[], placeholder=t("registration.college.all", lang)
                    ),
                ],
                className="tb-control",
            ),
            html.Label(
                [
                    t("registration.classes", lang),
                    dcc.Dropdown(
                        id=CLASSES,
                        options=[],
                        multi=True,
                        placeholder=t("registration.classes.all", lang),
                    ),
                ],
                className="tb-control tb-control-wide",
            ),
        ],
        className="tb-controls",
    )
    overview_part = [
        html.Div(id=NOTICE, className="tb-note", role="status"),
        html.P(id=SUMMARY, className="tb-summary"),
        html.P(
            t("registration.aggregates_only", lang, k=scope.k)
            if scope.aggregates_only
            else t("registration.drill_hint", lang),
            className="tb-note",
        ),
        _section(
            "registration.section.progress",
            lang,
            _table(PROGRESS_TABLE, PROGRESS_COLUMNS, lang, page_size=50),
            _graph(PROGRESS_CHART),
        ),
        _section("registration.section.curve", lang, _graph(CURVE)),
        _section(
            "registration.section.destinations",
            lang,
            _graph(DESTINATIONS_CHART),
            _table(DESTINATIONS_TABLE, DESTINATION_COLUMNS, lang),
        ),
        _section(
            "registration.section.effect",
            lang,
            _table(EFFECT_TABLE, EFFECT_COLUMNS, lang),
        ),
    ]
    named = [_named_section(lang)] if scope.personal_data else []
    return html.Div(
        [html.H1(t("registration.title", lang)), controls, *overview_part, *named],
        className="tb-page tb-registration",
    )


# --- wiring -----------------------------------------------------------------------------------

callback(
    Output(COLLEGE, "options"),
    Output(CLASSES, "options"),
    Input(CAMPAIGN, "value"),
    Input(COLLEGE, "value"),
    Input(SNAPSHOT_STORE, "data"),
)(filter_options)

callback(
    Output(NOTICE, "children"),
    Output(SUMMARY, "children"),
    Output(PROGRESS_TABLE, "data"),
    Output(PROGRESS_TABLE, "columns"),
    Output(PROGRESS_CHART, "figure"),
    Output(CURVE, "figure"),
    Output(DESTINATIONS_CHART, "figure"),
    Output(DESTINATIONS_TABLE, "data"),
    Output(EFFECT_TABLE, "data"),
    Input(CAMPAIGN, "value"),
    Input(LEVEL, "value"),
    Input(COLLEGE, "value"),
    Input(CLASSES, "value"),
    Input(SNAPSHOT_STORE, "data"),
)(overview)

callback(
    Output(LEVEL, "value"),
    Output(COLLEGE, "value"),
    Output(CLASSES, "value"),
    Input(PROGRESS_TABLE, "active_cell"),
    State(LEVEL, "value"),
    State(CAMPAIGN, "value"),
    prevent_initial_call=True,
)(drill)

callback(
    Output(NAMED_NOTICE, "children"),
    Output(UNREGISTERED_TABLE, "data"),
    Output(UNREGISTERED_TABLE, "selected_rows"),
    Output(REGISTRATIONS_TABLE, "data"),
    Output(EXCLUDED_TABLE, "data"),
    Output(REMINDED_TABLE, "data"),
    Input(CAMPAIGN, "value"),
    Input(COLLEGE, "value"),
    Input(CLASSES, "value"),
    Input(LIST_KIND, "value"),
    Input(SNAPSHOT_STORE, "data"),
    State(UNREGISTERED_TABLE, "selected_row_ids"),
)(named_lists)

callback(
    Output(DOWNLOAD, "data"),
    Input(EXPORT_CSV, "n_clicks"),
    Input(EXPORT_XLSX, "n_clicks"),
    State(CAMPAIGN, "value"),
    State(COLLEGE, "value"),
    State(CLASSES, "value"),
    prevent_initial_call=True,
)(export)

callback(
    Output(REMIND_RESULT, "children"),
    Input(REMIND, "n_clicks"),
    State(UNREGISTERED_TABLE, "selected_row_ids"),
    State(CAMPAIGN, "value"),
    State(REMIND_MESSAGE, "value"),
    prevent_initial_call=True,
)(send_reminders)

for _table_id in (
    PROGRESS_TABLE,
    DESTINATIONS_TABLE,
    EFFECT_TABLE,
    UNREGISTERED_TABLE,
    REGISTRATIONS_TABLE,
    EXCLUDED_TABLE,
    REMINDED_TABLE,
):
    dash.clientside_callback(
        EMPTY_NOTE_JS,
        Output(empty_note(_table_id), "style"),
        Input(_table_id, "data"),
        Input(_table_id, "derived_virtual_data"),
    )
