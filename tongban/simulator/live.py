"""Live traffic through the workflow HTTP API: `tongban simulate --live` (实时演示).

Whereabouts campaigns (假期去向登记) run one after another with their deadline compressed into
minutes: student affairs opens one, students register slowly at first and in a surge as the
deadline nears, some change their registration later, some register late after the deadline;
class monitors and counsellors remind (催办) the students of their classes who have not
registered, and reminded students register sooner. Meanwhile the ordinary services are
submitted by eligible applicants and approvers read their inbox (待办) and decide, so
instances move. When a campaign's window (deadline plus a late tail) ends, the next one opens.

Three parts: `LivePlanner` decides what to send next (pure: a seeded rng, the roster, the
clock it is given, and the answers it is told about); `HallClient` sends one request over a
kept-alive connection and turns failures into clear errors; `run_live` paces the planner's
actions at the requested rate against the wall clock and stops cleanly on Ctrl-C or SIGTERM.

Requests go one at a time, so the rate is at most what one connection gets answered (a few
hundred a second against a local `tongban api`); and a campaign plans only as many
registrations as the rate can carry through its surge, so a large university at a low rate
sees a fraction of its students register.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import json
import math
import random
import signal
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from types import FrameType
from typing import Any, Final
from urllib.parse import urlsplit

from rich.console import Console

from tongban.settings import Settings
from tongban.simulator.calendar import CAMPUS_TZ
from tongban.simulator.volumes import yearly_totals
from tongban.wiring import catalog_for
from workflow_core.catalog.examples import example_form
from workflow_core.catalog.forms import validate_form
from workflow_core.catalog.loader import Catalog
from workflow_core.catalog.model import Audience, ProcessDefinition
from workflow_core.directory.memory_directory import MemoryDirectory
from workflow_core.directory.port import Role, ScopeType, StudentStatus
from workflow_core.directory.schema import UNIVERSITY_SCOPE_ID
from workflow_core.errors import FormValidationError, WorkflowError
from workflow_core.store.db import make_engine

DEFAULT_API_URL: Final = "http://127.0.0.1:8000"  # where `tongban api` listens by default
DEFAULT_RATE: Final = 5.0
DEFAULT_CAMPAIGN_MINUTES: Final = 30.0
WHEREABOUTS: Final = "holiday_whereabouts"
CAMPAIGN_HOLIDAY: Final = "实时演示"

# The registration curve: the share of the planned registrations made by phase p of the window
# (0 at opening, 1 at the deadline) is EARLY·p + (1−EARLY)·p³ — a trickle when the notice goes
# out, then the deadline surge. Its steepest slope, at the deadline, is PEAK_SLOPE.
EARLY_SHARE: Final = 0.15
PEAK_SLOPE: Final = EARLY_SHARE + 3 * (1 - EARLY_SHARE)
REGISTERED_BY_DEADLINE: Final = 0.9  # of the roster, when the rate allows that many
# Registrations may take at most this share of the commands at the peak, so approvals and
# ordinary requests keep flowing during the surge; at low rates fewer students take part.
REGISTRATION_BUDGET: Final = 0.7
REGISTRATION_PRIORITY: Final = 0.85  # when registrations are due, other commands still get 15 %
LATE_TAIL: Final = 0.2  # after the deadline, stragglers register for a fifth of the campaign
LATE_SHARE: Final = 0.5  # … and half of those missing at the deadline do
CHANGE_SHARE: Final = 0.08  # registered students who change their registration later
REMIND_FROM: Final = 0.3  # monitors and counsellors start reminding a third into the window
REMIND_CHANCE: Final = 0.05  # per command, while some class has students missing
REMIND_GAP: Final = 0.2  # a class is reminded again at the earliest a fifth of the window later
# A reminded student is this much likelier to be the next to register: reminders change who
# registers first (the reminded classes fill up sooner), not the campaign's surge.
REMINDED_WEIGHT: Final = 4.0
REMIND_MESSAGES: Final = (
    "请尽快完成假期去向登记",
    "还没登记的同学抓紧时间",
    "截止前务必登记，谢谢",
)
REMIND_BATCH: Final = 100  # student ids per reminder; a class is far smaller

# Forms that say who the applicant is must agree with the applicant (the catalog routes on them).
CATEGORY_FIELDS: Final = ("person_category", "applicant_category")
CATEGORY_OF_KIND: Final = {
    Audience.UNDERGRADUATE: "本科生",
    Audience.GRADUATE: "研究生",
    Audience.STAFF: "教职工",
}
APPROVE_COMMENTS: Final = ("同意", "已审核，同意", "")
RETURN_REASONS: Final = ("材料不全，请补充", "信息有误，请核对后重新提交")
REJECT_REASONS: Final = ("不符合办理条件", "重复申请")

INBOX_LIMIT: Final = 20
DECISIONS_PER_READ: Final = 5  # an approver clears a few tasks after opening the inbox
OUTCOMES: Final = (("approve", 0.88), ("return", 0.08), ("reject", 0.04))
WEIGHT_DECIDE: Final = 5.0  # most nodes of a request are approvals, so deciding dominates
WEIGHT_INBOX: Final = 1.0
WEIGHT_RESUBMIT: Final = 0.7
WEIGHT_SUBMIT: Final = 1.0
APPLICANT_TRIES: Final = 4
OPEN_FAILURES_ALLOWED: Final = 3  # refused openings in a row before campaigns are given up
OPEN_RETRY_SECONDS: Final = 5.0

RETRY_DELAYS: Final = (0.25, 0.5, 1.0, 2.0, 4.0)  # on 503 and on a dropped connection
STATUS_EVERY: Final = 0.5  # seconds between redraws of the live status line
MAX_LAG: Final = 1.0  # after a slow answer, catch up at most this many seconds of commands


class Kind(StrEnum):
    """What a live command does; the summary counts commands by kind."""

    OPEN_CAMPAIGN = "open_campaign"
    REGISTER = "register"
    CHANGE = "change"
    LATE_REGISTER = "late_register"
    REMIND = "remind"
    SUBMIT = "submit"
    INBOX = "inbox"
    APPROVE = "approve"
    RETURN = "return"
    REJECT = "reject"
    RESUBMIT = "resubmit"


REGISTRATIONS: Final = frozenset({Kind.REGISTER, Kind.CHANGE, Kind.LATE_REGISTER})


@dataclass(frozen=True)
class Action:
    """One HTTP request as someone of the university: `body` None for a GET."""

    kind: Kind
    actor: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    subject: str = ""  # the student, task or class the command is about


# --- the roster ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Student:
    student_id: str
    kind: str  # undergraduate | graduate
    class_id: str


@dataclass(frozen=True)
class Roster:
    """The people live traffic acts as, read from the business systems as of one moment."""

    students: tuple[Student, ...]  # enrolled (在读) students with their class
    monitors: Mapping[str, str]  # class → its monitor (班长)
    counsellors: Mapping[str, str]  # class → its counsellor (辅导员)
    organisers: tuple[str, ...]  # student affairs (学工部) staff, who open campaigns
    applicants: Mapping[str, tuple[str, ...]]  # audience → people who may apply


def load_roster(directory: MemoryDirectory, at: datetime) -> Roster:
    """Enrolled students, monitors, counsellors, organisers and applicants as of `at`."""
    enrolled: list[Student] = []
    monitors: dict[str, str] = {}
    counsellors: dict[str, str] = {}
    for class_id in directory.classes():
        for student_id in directory.students_of_class(class_id, at):
            person = directory.person(student_id, at)
            if person is not None and person.status is StudentStatus.ENROLLED:
                enrolled.append(Student(student_id, person.kind.value, class_id))
        if monitor := directory.monitors_of_class(class_id, at):
            monitors[class_id] = monitor[0]
        if counsellor := directory.counsellors_of_class(class_id, at):
            counsellors[class_id] = counsellor[0]
    enrolled.sort(key=lambda s: s.student_id)
    university = (ScopeType.UNIVERSITY, UNIVERSITY_SCOPE_ID)
    applicants: dict[str, list[str]] = {
        kind.value: list(directory.people_of_kind(kind))
        for kind in (Audience.STAFF, Audience.ALUMNI, Audience.VISITOR)
    }
    for student in enrolled:
        applicants.setdefault(student.kind, []).append(student.student_id)
    return Roster(
        students=tuple(enrolled),
        monitors=monitors,
        counsellors=counsellors,
        organisers=directory.holders(Role.STUDENT_AFFAIRS, *university, at),
        applicants={kind: tuple(people) for kind, people in applicants.items()},
    )


# --- the planner (pure) ----------------------------------------------------------------------


def surge_curve(phase: float) -> float:
    """The share of a campaign's planned registrations made by `phase` (0…1 of the window)."""
    p = min(max(phase, 0.0), 1.0)
    return EARLY_SHARE * p + (1 - EARLY_SHARE) * p**3


