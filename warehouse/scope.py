"""Who may see what: a reader's scope, resolved in the warehouse from their role grants.

A scope is computed from the published `dim_role_grants` valid on a campus day and the org
closure: 班长 and 辅导员 see their classes; a college or 书院 office the classes of its unit;
学工部 and 研究生院 every class (they run the whereabouts campaigns for everyone); department
approvers their department's (or college office's) turnaround; 校领导 and data staff the whole
university as aggregates only, with cells under `k` students suppressed. Personal data (names,
phones, destinations) appear only within classes the scope owns. The browser never sends a
scope: the dashboards resolve it from the session's user id, and every read function takes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Final

import duckdb

SMALL_CELL_K: Final = 5
"""Leadership views suppress any cell with fewer students than this."""

# Roles whose grant over classes (directly or through a unit) shows those students by name.
_CLASS_ROLES: Final = frozenset({"class_monitor", "counsellor"})
_UNIT_ROLES: Final = frozenset({"college_office", "residential_college_office"})
_CAMPAIGN_RUNNERS: Final = frozenset({"student_affairs", "graduate_school"})
_AGGREGATE_ROLES: Final = frozenset({"leadership", "data_staff"})


class NotInScopeError(PermissionError):
    """A read asked for something outside the caller's scope; names what and whose."""


@dataclass(frozen=True)
class Scope:
    """What one user may read on one campus day.

    `class_ids`: classes whose students this user looks after (by name when `personal_data`).
    `unit_ids`: departments, colleges and 书院 whose turnaround this user may see.
    `university`: university-wide views (aggregates; named only with `personal_data`).
    """

    user_id: str
    on: date
    roles: frozenset[str] = frozenset()
    class_ids: frozenset[str] = frozenset()
    unit_ids: frozenset[str] = frozenset()
    university: bool = False
    personal_data: bool = False
    k: int = SMALL_CELL_K
    grants: tuple[tuple[str, str, str], ...] = field(default=(), repr=False)

    @property
    def is_empty(self) -> bool:
        """No role that reads the warehouse: the dashboards show "no access"."""
        return not (self.class_ids or self.unit_ids or self.university)

    @property
    def aggregates_only(self) -> bool:
        """Sees counts and rates, never a student's name; small cells suppressed."""
        return not self.personal_data

    def require(self) -> None:
        if self.is_empty:
            raise NotInScopeError(f"user {self.user_id} holds no role that reads the warehouse")

    def require_personal_data(self, what: str) -> None:
        if not self.personal_data or not self.class_ids:
            raise NotInScopeError(
                f"{what} shows personal data, outside the scope of {self.user_id}"
            )

    def require_classes(self, class_ids: frozenset[str] | set[str]) -> None:
        outside = set(class_ids) - self.class_ids
        if outside:
            raise NotInScopeError(
                f"classes {', '.join(sorted(outside))} are outside the scope of {self.user_id}"
            )

    def sees_unit(self, unit_id: str) -> bool:
        return self.university or unit_id in self.unit_ids


def resolve_scope(cursor: duckdb.DuckDBPyConnection, user_id: str, on: date) -> Scope:
    """The scope of `user_id` on campus day `on`, from the published warehouse."""
    grants = cursor.execute(
        "select role, scope_type, scope_id from dim_role_grants"
        " where person_id = ? and valid_from <= ? and (valid_to is null or valid_to > ?)"
        " order by role, scope_type, scope_id",
        [user_id, on, on],
    ).fetchall()
    roles = frozenset(role for role, _, _ in grants)
    class_ids: set[str] = set()
    unit_ids: set[str] = set()
    university = False
    personal = False
    for role, scope_type, scope_id in grants:
        if role in _CLASS_ROLES and scope_type == "class":
            class_ids.add(scope_id)
            personal = True
        elif role in _UNIT_ROLES:
            class_ids |= _classes_under(cursor, scope_type, scope_id)
            unit_ids.add(scope_id)
            personal = True
        elif role in _CAMPAIGN_RUNNERS:
            class_ids |= _classes_under(cursor, "university", "university")
            university = True
            personal = True
        elif role == "department_approver":
            unit_ids.add(scope_id)
        elif role in _AGGREGATE_ROLES:
            university = True
    return Scope(
        user_id=user_id,
        on=on,
        roles=roles,
        class_ids=frozenset(class_ids),
        unit_ids=frozenset(unit_ids),
        university=university,
        personal_data=personal,
        grants=tuple((str(r), str(t), str(i)) for r, t, i in grants),
    )


def _classes_under(cursor: duckdb.DuckDBPyConnection, unit_type: str, unit_id: str) -> set[str]:
    rows = cursor.execute(
        "select class_id from dim_org__closure where ancestor_type = ? and ancestor_id = ?",
        [unit_type, unit_id],
    ).fetchall()
    return {str(row[0]) for row in rows}
