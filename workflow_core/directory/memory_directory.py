"""`MemoryDirectory`: the whole business-systems directory held in memory, read once.

The history simulator asks the directory millions of times about a university that does not
change while it runs, and with `SqlDirectory` about a third of its time went into the SQL behind
cache misses (every person is asked about on many different days). Reading every table once and
answering from memory removes that cost, at the price of never seeing a change made after
`load`. That is only right for trusted batch writers over a frozen directory, such as the
simulator; the HTTP API and anything else that must follow the business systems live keep
`SqlDirectory`.

The answers are exactly `SqlDirectory`'s, because the rows are read by the same rules: the data is
effective-dated by calendar day (`schema.effective_day`), so each person, role and class has one
answer per stretch of days between the dates its rows start or end. `load` works those stretches
out once, and a lookup is a dictionary probe plus a bisection over a handful of dates: a few
microseconds, with no cache to bound because nothing is computed per lookup. Lists of ids come
sorted by code point, which is `order by` on SQLite, and on PostgreSQL under the C collation.
Which role and unit an assignee rule asks for, and how a refusal reads, comes from `rules`,
shared with `SqlDirectory`.

Nothing here is pickled: each worker process calls `MemoryDirectory.load(engine)` itself. The
answers never change after `load` (the one memo, the day of the last moment asked about, is
replaced whole), so threads may share it.
"""

from __future__ import annotations

import gc
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Generic, TypeAlias, TypeVar

from sqlalchemy import Connection, Engine, select

from workflow_core.catalog.model import AssigneeRule, Audience
from workflow_core.directory.port import (
    Assignment,
    Person,
    Placement,
    Role,
    RoleGrant,
    ScopeType,
    StudentStatus,
)
from workflow_core.directory.rules import nobody_holds, staff_placement, target_of
from workflow_core.directory.schema import (
    classes,
    effective_day,
    hall_accounts,
    majors,
    role_assignments,
    staff,
    student_class_memberships,
    student_statuses,
    students,
)

T = TypeVar("T")
V = TypeVar("V")

_HolderKey = tuple[str, str, str]  # (role, scope_type, scope_id) as stored


class _Timeline(Generic[T]):
    """An answer that changes only on certain days.

    `values[i]` holds from `changes[i - 1]` (inclusive) until `changes[i]` (exclusive); `values[0]`
    holds before the first change, when none of the rows behind it had started yet.
    """

    __slots__ = ("_changes", "_values")

    def __init__(self, changes: Sequence[date], values: Sequence[T]) -> None:
        self._changes = tuple(changes)
        self._values = tuple(values)

    def at(self, day: date) -> T:
        return self._values[bisect_right(self._changes, day)]


# One effective-dated row: the value holds from `valid_from` (inclusive) until `valid_to`
# (exclusive; None while open). A plain tuple, because `load` makes some 200,000 of them.
_Dated: TypeAlias = tuple[date, date | None, V]


def _timeline(rows: Sequence[_Dated[V]], answer: Callable[[list[V]], T]) -> _Timeline[T]:
    """The answer over time, given the answer for the values in effect on a day (in `rows` order).

    The answer can change only where a row starts or ends, so it is evaluated there alone; days
    whose answer equals the previous one are dropped to keep the bisection short.
    """
    if len(rows) == 1:  # most people and scopes have a single row: skip the set and the sort
        start, end, _ = rows[0]
        days: Sequence[date] = (start,) if end is None else (start, end)
    else:
        days = sorted({row[0] for row in rows} | {row[1] for row in rows if row[1] is not None})
    values = [answer([])]
    changes: list[date] = []
    for day in days:
        # SqlDirectory's predicate: valid_from <= day < valid_to, open when NULL.
        value = answer([v for start, end, v in rows if start <= day and (end is None or end > day)])
        if value != values[-1]:
            changes.append(day)
            values.append(value)
    return _Timeline(changes, values)


def _constant(value: T) -> _Timeline[T]:
    return _Timeline((), (value,))


@dataclass(frozen=True, slots=True)
class _ClassFacts:
    """What a placement takes from the class a student belongs to (classes ⋈ majors)."""

    entry_year: int
    major_id: str
    college_id: str
    residential_college_id: str | None


# A placement candidate: (since, tie break, placement). The latest `since` wins, as in
# SqlDirectory's `order by since desc`; overlapping rows are data errors the generator never
# writes, and for them the later-written row wins, repeatably.
_Seat: TypeAlias = tuple[date, int, Placement]


def _latest_seat_among(always: _Seat | None) -> Callable[[list[_Seat]], Placement | None]:
    """The placement on a day: the latest-starting seat in effect, `always` included."""

    def latest(seats: list[_Seat]) -> Placement | None:
        candidates = seats if always is None else [*seats, always]
        if not candidates:
            return None
        return max(candidates, key=lambda seat: (seat[0], seat[1]))[2]

    return latest


