"""Turnaround and process-flow reads: university-wide scopes see every department, a department
approver only its own, class-level roles none; grains and periods are validated."""

from __future__ import annotations

from datetime import date

import pytest

from tests.warehouse.conftest import AS_OF, BuiltUniversity
from tests.warehouse.test_scope import personas
from warehouse.read_api import processes, turnaround
from warehouse.reader import Warehouse
from warehouse.scope import NotInScopeError, resolve_scope

ON = AS_OF.date()


def test_leadership_sees_every_department_and_service(
    small_university: BuiltUniversity, warehouse: Warehouse
) -> None:
    leader = next(u for r, u in personas(small_university) if r == "leadership")
    with warehouse.cursor() as cursor:
        scope = resolve_scope(cursor, leader, ON)
        services = turnaround.services(cursor, scope)
        all_departments = {
            row[0]
            for row in cursor.execute(
                "select distinct department_id from mart_turnaround__nodes"
            ).fetchall()
        }
        departments = turnaround.departments(cursor, scope)
        signals = turnaround.approver_signals(cursor, scope)
        flows = processes.handoffs(cursor, scope, "*")
    assert services.height > 5 and (services["completion_rate"] <= 1).all()
    assert set(departments["department_id"]) == all_departments
    assert "approver_id" not in signals.columns  # leadership does not see approvers by name
    assert flows["handoffs"].sum() > 0


def test_a_department_approver_sees_only_its_own_units(
    small_university: BuiltUniversity, warehouse: Warehouse
) -> None:
    with warehouse.cursor() as cursor:
        approvers = cursor.execute(
            "select distinct person_id from dim_role_grants where role = 'department_approver'"
            " and person_id not in (select person_id from dim_role_grants"
            " where role not in ('department_approver'))"
        ).fetchall()
        checked = 0
        for (person_id,) in approvers:
            scope = resolve_scope(cursor, person_id, ON)
            if scope.university or not scope.unit_ids:
                continue
            nodes = turnaround.nodes(cursor, scope)
            signals = turnaround.approver_signals(cursor, scope)
            flows = processes.handoffs(cursor, scope, "*")
            assert set(nodes["department_id"]) <= scope.unit_ids
            assert set(signals["department_id"]) <= scope.unit_ids
            for source, target in flows.select(
                "from_department_id", "to_department_id"
            ).iter_rows():
                assert source in scope.unit_ids or target in scope.unit_ids
            with pytest.raises(NotInScopeError):
                turnaround.services(cursor, scope)
            checked += 1
    assert checked >= 3


def test_class_level_roles_see_no_turnaround(
    small_university: BuiltUniversity, warehouse: Warehouse
) -> None:
    for role in ("class_monitor", "counsellor"):
        user = next(u for r, u in personas(small_university) if r == role)
        with warehouse.cursor() as cursor:
            scope = resolve_scope(cursor, user, ON)
            for read in (turnaround.nodes, turnaround.departments, turnaround.open_task_ageing):
                with pytest.raises(NotInScopeError):
                    read(cursor, scope)
            with pytest.raises(NotInScopeError):
                processes.handoffs(cursor, scope, "*")


def test_grains_and_periods_are_validated(
    small_university: BuiltUniversity, warehouse: Warehouse
) -> None:
    leader = next(u for r, u in personas(small_university) if r == "leadership")
    with warehouse.cursor() as cursor:
        scope = resolve_scope(cursor, leader, ON)
        with pytest.raises(ValueError, match="unknown period grain 'year'"):
            turnaround.nodes(cursor, scope, grain="year")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="starts 2026-10-01 after it ends 2026-09-01"):
            turnaround.departments(
                cursor, scope, grain="month", since=date(2026, 10, 1), until=date(2026, 9, 1)
            )
        months = turnaround.departments(
            cursor, scope, grain="month", since=date(2026, 9, 1), until=date(2026, 10, 1)
        )
    assert set(months["period_start"]) <= {date(2026, 9, 1), date(2026, 10, 1)}
    assert months.height > 0


def test_slowest_cases_are_ids_for_university_scopes_only(
    small_university: BuiltUniversity, warehouse: Warehouse
) -> None:
    leader = next(u for r, u in personas(small_university) if r == "leadership")
    counsellor = next(u for r, u in personas(small_university) if r == "counsellor")
    with warehouse.cursor() as cursor:
        scope = resolve_scope(cursor, leader, ON)
        slowest = processes.slowest_cases(cursor, scope, "enrollment_certificate")
        longest = cursor.execute(
            "select max(epoch(ended_at) - epoch(started_at)) from mart_process__slowest_cases"
            " where process_key = 'enrollment_certificate'"
        ).fetchall()[0][0]
        with pytest.raises(NotInScopeError):
            processes.slowest_cases(
                cursor, resolve_scope(cursor, counsellor, ON), "enrollment_certificate"
            )
    assert 0 < slowest.height <= 20
    assert list(slowest["slowness_rank"]) == list(range(1, slowest.height + 1))
    assert slowest["duration_s"][0] == pytest.approx(longest)
    assert slowest["duration_s"].is_sorted(descending=True)
    assert not {"applicant_id", "student_name", "person_name"} & set(slowest.columns)


def test_case_durations_spread_every_case_of_a_service_over_the_same_bins(
    small_university: BuiltUniversity, warehouse: Warehouse
) -> None:
    leader = next(u for r, u in personas(small_university) if r == "leadership")
    monitor = next(u for r, u in personas(small_university) if r == "class_monitor")
    with warehouse.cursor() as cursor:
        scope = resolve_scope(cursor, leader, ON)
        services = processes.processes(cursor, scope)
        key = str(services.sort("cases", descending=True, nulls_last=True)["process_key"][0])
        bins = processes.case_durations(cursor, scope, key)
        cases, slowest = cursor.execute(
            "select cases, duration_max_s from mart_process__summary where process_key = ?", [key]
        ).fetchall()[0]
        with pytest.raises(NotInScopeError):
            processes.case_durations(cursor, resolve_scope(cursor, monitor, ON), key)
    assert bins["bin"].to_list() == list(range(1, 11))
    assert bins["cases"].sum() == cases
    assert abs(bins["share"].sum() - 1) < 1e-9
    # The longest case falls in the bin whose bounds hold it.
    holding = bins.filter(
        (bins["lower_s"] <= slowest) & (bins["upper_s"].is_null() | (bins["upper_s"] > slowest))
    )
    assert holding.height == 1 and holding["cases"][0] >= 1


def test_every_services_departments_in_one_read_equal_one_read_each(
    small_university: BuiltUniversity, warehouse: Warehouse
) -> None:
    with warehouse.cursor() as cursor:
        for role in ("leadership", "college_office"):
            person = next(u for r, u in personas(small_university) if r == role)
            scope = resolve_scope(cursor, person, ON)
            keys = sorted(
                str(row[0])
                for row in cursor.execute(
                    "select distinct process_key from mart_turnaround__departments"
                ).fetchall()
            )
            together = turnaround.departments_of_services(cursor, scope, keys)
            assert together.height > 0
            for key in keys:
                one = turnaround.departments(cursor, scope, process_key=key)
                assert together.filter(together["process_key"] == key).equals(one), key
