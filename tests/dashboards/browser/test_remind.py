"""A monitor ticks a student who has not registered and reminds them (催办) from the open page:
the workflow API records one reminder by that monitor for that student, and the page says so."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from dashboards.config import shanghai_today
from tests.dashboards.browser.conftest import Console, Served, open_section, wait_idle
from warehouse.read_api import registration as read
from warehouse.reader import Warehouse
from warehouse.scope import resolve_scope

UNREGISTERED = "#registration-unregistered-table"


def reminders(served: Served, campaign_id: str) -> list[tuple[str, list[str]]]:
    """(actor, student ids) of every 催办 of the campaign in the served event store."""
    engine = create_engine(f"sqlite:///{served.home / 'events.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "select actor_id, payload from events"
                    " where stream_id = :campaign and event_type = 'campaign_reminded'"
                    " order by event_id"
                ),
                {"campaign": campaign_id},
            ).fetchall()
    finally:
        engine.dispose()
    found = []
    for actor, payload in rows:
        body = json.loads(payload) if isinstance(payload, str) else payload
        found.append((str(actor), list(body["student_ids"])))
    return found


def test_a_monitor_reminds_a_student_from_the_page(
    served: Served,
    cast: dict[str, str],
    served_warehouse: Warehouse,
    api: str,
    page: Page,
    console: Console,
) -> None:
    monitor = cast["class_monitor"]
    with served_warehouse.cursor() as cursor:
        scope = resolve_scope(cursor, monitor, shanghai_today())
        campaign_id = read.current_campaign(cursor, scope)
        assert campaign_id is not None
        missing = read.unregistered_students(cursor, scope, campaign_id)
    assert missing.height > 0
    before = reminders(served, campaign_id)
    open_section(page, monitor, "registration")

    first = page.locator(f"{UNREGISTERED} tbody tr", has=page.locator("td")).first
    student = first.locator('td[data-dash-column="student_id"]').inner_text()
    assert student in missing["student_id"].to_list()
    first.locator('input[type="checkbox"]').check()
    page.locator("#registration-remind-message").fill("请尽快登记假期去向")
    page.locator("#registration-remind").click()
    expect(page.locator("#registration-remind-result")).to_contain_text("已催办 1 人")
    expect(page.locator("#registration-remind-result")).to_contain_text(student)
    wait_idle(page)

    added = reminders(served, campaign_id)[len(before) :]
    assert added == [(monitor, [student])]
    console.assert_clean("the monitor's page after 催办")
