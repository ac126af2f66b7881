"""Whereabouts campaigns (假期去向登记) over a stretch of history: one lane of the simulator.

Before every holiday — 元旦, 寒假, 清明, 五一, 端午, 暑假, 中秋/国庆, taken from China's statutory
calendar and the university's term dates — student affairs opens a campaign for all students
with a deadline. Students register the way they do in a real hall: a burst on the first day, a
quiet middle, and a surge in the last day or two before the deadline; a few register late and
some change their registration as their plans change. The evening before the deadline and a few
hours before it, each class monitor reminds the classmates who have not registered yet (催办),
and after the deadline the counsellor reminds the rest; many reminded students then register
within hours. About 95 % of the roster registers in the end; students 休学 or 已离校 on the
deadline are not on the roster and do not register.

Everything goes through the batched writer (`decide_campaign` and `decide`): registrations are
`Submit`s with the campaign id and supersede the student's previous registration. The lane has
its own random stream and ids `sim<seed>-<campaign>-<n>`, so it runs beside the service lanes
in any order.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

import chinese_calendar
from sqlalchemy import Engine, select

from tongban.simulator.calendar import CAMPUS_TZ, campus_date
from tongban.simulator.history import LaneResult
from tongban.simulator.volumes import student_hour_weights
from tongban.university import names
from workflow_core.catalog.loader import Catalog
from workflow_core.catalog.provinces import PROVINCES, province
from workflow_core.directory.memory_directory import MemoryDirectory
from workflow_core.directory.port import Role, ScopeType, StudentStatus
from workflow_core.directory.schema import UNIVERSITY_SCOPE_ID, students
from workflow_core.domain.commands import OpenCampaign
from workflow_core.errors import WorkflowError
from workflow_core.store.batch import BatchWriter

PROCESS_KEY: Final = "holiday_whereabouts"
AUDIENCE: Final = ("undergraduate", "graduate")
# The winter vacation follows the autumn term (to 17 Jan) and the summer one the spring term
# (to 10 Jul); see `volumes.in_term`.
WINTER_VACATION: Final = ((1, 18), (2, 23))
SUMMER_VACATION: Final = ((7, 11), (8, 31))
# chinese_calendar's holiday names → (slug, label). The Spring Festival falls in the winter
# vacation, whose campaign covers it.
HOLIDAYS: Final[dict[str, tuple[str, str]]] = {
    "New Year's Day": ("new-year", "元旦"),
    "Tomb-sweeping Day": ("qingming", "清明"),
    "Labour Day": ("labour-day", "五一"),
    "Dragon Boat Festival": ("dragon-boat", "端午"),
    "National Day": ("national-day", "中秋/国庆"),
    "Mid-autumn Festival": ("national-day", "中秋/国庆"),
}
# 中秋 a few days before 国庆 is one trip home: one campaign.
MERGE_WITHIN: Final = timedelta(days=7)
REMINDER_MESSAGES: Final = (
    "请尚未登记的同学尽快完成假期去向登记",
    "提醒：今晚截止，请尽快登记",
    "请抓紧时间填写去向登记，谢谢配合",
)
COUNSELLOR_MESSAGES: Final = ("登记已截止，请未登记的同学立即补登", "请尽快补登假期去向")
STREETS: Final = ("人民路", "解放路", "建设路", "中山路", "文化路", "长江路", "和平街", "新华路")
TRANSPORT_WEIGHTS: Final = {"火车": 55, "飞机": 18, "汽车": 12, "自驾": 10, "其他": 5}


@dataclass(frozen=True)
class CampaignSpec:
    """One campaign: the holiday (first and last day off) and the registration window."""

    slug: str
    holiday: str
    title: str
    first_day_off: date
    last_day_off: date
    opens_at: datetime
    deadline: datetime

    @property
    def vacation(self) -> bool:
        return self.holiday in ("寒假", "暑假")


@dataclass(frozen=True)
class Behaviour:
    """How students register; the shares are of the roster on the deadline."""

    class_rate: float = 0.88  # mean share of a class registering on their own
    class_rate_spread: float = 0.03
    early_share: float = 0.2  # of registrants, in the first days after the campaign opens
    surge_shape: float = 4.0  # Beta(1, k) of the remaining time: larger → nearer the deadline
    late_share: float = 0.03  # of registrants, after the deadline
    change_share: float = 0.08  # of registrants, register again with changed plans
    reminder_response: float = 0.3  # of reminded students, register soon after
    reminder_response_hours: float = 1.5  # mean delay of a reminded student
    leave_share_vacation: float = 0.88
    leave_share_holiday: float = 0.45
    home_share: float = 0.85  # of leaving students, go to their home province


def campaign_calendar(first_day: date, last_day: date) -> list[CampaignSpec]:
    """The campaigns whose registration opens within [first_day, last_day], in opening order."""
    specs: list[CampaignSpec] = []
    for slug, label, start, end in _holidays(first_day - timedelta(days=7), last_day):
        specs.append(_spec(slug, label, start, end, vacation=False))
    for year in range(first_day.year - 1, last_day.year + 2):
        for slug, label, (begin, end) in (
            ("winter", "寒假", WINTER_VACATION),
            ("summer", "暑假", SUMMER_VACATION),
        ):
            start, stop = date(year, *begin), date(year, *end)
            specs.append(_spec(slug, label, start, stop, vacation=True))
    chosen = [s for s in specs if first_day <= campus_date(s.opens_at) <= last_day]
    return sorted(chosen, key=lambda s: (s.opens_at, s.slug))


def _spec(slug: str, label: str, start: date, end: date, *, vacation: bool) -> CampaignSpec:
    # Vacations are announced two weeks ahead with the deadline two days before they start;
    # a short holiday a week ahead, due at noon the day before.
    if vacation:
        opens = datetime.combine(start - timedelta(days=14), time(9), CAMPUS_TZ)
        deadline = datetime.combine(start - timedelta(days=2), time(18), CAMPUS_TZ)
        title = f"{start.year}年{label}去向登记"
    else:
        opens = datetime.combine(start - timedelta(days=7), time(9), CAMPUS_TZ)
        deadline = datetime.combine(start - timedelta(days=1), time(12), CAMPUS_TZ)
        title = f"{start.year}年{label}假期去向登记"
    return CampaignSpec(
        slug=f"{start.year}-{slug}",
        holiday=label,
        title=title,
        first_day_off=start,
        last_day_off=end,
        opens_at=opens.astimezone(UTC),
        deadline=deadline.astimezone(UTC),
    )


def _holidays(first_day: date, last_day: date) -> Iterator[tuple[str, str, date, date]]:
    """Statutory holidays starting in the span, as (slug, label, first day off, last day off);
    nothing for years the calendar package does not cover."""
    runs: list[list[Any]] = []  # [slug, label, start, end]
    day = first_day
    while day <= last_day + timedelta(days=14):
        try:
            off, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            day += timedelta(days=1)
            continue
        if off and name in HOLIDAYS:
            slug, label = HOLIDAYS[name]
            last = runs[-1] if runs else None
            if last is not None and last[0] == slug and day - last[3] <= MERGE_WITHIN:
                last[3] = day
            else:
                runs.append([slug, label, day, day])
        day += timedelta(days=1)
    for slug, label, start, end in runs:
        if first_day <= start <= last_day + timedelta(days=14):
            yield slug, label, start, end


# --- the university's rosters ---------------------------------------------------------------


class Rosters:
    """Who is on each class's roster, who reminds them, and where they call home."""

    def __init__(self, directory: MemoryDirectory, home: dict[str, str]) -> None:
        self.directory = directory
        self.home = home

    @classmethod
    def load(cls, directory: MemoryDirectory, business: Engine) -> Rosters:
        with business.connect() as conn:
            rows = conn.execute(select(students.c.student_id, students.c.home_province)).all()
        return cls(directory, {str(sid): str(home) for sid, home in rows})

    def roster(self, day: date) -> dict[str, list[str]]:
        """Class → its students 在读 on `day` (休学 and 已离校 are excluded from campaigns)."""
        at = datetime.combine(day, time(12), CAMPUS_TZ)
        classes: dict[str, list[str]] = {}
        for class_id in self.directory.classes():
            enrolled = [
                s
                for s in self.directory.students_of_class(class_id, at)
                if (person := self.directory.person(s, at)) is not None
                and person.status is StudentStatus.ENROLLED
            ]
            if enrolled:
                classes[class_id] = enrolled
        return classes

    def holder(self, role: Role, class_id: str, day: date) -> list[str]:
        at = datetime.combine(day, time(12), CAMPUS_TZ)
        return list(self.directory.holders(role, ScopeType.CLASS, class_id, at))

    def organiser(self, day: date) -> str | None:
        """A student-affairs officer in office on `day`, who opens the campaigns."""
        at = datetime.combine(day, time(12), CAMPUS_TZ)
        scope = (ScopeType.UNIVERSITY, UNIVERSITY_SCOPE_ID)
        officers = self.directory.holders(Role.STUDENT_AFFAIRS, *scope, at)
        return officers[0] if officers else None


