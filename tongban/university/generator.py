"""Generate the university's business systems: a synthetic student information system and HR.

One call fills the tables of `workflow_core.directory.schema` with a whole university as it stood
over the year before `as_of`: campuses, colleges and 书院, majors, classes of every grade,
students with their effective-dated class memberships and statuses, staff and their role
grants, and the hall accounts of alumni and visitors.

Histories are realistic rather than static, because the warehouse must get effective dating
right: the cohort that graduated last summer is there with its classes closed and its students
已离校; this year's freshmen join on 1 September; some students change class or major mid-year,
some suspend their studies (and a few come back), a few leave; classes re-elect their monitor in
autumn; a few counsellors hand their classes over to a successor.

Deterministic: each part draws from its own random stream derived from the seed, so the same
seed and `as_of` give identical rows, and changing one part does not reshuffle the others.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any, Final, Literal

from sqlalchemy import Engine

from tongban.university import names
from tongban.university.majors import (
    CAMPUSES,
    COLLEGES,
    DOCTOR_YEARS,
    MASTER_YEARS,
    RESIDENTIAL_COLLEGES,
    CollegeSpec,
    MajorSpec,
)
from workflow_core.directory.departments import DEPARTMENTS
from workflow_core.directory.port import Role, ScopeType, StudentStatus
from workflow_core.directory.schema import BUSINESS_TABLES, UNIVERSITY_SCOPE_ID, business_metadata

Size = Literal["small", "demo", "large"]
_Row = dict[str, Any]


@dataclass(frozen=True)
class SizeProfile:
    """How big a university to make; intakes are per cohort (one entry year)."""

    colleges: tuple[str, ...] | None  # None: every college
    majors_per_college: int | None  # None: every major
    undergraduate_intake: int
    master_intake: int
    doctor_intake: int
    class_size: int
    faculty_per_college: int
    alumni: int  # alumni accounts beyond those of last summer's graduates
    visitors: int


PROFILES: Final[dict[str, SizeProfile]] = {
    # A few hundred students in three colleges: enough structure for every rule and persona.
    "small": SizeProfile(("CS", "ECON", "FL"), 2, 120, 45, 10, 15, 2, 15, 10),
    # ≈30,000 undergraduates and ≈15,000 graduate students in ≈1,500 classes.
    "demo": SizeProfile(None, None, 7_500, 4_000, 750, 30, 20, 1_500, 800),
    # ≈2.75 × demo (≈124,000 students): a year of its history passes 10 M events, for benchmarks.
    "large": SizeProfile(None, None, 20_625, 11_000, 2_060, 30, 55, 4_125, 2_200),
}

# Shares of students affected over the year of history, by kind of change.
CLASS_CHANGE_SHARE: Final[dict[str, float]] = {"bachelor": 0.012, "master": 0.004, "doctor": 0.002}
SAME_MAJOR_CHANGE_SHARE: Final = 0.6  # the rest change major (转专业)
SUSPENSION_SHARE: Final = 0.025
DEPARTURE_SHARE: Final = 0.008
RETURN_SHARE: Final = 0.4
MONITOR_REELECTION_SHARE: Final = 0.15
COUNSELLOR_HANDOVER_SHARE: Final = 0.04
ALUMNI_ACCOUNT_SHARE: Final = 0.15
DATA_STAFF_COUNT: Final = 5

SUSPENSION_REASONS: Final = ("因病休学", "因病休学", "因事休学", "应征入伍", "创业休学")
DEPARTURE_REASONS: Final = ("退学", "退学", "转学", "出国")
LEADERSHIP_TITLES: Final = (
    "党委书记",
    "校长",
    "党委常务副书记",
    "常务副校长",
    "党委副书记",
    "副校长",
    "副校长",
    "副校长",
    "纪委书记",
    "总会计师",
)
COLLEGE_OFFICE_TITLES: Final = ("办公室主任", "学工办主任", "教学秘书")
COLLEGE_APPROVER_TITLES: Final = ("副院长", "党委副书记")
RESIDENTIAL_OFFICE_TITLES: Final = ("办公室主任", "学工秘书", "常任导师")
FACULTY_TITLES: Final = ("教授", "副教授", "副教授", "讲师", "讲师")
# A department's head is named after the kind of unit it is.
_HEAD_TITLES: Final[tuple[tuple[str, tuple[str, str]], ...]] = (
    ("办公室", ("主任", "副主任")),
    ("中心", ("主任", "副主任")),
    ("处", ("处长", "副处长")),
    ("部", ("部长", "副部长")),
    ("院", ("院长", "副院长")),
    ("委", ("书记", "副书记")),
    ("馆", ("馆长", "副馆长")),
    ("会", ("秘书长", "副秘书长")),
)


@dataclass(frozen=True)
class UniversitySummary:
    """What was generated. Students are counted on `as_of`: those in running classes."""

    size: str
    seed: int
    as_of: date
    campuses: int
    colleges: int
    residential_colleges: int
    departments: int
    majors: int
    classes: int  # running on as_of
    closed_classes: int  # graduated during the year of history
    undergraduates: int
    graduates: int
    graduated: int  # left with their degree during the year of history
    suspended: int  # 休学 on as_of
    left: int  # 已离校 without graduating, during the year
    class_changes: int
    staff: int
    counsellors: int
    counsellor_handovers: int
    alumni: int
    visitors: int
    role_assignments: int
    rows: int

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        return out

    def __str__(self) -> str:
        return (
            f"{self.undergraduates:,} undergraduates and {self.graduates:,} graduate students "
            f"in {self.classes:,} classes of {self.colleges} colleges, {self.staff:,} staff, "
            f"{self.alumni:,} alumni and {self.visitors:,} visitor accounts "
            f"({self.rows:,} rows, as of {self.as_of.isoformat()}, seed {self.seed})"
        )


def create_business_schema(engine: Engine) -> None:
    """Create the business-systems tables that do not exist yet."""
    business_metadata.create_all(engine)


def generate_university(
    engine: Engine, size: Size, seed: int = 2026, *, as_of: date
) -> UniversitySummary:
    """Fill the business-systems database with a generated university, replacing its contents.

    Creates the tables if needed. One transaction: readers see the old university or the new one.
    """
    profile = PROFILES.get(size)
    if profile is None:
        raise ValueError(f"unknown university size {size!r}: choose one of {sorted(PROFILES)}")
    builder = _Builder(profile, seed, as_of)
    builder.build()
    create_business_schema(engine)
    with engine.begin() as conn:
        for table in reversed(BUSINESS_TABLES):
            conn.execute(table.delete())
        for table in BUSINESS_TABLES:
            rows = builder.tables[table.name]
            if rows:
                conn.execute(table.insert(), rows)
    return builder.summary(size)


@dataclass(frozen=True)
class _Programme:
    """A major at one degree level: what a row of `majors` describes."""

    major_id: str
    college: CollegeSpec
    spec: MajorSpec
    level: str
    years: int


@dataclass
class _Class:
    class_id: str
    programme: _Programme
    entry_year: int
    opened_on: date
    closed_on: date | None
    members: list[str] = field(default_factory=list)  # as enrolled; moves are kept apart


@dataclass(frozen=True)
class _Move:
    target: _Class
    on: date


@dataclass(frozen=True)
class _StatusChange:
    status: StudentStatus
    on: date
    reason: str
    returned_on: date | None = None  # suspensions that ended within the history


class _Builder:
    def __init__(self, profile: SizeProfile, seed: int, as_of: date) -> None:
        self.profile = profile
        self.seed = seed
        self.as_of = as_of
        self.history_start = as_of - timedelta(days=365)
        # The academic year starts on 1 September.
        self.academic_year = as_of.year if as_of >= date(as_of.year, 9, 1) else as_of.year - 1
        self.tables: dict[str, list[_Row]] = {table.name: [] for table in BUSINESS_TABLES}
        self.colleges: list[CollegeSpec] = []
        self.programmes: list[_Programme] = []
        self.residential_by_campus: dict[str, list[str]] = defaultdict(list)
        self.classes: list[_Class] = []
        self.students: dict[str, _Row] = {}
        self.moves: dict[str, _Move] = {}
        self.status_changes: dict[str, _StatusChange] = {}
        self.staff_count = 0
        self.counsellors: set[str] = set()
        self.counsellor_handovers = 0

    def _rng(self, stream: str) -> random.Random:
        return random.Random(f"tongban-university:{self.seed}:{stream}")

    def build(self) -> None:
        self._reference()
        self._cohorts()
        protected = self._monitors()
        self._roster_changes(protected)
        self._memberships_and_statuses()
        self._administration()
        self._counsellors()
        self._hall_accounts()

    # --- organisation -------------------------------------------------------------------------

    def _reference(self) -> None:
        chosen = self.profile.colleges
        self.colleges = [c for c in COLLEGES if chosen is None or c.code in chosen]
        used_campuses = {college.campus for college in self.colleges}
        self.tables["campuses"] = [
            {"campus_id": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "address": c.address}
            for c in CAMPUSES
        ]
        self.tables["departments"] = [
            {"department_id": code, "name_zh": text.zh, "name_en": text.en}
            for code, text in DEPARTMENTS.items()
        ]
        for rc in RESIDENTIAL_COLLEGES:
            # A 书院 houses the undergraduates of its campus; none where no college teaches.
            if rc.campus not in used_campuses:
                continue
            self.residential_by_campus[rc.campus].append(rc.code)
            self.tables["residential_colleges"].append(
                {
                    "residential_college_id": rc.code,
                    "name_zh": rc.name_zh,
                    "name_en": rc.name_en,
                    "campus_id": rc.campus,
                }
            )
        limit = self.profile.majors_per_college
        for college in self.colleges:
            self.tables["colleges"].append(
                {
                    "college_id": college.code,
                    "name_zh": college.name_zh,
                    "name_en": college.name_en,
                    "discipline": college.discipline,
                    "campus_id": college.campus,
                }
            )
            for spec in college.majors[:limit]:
                base = f"{college.code}-{spec.code}"
                self._programme(_Programme(base, college, spec, "bachelor", spec.years))
                if spec.master:
                    self._programme(_Programme(f"{base}-M", college, spec, "master", MASTER_YEARS))
                if spec.doctor:
                    self._programme(_Programme(f"{base}-D", college, spec, "doctor", DOCTOR_YEARS))

    def _programme(self, programme: _Programme) -> None:
        self.programmes.append(programme)
        level_en = {"bachelor": "", "master": " (Master)", "doctor": " (PhD)"}[programme.level]
        self.tables["majors"].append(
            {
                "major_id": programme.major_id,
                "college_id": programme.college.code,
                "name_zh": programme.spec.name_zh,
                "name_en": programme.spec.name_en + level_en,
                "degree_level": programme.level,
                "duration_years": programme.years,
            }
        )

    # --- students -----------------------------------------------------------------------------

    def _entry_years(self, years: int) -> list[int]:
        """Cohorts enrolled by `as_of` that had not yet graduated when the history starts."""
        return [
            year
            for year in range(self.as_of.year - years - 1, self.as_of.year + 1)
            if date(year, 9, 1) <= self.as_of and date(year + years, 7, 1) > self.history_start
        ]

    def _cohorts(self) -> None:
        rng = self._rng("students")
        intakes = {
            "bachelor": self.profile.undergraduate_intake,
            "master": self.profile.master_intake,
            "doctor": self.profile.doctor_intake,
        }
        next_number: dict[tuple[str, int], int] = defaultdict(int)
        next_residential: dict[str, int] = defaultdict(int)
        for level, intake in intakes.items():
            programmes = [p for p in self.programmes if p.level == level]
            total_weight = sum(p.spec.weight for p in programmes)
            for programme in programmes:
                share = intake * programme.spec.weight / total_weight
                for entry_year in self._entry_years(programme.years):
                    count = max(1, round(share * rng.uniform(0.92, 1.08)))
                    sections = max(1, round(count / self.profile.class_size))
                    for section in range(sections):
                        cls = self._open_class(programme, entry_year, section + 1, next_residential)
                        size = count // sections + (1 if section < count % sections else 0)
                        for _ in range(size):
                            prefix = "U" if level == "bachelor" else "G"
                            next_number[(prefix, entry_year)] += 1
                            number = next_number[(prefix, entry_year)]
                            student_id = f"{prefix}{entry_year}{number:05d}"
                            self._enrol(rng, student_id, cls)

    def _open_class(
        self,
        programme: _Programme,
        entry_year: int,
        section: int,
        next_residential: dict[str, int],
    ) -> _Class:
        college = programme.college
        graduation = date(entry_year + programme.years, 7, 1)
        cls = _Class(
            class_id=f"C-{programme.major_id}-{entry_year}-{section:02d}",
            programme=programme,
            entry_year=entry_year,
            opened_on=date(entry_year, 9, 1),
            closed_on=graduation if graduation <= self.as_of else None,
        )
        residential: str | None = None
        if programme.level == "bachelor":
            houses = self.residential_by_campus[college.campus]
            residential = houses[next_residential[college.campus] % len(houses)]
            next_residential[college.campus] += 1
        level_zh = {"bachelor": "", "master": "硕士", "doctor": "博士"}[programme.level]
        self.classes.append(cls)
        self.tables["classes"].append(
            {
                "class_id": cls.class_id,
                "name_zh": f"{programme.spec.name_zh}{entry_year}级{level_zh}{section}班",
                "major_id": programme.major_id,
                "entry_year": entry_year,
                "campus_id": college.campus,
                "residential_college_id": residential,
                "opened_on": cls.opened_on,
                "closed_on": cls.closed_on,
            }
        )
        return cls

    def _enrol(self, rng: random.Random, student_id: str, cls: _Class) -> None:
        programme = cls.programme
        gender = names.gender(rng, programme.college.female_share)
        row = {
            "student_id": student_id,
            "name": names.person_name(rng, gender, single_share=0.12),
            "gender": gender,
            "kind": "undergraduate" if programme.level == "bachelor" else "graduate",
            "degree_level": programme.level,
            "entry_year": cls.entry_year,
            "phone": names.phone_number(rng),
            "home_province": names.home_province(rng),
        }
        self.students[student_id] = row
        self.tables["students"].append(row)
        cls.members.append(student_id)

    def _monitors(self) -> set[str]:
        """Choose every class's monitor (班长); they are kept out of roster changes."""
        rng = self._rng("monitors")
        reelection = date(self.academic_year, 9, 25)
        protected: set[str] = set()
        for cls in self.classes:
            first = rng.choice(cls.members)
            protected.add(first)
            reelects = (
                cls.opened_on < reelection <= self.as_of
                and reelection > self.history_start
                and (cls.closed_on is None or cls.closed_on > reelection)
                and len(cls.members) > 1
                and rng.random() < MONITOR_REELECTION_SHARE
            )
            if not reelects:
                self._grant(first, Role.CLASS_MONITOR, ScopeType.CLASS, cls.class_id, cls.opened_on)
                continue
            second = rng.choice([s for s in cls.members if s != first])
            protected.add(second)
            self._grant(
                first, Role.CLASS_MONITOR, ScopeType.CLASS, cls.class_id, cls.opened_on, reelection
            )
            self._grant(
                second,
                Role.CLASS_MONITOR,
                ScopeType.CLASS,
                cls.class_id,
                reelection,
                cls.closed_on,
            )
        return protected

    def _roster_changes(self, protected: set[str]) -> None:
        """Class changes, suspensions and departures during the year, in running classes."""
        rng = self._rng("roster-changes")
        running: dict[tuple[str, int], list[_Class]] = defaultdict(list)
        for cls in self.classes:
            if cls.closed_on is None:
                running[(cls.programme.level, cls.entry_year)].append(cls)
        for cls in self.classes:
            if cls.closed_on is not None:
                continue
            earliest = max(self.history_start, cls.opened_on + timedelta(days=30))
            if earliest > self.as_of:
                continue
            level = cls.programme.level
            change = CLASS_CHANGE_SHARE[level]
            for student_id in cls.members:
                if student_id in protected:
                    continue
                draw = rng.random()
                if draw < change:
                    target = self._change_target(rng, cls, running[(level, cls.entry_year)])
                    if target is not None:
                        on = _day_between(rng, earliest, self.as_of)
                        self.moves[student_id] = _Move(target, on)
                elif draw < change + SUSPENSION_SHARE:
                    on = _day_between(rng, earliest, self.as_of)
                    back = on + timedelta(days=rng.randint(120, 240))
                    returns = rng.random() < RETURN_SHARE and back <= self.as_of
                    self.status_changes[student_id] = _StatusChange(
                        StudentStatus.SUSPENDED,
                        on,
                        rng.choice(SUSPENSION_REASONS),
                        back if returns else None,
                    )
                elif draw < change + SUSPENSION_SHARE + DEPARTURE_SHARE:
                    on = _day_between(rng, earliest, self.as_of)
                    self.status_changes[student_id] = _StatusChange(
                        StudentStatus.LEFT, on, rng.choice(DEPARTURE_REASONS)
                    )

    @staticmethod
    def _change_target(rng: random.Random, cls: _Class, cohort: list[_Class]) -> _Class | None:
        same_major = [c for c in cohort if c.programme == cls.programme and c is not cls]
        same_college = [
            c
            for c in cohort
            if c.programme.college == cls.programme.college and c.programme != cls.programme
        ]
        elsewhere = [c for c in cohort if c.programme != cls.programme]
        if same_major and (rng.random() < SAME_MAJOR_CHANGE_SHARE or not elsewhere):
            return rng.choice(same_major)
        if same_college and rng.random() < 0.5:
            return rng.choice(same_college)
        return rng.choice(elsewhere) if elsewhere else None

    def _memberships_and_statuses(self) -> None:
        memberships = self.tables["student_class_memberships"]
        statuses = self.tables["student_statuses"]
        enrolled = StudentStatus.ENROLLED.value
        for cls in self.classes:
            for student_id in cls.members:
                move = self.moves.get(student_id)
                if move is None:
                    memberships.append(
                        _dated(student_id, cls.class_id, cls.opened_on, cls.closed_on)
                    )
                else:
                    memberships.append(_dated(student_id, cls.class_id, cls.opened_on, move.on))
                    memberships.append(
                        _dated(student_id, move.target.class_id, move.on, move.target.closed_on)
                    )
                if cls.closed_on is not None:
                    statuses.append(
                        _status(student_id, enrolled, cls.opened_on, cls.closed_on, "入学")
                    )
                    statuses.append(
                        _status(student_id, StudentStatus.LEFT.value, cls.closed_on, None, "毕业")
                    )
                    continue
                change = self.status_changes.get(student_id)
                if change is None:
                    statuses.append(_status(student_id, enrolled, cls.opened_on, None, "入学"))
                    continue
                statuses.append(_status(student_id, enrolled, cls.opened_on, change.on, "入学"))
                statuses.append(
                    _status(
                        student_id,
                        change.status.value,
                        change.on,
                        change.returned_on,
                        change.reason,
                    )
                )
                if change.returned_on is not None:
                    statuses.append(_status(student_id, enrolled, change.returned_on, None, "复学"))

    # --- staff --------------------------------------------------------------------------------

    def _hire(
        self,
        rng: random.Random,
        unit_type: ScopeType,
        unit_id: str,
        title: str,
        hired_on: date | None = None,
    ) -> tuple[str, date]:
        self.staff_count += 1
        staff_id = f"S{self.staff_count:05d}"
        gender = names.gender(rng, 0.45)
        if hired_on is None:
            hired_on = _day_between(rng, date(1998, 9, 1), self.history_start - timedelta(days=90))
        self.tables["staff"].append(
            {
                "staff_id": staff_id,
                "name": names.person_name(rng, gender, single_share=0.3),
                "gender": gender,
                "unit_type": unit_type.value,
                "unit_id": unit_id,
                "title": title,
                "phone": names.phone_number(rng),
                "hired_on": hired_on,
            }
        )
        return staff_id, hired_on

    def _grant(
        self,
        person_id: str,
        role: Role,
        scope_type: ScopeType,
        scope_id: str,
        valid_from: date,
        valid_to: date | None = None,
    ) -> None:
        self.tables["role_assignments"].append(
            {
                "person_id": person_id,
                "role": role.value,
                "scope_type": scope_type.value,
                "scope_id": scope_id,
                "valid_from": valid_from,
                "valid_to": valid_to,
            }
        )

    def _administration(self) -> None:
        """Leadership, the administrative departments, college and 书院 offices, faculty."""
        rng = self._rng("staff")
        university = (ScopeType.UNIVERSITY, UNIVERSITY_SCOPE_ID)
        leaders = []
        for title in LEADERSHIP_TITLES:
            leader, since = self._hire(rng, ScopeType.DEPARTMENT, "leadership", title)
            self._grant(leader, Role.LEADERSHIP, *university, since)
            leaders.append((leader, since))
        # The executive vice-leaders sign for "leadership" nodes day to day.
        for leader, since in leaders[2 : 2 + rng.randint(2, 4)]:
            self._grant(leader, Role.DEPARTMENT_APPROVER, ScopeType.DEPARTMENT, "leadership", since)
        special = {
            "student_affairs": Role.STUDENT_AFFAIRS,
            "graduate_school": Role.GRADUATE_SCHOOL,
        }
        for code, text in DEPARTMENTS.items():
            if code == "leadership":
                continue
            head, deputy = _head_titles(text.zh)
            approvers = rng.randint(2, 4)
            titles = [head] + [deputy] * (approvers - 1) + ["科员"] * rng.randint(1, 4)
            for index, title in enumerate(titles):
                person, since = self._hire(rng, ScopeType.DEPARTMENT, code, title)
                if index < approvers:
                    self._grant(person, Role.DEPARTMENT_APPROVER, ScopeType.DEPARTMENT, code, since)
                if code in special:
                    self._grant(person, special[code], *university, since)
            if code == "it_center":
                for _ in range(DATA_STAFF_COUNT):
                    person, since = self._hire(rng, ScopeType.DEPARTMENT, code, "数据工程师")
                    self._grant(person, Role.DATA_STAFF, *university, since)
        for college in self.colleges:
            unit = (ScopeType.COLLEGE, college.code)
            for title in COLLEGE_OFFICE_TITLES[: rng.randint(1, 3)]:
                person, since = self._hire(rng, *unit, title)
                self._grant(person, Role.COLLEGE_OFFICE, *unit, since)
            for title in COLLEGE_APPROVER_TITLES[: rng.randint(1, 2)]:
                person, since = self._hire(rng, *unit, title)
                self._grant(person, Role.DEPARTMENT_APPROVER, *unit, since)
            for _ in range(self.profile.faculty_per_college):
                self._hire(rng, *unit, rng.choice(FACULTY_TITLES))
        for row in self.tables["residential_colleges"]:
            unit = (ScopeType.RESIDENTIAL_COLLEGE, str(row["residential_college_id"]))
            for title in RESIDENTIAL_OFFICE_TITLES[: rng.randint(1, 3)]:
                person, since = self._hire(rng, *unit, title)
                self._grant(person, Role.RESIDENTIAL_COLLEGE_OFFICE, *unit, since)
            person, since = self._hire(rng, *unit, "院长")
            self._grant(person, Role.DEPARTMENT_APPROVER, *unit, since)

    def _counsellors(self) -> None:
        """Each counsellor (辅导员) looks after 4–10 classes of one college, mostly one cohort.

        Last summer's graduating classes keep the counsellors they had. A few counsellors hand
        their classes over to a newly hired successor during the year.
        """
        rng = self._rng("counsellors")
        level_order = {"bachelor": 0, "master": 1, "doctor": 2}
        running_groups: list[tuple[str, list[_Class]]] = []
        for college in self.colleges:
            own = sorted(
                (c for c in self.classes if c.programme.college == college),
                key=lambda c: (level_order[c.programme.level], c.entry_year, c.class_id),
            )
            closed = [c for c in own if c.closed_on is not None]
            running = [c for c in own if c.closed_on is None]
            for group in _groups(rng, closed) + _groups(rng, running):
                title = "辅导员" if group[0].programme.level == "bachelor" else "研究生辅导员"
                counsellor, _ = self._hire(rng, ScopeType.COLLEGE, college.code, title)
                self.counsellors.add(counsellor)
                for cls in group:
                    self._grant(
                        counsellor,
                        Role.COUNSELLOR,
                        ScopeType.CLASS,
                        cls.class_id,
                        cls.opened_on,
                        cls.closed_on,
                    )
                if group[0].closed_on is None:
                    running_groups.append((counsellor, group))
        if not running_groups:
            return
        handovers = max(1, round(len(running_groups) * COUNSELLOR_HANDOVER_SHARE))
        earliest = self.history_start + timedelta(days=14)
        for index in sorted(rng.sample(range(len(running_groups)), handovers)):
            leaving, group = running_groups[index]
            on = _day_between(rng, earliest, self.as_of)
            college_code = group[0].programme.college.code
            successor, _ = self._hire(
                rng,
                ScopeType.COLLEGE,
                college_code,
                "辅导员" if group[0].programme.level == "bachelor" else "研究生辅导员",
                hired_on=on - timedelta(days=rng.randint(7, 30)),
            )
            self.counsellors.add(successor)
            self.counsellor_handovers += 1
            for cls in group:
                self._end_counsellor_grant(leaving, cls, on)
                self._grant(
                    successor,
                    Role.COUNSELLOR,
                    ScopeType.CLASS,
                    cls.class_id,
                    max(on, cls.opened_on),
                    cls.closed_on,
                )

    def _end_counsellor_grant(self, counsellor: str, cls: _Class, on: date) -> None:
        grants = self.tables["role_assignments"]
        for index in range(len(grants) - 1, -1, -1):
            grant = grants[index]
            if grant["person_id"] == counsellor and grant["scope_id"] == cls.class_id:
                if grant["valid_from"] >= on:
                    # The class opened after the handover: the successor had it from the start.
                    del grants[index]
                else:
                    grant["valid_to"] = on
                return

    # --- the hall's own accounts --------------------------------------------------------------

    def _hall_accounts(self) -> None:
        rng = self._rng("accounts")
        accounts = self.tables["hall_accounts"]
        alumni = 0
        for cls in self.classes:
            if cls.closed_on is None:
                continue
            graduated_on = cls.closed_on
            for student_id in cls.members:
                if rng.random() >= ALUMNI_ACCOUNT_SHARE:
                    continue
                student = self.students[student_id]
                alumni += 1
                accounts.append(
                    {
                        "account_id": f"A{alumni:06d}",
                        "name": student["name"],
                        "kind": "alumni",
                        "phone": student["phone"],
                        "registered_on": _day_between(rng, graduated_on, self.as_of),
                        "former_student_id": student_id,
                        "graduation_year": graduated_on.year,
                    }
                )
        for _ in range(self.profile.alumni):
            alumni += 1
            graduation_year = rng.randint(1988, self.academic_year - 1)
            gender = names.gender(rng, 0.5)
            accounts.append(
                {
                    "account_id": f"A{alumni:06d}",
                    "name": names.person_name(rng, gender, single_share=0.35),
                    "kind": "alumni",
                    "phone": names.phone_number(rng),
                    "registered_on": _day_between(
                        rng, max(date(2018, 5, 20), date(graduation_year, 7, 1)), self.as_of
                    ),
                    "former_student_id": None,
                    "graduation_year": graduation_year,
                }
            )
        for number in range(1, self.profile.visitors + 1):
            gender = names.gender(rng, 0.5)
            accounts.append(
                {
                    "account_id": f"V{number:06d}",
                    "name": names.person_name(rng, gender, single_share=0.25),
                    "kind": "visitor",
                    "phone": names.phone_number(rng),
                    "registered_on": _day_between(
                        rng, self.as_of - timedelta(days=730), self.as_of
                    ),
                    "former_student_id": None,
                    "graduation_year": None,
                }
            )

    # --- summary ------------------------------------------------------------------------------

    def summary(self, size: str) -> UniversitySummary:
        running = [c for c in self.classes if c.closed_on is None]
        undergraduates = sum(len(c.members) for c in running if c.programme.level == "bachelor")
        graduates = sum(len(c.members) for c in running if c.programme.level != "bachelor")
        suspended = sum(
            1
            for change in self.status_changes.values()
            if change.status is StudentStatus.SUSPENDED and change.returned_on is None
        )
        left = sum(1 for c in self.status_changes.values() if c.status is StudentStatus.LEFT)
        kinds = [row["kind"] for row in self.tables["hall_accounts"]]
        return UniversitySummary(
            size=size,
            seed=self.seed,
            as_of=self.as_of,
            campuses=len(self.tables["campuses"]),
            colleges=len(self.tables["colleges"]),
            residential_colleges=len(self.tables["residential_colleges"]),
            departments=len(self.tables["departments"]),
            majors=len(self.tables["majors"]),
            classes=len(running),
            closed_classes=len(self.classes) - len(running),
            undergraduates=undergraduates,
            graduates=graduates,
            graduated=sum(len(c.members) for c in self.classes if c.closed_on is not None),
            suspended=suspended,
            left=left,
            class_changes=len(self.moves),
            staff=len(self.tables["staff"]),
            counsellors=len(self.counsellors),
            counsellor_handovers=self.counsellor_handovers,
            alumni=kinds.count("alumni"),
            visitors=kinds.count("visitor"),
            role_assignments=len(self.tables["role_assignments"]),
            rows=sum(len(rows) for rows in self.tables.values()),
        )


