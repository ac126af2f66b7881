"""On 办理效能 leadership sees every service's volume and every department's sample as the warehouse
read API gives them, switching to wall-clock time redraws the durations, and a department head
sees their own departments only."""

from __future__ import annotations

from typing import Final

import polars as pl
from playwright.sync_api import Page, expect

from dashboards.config import shanghai_today
from dashboards.formatting import count, duration
from tests.dashboards.browser.conftest import Console, open_section, table_rows, wait_idle
from warehouse.read_api import turnaround as reads
from warehouse.reader import Warehouse
from warehouse.scope import Scope, resolve_scope

SERVICES: Final = "#turnaround-services-table"
DEPARTMENTS: Final = "#turnaround-departments-table"


def scope_of(reader: Warehouse, user_id: str) -> Scope:
    with reader.cursor() as cursor:
        return resolve_scope(cursor, user_id, shanghai_today())


def department_samples(frame: pl.DataFrame) -> dict[str, str]:
    return {
        str(row["department_name_zh"] or row["department_id"]): count(row["decided"])
        for row in frame.iter_rows(named=True)
    }


def test_leadership_sees_every_service_and_department(
    cast: dict[str, str], served_warehouse: Warehouse, page: Page, console: Console
) -> None:
    scope = scope_of(served_warehouse, cast["leadership"])
    with served_warehouse.cursor() as cursor:
        services = reads.services(cursor, scope)
        departments = reads.departments(cursor, scope)
    open_section(page, cast["leadership"], "turnaround")

    shown = table_rows(page, SERVICES)
    assert {row["服务"]: row["申请件数"] for row in shown} == {
        str(row["process_name_zh"]): count(row["submitted"])
        for row in services.iter_rows(named=True)
    }
    # Busiest first: the order a reader scans for volume.
    submitted = [int(row["申请件数"].replace(",", "")) for row in shown]
    assert submitted == sorted(submitted, reverse=True)
    shown_departments = {
        row["部门"]: row["样本（办理任务）"] for row in table_rows(page, DEPARTMENTS)
    }
    assert shown_departments == department_samples(departments)

    # The clock switch: the busiest service's median in wall-clock time.
    busiest = services.filter(~pl.col("is_small_sample")).sort("submitted", descending=True)
    name = str(busiest["process_name_zh"][0])
    working = duration(busiest["turnaround_working_median_s"][0], "zh")
    wall = duration(busiest["turnaround_median_s"][0], "zh")
    assert working != wall, "the busiest service takes as long in both clocks: nothing to see"
    median = page.locator(f"{SERVICES} tbody tr", has_text=name).locator("td").nth(4)
    expect(median).to_have_text(working)
    page.locator("#turnaround-clock label", has_text="自然时间").click()
    expect(median).to_have_text(wall)
    wait_idle(page)
    console.assert_clean("leadership's turnaround page")


def test_a_department_head_sees_their_departments_only(
    cast: dict[str, str], served_warehouse: Warehouse, page: Page, console: Console
) -> None:
    user_id = cast["department_approver"]
    scope = scope_of(served_warehouse, user_id)
    assert not scope.university and scope.unit_ids
    everyone = scope_of(served_warehouse, cast["leadership"])
    with served_warehouse.cursor() as cursor:
        mine = reads.departments(cursor, scope)
        others = reads.departments(cursor, everyone).filter(
            ~pl.col("department_id").is_in(sorted(scope.unit_ids))
        )
    open_section(page, user_id, "turnaround")

    assert {row["部门"]: row["样本（办理任务）"] for row in table_rows(page, DEPARTMENTS)} == (
        department_samples(mine)
    )
    # Services are shown per own department, never university-wide volumes.
    expect(page.locator(f"{SERVICES} th", has_text="申请件数")).to_have_count(0)
    own_rows = table_rows(page, SERVICES)
    assert own_rows and {row["部门"] for row in own_rows} <= set(department_samples(mine))
    body = page.locator("#turnaround-body").inner_text()
    own = set(department_samples(mine))
    # A name inside one of the department's own names (学院 in 某某学院) tells nothing.
    other_names = {n for n in department_samples(others) if not any(n in m for m in own)}
    leaked = sorted(n for n in other_names if n in body)
    assert not leaked, f"other departments on a department head's page: {leaked}"
    console.assert_clean("the department head's turnaround page")
