"""With a quality report published beside the served warehouse (a clean run, a run published
with a warning, a run a blocking check stopped), data staff open 数据质量 and see the pause banner,
the warning with its failing keys and its Dagster run; other personas see the count and the
pause in their status line but not the page; a new report redraws the page within a poll while
the warehouse snapshot stays."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Final

import pytest
from playwright.sync_api import Page, expect

from tests.dashboards.browser.conftest import (
    PAGE_TIMEOUT_MS,
    Console,
    Served,
    open_section,
    screenshot,
    sign_in,
    table_rows,
    wait_idle,
)
from tests.warehouse.quality_report import (
    DECISION_AFTER_TASK,
    MEMBERSHIP_OVERLAP,
    OVERLAPS,
    QualityWork,
    warning_then_blocked,
)
from warehouse.reader import Warehouse

BANNER: Final = "#quality-banner"
STATUS: Final = "#quality-status-table"
SAMPLE: Final = "#quality-sample-table"
DAGSTER: Final = "http://127.0.0.1:3000"  # TONGBAN_DAGSTER_URL's default: the suite sets none


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@pytest.fixture(scope="module")
def report(served: Served) -> Iterator[datetime]:
    """The report of three runs ending a few minutes ago; removed afterwards, so that the other
    browser tests read the served copy as they found it."""
    at = utc_now() - timedelta(minutes=5)
    work_db = served.home / "quality-work.duckdb"
    warning_then_blocked(served.paths, work_db, at)
    try:
        yield at
    finally:
        shutil.rmtree(served.paths.quality.root, ignore_errors=True)
        work_db.unlink(missing_ok=True)


def test_data_staff_see_the_pause_and_the_warning_with_its_failing_keys(
    report: datetime,
    cast: dict[str, str],
    served_warehouse: Warehouse,
    page: Page,
    console: Console,
) -> None:
    snapshot = served_warehouse.snapshot()
    open_section(page, cast["data_staff"], "quality")

    banner = page.locator(BANNER)
    expect(banner).to_contain_text("发布已暂停：1 项阻断检查未通过")
    expect(banner).to_contain_text(DECISION_AFTER_TASK)
    expect(banner).to_contain_text(f"各页面仍显示快照 #{snapshot.number}")
    expect(page.locator("#shell-status")).to_contain_text("发布已暂停：1 项阻断检查未通过")

    # The warning was published and is shown, linked to its run in Dagster.
    warning = page.locator(f'{STATUS} tr[data-check="{MEMBERSHIP_OVERLAP}"]')
    expect(warning.locator(".tb-mark")).to_have_text("! 警告")
    expect(warning.locator("a.tb-run-link")).to_have_attribute("href", f"{DAGSTER}/runs/run-3")
    blocking = page.locator(f'{STATUS} tr[data-check="{DECISION_AFTER_TASK}"]')
    expect(blocking.locator(".tb-mark")).to_have_text("✗ 未通过")
    screenshot(page, "data_staff", "quality")

    # Drill down: the warning's failing rows, keys first.
    warning.locator("a", has_text=MEMBERSHIP_OVERLAP).click()
    page.wait_for_url(f"**/quality?check={MEMBERSHIP_OVERLAP}")
    wait_idle(page)
    expect(page.locator(f"{SAMPLE} th").first).to_have_text("student_id（键）")
    expect(page.locator(f"{SAMPLE} tbody tr")).to_have_count(len(OVERLAPS))
    rows = table_rows(page, SAMPLE)
    assert [
        (row["student_id（键）"], row["class_id（键）"], row["valid_from（键）"]) for row in rows
    ] == [(o["student_id"], o["class_id"], o["valid_from"]) for o in OVERLAPS]
    expect(page.locator("#quality-trend .js-plotly-plot")).to_have_count(1)
    screenshot(page, "data_staff", "quality-sample")

    # A click on the trend's first point (the clean run) shows that run's result: no rows.
    first = page.locator("#quality-trend .scatterlayer .points path").first
    first.scroll_into_view_if_needed()
    box = first.bounding_box()  # in the viewport: scrolled to it first
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    # plotly answers a click with the point under the hover: hover first, as a hand would.
    page.mouse.move(x, y)
    expect(page.locator("#quality-trend .hoverlayer .hovertext")).to_have_count(1)
    page.mouse.click(x, y)
    expect(page.locator("#quality-sample")).to_contain_text("运行 run-1")
    expect(page.locator(SAMPLE)).to_contain_text("该次结果没有失败样本")
    console.assert_clean("data staff's quality page")


@pytest.mark.parametrize("role", ["counsellor", "leadership", "class_monitor"])
def test_other_personas_see_the_count_and_the_pause_but_not_the_page(
    role: str, report: datetime, cast: dict[str, str], page: Page, console: Console
) -> None:
    sign_in(page, cast[role])
    status = page.locator("#shell-status")
    expect(status).to_contain_text("2 项数据质量检查未通过")
    expect(status).to_contain_text("发布已暂停：1 项阻断检查未通过")
    expect(status.locator('a[href="/quality"]')).to_have_count(0)
    expect(page.locator('#shell-nav a[href="/quality"]')).to_have_count(0)
    screenshot(page, role, "quality-badge")
    page.goto("/quality")
    wait_idle(page)
    expect(page.locator(".tb-no-access")).to_have_count(1)
    expect(page.locator(STATUS)).to_have_count(0)
    console.assert_clean(f"the {role}'s typed-in /quality")


def test_a_new_report_redraws_the_page_while_the_snapshot_stays(
    report: datetime,
    served: Served,
    cast: dict[str, str],
    served_warehouse: Warehouse,
    page: Page,
    console: Console,
) -> None:
    number = served_warehouse.snapshot().number
    open_section(page, cast["data_staff"], "quality")
    expect(page.locator(BANNER)).to_be_visible()

    # The blocking check is fixed; the warning stays. No warehouse snapshot is published.
    work = QualityWork(served.home / "quality-work.duckdb")
    try:
        work.evaluate(
            "run-4",
            report + timedelta(minutes=1),
            "published",
            failing={MEMBERSHIP_OVERLAP: OVERLAPS},
        )
        work.publish(served.paths, report + timedelta(minutes=1))
        expect(page.locator(BANNER)).to_have_count(0)
        expect(page.locator("#shell-status")).to_contain_text("1 项数据质量检查未通过")
        expect(page.locator("#shell-status")).not_to_contain_text("发布已暂停")
        expect(
            page.locator(f'{STATUS} tr[data-check="{DECISION_AFTER_TASK}"] .tb-mark')
        ).to_have_text("✓ 通过")
        # And it breaks again: the banner is back, on the same snapshot.
        work.evaluate(
            "run-5",
            report + timedelta(minutes=2),
            "blocked",
            failing={DECISION_AFTER_TASK: [{"instance_id": "I-9", "task_id": "T-9"}]},
        )
        work.publish(served.paths, report + timedelta(minutes=2))
    finally:
        work.close()
    expect(page.locator(BANNER)).to_contain_text(DECISION_AFTER_TASK, timeout=PAGE_TIMEOUT_MS)
    expect(page.locator("#shell-status")).to_contain_text("发布已暂停：1 项阻断检查未通过")
    expect(page.locator("#shell-status")).to_contain_text(f"快照 #{number}")
    assert served_warehouse.snapshot().number == number
    wait_idle(page)
    console.assert_clean("data staff's quality page across reports")