def _groups(rng: random.Random, classes: list[_Class]) -> list[list[_Class]]:
    """Consecutive groups of 4–7 classes; a short tail joins the group before it (≤ 10)."""
    groups: list[list[_Class]] = []
    start = 0
    while start < len(classes):
        size = rng.randint(4, 7)
        groups.append(classes[start : start + size])
        start += size
    if len(groups) > 1 and len(groups[-1]) < 4:
        tail = groups.pop()
        groups[-1].extend(tail)
    return groups


def _head_titles(department_zh: str) -> tuple[str, str]:
    name = department_zh.split("（", 1)[0]
    for suffix, titles in _HEAD_TITLES:
        if name.endswith(suffix):
            return titles
    return ("主任", "副主任")


def _day_between(rng: random.Random, first: date, last: date) -> date:
    if last <= first:
        return first
    return date.fromordinal(rng.randint(first.toordinal(), last.toordinal()))


def _dated(student_id: str, class_id: str, valid_from: date, valid_to: date | None) -> _Row:
    return {
        "student_id": student_id,
        "class_id": class_id,
        "valid_from": valid_from,
        "valid_to": valid_to,
    }


def _status(
    student_id: str, status: str, valid_from: date, valid_to: date | None, reason: str
) -> _Row:
    return {
        "student_id": student_id,
        "status": status,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "reason": reason,
    }