def _sorted_grants(grants: list[RoleGrant]) -> tuple[RoleGrant, ...]:
    # `select distinct … order by role, scope_type, scope_id`
    return tuple(sorted(set(grants), key=lambda g: (g.role.value, g.scope_type.value, g.scope_id)))


def _sorted_ids(ids: list[str]) -> tuple[str, ...]:
    # `select distinct person_id … order by person_id`
    return tuple(sorted(set(ids)))


def _by_key(items: Iterable[tuple[str, T]]) -> dict[str, list[T]]:
    grouped: dict[str, list[T]] = {}
    for key, item in items:
        grouped.setdefault(key, []).append(item)
    return grouped


class MemoryDirectory:
    """The university directory as it stood when `load` read it, answered from memory.

    Implements the `Directory` port with the same answers as `SqlDirectory`, and exposes the
    rosters the simulator draws applicants and approvers from, so it need not query again.
    """

    def __init__(
        self,
        *,
        people: dict[str, _Timeline[Person | None]],
        placements: dict[str, _Timeline[Placement | None]],
        roles: dict[str, _Timeline[tuple[RoleGrant, ...]]],
        holders: dict[_HolderKey, _Timeline[tuple[str, ...]]],
        rosters: dict[str, _Timeline[tuple[str, ...]]],
        kinds: dict[Audience, tuple[str, ...]],
        units: dict[str, tuple[str, ...]],
        class_ids: tuple[str, ...],
    ) -> None:
        """Use `load`; the arguments are its private, already-dated indexes."""
        self._people = people
        self._placements = placements
        self._roles = roles
        self._holders = holders
        self._rosters = rosters
        self._kinds = kinds
        self._units = units
        self._class_ids = class_ids
        # The last moment asked about and its day: a command asks several questions at one
        # moment, and working its day out again each time cost as much as the answers.
        self._last_day: tuple[datetime | None, date] = (None, date.min)

    @classmethod
    def load(cls, engine: Engine) -> MemoryDirectory:
        """Read every business table once, in one transaction so the tables agree.

        On SQLite, pass an engine made with `make_engine(url, write_lock_at_begin=False)`, as the
        simulator does: with the write lock taken at BEGIN, workers loading at once would wait
        for each other's whole read (a couple of seconds each at the demo size).
        """
        with _cyclic_gc_paused(), engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                # Read committed would let a concurrent write land between two tables' reads.
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            return _Loader(conn).directory()

    # The `Directory` port -------------------------------------------------------------------

    def person(self, person_id: str, at: datetime) -> Person | None:
        timeline = self._people.get(person_id)
        return None if timeline is None else timeline.at(self._day(at))

    def placement(self, person_id: str, at: datetime) -> Placement | None:
        timeline = self._placements.get(person_id)
        return None if timeline is None else timeline.at(self._day(at))

    def roles(self, person_id: str, at: datetime) -> tuple[RoleGrant, ...]:
        timeline = self._roles.get(person_id)
        return () if timeline is None else timeline.at(self._day(at))

    def resolve(self, rule: AssigneeRule, applicant: Placement, at: datetime) -> Assignment:
        day = self._day(at)
        target = target_of(rule, applicant, day)
        holders = self._holders_on(target.role, target.scope_type, target.scope_id, day)
        if not holders:
            raise nobody_holds(rule, target, day)
        return Assignment(department_id=target.department_id, assignees=holders)

    # Rosters for the simulator ----------------------------------------------------------------

    def people_of_kind(self, kind: Audience) -> tuple[str, ...]:
        """Everyone on record of `kind` (whatever their status on any day), ids sorted."""
        return self._kinds.get(kind, ())

    def staff_of_unit(self, unit_id: str) -> tuple[str, ...]:
        """Staff whose unit (department, college or 书院) is `unit_id`, ids sorted."""
        return self._units.get(unit_id, ())

    def classes(self) -> tuple[str, ...]:
        """Every class on record, open or closed (graduated), ids sorted."""
        return self._class_ids

    def students_of_class(self, class_id: str, at: datetime) -> tuple[str, ...]:
        """The class roster at `at`: students whose membership is in effect that day, sorted.

        休学 students stay on their class's roster, as in the business systems.
        """
        timeline = self._rosters.get(class_id)
        return () if timeline is None else timeline.at(self._day(at))

    def monitors_of_class(self, class_id: str, at: datetime) -> tuple[str, ...]:
        """Who holds the class monitor (班长) role over `class_id` at `at`, sorted."""
        return self.holders(Role.CLASS_MONITOR, ScopeType.CLASS, class_id, at)

    def counsellors_of_class(self, class_id: str, at: datetime) -> tuple[str, ...]:
        """Who holds the counsellor (辅导员) role over `class_id` at `at`, sorted."""
        return self.holders(Role.COUNSELLOR, ScopeType.CLASS, class_id, at)

    def holders(
        self, role: Role, scope_type: ScopeType, scope_id: str, at: datetime
    ) -> tuple[str, ...]:
        """Who holds `role` over one scope at `at`: the people `resolve` would assign, sorted."""
        return self._holders_on(role, scope_type, scope_id, self._day(at))

    def _day(self, at: datetime) -> date:
        """`effective_day(at)`, remembered for the last `at` (by identity: a time kept alive
        here cannot be confused with a new one at its address)."""
        last_at, last_day = self._last_day
        if at is last_at:
            return last_day
        day = effective_day(at)
        self._last_day = (at, day)
        return day

    def _holders_on(
        self, role: Role, scope_type: ScopeType, scope_id: str, day: date
    ) -> tuple[str, ...]:
        timeline = self._holders.get((role.value, scope_type.value, scope_id))
        return () if timeline is None else timeline.at(day)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Keep Python's cycle collector out of the load.

    The load allocates about a million small objects, none of them in reference cycles, and the
    collector would walk them again and again as they pile up: half of the load's CPU time at the
    demo size (2.0 s to 1.0 s). Reference counting still frees everything; collection resumes
    (if it was on) when the load ends. The pause is process-wide, which is harmless for the
    second or so that a worker spends loading before it starts work.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# Code values to enum members by dictionary: `Enum(value)` would cost a call per row.
