"""How approvers and applicants behave: each department's speed, office hours, the odd outlier.

Each department handles its tasks at a speed of its own: working hours to a decision are
lognormal (heavy-tailed) with a department median between half an hour and two working days,
so some nodes breach their SLA. Approvers act in office hours on working days; a small share
of decisions is rubber-stamped within seconds of the task's creation (only while the office is
open), and a small share happens after hours (evenings, also weekends and holidays) — those are
flagged, so the invariants can tell them from mistakes. A few requests are urgent (加急): the
applicant walks them from office to office and every node decides within minutes of office
time — the seed reports' shortest certificate (33 minutes over six nodes) and shortest activity
approval (an hour over fifteen). A decision is an approval, a return for
correction, a rejection or a reassignment; applicants resubmit returned requests after a delay,
sometimes withdraw, and remind (催办) when a task is overdue.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Final

from tongban.simulator.calendar import (
    CAMPUS_TZ,
    add_working_time,
    campus_date,
    is_working_time,
)


class Outcome(StrEnum):
    APPROVE = "approve"
    RETURN = "return"
    REJECT = "reject"
    REASSIGN = "reassign"


@dataclass(frozen=True)
class Behaviour:
    """The probabilities of the simulated people's choices."""

    return_share: float = 0.06
    reject_share: float = 0.025
    reassign_share: float = 0.02
    rubber_stamp_share: float = 0.03
    after_hours_share: float = 0.04
    view_first_share: float = 0.75  # an explicit view before the decision (else implicit)
    withdraw_share: float = 0.015  # of submissions, withdrawn while still running
    resubmit_share: float = 0.85  # of returned requests, corrected and resubmitted
    abandon_withdraw_share: float = 0.5  # of the others, withdrawn (else left returned)
    remind_share: float = 0.4  # of overdue tasks, reminded by the applicant
    max_decision_hours: float = 600.0  # working hours: a cap on the lognormal tail
    urgent_share: float = 0.01  # of submissions, walked through every office (加急)
    urgent_minutes: tuple[float, float] = (4.0, 12.0)  # office minutes a node takes then


DEFAULT_BEHAVIOUR: Final = Behaviour()


@dataclass(frozen=True)
class Speed:
    """A department's working hours to a decision: lognormal(mu, sigma)."""

    mu: float
    sigma: float

    @property
    def median_hours(self) -> float:
        return math.exp(self.mu)


def department_speed(department_id: str, seed: int) -> Speed:
    """A department's own speed, the same for a seed whatever else is simulated."""
    rng = random.Random(f"speed:{seed}:{department_id}")
    median = math.exp(rng.uniform(math.log(0.5), math.log(14.0)))
    return Speed(mu=math.log(median), sigma=rng.uniform(0.7, 1.5))


@dataclass(frozen=True)
class DecisionPlan:
    """When an approver will view and decide a task, and how."""

    decide_at: datetime
    outcome: Outcome
    view_at: datetime | None = None
    after_hours: bool = False
    rubber_stamp: bool = False
    urgent: bool = False


class ApproverModel:
    def __init__(self, seed: int, behaviour: Behaviour = DEFAULT_BEHAVIOUR) -> None:
        self.seed = seed
        self.behaviour = behaviour
        self._speeds: dict[str, Speed] = {}

    def speed(self, department_id: str) -> Speed:
        if department_id not in self._speeds:
            self._speeds[department_id] = department_speed(department_id, self.seed)
        return self._speeds[department_id]

    def plan(self, department_id: str, created_at: datetime, rng: random.Random) -> DecisionPlan:
        """How one assignee handles a task of `department_id` created at `created_at`."""
        b = self.behaviour
        outcome = self._outcome(rng)
        if is_working_time(created_at) and rng.random() < b.rubber_stamp_share:
            return DecisionPlan(
                decide_at=created_at + timedelta(seconds=rng.uniform(3, 90)),
                outcome=Outcome.APPROVE,
                rubber_stamp=True,
            )
        speed = self.speed(department_id)
        hours = min(rng.lognormvariate(speed.mu, speed.sigma), b.max_decision_hours)
        regular = add_working_time(created_at, timedelta(hours=hours))
        if rng.random() < b.after_hours_share:
            return DecisionPlan(
                decide_at=_evening_before(regular, created_at, rng),
                outcome=outcome,
                after_hours=True,
            )
        view_at = None
        if rng.random() < b.view_first_share:
            share = rng.uniform(0.05, 0.7)
            candidate = add_working_time(created_at, timedelta(hours=hours * share))
            if candidate < regular:
                view_at = candidate
        return DecisionPlan(decide_at=regular, outcome=outcome, view_at=view_at)

    def urgent(self, created_at: datetime, rng: random.Random) -> DecisionPlan:
        """An urgent request's node: approved within minutes of office time, viewed just before."""
        minutes = rng.uniform(*self.behaviour.urgent_minutes)
        decide_at = add_working_time(created_at, timedelta(minutes=minutes))
        view_at = max(created_at, decide_at - timedelta(seconds=rng.uniform(30, 150)))
        return DecisionPlan(decide_at, Outcome.APPROVE, view_at=view_at, urgent=True)

    def _outcome(self, rng: random.Random) -> Outcome:
        b = self.behaviour
        draw = rng.random()
        if draw < b.return_share:
            return Outcome.RETURN
        draw -= b.return_share
        if draw < b.reject_share:
            return Outcome.REJECT
        draw -= b.reject_share
        if draw < b.reassign_share:
            return Outcome.REASSIGN
        return Outcome.APPROVE


def _evening_before(regular: datetime, created_at: datetime, rng: random.Random) -> datetime:
    """An after-hours moment (19:00–23:30 campus time) after the task was created and no later
    than the evening of the day the work would regularly be done."""
    first, last = campus_date(created_at), campus_date(regular)
    span = (last - first).days
    day = first + timedelta(days=rng.randint(0, max(span, 0)))
    moment = datetime.combine(day, time(19), CAMPUS_TZ) + timedelta(
        seconds=rng.randrange(int(4.5 * 3600))
    )
    if moment <= created_at:
        moment = datetime.combine(first + timedelta(days=1), time(19), CAMPUS_TZ) + timedelta(
            seconds=rng.randrange(int(4.5 * 3600))
        )
    return moment


def applicant_delay(rng: random.Random, median_hours: float, sigma: float = 0.9) -> timedelta:
    """Wall-clock time an applicant takes to act (resubmit, withdraw, remind)."""
    return timedelta(hours=rng.lognormvariate(math.log(median_hours), sigma))


def awake(moment: datetime, rng: random.Random) -> datetime:
    """Move a moment in the small hours (00:00–07:00 campus time) to that morning."""
    local = moment.astimezone(CAMPUS_TZ)
    if local.hour < 7:
        return datetime.combine(local.date(), time(7), CAMPUS_TZ) + timedelta(
            seconds=rng.randrange(4 * 3600)
        )
    return moment
