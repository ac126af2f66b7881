"""A counsellor switches the UI to English and back: the navigation, the status line and the
去向登记 page speak English with the same numbers and a clean console, and the choice sticks."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from dashboards.config import shanghai_today
from dashboards.formatting import count
from tests.dashboards.browser.conftest import Console, open_section, screenshot, wait_idle
from warehouse.read_api import registration as read
from warehouse.reader import Warehouse
from warehouse.scope import resolve_scope


def test_a_counsellor_reads_the_registration_page_in_english(
    cast: dict[str, str], served_warehouse: Warehouse, page: Page, console: Console
) -> None:
    user_id = cast["counsellor"]
    with served_warehouse.cursor() as cursor:
        scope = resolve_scope(cursor, user_id, shanghai_today())
        campaign_id = read.current_campaign(cursor, scope)
        assert campaign_id is not None
        totals = read.progress(cursor, scope, campaign_id, by="university").to_dicts()[0]
    open_section(page, user_id, "registration")
    expect(page.locator("h1")).to_have_text("去向登记")

    page.locator(".tb-language", has_text="English").click()
    page.wait_for_url("**/registration")
    wait_idle(page)
    expect(page.locator("#shell-nav a")).to_have_text(["Whereabouts"])
    expect(page.locator("#shell-status")).to_contain_text("Data as of")
    expect(page.locator("h1")).to_have_text("Holiday whereabouts")
    expect(page.locator("#registration-summary")).to_contain_text(
        f"{count(totals['registered'])} of {count(totals['eligible'])} registered"
    )
    screenshot(page, "counsellor", "registration-en")
    console.assert_clean("the counsellor's English registration page")

    # The language is the session's: another page keeps it, and 中文 brings Chinese back.
    page.goto("/")
    wait_idle(page)
    expect(page.locator("#shell-nav a")).to_have_text(["Whereabouts"])
    page.locator(".tb-language", has_text="中文").click()
    wait_idle(page)
    expect(page.locator("#shell-nav a")).to_have_text(["去向登记"])
    console.assert_clean("the counsellor's home after switching back")