_AUDIENCES: Final = {member.value: member for member in Audience}
_STATUSES: Final = {member.value: member for member in StudentStatus}
_ROLES: Final = {member.value: member for member in Role}
_SCOPE_TYPES: Final = {member.value: member for member in ScopeType}


class _Loader:
    """Reads the tables and turns their effective-dated rows into timelines, once."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _rows(self, statement: Any) -> Sequence[Any]:
        return self._conn.execute(statement).all()

    def directory(self) -> MemoryDirectory:
        facts = self._class_facts()
        student_rows = self._rows(select(students.c.student_id, students.c.name, students.c.kind))
        staff_rows = self._rows(
            select(
                staff.c.staff_id, staff.c.name, staff.c.unit_type, staff.c.unit_id, staff.c.hired_on
            )
        )
        account_rows = self._rows(
            select(hall_accounts.c.account_id, hall_accounts.c.name, hall_accounts.c.kind)
        )
        student_kinds = {student_id: _AUDIENCES[kind] for student_id, _, kind in student_rows}
        # A membership of a student or class the tables lack places nobody: SqlDirectory joins.
        memberships = [
            (student_id, class_id, membership_id, valid_from, valid_to)
            for membership_id, student_id, class_id, valid_from, valid_to in self._rows(
                select(
                    student_class_memberships.c.membership_id,
                    student_class_memberships.c.student_id,
                    student_class_memberships.c.class_id,
                    student_class_memberships.c.valid_from,
                    student_class_memberships.c.valid_to,
                )
            )
            if student_id in student_kinds and class_id in facts
        ]
        grant_rows = self._rows(
            select(
                role_assignments.c.person_id,
                role_assignments.c.role,
                role_assignments.c.scope_type,
                role_assignments.c.scope_id,
                role_assignments.c.valid_from,
                role_assignments.c.valid_to,
            )
        )

        kinds: dict[Audience, list[str]] = {}
        for student_id, kind in student_kinds.items():
            kinds.setdefault(kind, []).append(student_id)
        kinds[Audience.STAFF] = [row.staff_id for row in staff_rows]
        for account_id, _, kind in account_rows:
            kinds.setdefault(_AUDIENCES[kind], []).append(account_id)
        units = _by_key((row.unit_id, row.staff_id) for row in staff_rows)

        return MemoryDirectory(
            people=self._people(student_rows, staff_rows, account_rows),
            placements=_placements(memberships, facts, student_kinds, staff_rows),
            roles=_roles(grant_rows),
            holders=_holders(grant_rows),
            rosters={
                class_id: _timeline(dated, _sorted_ids)
                for class_id, dated in _by_key(
                    (class_id, (valid_from, valid_to, student_id))
                    for student_id, class_id, _, valid_from, valid_to in memberships
                ).items()
            },
            kinds={kind: tuple(sorted(ids)) for kind, ids in kinds.items()},
            units={unit: tuple(sorted(ids)) for unit, ids in units.items()},
            class_ids=tuple(sorted(facts)),
        )

    def _class_facts(self) -> dict[str, _ClassFacts]:
        return {
            class_id: _ClassFacts(int(entry_year), major_id, college_id, rc_id)
            for class_id, entry_year, major_id, college_id, rc_id in self._rows(
                select(
                    classes.c.class_id,
                    classes.c.entry_year,
                    classes.c.major_id,
                    majors.c.college_id,
                    classes.c.residential_college_id,
                ).join(majors, majors.c.major_id == classes.c.major_id)
            )
        }

    def _people(
        self, student_rows: Sequence[Any], staff_rows: Sequence[Any], account_rows: Sequence[Any]
    ) -> dict[str, _Timeline[Person | None]]:
        # Rows in (valid_from, status_id) order: SqlDirectory's join reads them by its
        # (student_id, valid_from) index, and takes the first.
        statuses = _by_key(
            (student_id, (valid_from, valid_to, _STATUSES[status]))
            for student_id, status, valid_from, valid_to in self._rows(
                select(
                    student_statuses.c.student_id,
                    student_statuses.c.status,
                    student_statuses.c.valid_from,
                    student_statuses.c.valid_to,
                ).order_by(student_statuses.c.valid_from, student_statuses.c.status_id)
            )
        )
        people: dict[str, _Timeline[Person | None]] = {}
        # Later tables overwrite earlier ones: SqlDirectory takes the first row of
        # `students union all staff union all hall_accounts`, so students go last.
        for account_id, name, kind in account_rows:
            people[account_id] = _constant(Person(account_id, name, _AUDIENCES[kind]))
        for row in staff_rows:
            people[row.staff_id] = _constant(Person(row.staff_id, row.name, Audience.STAFF))
        for student_id, name, kind in student_rows:
            people[student_id] = _timeline(
                statuses.get(student_id, []), _student_person(student_id, name, _AUDIENCES[kind])
            )
        return people


def _student_person(
    student_id: str, name: str, kind: Audience
) -> Callable[[list[StudentStatus]], Person | None]:
    def person(held: list[StudentStatus]) -> Person | None:
        # No status in effect: not yet enrolled that day, so not a student the hall knows.
        return Person(student_id, name, kind, held[0]) if held else None

    return person


def _placements(
    memberships: Sequence[tuple[str, str, int, date, date | None]],
    facts: dict[str, _ClassFacts],
    student_kinds: dict[str, Audience],
    staff_rows: Sequence[Any],
) -> dict[str, _Timeline[Placement | None]]:
    # A staff placement does not depend on the day: SqlDirectory does not date `hired_on`.
    staff_seats: dict[str, _Seat] = {
        row.staff_id: (row.hired_on, -1, staff_placement(row.staff_id, row.unit_type, row.unit_id))
        for row in staff_rows
    }
    placements: dict[str, _Timeline[Placement | None]] = {
        staff_id: _constant(seat[2]) for staff_id, seat in staff_seats.items()
    }
    seats: dict[str, list[_Dated[_Seat]]] = {}
    for student_id, class_id, membership_id, valid_from, valid_to in memberships:
        cls = facts[class_id]
        placement = Placement(
            person_id=student_id,
            kind=student_kinds[student_id],
            class_id=class_id,
            grade=cls.entry_year,
            major_id=cls.major_id,
            college_id=cls.college_id,
            residential_college_id=cls.residential_college_id,
        )
        seat = (valid_from, membership_id, placement)
        seats.setdefault(student_id, []).append((valid_from, valid_to, seat))
    for student_id, dated in seats.items():
        # A student also on the staff (never so in generated data) has both seats ranked by
        # start, as SqlDirectory's union does.
        placements[student_id] = _timeline(dated, _latest_seat_among(staff_seats.get(student_id)))
    return placements


def _roles(grant_rows: Sequence[Any]) -> dict[str, _Timeline[tuple[RoleGrant, ...]]]:
    grants = _by_key(
        (
            person_id,
            (valid_from, valid_to, RoleGrant(_ROLES[role], _SCOPE_TYPES[scope_type], scope_id)),
        )
        for person_id, role, scope_type, scope_id, valid_from, valid_to in grant_rows
    )
    return {person_id: _timeline(dated, _sorted_grants) for person_id, dated in grants.items()}


def _holders(grant_rows: Sequence[Any]) -> dict[_HolderKey, _Timeline[tuple[str, ...]]]:
    # Keyed by the stored strings, as SqlDirectory's `where role = :role …` compares them.
    holders: dict[_HolderKey, list[_Dated[str]]] = {}
    for person_id, role, scope_type, scope_id, valid_from, valid_to in grant_rows:
        key = (role, scope_type, scope_id)
        holders.setdefault(key, []).append((valid_from, valid_to, person_id))
    return {key: _timeline(dated, _sorted_ids) for key, dated in holders.items()}
