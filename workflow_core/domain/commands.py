"""Commands: what a person asks the engine to do, in the imperative (提交, 同意, 退回, …)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Submit:
    instance_id: str
    process_key: str
    form: dict[str, Any]
    campaign_id: str | None = None
    supersedes: str | None = None


@dataclass(frozen=True)
class ViewTask:
    task_id: str


@dataclass(frozen=True)
class Approve:
    task_id: str
    comment: str = ""


@dataclass(frozen=True)
class Reject:
    task_id: str
    reason: str


@dataclass(frozen=True)
class ReturnToApplicant:
    task_id: str
    reason: str


@dataclass(frozen=True)
class Reassign:
    task_id: str
    to: str
    delegate: bool = False
    reason: str = ""


@dataclass(frozen=True)
class Remind:
    task_id: str
    message: str = ""


@dataclass(frozen=True)
class Comment:
    text: str
    task_id: str | None = None


@dataclass(frozen=True)
class Resubmit:
    form: dict[str, Any]


@dataclass(frozen=True)
class Withdraw:
    reason: str = ""


InstanceCommand = (
    Submit
    | ViewTask
    | Approve
    | Reject
    | ReturnToApplicant
    | Reassign
    | Remind
    | Comment
    | Resubmit
    | Withdraw
)


@dataclass(frozen=True)
class OpenCampaign:
    campaign_id: str
    process_key: str
    title: str
    holiday: str
    opens_at: datetime
    deadline: datetime
    audience: tuple[str, ...]


@dataclass(frozen=True)
class RemindStudents:
    student_ids: tuple[str, ...]
    message: str = ""


CampaignCommand = OpenCampaign | RemindStudents
