"""An event for a student the directory does not know reaches the served university's event
store; the real warehouse update publishes (a warning does not block) and data staff find the
warning on 数据质量 with the offending instance, while a counsellor's status line counts it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from typing import Final

from playwright.sync_api import Page, expect

from tests.dashboards.browser.conftest import (
    ROOT,
    TONGBAN,
    Console,
    Served,
    clean_env,
    open_section,
    table_rows,
    wait_idle,
)
from warehouse.reader import Warehouse

CHECK: Final = "integrity_applicant_known"
STATUS: Final = "#quality-status-table"
SAMPLE: Final = "#quality-sample-table"
STRANGER: Final = "U209999999"
INSTANCE: Final = "portal-unknown-applicant-1"


def inject_unknown_applicant(served: Served) -> None:
    """Append a copy of the store's last submission, made by a student no business system
    knows (as a front end that skipped the directory would)."""
    with sqlite3.connect(served.home / "events.db", isolation_level=None) as conn:
        columns = [row[1] for row in conn.execute("pragma table_info(events)")]
        last = conn.execute(
            "select * from events where event_type = 'submitted' order by event_id desc limit 1"
        ).fetchone()
        row = dict(zip(columns, last, strict=True))
        payload = json.loads(row["payload"])
        payload["applicant_id"] = STRANGER
        row.update(
            event_id=conn.execute("select max(event_id) + 1 from events").fetchone()[0],
            stream_id=INSTANCE,
            stream_version=1,
            actor_id=STRANGER,
            payload=json.dumps(payload),
        )
        conn.execute(
            f"insert into events ({', '.join(columns)}) values ({', '.join('?' * len(columns))})",
            [row[c] for c in columns],
        )


def test_a_warning_from_the_pipeline_publishes_and_is_shown(
    served: Served,
    cast: dict[str, str],
    served_warehouse: Warehouse,
    page: Page,
    console: Console,
) -> None:
    before = served_warehouse.snapshot().number
    inject_unknown_applicant(served)
    built = subprocess.run(
        [TONGBAN, "build"],
        cwd=ROOT,
        env=clean_env(served.home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert f"warning {CHECK}" in built.stdout + built.stderr
    assert served_warehouse.snapshot().number > before, "a warning still publishes"

    open_section(page, cast["data_staff"], "quality")
    row = page.locator(f'{STATUS} tr[data-check="{CHECK}"]')
    expect(row.locator(".tb-mark")).to_have_text("! 警告")
    expect(page.locator("#quality-banner")).to_have_count(0)
    row.locator("a", has_text=CHECK).click()
    page.wait_for_url(f"**/quality?check={CHECK}")
    wait_idle(page)
    rows = table_rows(page, SAMPLE)
    assert [r["instance_id（键）"] for r in rows] == [INSTANCE]
    console.assert_clean("data staff's quality page after a real warning")

    # Everybody else: the count in the status line, no pause.
    open_section(page, cast["counsellor"], "registration")
    status = page.locator("#shell-status")
    expect(status).to_contain_text("1 项数据质量检查未通过")
    expect(status).not_to_contain_text("发布已暂停")
    console.assert_clean("a counsellor's status line after a real warning")