def planned_registrations(students: int, rate: float, campaign_seconds: float) -> int:
    """How many students register by the deadline: most of them, unless the rate cannot carry
    the surge — then as many as keep registrations within their budget at the peak."""
    affordable = REGISTRATION_BUDGET * rate * campaign_seconds / PEAK_SLOPE
    return int(min(REGISTERED_BY_DEADLINE * students, affordable))


class _Pool:
    """A set with O(1) add, remove and uniform random choice."""

    def __init__(self, items: Sequence[str] = ()) -> None:
        self._items: list[str] = list(items)
        self._index = {item: i for i, item in enumerate(self._items)}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: object) -> bool:
        return item in self._index

    def add(self, item: str) -> None:
        if item not in self._index:
            self._index[item] = len(self._items)
            self._items.append(item)

    def remove(self, item: str) -> None:
        position = self._index.pop(item, None)
        if position is None:
            return
        last = self._items.pop()
        if position < len(self._items):
            self._items[position] = last
            self._index[last] = position

    def choice(self, rng: random.Random) -> str:
        return self._items[rng.randrange(len(self._items))]


@dataclass
class _Campaign:
    """One compressed campaign, in the planner's seconds."""

    campaign_id: str
    opens: float
    deadline: float
    ends: float
    planned: int
    opened: bool = False
    retry_at: float = 0.0  # when a refused opening is tried again
    first: int = 0  # registrations by the deadline
    late: int = 0
    missing_at_deadline: int | None = None
    registered: set[str] = field(default_factory=set)
    reminded: _Pool = field(default_factory=_Pool)
    unreminded: _Pool = field(default_factory=_Pool)
    missing_by_class: dict[str, set[str]] = field(default_factory=dict)
    reminded_at: dict[str, float] = field(default_factory=dict)
    changes: list[tuple[float, int, str]] = field(default_factory=list)  # heap

    def phase(self, now: float) -> float:
        return (now - self.opens) / (self.deadline - self.opens)