# --- the lane -------------------------------------------------------------------------------

_Action = tuple[datetime, int, str, tuple[Any, ...]]


class CampaignLane:
    """Every campaign of the simulated span: open, registrations, changes, reminders."""

    name = "campaigns"

    def __init__(
        self,
        writer: BatchWriter,
        catalog: Catalog,
        rosters: Rosters,
        first_day: date,
        last_day: date,
        *,
        seed: int,
        behaviour: Behaviour | None = None,
    ) -> None:
        self.writer = writer
        catalog.get(PROCESS_KEY)  # NotFoundError now, not at the first registration
        self.rosters = rosters
        self.seed = seed
        self.behaviour = behaviour or Behaviour()
        self.specs = campaign_calendar(first_day, last_day)
        self.rng = random.Random(f"campaigns:{seed}")
        self.result = LaneResult()
        self._queue: list[_Action] = []
        self._sequence = itertools.count()
        self._ids: dict[str, Iterator[int]] = {}
        self._registered: dict[str, set[str]] = {}  # campaign → students registered so far
        self._roster: dict[str, dict[str, list[str]]] = {}  # campaign → class → students
        for spec in self.specs:
            self._at(spec.opens_at, "open", spec)

    def campaign_id(self, spec: CampaignSpec) -> str:
        return f"sim{self.seed}-{spec.slug}"

    def start(self) -> None:
        for spec in self.specs:
            self.writer.claim_prefix(f"{self.campaign_id(spec)}-")

    def run_day(self, day: date) -> None:
        # In UTC, as the queue's moments: comparing times of two zones asks each for its
        # offset, and the campus zone's answer costs a look-up every time.
        until = datetime.combine(day + timedelta(days=1), time(0), CAMPUS_TZ).astimezone(UTC)
        while self._queue and self._queue[0][0] < until:
            at, _seq, kind, args = heapq.heappop(self._queue)
            self._perform(kind, at, args)

    def finish(self) -> None:
        self._queue.clear()  # a campaign still open at the end keeps its missing students

    # --- planning ----------------------------------------------------------------------------

    def _at(self, moment: datetime, kind: str, *args: Any) -> None:
        heapq.heappush(self._queue, (moment.astimezone(UTC), next(self._sequence), kind, args))

    def _open(self, spec: CampaignSpec) -> None:
        campaign_id = self.campaign_id(spec)
        command = OpenCampaign(
            campaign_id=campaign_id,
            process_key=PROCESS_KEY,
            title=spec.title,
            holiday=spec.holiday,
            opens_at=spec.opens_at,
            deadline=spec.deadline,
            audience=AUDIENCE,
        )
        organiser = self.rosters.organiser(campus_date(spec.opens_at))
        if organiser is None:
            self.result.refused["open:no student-affairs officer"] += 1
            return
        try:
            self.writer.open_campaign(organiser, command)
        except WorkflowError as exc:
            self.result.refused[f"open:{type(exc).__name__}"] += 1
            return
        self.result.commands["open"] += 1
        self._ids[campaign_id] = itertools.count(1)
        self._registered[campaign_id] = set()
        roster = self.rosters.roster(campus_date(spec.deadline))
        self._roster[campaign_id] = roster
        b = self.behaviour
        for class_id in sorted(roster):
            rate = min(0.995, max(0.6, self.rng.gauss(b.class_rate, b.class_rate_spread)))
            for student in roster[class_id]:
                if self.rng.random() >= rate:
                    continue  # forgets, unless a reminder reaches them
                self._at(registration_time(spec, b, self.rng), "register", spec, student)
            # The monitor reminds the evening before the deadline and again a few hours before;
            # the counsellor chases the stragglers the morning after.
            evening = datetime.combine(
                campus_date(spec.deadline) - timedelta(days=1), time(20), CAMPUS_TZ
            )
            self._at(evening + self._jitter(40), "remind", spec, class_id, Role.CLASS_MONITOR)
            self._at(
                spec.deadline - timedelta(hours=3) + self._jitter(30),
                "remind",
                spec,
                class_id,
                Role.CLASS_MONITOR,
            )
            morning = datetime.combine(
                campus_date(spec.deadline) + timedelta(days=1), time(9), CAMPUS_TZ
            )
            self._at(morning + self._jitter(90), "remind", spec, class_id, Role.COUNSELLOR)

    def _jitter(self, minutes: int) -> timedelta:
        return timedelta(seconds=self.rng.randrange(minutes * 60))

    # --- actions -----------------------------------------------------------------------------

    def _perform(self, kind: str, at: datetime, args: tuple[Any, ...]) -> None:
        if kind == "open":
            self._open(args[0])
        elif kind == "register":
            spec, student = args
            registered = self._registered.get(self.campaign_id(spec))
            # None: the campaign could not open. A student registers once; changes are apart.
            if registered is not None and student not in registered:
                self._register(spec, student, at, change=False)
        elif kind == "change":
            self._register(args[0], args[1], at, change=True)
        elif kind == "remind":
            self._remind(args[0], args[1], args[2], at)

    def _register(self, spec: CampaignSpec, student: str, at: datetime, *, change: bool) -> None:
        campaign_id = self.campaign_id(spec)
        instance_id = f"{campaign_id}-{next(self._ids[campaign_id])}"
        form = self._form(spec, student)
        try:
            self.writer.submit(
                student,
                PROCESS_KEY,
                form,
                instance_id=instance_id,
                occurred_at=at,
                campaign_id=campaign_id,
            )
        except WorkflowError as exc:
            self.result.refused[f"register:{type(exc).__name__}"] += 1
            return
        self.writer.forget(instance_id)  # complete on submission: nothing more will happen
        name = "change" if change else "register"
        self.result.commands[name] += 1
        self.result.instances += 1
        self._registered[campaign_id].add(student)
        if not change and self.rng.random() < self.behaviour.change_share:
            later = at + timedelta(hours=self.rng.expovariate(1 / 40))
            if campus_date(later) <= spec.last_day_off:
                self._at(_daytime(later, self.rng), "change", spec, student)

    def _remind(self, spec: CampaignSpec, class_id: str, role: Role, at: datetime) -> None:
        campaign_id = self.campaign_id(spec)
        registered = self._registered.get(campaign_id)
        if registered is None:
            return
        missing = [s for s in self._roster[campaign_id][class_id] if s not in registered]
        holders = self.rosters.holder(role, class_id, campus_date(at))
        if not missing or not holders:
            return
        reminder = self.rng.choice(holders)
        messages = REMINDER_MESSAGES if role is Role.CLASS_MONITOR else COUNSELLOR_MESSAGES
        try:
            self.writer.remind_students(
                reminder, campaign_id, missing, self.rng.choice(messages), at
            )
        except WorkflowError as exc:
            self.result.refused[f"remind:{type(exc).__name__}"] += 1
            return
        self.result.commands["remind_students"] += 1
        b = self.behaviour
        for student in missing:
            if self.rng.random() < b.reminder_response:
                delay = timedelta(hours=self.rng.expovariate(1 / b.reminder_response_hours))
                self._at(at + delay, "register", spec, student)

    def _form(self, spec: CampaignSpec, student: str) -> dict[str, Any]:
        """A registration as students fill it in: a parent to call, and where they go.

        Already in the form `validate_form` normalises to; `decide` validates it, as it validates
        every submission (validating it here as well cost 6 % of the campaign lane's worker)."""
        b, rng = self.behaviour, self.rng
        form: dict[str, Any] = {
            "emergency_contact_name": names.person_name(rng, rng.choice("FM")),
            "emergency_contact_phone": names.phone_number(rng),
        }
        leave_share = b.leave_share_vacation if spec.vacation else b.leave_share_holiday
        if rng.random() >= leave_share:
            form["stay_or_leave"] = "留校"
            return form
        home = self.rosters.home.get(student, "")
        destination = home if home and rng.random() < b.home_share else rng.choice(PROVINCES)
        leave = spec.first_day_off - timedelta(days=rng.choice((0, 0, 1, 1, 2, 3)))
        back = spec.last_day_off + timedelta(days=rng.choice((-1, 0, 0, 0, 1)))
        form.update(
            stay_or_leave="离校",
            destination_province=destination,
            destination_city=province(destination).capital,
            destination_address=f"{rng.choice(STREETS)}{rng.randint(1, 399)}号",
            leave_date=leave.isoformat(),
            return_date=max(back, leave).isoformat(),
            transport=rng.choices(list(TRANSPORT_WEIGHTS), weights=TRANSPORT_WEIGHTS.values())[0],
        )
        return form


