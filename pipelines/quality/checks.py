"""Every data-quality check: the frame it validates, its Great Expectations expectation, its
severity, and the asset it belongs to.

A frame is one SQL query in `frames/<name>.sql` over the working database; its rows are what the
expectations see (a pandas frame, as GX on DuckDB through SQLAlchemy is broken). Frames over the
events are *scoped*: they read `getvariable('quality_after')` and hold only what arrived since
the check last passed (plus the history a row needs beside it, e.g. the rest of its stream), so
the live update validates seconds of traffic, not the whole log. Frames over tables are whole.

Severity `error` blocks publication (the last good snapshot stays); `warn` publishes and is
shown. Checks on the workflow log are blocking for the workflow's own processes; what can
legitimately happen in imported logs, or in the hours before the nightly directory refresh
(a student admitted today), is a warning.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

from warehouse.quality import CheckInfo, Severity
from warehouse.raw import RAW_EVENTS_COLUMNS

FRAMES_DIR: Final = Path(__file__).parent / "frames"

EVENTS_SUITE: Final = "events"
INTEGRITY_SUITE: Final = "integrity"
BUSINESS_SUITE: Final = "business"
MARTS_SUITE: Final = "marts"

RAW_EVENTS: Final = "raw_events"
RAW_BUSINESS: Final = "raw_business"

# The event types the workflow writes (workflow_core.domain.events; a test keeps them equal).
KNOWN_EVENT_TYPES: Final = (
    "activity",
    "approved",
    "campaign_opened",
    "campaign_reminded",
    "case_imported",
    "commented",
    "completed",
    "reassigned",
    "rejected",
    "reminded",
    "resubmitted",
    "returned",
    "submitted",
    "task_cancelled",
    "task_created",
    "task_viewed",
    "withdrawn",
)
# Nothing the hall runs happened before the university went online; imported logs included.
EARLIEST_PLAUSIBLE: Final = datetime(1990, 1, 1)


@dataclass(frozen=True)
class Frame:
    """A query whose rows some checks validate."""

    name: str
    kind: Literal["events", "table"]
    # Tables whose change makes the frame due again: a table frame is re-read whole; an events
    # frame is re-read from the first event (its verdicts depend on these tables too).
    inputs: tuple[str, ...]
    keys: tuple[str, ...]  # the columns that name a failing row in its sample
    # Rows equal in these columns are validated in one batch when the frame is too big for one
    # pandas frame (see `pipelines.quality.gate`): a uniqueness check must see every row that
    # could collide. Empty: always validated whole.
    batch_by: tuple[str, ...] = ()
    # The column the frame's SQL orders by, kept within each batch: the gate finds a check's
    # first failing event in GX's sample of the first failing rows.
    order_by: str | None = None

    @property
    def sql(self) -> str:
        return _frame_sql(self.name)


@dataclass(frozen=True)
class Expect:
    """A Great Expectations expectation by class name and arguments (built when validating, so
    that importing this module does not import GX)."""

    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def type_name(self) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.kind).lower()


@dataclass(frozen=True)
class Check:
    name: str
    asset: str
    suite: str
    severity: Severity
    frame: str
    expect: Expect
    description_zh: str
    description_en: str
    applies_to: Literal["native", "imported", "all"] = "all"

    @property
    def fingerprint(self) -> str:
        """What the check asks of which rows: it changes with its query or its expectation."""
        text = json.dumps(
            [FRAMES[self.frame].sql, self.expect.kind, self.expect.kwargs],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def info(self) -> CheckInfo:
        return CheckInfo(
            name=self.name,
            asset=self.asset,
            suite=self.suite,
            severity=self.severity,
            expectation=self.expect.type_name,
            description_zh=self.description_zh,
            description_en=self.description_en,
            applies_to=self.applies_to,
            keys=FRAMES[self.frame].keys,
        )


_BUSINESS_DIRECTORY: Final = (
    "raw_business__students",
    "raw_business__staff",
    "raw_business__hall_accounts",
)

FRAMES: Final[dict[str, Frame]] = {
    frame.name: frame
    for frame in (
        Frame("event_columns", "table", (), ()),
        Frame(
            "events",
            "events",
            (),
            ("event_id", "stream_id", "event_type", "occurred_at"),
            batch_by=("event_id",),
            order_by="event_id",
        ),
        Frame(
            "stream_versions",
            "events",
            (),
            ("event_id", "stream_id", "stream_version"),
            batch_by=("stream_id",),
            order_by="event_id",
        ),
        Frame(
            "instance_order",
            "events",
            (),
            ("event_id", "instance_id", "stream_version", "event_type", "occurred_at"),
            batch_by=("instance_id",),
            order_by="event_id",
        ),
        # Not re-read when the catalog reloads: a process version's nodes never change, a new
        # version only adds nodes for the tasks that will use it.
        Frame(
            "tasks",
            "events",
            (),
            ("instance_id", "task_id", "node_key", "created_at", "first_decided_at"),
            batch_by=("task_id",),
        ),
        Frame("instances", "events", (), ("instance_id",), batch_by=("instance_id",)),
        Frame(
            "applicants",
            "events",
            _BUSINESS_DIRECTORY,
            ("event_id", "instance_id"),
            batch_by=("event_id",),
            order_by="event_id",
        ),
        Frame(
            "approvers",
            "events",
            ("raw_business__staff",),
            ("event_id", "instance_id"),
            batch_by=("event_id",),
            order_by="event_id",
        ),
        Frame(
            "students",
            "table",
            ("raw_business__students", "raw_business__student_class_memberships"),
            ("student_id",),
            batch_by=("student_id",),
        ),
        Frame("staff", "table", ("raw_business__staff",), ("staff_id",), batch_by=("staff_id",)),
        Frame(
            "classes",
            "table",
            ("raw_business__classes", "raw_business__majors", "raw_business__colleges"),
            ("class_id", "major_id"),
            batch_by=("class_id",),
        ),
        Frame(
            "memberships",
            "table",
            (
                "raw_business__student_class_memberships",
                "raw_business__classes",
                "raw_business__students",
            ),
            ("membership_id", "student_id", "class_id"),
            batch_by=("student_id",),
        ),
        Frame(
            "statuses",
            "table",
            ("raw_business__student_statuses",),
            ("status_id", "student_id", "status"),
            batch_by=("student_id",),
        ),
        Frame(
            "counsellors",
            "table",
            ("raw_business__role_assignments", "raw_business__staff", "raw_business__classes"),
            ("assignment_id", "person_id", "class_id"),
            batch_by=("assignment_id",),
        ),
        Frame("task_durations", "events", (), ("instance_id", "task_id"), batch_by=("task_id",)),
        Frame("instance_turnaround", "events", (), ("instance_id",), batch_by=("instance_id",)),
        # The marts' frames below are aggregates (per campaign and class, per service and
        # period: thousands of rows) re-read on every live pass that changes them: validated
        # whole, without staging them first.
        Frame(
            "registration_progress",
            "table",
            ("mart_registration__progress",),
            ("campaign_id", "class_id"),
        ),
        Frame(
            "registration_colleges",
            "table",
            ("mart_registration__progress", "fct_campaign_rosters", "dim_classes"),
            ("campaign_id", "college_id"),
        ),
        Frame(
            "roster_directory",
            "table",
            (
                "fct_campaign_rosters",
                "dim_campaigns",
                "raw_business__student_class_memberships",
                "raw_business__students",
            ),
            ("campaign_id", "roster_day"),
        ),
        Frame(
            "turnaround_services",
            "table",
            ("mart_turnaround__services",),
            ("process_key", "period_grain", "period_start"),
        ),
    )
}


# A pair with a missing side (an open task, a current membership) is not a violation.
_PAIR: Final = {"ignore_row_if": "either_value_is_missing"}


def _pair_ge(a: str, b: str, **extra: Any) -> Expect:
    return Expect(
        "ExpectColumnPairValuesAToBeGreaterThanB",
        {"column_A": a, "column_B": b, "or_equal": True, **_PAIR, **extra},
    )


def _pair_eq(a: str, b: str) -> Expect:
    return Expect("ExpectColumnPairValuesToBeEqual", {"column_A": a, "column_B": b, **_PAIR})


def _true(column: str) -> Expect:
    return Expect("ExpectColumnValuesToBeInSet", {"column": column, "value_set": [True]})


def _between(column: str, low: object = None, high: object = None) -> Expect:
    bounds: dict[str, Any] = {}
    if low is not None:
        bounds["min_value"] = low
    if high is not None:
        bounds["max_value"] = high
    return Expect("ExpectColumnValuesToBeBetween", {"column": column, **bounds})


CHECKS: Final[tuple[Check, ...]] = (
    # -- sources: the events -------------------------------------------------------------------
    Check(
        "events_columns_match",
        RAW_EVENTS,
        EVENTS_SUITE,
        "error",
        "event_columns",
        Expect("ExpectTableColumnsToMatchOrderedList", {"column_list": list(RAW_EVENTS_COLUMNS)}),
        "事件表的列与事件库一致",
        "The events table has the event store's columns, in order",
    ),
    Check(
        "events_event_id_unique",
        RAW_EVENTS,
        EVENTS_SUITE,
        "error",
        "events",
        Expect("ExpectColumnValuesToBeUnique", {"column": "event_id"}),
        "事件编号不重复",
        "No event_id is loaded twice",
    ),
    Check(
        "events_stream_version_unique",
        RAW_EVENTS,
        EVENTS_SUITE,
        "error",
        "stream_versions",
        Expect("ExpectCompoundColumnsToBeUnique", {"column_list": ["stream_id", "stream_version"]}),
        "同一实例的版本号不重复",
        "No (stream_id, stream_version) appears twice",
    ),
    Check(
        "events_known_type",
        RAW_EVENTS,
        EVENTS_SUITE,
        "error",
        "events",
        Expect(
            "ExpectColumnValuesToBeInSet",
            {"column": "event_type", "value_set": list(KNOWN_EVENT_TYPES)},
        ),
        "事件类型均为已知类型",
        "Every event type is one the workflow writes",
    ),
    Check(
        "events_task_event_has_task",
        RAW_EVENTS,
        EVENTS_SUITE,
        "error",
        "events",
        _true("is_task_named"),
        "任务事件带有任务编号",
        "Every task event names its task",
    ),
    Check(
        "events_instance_event_has_process",
        RAW_EVENTS,
        EVENTS_SUITE,
        "error",
        "events",
        _true("is_process_named"),
        "办件事件带有事项编码",
        "Every instance event names its process",
    ),
    Check(
        "events_occurred_not_after_recorded",
        RAW_EVENTS,
        EVENTS_SUITE,
        "error",
        "events",
        _pair_ge("latest_plausible_s", "occurred_s"),
        "事件发生时间不晚于入库时间（允许 5 分钟时钟误差）",
        "No event happened after the store recorded it (5 minutes of clock skew allowed)",
    ),
    Check(
        "events_occurred_after_1990",
        RAW_EVENTS,
        EVENTS_SUITE,
        "error",
        "events",
        _between("occurred_s", EARLIEST_PLAUSIBLE.replace(tzinfo=UTC).timestamp(), None),
        "事件发生时间不早于 1990 年",
        "No event happened before 1990",
    ),
    # -- workflow-log integrity ----------------------------------------------------------------
    Check(
        "integrity_time_not_backwards",
        RAW_EVENTS,
        INTEGRITY_SUITE,
        "error",
        "instance_order",
        _pair_ge("occurred_s", "native_previous_s"),
        "同一办件内时间不倒流",
        "Time never runs backwards within an instance",
        applies_to="native",
    ),
    Check(
        "integrity_time_not_backwards_imported",
        RAW_EVENTS,
        INTEGRITY_SUITE,
        "warn",
        "instance_order",
        _pair_ge("occurred_s", "imported_previous_s"),
        "导入日志的案例内时间不倒流",
        "Time never runs backwards within an imported case",
        applies_to="imported",
    ),
    Check(
        "integrity_decision_after_task_created",
        RAW_EVENTS,
        INTEGRITY_SUITE,
        "error",
        "tasks",
        _pair_ge("first_decided_s", "created_s"),
        "审批不早于任务创建",
        "No decision before its task was created",
        applies_to="native",
    ),
    Check(
        "integrity_decided_task_was_created",
        RAW_EVENTS,
        INTEGRITY_SUITE,
        "error",
        "tasks",
        _true("is_created_if_decided"),
        "被审批的任务确有创建记录",
        "Every decided task was created",
        applies_to="native",
    ),
    Check(
        "integrity_task_decided_once",
        RAW_EVENTS,
        INTEGRITY_SUITE,
        "error",
        "tasks",
        _between("decisions", None, 1),
        "每个任务至多审批一次",
        "No task is decided twice",
        applies_to="native",
    ),
    Check(
        "integrity_node_defined",
        RAW_EVENTS,
        INTEGRITY_SUITE,
        "error",
        "tasks",
        _true("is_defined_node"),
        "任务所在节点为流程版本所定义",
        "Every task's node is one its process version defines",
        applies_to="native",
    ),
    Check(
        "integrity_one_terminal_event",
        RAW_EVENTS,
        INTEGRITY_SUITE,
        "error",
        "instances",
        _between("terminal_events", None, 1),
        "办结的办件恰有一个办结事件",
        "A finished instance has exactly one terminal event",
        applies_to="native",
    ),
    Check(
        "integrity_nothing_after_terminal",
        RAW_EVENTS,
        INTEGRITY_SUITE,
        "error",
        "instances",
        _between("events_after_terminal", None, 0),
        "办结后不再有事件",
        "Nothing happens to an instance after it finished",
        applies_to="native",
    ),
    Check(
        "integrity_applicant_known",
        RAW_EVENTS,
        INTEGRITY_SUITE,
        "warn",
        "applicants",
        _true("is_known_applicant"),
        "申请人在业务系统中存在（新生可能要到夜间同步后才出现）",
        "Every applicant is known to the business systems (a new student may appear only after"
        " the nightly refresh)",
        applies_to="native",
    ),
    Check(
        "integrity_approver_known",
        RAW_EVENTS,
        INTEGRITY_SUITE,
        "warn",
        "approvers",
        _true("is_known_approver"),
        "审批人是业务系统中的教职工",
        "Every approver is a member of staff in the business systems",
        applies_to="native",
    ),
    # -- sources: the business systems ---------------------------------------------------------
    Check(
        "business_student_id_unique",
        RAW_BUSINESS,
        BUSINESS_SUITE,
        "error",
        "students",
        Expect("ExpectColumnValuesToBeUnique", {"column": "student_id"}),
        "学号不重复",
        "No student id appears twice",
    ),
    Check(
        "business_student_in_a_class",
        RAW_BUSINESS,
        BUSINESS_SUITE,
        "error",
        "students",
        _between("memberships", 1, None),
        "每名学生都属于某个班级",
        "Every student belongs to a class",
    ),
    Check(
        "business_staff_id_unique",
        RAW_BUSINESS,
        BUSINESS_SUITE,
        "error",
        "staff",
        Expect("ExpectColumnValuesToBeUnique", {"column": "staff_id"}),
        "工号不重复",
        "No staff id appears twice",
    ),
    Check(
        "business_class_has_college",
        RAW_BUSINESS,
        BUSINESS_SUITE,
        "error",
        "classes",
        Expect("ExpectColumnValuesToNotBeNull", {"column": "college_id"}),
        "每个班级经专业归属到一个学院",
        "Every class belongs, through its major, to a college",
    ),
    Check(
        "business_membership_class_exists",
        RAW_BUSINESS,
        BUSINESS_SUITE,
        "error",
        "memberships",
        _true("is_existing_class"),
        "学生所在班级存在",
        "Every class membership names an existing class",
    ),
    Check(
        "business_membership_student_exists",
        RAW_BUSINESS,
        BUSINESS_SUITE,
        "error",
        "memberships",
        _true("is_existing_student"),
        "班级成员是存在的学生",
        "Every class membership names an existing student",
    ),
    Check(
        "business_membership_no_overlap",
        RAW_BUSINESS,
        BUSINESS_SUITE,
        "error",
        "memberships",
        _pair_ge("valid_from", "previous_ends"),
        "学生不会同时属于两个班级",
        "No student is in two classes at once",
    ),
    Check(
        "business_membership_dates_ordered",
        RAW_BUSINESS,
        BUSINESS_SUITE,
        "error",
        "memberships",
        Expect(
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": "valid_to", "column_B": "valid_from", "or_equal": False, **_PAIR},
        ),
        "班级成员关系的结束日期晚于开始日期",
        "Every class membership ends after it starts",
    ),
    Check(
        "business_status_no_overlap",
        RAW_BUSINESS,
        BUSINESS_SUITE,
        "error",
        "statuses",
        _pair_ge("valid_from", "previous_ends"),
        "学生同一时间只有一个学籍状态",
        "No student has two statuses at once",
    ),
    Check(
        "business_counsellor_is_staff",
        RAW_BUSINESS,
        BUSINESS_SUITE,
        "error",
        "counsellors",
        _true("is_existing_staff"),
        "辅导员是存在的教职工",
        "Every counsellor assignment names an existing member of staff",
    ),
    Check(
        "business_counsellor_class_exists",
        RAW_BUSINESS,
        BUSINESS_SUITE,
        "error",
        "counsellors",
        _true("is_existing_class"),
        "辅导员负责的班级存在",
        "Every counsellor assignment names an existing class",
    ),
    # -- marts ---------------------------------------------------------------------------------
    Check(
        "mart_task_duration_non_negative",
        "fct_tasks",
        MARTS_SUITE,
        "error",
        "task_durations",
        _between("duration_s", 0, None),
        "任务用时非负",
        "No task takes negative time",
    ),
    Check(
        "mart_task_wait_non_negative",
        "fct_tasks",
        MARTS_SUITE,
        "error",
        "task_durations",
        _between("wait_s", 0, None),
        "任务等待时间非负",
        "No task waits negative time",
    ),
    Check(
        "mart_task_working_duration_non_negative",
        "fct_tasks",
        MARTS_SUITE,
        "error",
        "task_durations",
        _between("duration_working_s", 0, None),
        "任务工作时间用时非负",
        "No task takes negative working time",
    ),
    Check(
        "mart_turnaround_non_negative",
        "fct_instances",
        MARTS_SUITE,
        "error",
        "instance_turnaround",
        _between("turnaround_s", 0, None),
        "办件办理时长非负",
        "No instance's turnaround is negative",
    ),
    Check(
        "mart_registration_rate_in_range",
        "mart_registration__progress",
        MARTS_SUITE,
        "error",
        "registration_progress",
        _between("registration_rate", 0, 1),
        "登记率在 0 到 1 之间",
        "Every registration rate lies in [0, 1]",
    ),
    Check(
        "mart_registration_roster_split",
        "mart_registration__progress",
        MARTS_SUITE,
        "error",
        "registration_progress",
        _pair_eq("roster", "excluded_and_eligible"),
        "名单人数 = 应登记人数 + 不计入人数",
        "Roster = eligible + excluded, per class",
    ),
    Check(
        "mart_registered_within_eligible",
        "mart_registration__progress",
        MARTS_SUITE,
        "error",
        "registration_progress",
        _pair_ge("eligible", "registered"),
        "已登记人数不超过应登记人数",
        "No class has more registered than eligible students",
    ),
    Check(
        "mart_registration_colleges_reconcile",
        "mart_registration__progress",
        MARTS_SUITE,
        "error",
        "registration_colleges",
        _pair_eq("class_registered", "registered"),
        "各班已登记人数之和等于学院名单中的已登记人数",
        "The classes' registered counts add up to their college's",
    ),
    Check(
        "mart_registration_college_rosters_reconcile",
        "mart_registration__progress",
        MARTS_SUITE,
        "error",
        "registration_colleges",
        _pair_eq("class_roster", "roster"),
        "各班名单人数之和等于学院名单人数",
        "The classes' rosters add up to their college's",
    ),
    Check(
        "mart_roster_matches_directory",
        "fct_campaign_rosters",
        MARTS_SUITE,
        "error",
        "roster_directory",
        _pair_eq("roster", "directory_students"),
        "登记名单人数与截止日业务系统在册人数一致",
        "Each campaign's roster equals the directory's students on its roster day",
    ),
    Check(
        "mart_turnaround_counts_add_up",
        "mart_turnaround__services",
        MARTS_SUITE,
        "error",
        "turnaround_services",
        _pair_eq("submitted", "terminal_and_open"),
        "提交数 = 办结数 + 在办数",
        "Submitted = finished + open, per service and period",
    ),
    Check(
        "mart_completion_rate_in_range",
        "mart_turnaround__services",
        MARTS_SUITE,
        "error",
        "turnaround_services",
        _between("completion_rate", 0, 1),
        "办结率在 0 到 1 之间",
        "Every completion rate lies in [0, 1]",
    ),
    Check(
        "mart_finished_within_terminal",
        "mart_turnaround__services",
        MARTS_SUITE,
        "error",
        "turnaround_services",
        _pair_ge("terminal", "finished"),
        "计入时长的样本数不超过办结数",
        "The turnaround sample is within the finished instances",
    ),
    Check(
        "mart_turnaround_median_within_p90",
        "mart_turnaround__services",
        MARTS_SUITE,
        "error",
        "turnaround_services",
        _pair_ge("turnaround_p90_s", "turnaround_median_s"),
        "中位办理时长不超过 P90",
        "The median turnaround is not above the p90",
    ),
)

CHECKS_BY_NAME: Final = {check.name: check for check in CHECKS}


def checks_for(assets: set[str]) -> tuple[Check, ...]:
    return tuple(check for check in CHECKS if check.asset in assets)


@cache
def _frame_sql(name: str) -> str:
    path = FRAMES_DIR / f"{name}.sql"
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LookupError(f"data-quality frame {name!r} has no SQL file {path.name}") from None