class LivePlanner:
    """Decides the next command from the seconds since start; told each answer, it learns
    which tasks are open, who must decide them and which requests came back."""

    def __init__(
        self,
        roster: Roster,
        catalog: Catalog,
        *,
        rate: float,
        campaign_seconds: float,
        started_at: datetime,
        rng: random.Random,
        label: str = "live",
    ) -> None:
        if rate <= 0 or campaign_seconds <= 0:
            raise ValueError("rate and campaign length must be positive")
        self.roster = roster
        self.catalog = catalog
        self.rate = rate
        self.campaign_seconds = campaign_seconds
        self.started_at = started_at
        self.rng = rng
        self.label = label
        self.whereabouts: ProcessDefinition | None = next(
            (d for d in catalog if d.key == WHEREABOUTS), None
        )
        self.class_of = {s.student_id: s.class_id for s in roster.students}
        self.kind_of = {
            person: kind for kind, people in roster.applicants.items() for person in people
        }
        # sqrt flattens the yearly volumes so the rarer services show up in minutes of traffic.
        volumes = yearly_totals()
        self.services: list[tuple[ProcessDefinition, float]] = [
            (d, math.sqrt(volumes.get(d.key, 100.0)))
            for d in catalog
            if not d.campaign_based and d.audience
        ]
        self.campaign: _Campaign | None = None
        self.campaign_number = 0
        self.open_failures = 0
        self.campaigns_enabled = self.whereabouts is not None and bool(roster.organisers)
        self.open_tasks: dict[str, tuple[str, ...]] = {}  # task → assignees
        self.decisions: deque[tuple[str, str]] = deque()  # (approver, task) read in an inbox
        self.queued: set[str] = set()
        self.returned: dict[str, tuple[str, str]] = {}  # instance → (applicant, process)
        self._sequence = itertools.count()

    # --- pacing ------------------------------------------------------------------------------

    def next_gap(self) -> float:
        """Seconds until the next command: a Poisson stream at the rate."""
        return self.rng.expovariate(self.rate)

    # --- deciding ----------------------------------------------------------------------------

    def plan(self, now: float) -> Action | None:
        """The next command at `now` seconds since start; None when nobody can act."""
        campaign = self.campaign
        if self.campaigns_enabled and (
            campaign is None
            or now >= campaign.ends
            or (not campaign.opened and now >= campaign.retry_at)
        ):
            return self._open_campaign(now)
        if campaign is not None and campaign.opened:
            action = self._campaign_action(now, campaign)
            if action is not None:
                return action
        return self._ordinary_action()

    def _open_campaign(self, now: float) -> Action:
        assert self.whereabouts is not None
        if self.campaign is None or self.campaign.opened or now >= self.campaign.ends:
            self.campaign_number += 1
            students = [
                s for s in self.roster.students if s.kind in self._audience(self.whereabouts)
            ]
            deadline = now + self.campaign_seconds
            self.campaign = _Campaign(
                campaign_id=f"{self.label}-{self.campaign_number}",
                opens=now,
                deadline=deadline,
                ends=deadline + LATE_TAIL * self.campaign_seconds,
                planned=planned_registrations(len(students), self.rate, self.campaign_seconds),
                unreminded=_Pool([s.student_id for s in students]),
            )
            for student in students:
                self.campaign.missing_by_class.setdefault(student.class_id, set()).add(
                    student.student_id
                )
        campaign = self.campaign
        number = self.campaign_number
        return Action(
            Kind.OPEN_CAMPAIGN,
            self.rng.choice(self.roster.organisers),
            "POST",
            "/api/v1/campaigns",
            {
                "campaign_id": campaign.campaign_id,
                "process_key": WHEREABOUTS,
                "title": f"{CAMPAIGN_HOLIDAY}去向登记（第{number}轮）",
                "holiday": CAMPAIGN_HOLIDAY,
                # A second's grace: the server's clock may be a hair behind ours.
                "opens_at": self._wall(campaign.opens - 1).isoformat(),
                "deadline": self._wall(campaign.deadline).isoformat(),
                "audience": sorted(self._audience(self.whereabouts)),
            },
            campaign.campaign_id,
        )

    def _campaign_action(self, now: float, campaign: _Campaign) -> Action | None:
        if campaign.changes and campaign.changes[0][0] <= now:
            _at, _seq, changing = heapq.heappop(campaign.changes)
            return self._registration(Kind.CHANGE, changing, now)
        if now < campaign.deadline:
            target = campaign.planned * surge_curve(campaign.phase(now))
            due = min(target, REGISTERED_BY_DEADLINE * self._roster_size(campaign))
            if due - campaign.first >= 1 and self.rng.random() < REGISTRATION_PRIORITY:
                registrant = self._next_registrant(campaign)
                if registrant is not None:
                    return self._registration(Kind.REGISTER, registrant, now)
            if campaign.phase(now) >= REMIND_FROM and self.rng.random() < REMIND_CHANCE:
                return self._reminder(now, campaign)
            return None
        if campaign.missing_at_deadline is None:
            campaign.missing_at_deadline = len(campaign.reminded) + len(campaign.unreminded)
        tail = (now - campaign.deadline) / (campaign.ends - campaign.deadline)
        due = LATE_SHARE * campaign.missing_at_deadline * tail
        if due - campaign.late >= 1 and self.rng.random() < REGISTRATION_PRIORITY:
            straggler = self._next_registrant(campaign)
            if straggler is not None:
                return self._registration(Kind.LATE_REGISTER, straggler, now)
        return None

    @staticmethod
    def _roster_size(campaign: _Campaign) -> int:
        return len(campaign.registered) + len(campaign.reminded) + len(campaign.unreminded)

    def _next_registrant(self, campaign: _Campaign) -> str | None:
        reminded = REMINDED_WEIGHT * len(campaign.reminded)
        total = reminded + len(campaign.unreminded)
        if total == 0:
            return None
        pool = campaign.reminded if self.rng.random() * total < reminded else campaign.unreminded
        return pool.choice(self.rng)

    def _registration(self, kind: Kind, student: str, now: float) -> Action:
        assert self.campaign is not None and self.whereabouts is not None
        form = example_form(self.whereabouts, self.rng, today=self._today(now))
        return Action(
            kind,
            student,
            "POST",
            "/api/v1/instances",
            {"process_key": WHEREABOUTS, "campaign_id": self.campaign.campaign_id, "form": form},
            student,
        )

    def _reminder(self, now: float, campaign: _Campaign) -> Action | None:
        """A monitor or counsellor reminds the missing students of a class (催办)."""
        lagging = [c for c, missing in campaign.missing_by_class.items() if missing]
        for class_id in self.rng.sample(lagging, min(len(lagging), 8)):
            last = campaign.reminded_at.get(class_id)
            if last is not None and now - last < REMIND_GAP * self.campaign_seconds:
                continue
            monitor = self.roster.monitors.get(class_id)
            counsellor = self.roster.counsellors.get(class_id)
            if monitor is None and counsellor is None:
                continue
            # Monitors chase their classmates more often than counsellors do.
            if monitor is not None and (counsellor is None or self.rng.random() < 0.6):
                actor = monitor
            else:
                assert counsellor is not None
                actor = counsellor
            missing = sorted(campaign.missing_by_class[class_id])[:REMIND_BATCH]
            campaign.reminded_at[class_id] = now
            return Action(
                Kind.REMIND,
                actor,
                "POST",
                f"/api/v1/campaigns/{campaign.campaign_id}/remind",
                {"student_ids": missing, "message": self.rng.choice(REMIND_MESSAGES)},
                class_id,
            )
        return None

    def _ordinary_action(self) -> Action | None:
        weighted: list[tuple[Callable[[], Action | None], float]] = [(self._submit, WEIGHT_SUBMIT)]
        if self.decisions:
            weighted.append((self._decide, WEIGHT_DECIDE))
        if self.open_tasks:
            weighted.append((self._inbox, WEIGHT_INBOX))
        if self.returned:
            weighted.append((self._resubmit, WEIGHT_RESUBMIT))
        choose = self.rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]
        return choose()

    def _submit(self) -> Action | None:
        if not self.services:
            return None
        definitions = [s[0] for s in self.services]
        weights = [s[1] for s in self.services]
        for _try in range(APPLICANT_TRIES):
            definition = self.rng.choices(definitions, weights)[0]
            kinds = [k for k in sorted(self._audience(definition)) if self.roster.applicants[k]]
            if not kinds:
                continue
            kind = self.rng.choice(kinds)
            applicant = self.rng.choice(self.roster.applicants[kind])
            form = self._form(definition, kind)
            if form is None:
                continue
            return Action(
                Kind.SUBMIT,
                applicant,
                "POST",
                "/api/v1/instances",
                {"process_key": definition.key, "form": form},
                definition.key,
            )
        return None

    def _form(self, definition: ProcessDefinition, kind: str) -> dict[str, Any] | None:
        form = example_form(definition, self.rng, today=self._today(None))
        category = CATEGORY_OF_KIND.get(Audience(kind))
        for name in CATEGORY_FIELDS:
            if name in form and category is not None:
                form[name] = category  # the catalog routes on who the applicant is
        try:
            return validate_form(definition, form)
        except FormValidationError:
            return None

    def _inbox(self) -> Action:
        task_id = self.rng.choice(list(self.open_tasks))
        approver = self.rng.choice(self.open_tasks[task_id])
        return Action(
            Kind.INBOX, approver, "GET", f"/api/v1/inbox?limit={INBOX_LIMIT}", None, task_id
        )

    def _decide(self) -> Action:
        approver, task_id = self.decisions.popleft()
        self.queued.discard(task_id)
        outcome = self.rng.choices([o[0] for o in OUTCOMES], [o[1] for o in OUTCOMES])[0]
        if outcome == "approve":
            body = {"comment": self.rng.choice(APPROVE_COMMENTS)}
        else:
            reasons = RETURN_REASONS if outcome == "return" else REJECT_REASONS
            body = {"reason": self.rng.choice(reasons)}
        return Action(
            Kind(outcome), approver, "POST", f"/api/v1/tasks/{task_id}/{outcome}", body, task_id
        )

    def _resubmit(self) -> Action | None:
        instance_id = self.rng.choice(list(self.returned))
        applicant, process_key = self.returned.pop(instance_id)
        definition = next((d for d, _ in self.services if d.key == process_key), None)
        kind = self.kind_of.get(applicant)
        form = self._form(definition, kind) if definition and kind else None
        if form is None:
            return None
        return Action(
            Kind.RESUBMIT,
            applicant,
            "POST",
            f"/api/v1/instances/{instance_id}/resubmit",
            {"form": form},
            instance_id,
        )

    # --- learning from answers ---------------------------------------------------------------

    def answered(self, action: Action, now: float, body: Mapping[str, Any]) -> None:
        """The server accepted `action` at `now` and answered `body`."""
        campaign = self.campaign
        if action.kind is Kind.OPEN_CAMPAIGN and campaign is not None:
            campaign.opened = True
            self.open_failures = 0
        elif action.kind in REGISTRATIONS and campaign is not None:
            self._registered(action, now, campaign)
        elif action.kind is Kind.REMIND and campaign is not None:
            for student in (action.body or {}).get("student_ids", []):
                if student in campaign.unreminded:
                    campaign.unreminded.remove(student)
                    campaign.reminded.add(student)
        elif action.kind is Kind.INBOX:
            self._read_inbox(action, body)
        else:
            self._absorb(body.get("instance"))

    def refused(self, action: Action, now: float, status: int) -> None:
        """The server refused `action` (a 4xx) or it failed: forget what it was about."""
        campaign = self.campaign
        if action.kind is Kind.OPEN_CAMPAIGN and campaign is not None:
            self.open_failures += 1
            if self.open_failures >= OPEN_FAILURES_ALLOWED:
                self.campaigns_enabled = False  # e.g. nobody may open campaigns any more
            elif status == 409:  # the id is taken (another run this second): the next number
                self.campaign_number += 1
                campaign.campaign_id = f"{self.label}-{self.campaign_number}"
                campaign.retry_at = now
            else:
                campaign.retry_at = now + OPEN_RETRY_SECONDS
        elif action.kind in (Kind.REGISTER, Kind.LATE_REGISTER) and campaign is not None:
            self._drop_registrant(campaign, action.subject)  # gave up on this campaign
        elif action.kind in (Kind.APPROVE, Kind.RETURN, Kind.REJECT, Kind.INBOX):
            self.open_tasks.pop(action.subject, None)  # decided by someone else, or gone

    def _registered(self, action: Action, now: float, campaign: _Campaign) -> None:
        student = action.subject
        if action.kind is Kind.CHANGE:
            return
        if action.kind is Kind.LATE_REGISTER:
            campaign.late += 1
        else:
            campaign.first += 1
        self._drop_registrant(campaign, student)
        campaign.registered.add(student)
        if self.rng.random() < CHANGE_SHARE:
            at = now + self.rng.uniform(0.05, 0.5) * self.campaign_seconds
            if at < campaign.ends:
                heapq.heappush(campaign.changes, (at, next(self._sequence), student))

    def _drop_registrant(self, campaign: _Campaign, student: str) -> None:
        campaign.reminded.remove(student)
        campaign.unreminded.remove(student)
        class_id = self.class_of.get(student)
        if class_id is not None:
            campaign.missing_by_class.get(class_id, set()).discard(student)

    def _read_inbox(self, action: Action, body: Mapping[str, Any]) -> None:
        tasks = body.get("tasks") or []
        seen = set()
        for task in tasks:
            task_id = str(task["task_id"])
            seen.add(task_id)
            self.open_tasks[task_id] = tuple(task.get("assignees") or (action.actor,))
            if task_id not in self.queued and len(seen) <= DECISIONS_PER_READ:
                self.queued.add(task_id)
                self.decisions.append((action.actor, task_id))
        if action.subject not in seen and len(tasks) < INBOX_LIMIT:
            self.open_tasks.pop(action.subject, None)  # no longer theirs: decided or cancelled

    def _absorb(self, instance: object) -> None:
        """Learn an instance's open tasks and whether it came back to its applicant."""
        if not isinstance(instance, Mapping):
            return
        for task in instance.get("tasks") or []:
            if task.get("status") == "open":
                self.open_tasks[str(task["task_id"])] = tuple(task.get("assignees") or ())
            else:
                self.open_tasks.pop(str(task["task_id"]), None)
        if instance.get("status") == "returned":
            self.returned[str(instance["instance_id"])] = (
                str(instance["applicant_id"]),
                str(instance["process_key"]),
            )

    # --- helpers -----------------------------------------------------------------------------

    def _wall(self, seconds: float) -> datetime:
        return self.started_at + timedelta(seconds=seconds)

    def _today(self, now: float | None) -> date:
        return self._wall(now or 0.0).astimezone(CAMPUS_TZ).date()

    @staticmethod
    def _audience(definition: ProcessDefinition) -> set[str]:
        return {a.value for a in definition.audience}


