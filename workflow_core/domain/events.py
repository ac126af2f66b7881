"""Events: what happened to an instance or a campaign, in the past tense (frozen, append-only).

Every event carries when it happened and who did it in which capacity. The columns the store
keeps beside the payload (`task_id`, `node_key`, `department_id`) are properties here, so the
serializer can split an event into envelope and payload without knowing each type.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar


class ActorRole:
    """The capacity in which an actor acted; stored in `events.actor_role`."""

    APPLICANT = "applicant"
    ASSIGNEE = "assignee"
    SYSTEM = "system"
    SUPERVISOR = "supervisor"  # an office that reminds (催办) without being an assignee
    ORGANISER = "organiser"  # whoever runs a whereabouts campaign
    RESOURCE = "resource"  # whoever did an activity in an imported, externally recorded log


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event. `TYPE` is the stored `event_type`."""

    TYPE: ClassVar[str] = ""
    occurred_at: datetime
    actor_id: str
    actor_role: str

    @property
    def task_id(self) -> str | None:
        return None

    @property
    def node_key(self) -> str | None:
        return None

    @property
    def department_id(self) -> str | None:
        return None


@dataclass(frozen=True, kw_only=True)
class TaskEvent(Event):
    """An event about one task (a node visit)."""

    task: str
    node: str
    department: str

    @property
    def task_id(self) -> str | None:
        return self.task

    @property
    def node_key(self) -> str | None:
        return self.node

    @property
    def department_id(self) -> str | None:
        return self.department


# --- instance events -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Submitted(Event):
    """An applicant submitted a form (提交). `supersedes`: their earlier registration, if any."""

    TYPE: ClassVar[str] = "submitted"
    process_key: str
    process_version: int
    applicant_id: str
    form: dict[str, Any]
    campaign_id: str | None = None
    supersedes: str | None = None


@dataclass(frozen=True, kw_only=True)
class TaskCreated(TaskEvent):
    """A node became due: a task was created for its assignees, with its SLA in working hours."""

    TYPE: ClassVar[str] = "task_created"
    assignees: tuple[str, ...]
    sla_hours: float
    step: int


@dataclass(frozen=True, kw_only=True)
class TaskViewed(TaskEvent):
    """An assignee opened the task; `implicit` when the decision came without a prior view."""

    TYPE: ClassVar[str] = "task_viewed"
    implicit: bool = False


@dataclass(frozen=True, kw_only=True)
class Approved(TaskEvent):
    """The assignee approved the node (同意)."""

    TYPE: ClassVar[str] = "approved"
    comment: str = ""


@dataclass(frozen=True, kw_only=True)
class Rejected(TaskEvent):
    """The assignee rejected the request (不同意); the instance ends as rejected."""

    TYPE: ClassVar[str] = "rejected"
    reason: str


@dataclass(frozen=True, kw_only=True)
class Returned(TaskEvent):
    """The assignee sent the request back to the applicant for correction (退回修改)."""

    TYPE: ClassVar[str] = "returned"
    reason: str


@dataclass(frozen=True, kw_only=True)
class Reassigned(TaskEvent):
    """The task moved to another person (转办), or gained a delegate (委托) beside its assignees."""

    TYPE: ClassVar[str] = "reassigned"
    to: str
    delegate: bool
    assignees: tuple[str, ...]
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class TaskCancelled(TaskEvent):
    """An open task stopped mattering: a sibling rejected or returned, or the applicant withdrew."""

    TYPE: ClassVar[str] = "task_cancelled"
    reason: str


@dataclass(frozen=True, kw_only=True)
class Reminded(TaskEvent):
    """Someone urged the assignees to act (催办)."""

    TYPE: ClassVar[str] = "reminded"
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class Commented(Event):
    """A participant added a comment to the instance."""

    TYPE: ClassVar[str] = "commented"
    text: str
    about_task: str | None = None

    @property
    def task_id(self) -> str | None:
        return self.about_task


@dataclass(frozen=True, kw_only=True)
class Resubmitted(Event):
    """The applicant corrected a returned request and sent it again (重新提交)."""

    TYPE: ClassVar[str] = "resubmitted"
    form: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Withdrawn(Event):
    """The applicant withdrew the request (撤回); terminal."""

    TYPE: ClassVar[str] = "withdrawn"
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class Completed(Event):
    """The instance reached its end (办结): approved at every node, or rejected at one."""

    TYPE: ClassVar[str] = "completed"
    outcome: str  # "approved" | "rejected"


# --- campaign events (假期去向登记 campaigns) -----------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CampaignOpened(Event):
    """A whereabouts campaign opened for a holiday, with its registration deadline."""

    TYPE: ClassVar[str] = "campaign_opened"
    campaign_id: str
    process_key: str
    title: str
    holiday: str
    opens_at: datetime
    deadline: datetime
    audience: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class CampaignReminded(Event):
    """A monitor, counsellor or office reminded students who had not registered yet (催办)."""

    TYPE: ClassVar[str] = "campaign_reminded"
    campaign_id: str
    student_ids: tuple[str, ...]
    message: str = ""


# --- imported events (real, externally recorded event logs: `tongban import-log`) -----------


@dataclass(frozen=True, kw_only=True)
class CaseImported(Event):
    """The first event of an imported case: where it came from and its case attributes.

    `occurred_at` is the time of the case's earliest activity; `import_key` is
    `"<process_key>:<sha256 of the file>"`, so the process key is the part before the colon.
    """

    TYPE: ClassVar[str] = "case_imported"
    case_id: str
    attributes: dict[str, Any]
    source: str
    source_sha256: str
    import_key: str

    @property
    def process_key(self) -> str:
        return self.import_key.partition(":")[0]


@dataclass(frozen=True, kw_only=True)
class Activity(Event):
    """One recorded event of an imported case: the resource (`actor_id`) did `activity`.

    `sequence` is the event's 0-based position within its case in the file (equal timestamps
    keep the file's order); `lifecycle` is XES `lifecycle:transition` when the log has it; the
    group (org:group) is the envelope's `department_id`.
    """

    TYPE: ClassVar[str] = "activity"
    activity: str
    sequence: int
    lifecycle: str | None = None
    attributes: dict[str, Any]
    group: str | None = None

    @property
    def department_id(self) -> str | None:
        return self.group


TERMINAL_EVENT_TYPES = frozenset({Completed.TYPE, Withdrawn.TYPE})

INSTANCE_EVENT_TYPES: dict[str, type[Event]] = {
    cls.TYPE: cls
    for cls in (
        Submitted,
        TaskCreated,
        TaskViewed,
        Approved,
        Rejected,
        Returned,
        Reassigned,
        TaskCancelled,
        Reminded,
        Commented,
        Resubmitted,
        Withdrawn,
        Completed,
    )
}

CAMPAIGN_EVENT_TYPES: dict[str, type[Event]] = {
    cls.TYPE: cls for cls in (CampaignOpened, CampaignReminded)
}

IMPORTED_EVENT_TYPES: dict[str, type[Event]] = {cls.TYPE: cls for cls in (CaseImported, Activity)}

EVENT_TYPES: dict[str, type[Event]] = {
    **INSTANCE_EVENT_TYPES,
    **CAMPAIGN_EVENT_TYPES,
    **IMPORTED_EVENT_TYPES,
}


@dataclass(frozen=True)
class StoredEvent:
    """An event as the store holds it: its position in the log and in its stream."""

    event_id: int
    stream_id: str
    stream_version: int
    recorded_at: datetime
    process_key: str | None
    process_version: int | None
    event: Event
