"""Each kind of persona signs in on the dev persona page, sees its own navigation and status line,
opens every page the navigation offers with a clean console, and a student without a role sees
"no access" everywhere."""

from __future__ import annotations

from datetime import date
from typing import Final

import pytest
from playwright.sync_api import Page, expect

from dashboards.config import shanghai_today
from dashboards.formatting import shanghai
from tests.dashboards.browser.conftest import (
    Console,
    Served,
    screenshot,
    sign_in,
    wait_idle,
)
from warehouse.read_api.status import data_status
from warehouse.reader import Warehouse
from warehouse.scope import resolve_scope

# What each role's navigation offers (DESIGN.md "Who uses it"), written out here rather than
# read from the shell's rules, so that a wrong rule shows.
NAVIGATION: Final[dict[str, tuple[str, ...]]] = {
    "class_monitor": ("registration",),
    "counsellor": ("registration",),
    "college_office": ("registration", "turnaround", "process"),
    "student_affairs": ("registration", "turnaround", "process"),
    "leadership": ("registration", "turnaround", "process"),
    "department_approver": ("turnaround", "process"),
}
LABELS: Final = {"registration": "去向登记", "turnaround": "办理效能", "process": "流程视图"}


def campus_day() -> date:
    # `tongban serve` resolves scopes on today's campus day, not the warehouse tests' fixed day.
    return shanghai_today()


@pytest.mark.parametrize("role", sorted(NAVIGATION))
def test_a_persona_signs_in_and_opens_every_page_it_is_offered(
    role: str,
    served: Served,
    cast: dict[str, str],
    served_warehouse: Warehouse,
    page: Page,
    console: Console,
) -> None:
    user_id = cast[role]
    sign_in(page, user_id)
    expect(page.locator(".tb-user")).to_contain_text(served.name(user_id))

    with served_warehouse.cursor() as cursor:
        scope = resolve_scope(cursor, user_id, campus_day())
        status = data_status(cursor, scope)
    expect(page.locator("#shell-status")).to_contain_text(
        f"数据截至 {shanghai(status.as_of, 'zh')}"
    )
    expect(page.locator("#shell-status")).to_contain_text(f"快照 #{status.snapshot_number}")

    expected = list(NAVIGATION[role])
    links = page.locator("#shell-nav a")
    expect(links).to_have_count(len(expected))
    hrefs = [links.nth(i).get_attribute("href") for i in range(len(expected))]
    assert hrefs == [f"/{section}" for section in expected]
    expect(links).to_have_text([LABELS[section] for section in expected])
    # The home page offers the same pages as cards.
    expect(page.locator(".tb-home .tb-card")).to_have_count(len(expected))
    screenshot(page, role, "home")
    console.assert_clean(f"{role}'s home")

    for section in expected:
        page.locator(f'#shell-nav a[href="/{section}"]').click()
        page.wait_for_url(f"**/{section}")
        wait_idle(page)
        expect(page.locator(".tb-no-access")).to_have_count(0)
        expect(page.locator("#shell-status")).to_contain_text("数据截至")
        screenshot(page, role, section)
        console.assert_clean(f"{role}'s {section} page")

    page.locator(".tb-logout").click()
    page.wait_for_url("**/login")
    expect(page.locator(f'button.tb-persona[value="{user_id}"]').first).to_be_visible()


def test_a_student_without_a_role_sees_no_access(
    cast: dict[str, str], served_warehouse: Warehouse, page: Page, console: Console
) -> None:
    student = cast["student"]
    with served_warehouse.cursor() as cursor:
        assert resolve_scope(cursor, student, campus_day()).is_empty
    sign_in(page, student)
    expect(page.locator(".tb-no-access h1")).to_have_text("无访问权限")
    expect(page.locator("#shell-nav a")).to_have_count(0)
    expect(page.locator("#shell-status")).to_have_count(0)
    screenshot(page, "student", "no-access")
    console.assert_clean("the student's home")
    # A typed-in address is refused the same way, and no figure is computed.
    for path in ("/registration", "/turnaround", "/process"):
        page.goto(path)
        wait_idle(page)
        expect(page.locator(".tb-no-access h1")).to_have_text("无访问权限")
        expect(page.locator(".js-plotly-plot")).to_have_count(0)
        console.assert_clean(f"the student's {path}")


@pytest.mark.parametrize("section", ["turnaround", "process"])
def test_a_monitor_typing_a_page_address_outside_their_role_is_refused(
    section: str, cast: dict[str, str], page: Page, console: Console
) -> None:
    sign_in(page, cast["class_monitor"])
    page.goto(f"/{section}")
    wait_idle(page)
    expect(page.locator(".tb-no-access")).to_have_count(1)
    expect(page.locator(".js-plotly-plot")).to_have_count(0)
    expect(page.locator("#shell-nav a")).to_have_text(["去向登记"])
    console.assert_clean(f"the monitor's {section}")


def test_signing_in_without_a_persona_is_refused(served: Served, page: Page) -> None:
    # Anonymous pages go to the sign-in page; an id that is no persona is refused.
    page.goto("/registration")
    page.wait_for_url("**/login")
    response = page.request.post("/auth/login", form={"user_id": "nobody-at-all"})
    assert response.status == 403
    page.goto("/")
    expect(page.locator("button.tb-persona").first).to_be_visible()


def test_the_console_watch_sees_what_a_page_logs(page: Page, console: Console) -> None:
    # The clean-console checks above mean something only if the watch hears the page.
    page.goto("/login")
    page.evaluate("() => { console.error('an error'); console.warn('a warning') }")
    page.evaluate("() => setTimeout(() => { throw new Error('uncaught') }, 0)")
    page.wait_for_timeout(200)
    found = list(console.messages)
    console.messages.clear()
    assert any(m.startswith("error: an error") for m in found), found
    assert any(m.startswith("warning: a warning") for m in found), found
    assert any("uncaught" in m for m in found), found