def registration_time(spec: CampaignSpec, b: Behaviour, rng: random.Random) -> datetime:
    """When a student who registers on their own does: early, in the deadline surge, or late."""
    window = (spec.deadline - spec.opens_at).total_seconds()
    draw = rng.random()
    if draw < b.late_share:
        moment = spec.deadline + timedelta(hours=rng.expovariate(1 / 20))
    elif draw < b.late_share + b.early_share:
        moment = spec.opens_at + timedelta(seconds=min(window, rng.expovariate(1 / 36_000)))
    else:
        before = 1 - rng.random() ** (1 / b.surge_shape)  # Beta(1, k): most near the deadline
        moment = spec.deadline - timedelta(seconds=window * before)
    moment = _daytime(moment, rng)
    if draw >= b.late_share and moment >= spec.deadline:
        moment = spec.deadline - timedelta(seconds=rng.randrange(1, 1800))
    return max(moment, spec.opens_at)


def _daytime(moment: datetime, rng: random.Random) -> datetime:
    """Students register when they are awake: shift by the hour profile within the same day."""
    local = moment.astimezone(CAMPUS_TZ)
    weights = student_hour_weights()
    if rng.random() < weights[local.hour] / max(weights):
        return moment
    hour = rng.choices(range(24), weights=weights)[0]
    shifted = datetime.combine(local.date(), time(hour), CAMPUS_TZ) + timedelta(
        seconds=rng.randrange(3600)
    )
    return shifted.astimezone(UTC)