# --- the HTTP client -------------------------------------------------------------------------


class ApiUnreachableError(WorkflowError):
    """The API does not accept connections or keeps failing: the run cannot go on."""

    code = "api_unreachable"


class ApiRefusedError(Exception):
    """The API answered with an error status; `code` and `message` come from its error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class HallClient:
    """JSON over one kept-alive HTTP connection, as the user in `X-Remote-User`.

    A dropped connection is reopened and the request sent again — safe for writes because each
    carries an idempotency key — and a 503 (the event store is busy or down) is retried with
    backoff. `wait(seconds)` sleeps between retries and returns True to give up (Ctrl-C).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        wait: Callable[[float], bool] | None = None,
        delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise WorkflowError(f"--api-url must be an http(s) URL, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.prefix = parts.path.rstrip("/")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self.timeout = timeout
        self.delays = tuple(delays)
        self.wait = wait or _sleep
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(
        self,
        method: str,
        path: str,
        user: str | None,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        *,
        retry: bool = True,
    ) -> dict[str, Any]:
        """The JSON answer; raises `ApiRefusedError` on an error status, `ApiUnreachableError`
        when the server cannot be reached (after the retries, unless `retry` is False)."""
        payload = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Accept": "application/json"}
        if user is not None:
            headers["X-Remote-User"] = user
        if payload is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        delays = iter(self.delays if retry else ())
        while True:
            try:
                status, raw = self._send(method, self.prefix + path, payload, headers)
            except OSError as exc:
                self.close()
                delay = next(delays, None)
                if delay is None or self.wait(delay):
                    raise self._unreachable(exc) from None
                continue
            if status == 503:
                delay = next(delays, None)
                if delay is not None and not self.wait(delay):
                    continue
            return self._answer(status, raw)

    def _send(
        self, method: str, path: str, payload: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        for attempt in range(2):
            fresh = self._conn is None
            if self._conn is None:
                connection = (
                    http.client.HTTPSConnection
                    if self._scheme == "https"
                    else http.client.HTTPConnection
                )
                self._conn = connection(self._host, self._port, timeout=self.timeout)
            try:
                self._conn.request(method, path, body=payload, headers=headers)
                response = self._conn.getresponse()
                raw = response.read()
            except (http.client.HTTPException, ConnectionError) as exc:
                # A kept-alive connection the server closed while idle: once more, afresh.
                self.close()
                if fresh or attempt:
                    raise ConnectionError(str(exc) or type(exc).__name__) from exc
                continue
            if response.will_close:
                self.close()
            return response.status, raw
        raise AssertionError("unreachable")  # pragma: no cover

    def _answer(self, status: int, raw: bytes) -> dict[str, Any]:
        try:
            value = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise ApiRefusedError(status, "not_json", f"the API at {self.base_url} sent no JSON")
        if status >= 400:
            found = value.get("error")
            error: dict[str, Any] = found if isinstance(found, dict) else {}
            raise ApiRefusedError(
                status, str(error.get("code", "error")), str(error.get("message", ""))
            )
        return value

    def _unreachable(self, exc: OSError) -> ApiUnreachableError:
        if isinstance(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
            return ApiUnreachableError(
                f"the API at {self.base_url} is not reachable: start it with `tongban api`"
            )
        reason = str(exc) or type(exc).__name__
        return ApiUnreachableError(f"the API at {self.base_url} does not answer: {reason}")


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


# --- the run ---------------------------------------------------------------------------------


@dataclass
class LiveStats:
    """What a live run sent: commands per kind, the refused (4xx) and failed among them."""

    sent: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    campaigns: int = 0
    seconds: float = 0.0
    abandoned: bool = False
    failure: ApiUnreachableError | None = None  # what ended the run, if not a signal

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    @property
    def per_second(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0

    def counts(self) -> str:
        return ", ".join(f"{kind} {self.sent[kind]:,}" for kind in Kind if self.sent[kind])

    def summary(self) -> str:
        refused = sum(self.refused.values())
        errors = sum(self.errors.values())
        detail = ", ".join(f"{k} {n}" for k, n in sorted(self.refused.items()))
        return (
            f"live traffic stopped after {self.seconds:.1f} s: {self.total:,} commands "
            f"({self.per_second:.1f}/s) in {self.campaigns} campaigns — {self.counts() or 'none'}; "
            f"{refused:,} refused by the hall's rules{f' ({detail})' if detail else ''}, "
            f"{errors:,} errors" + ("; the last request was abandoned" if self.abandoned else "")
        )


class StopSignal:
    """Whether the run should stop: set by the first SIGINT or SIGTERM.

    The handler only sets a flag — taking a lock in a signal handler (`threading.Event.set`)
    can deadlock the thread it interrupted — and waits sleep in short slices that look at it.
    A second signal abandons the request in flight, unless it comes within `REPEAT_GRACE` of
    the first: one Ctrl-C reaches the process twice under `uv run` (the terminal signals the
    whole group and uv forwards it too).
    """

    REPEAT_GRACE: Final = 1.0
    SLICE: Final = 0.1

    def __init__(self) -> None:
        self.requested = False
        self.in_flight = False  # a request is on the wire: a second signal may abandon it
        self._first: float | None = None

    def is_set(self) -> bool:
        return self.requested

    def request(self) -> None:
        self.requested = True

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True as soon as a stop is requested."""
        end = time.monotonic() + seconds
        while not self.requested:
            left = end - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, self.SLICE))
        return True

    def handle(self, signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if self._first is None:
            self._first = now
            self.requested = True
        elif now - self._first >= self.REPEAT_GRACE and self.in_flight:
            raise KeyboardInterrupt


def run_live(
    client: HallClient,
    planner: LivePlanner,
    stop: StopSignal,
    *,
    key_prefix: str,
    on_status: Callable[[LiveStats], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> LiveStats:
    """Send the planner's commands at its rate until `stop` is set; the counts of the run."""
    stats = LiveStats()
    started = clock()
    keys = itertools.count(1)
    next_at = started
    shown = started
    try:
        while not stop.is_set():
            pause = next_at - clock()
            if pause > 0 and stop.wait(pause):
                break
            now = clock() - started
            action = planner.plan(now)
            next_at = max(next_at + planner.next_gap(), clock() - MAX_LAG)
            if action is None:
                continue
            stats.sent[action.kind.value] += 1
            key = None if action.body is None else f"{key_prefix}-{next(keys)}"
            stop.in_flight = True
            try:
                body = client.request(action.method, action.path, action.actor, action.body, key)
            except ApiRefusedError as exc:
                counter = stats.refused if exc.status < 500 else stats.errors
                counter[f"{action.kind.value}:{exc.status}"] += 1
                planner.refused(action, clock() - started, exc.status)
            else:
                if action.kind is Kind.OPEN_CAMPAIGN:
                    stats.campaigns += 1
                planner.answered(action, clock() - started, body)
            finally:
                stop.in_flight = False
            if on_status is not None and clock() - shown >= STATUS_EVERY:
                shown = clock()
                stats.seconds = shown - started
                on_status(stats)
    except KeyboardInterrupt:  # a second Ctrl-C: give up on the request in flight
        stats.abandoned = True
    except ApiUnreachableError as exc:  # the server went away mid-run: report, then fail
        stats.errors["unreachable"] += 1
        stats.failure = exc
    finally:
        stats.seconds = clock() - started
        client.close()
    return stats


@contextmanager
def stop_on_signals(stop: StopSignal) -> Iterator[None]:
    """SIGINT and SIGTERM ask the run to stop after the request in flight."""
    previous = {sig: signal.signal(sig, stop.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def simulate_live(
    settings: Settings,
    console: Console,
    *,
    api_url: str,
    rate: float,
    campaign_minutes: float,
    seed: int,
    api_wait: float = 0.0,
) -> LiveStats:
    """`tongban simulate --live`: traffic against the API at `api_url` until Ctrl-C."""
    stop = StopSignal()
    client = HallClient(api_url, wait=stop.wait)
    # Unreachable: one line, at once — or after `api_wait` seconds for a server still starting.
    give_up = time.monotonic() + api_wait
    while True:
        try:
            client.request("GET", "/healthz", None, retry=False)
            break
        except ApiUnreachableError:
            if time.monotonic() >= give_up or stop.wait(0.5):
                raise
    started_at = datetime.now(UTC)
    business = make_engine(settings.business_db_url, write_lock_at_begin=False)
    try:
        roster = load_roster(MemoryDirectory.load(business), started_at)
    finally:
        business.dispose()
    if not roster.students:
        raise WorkflowError("the business systems hold no students: run `tongban init` first")
    planner = LivePlanner(
        roster,
        catalog_for(settings),
        rate=rate,
        campaign_seconds=campaign_minutes * 60,
        started_at=started_at,
        rng=random.Random(f"live:{seed}"),
        label=f"live-{started_at:%Y%m%d-%H%M%S}",
    )
    console.print(
        f"live traffic to {client.base_url} at {rate:g} commands/s: {len(roster.students):,} "
        f"students, campaigns of {campaign_minutes:g} min; Ctrl-C stops"
    )
    # The summary is printed while the handlers still hold, so a late Ctrl-C cannot cut it off.
    with stop_on_signals(stop):
        with console.status("starting …") as status:
            stats = run_live(
                client,
                planner,
                stop,
                key_prefix=f"live-{uuid.uuid4().hex[:12]}",
                on_status=lambda s: status.update(
                    f"{s.per_second:.1f}/s · {s.counts()} · refused {sum(s.refused.values())}"
                    f" · errors {sum(s.errors.values())}"
                ),
            )
        console.print(stats.summary())
    if stats.failure is not None:
        raise stats.failure
    return stats
