"""On 流程视图 leadership sees the busiest service's case count and its slowest cases by id as the
warehouse read API gives them; a department head is offered only the services their departments
take part in and never sees a case id."""

from __future__ import annotations

from typing import Final

import polars as pl
from playwright.sync_api import Page, expect

from dashboards.config import shanghai_today
from dashboards.formatting import count
from tests.dashboards.browser.conftest import Console, open_section, table_rows
from warehouse.read_api import processes as reads
from warehouse.reader import Warehouse
from warehouse.scope import Scope, resolve_scope

SUMMARY: Final = "#process-summary"
SLOWEST: Final = "#process-slowest-table"


def scope_of(reader: Warehouse, user_id: str) -> Scope:
    with reader.cursor() as cursor:
        return resolve_scope(cursor, user_id, shanghai_today())


def busiest(catalog: pl.DataFrame) -> dict[str, object]:
    """The service the page opens on: the one with the most cases."""
    ranked = catalog.with_columns(pl.col("cases").fill_null(0)).sort(
        ["cases", "process_key"], descending=[True, False]
    )
    return ranked.to_dicts()[0]


def offered(page: Page) -> list[str]:
    """The services the dropdown offers (their names, without the case counts)."""
    page.locator("#process-service").click()
    # Dash 4 opens the options in a popover outside the dropdown's element.
    options = page.get_by_role("option")
    options.first.wait_for()
    names = [text.split("（")[0] for text in options.all_inner_texts()]
    page.keyboard.press("Escape")
    return names


def test_leadership_sees_the_busiest_service_and_its_slowest_cases(
    cast: dict[str, str], served_warehouse: Warehouse, page: Page, console: Console
) -> None:
    scope = scope_of(served_warehouse, cast["leadership"])
    with served_warehouse.cursor() as cursor:
        catalog = reads.processes(cursor, scope)
        first = busiest(catalog)
        slowest = reads.slowest_cases(cursor, scope, str(first["process_key"]))
    open_section(page, cast["leadership"], "process")

    expect(page.locator("#process-service")).to_contain_text(str(first["process_name_zh"]))
    expect(page.locator(SUMMARY)).to_contain_text(f"共 {count(int(first['cases']))} 件")  # type: ignore[call-overload]
    rows = table_rows(page, SLOWEST)
    assert [row["案例编号"] for row in rows] == slowest.sort("slowness_rank")["case_id"].to_list()
    assert rows, "the busiest service has no slowest cases to show"
    expect(page.locator("#process-sankey .js-plotly-plot")).to_have_count(1)
    assert sorted(offered(page)) == sorted(str(n) for n in catalog["process_name_zh"].to_list())
    console.assert_clean("leadership's process page")


def test_a_department_head_sees_their_services_and_no_case_ids(
    cast: dict[str, str], served_warehouse: Warehouse, page: Page, console: Console
) -> None:
    user_id = cast["department_approver"]
    scope = scope_of(served_warehouse, user_id)
    everyone = scope_of(served_warehouse, cast["leadership"])
    with served_warehouse.cursor() as cursor:
        catalog = reads.processes(cursor, scope)
        first = busiest(catalog)
        case_ids = reads.slowest_cases(cursor, everyone, str(first["process_key"]))["case_id"]
    open_section(page, user_id, "process")

    expect(page.locator(SUMMARY)).to_contain_text(f"共 {count(int(first['cases']))} 件")  # type: ignore[call-overload]
    expect(page.locator(f"{SLOWEST} table")).to_have_count(0)
    html = page.content()
    leaked = [case for case in case_ids.to_list() if str(case) in html]
    assert not leaked, f"case ids on a department head's page: {leaked[:5]}"
    assert sorted(offered(page)) == sorted(str(n) for n in catalog["process_name_zh"].to_list())
    console.assert_clean("the department head's process page")
