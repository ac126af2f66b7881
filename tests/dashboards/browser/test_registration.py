"""On 去向登记 each persona sees its scope's numbers as the warehouse read API gives them, a
monitor's page never carries another class's students, and the exports hold exactly the
not-registered students of the scope."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import polars as pl
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Response, expect

from dashboards.config import shanghai_today
from dashboards.formatting import count, percent
from tests.dashboards.browser.conftest import Console, sign_in, wait_idle
from warehouse.read_api import registration as read
from warehouse.reader import Warehouse
from warehouse.scope import Scope, resolve_scope

SUMMARY: Final = "#registration-summary"
PROGRESS: Final = "#registration-progress-table"
UNREGISTERED: Final = "#registration-unregistered-table"


@dataclass(frozen=True)
class Expected:
    scope: Scope
    campaign_id: str
    totals: dict[str, object]
    by_class: pl.DataFrame
    unregistered: pl.DataFrame | None


def expected_for(reader: Warehouse, user_id: str) -> Expected:
    """What the read API gives this user on the page's default campaign."""
    with reader.cursor() as cursor:
        scope = resolve_scope(cursor, user_id, shanghai_today())
        campaign_id = read.current_campaign(cursor, scope)
        assert campaign_id is not None, f"{user_id} has no campaign to look at"
        totals = read.progress(cursor, scope, campaign_id, by="university").to_dicts()[0]
        by_class = read.progress(cursor, scope, campaign_id, by="class")
        unregistered = (
            read.unregistered_students(cursor, scope, campaign_id) if scope.personal_data else None
        )
    return Expected(scope, campaign_id, totals, by_class, unregistered)


def open_registration(page: Page, user_id: str) -> None:
    sign_in(page, user_id)
    page.locator('#shell-nav a[href="/registration"]').click()
    page.wait_for_url("**/registration")
    expect(page.locator(SUMMARY)).not_to_be_empty()
    wait_idle(page)


def column(page: Page, table: str, name: str) -> list[str]:
    """The texts of one column of a DataTable's current page."""
    return page.locator(f'{table} td[data-dash-column="{name}"]').all_inner_texts()


def summary_text(totals: dict[str, object]) -> str:
    registered, eligible = totals["registered"], totals["eligible"]
    assert isinstance(registered, int) and isinstance(eligible, int)
    return (
        f"已登记 {count(registered)} / 应登记 {count(eligible)}"
        f"（{percent(registered / eligible if eligible else None)}）"
    )


def names_outside(reader: Warehouse, scope: Scope, campaign_id: str) -> tuple[set[str], set[str]]:
    """Ids and names of the campaign's students outside the scope's classes; names that a
    person in scope also bears (or that hide inside one) cannot tell a leak and are left out."""
    with reader.cursor() as cursor:
        rows = cursor.execute(
            """
            select rosters.student_id, people.person_name, list_contains(?, rosters.class_id)
            from fct_campaign_rosters as rosters
            join dim_people as people on people.person_id = rosters.student_id
            where rosters.campaign_id = ?
            """,
            [sorted(scope.class_ids), campaign_id],
        ).fetchall()
        units = cursor.execute(
            "select distinct class_name_zh, college_name_zh from dim_classes"
        ).fetchall()
        reader_row = cursor.execute(
            "select person_name from dim_people where person_id = ?", [scope.user_id]
        ).fetchone()
    inside = {str(name) for _, name, mine in rows if mine}
    inside |= {str(text) for unit in units for text in unit if text}
    if reader_row is not None:
        inside.add(str(reader_row[0]))
    ids = {str(student) for student, _, mine in rows if not mine}
    names = {
        str(name)
        for _, name, mine in rows
        if not mine and not any(str(name) in text for text in inside)
    }
    return ids, names


class DashTraffic:
    """What the server sent the page: its layouts and every callback's answer, as text."""

    def __init__(self, page: Page) -> None:
        self.responses: list[Response] = []
        page.on("response", self._on_response)

    def _on_response(self, response: Response) -> None:
        if "/_dash-" in response.url:
            self.responses.append(response)

    def text(self) -> str:
        # JSON escapes Chinese as \uXXXX: decoded, a name reads as it would on screen.
        parts = []
        for response in self.responses:
            try:
                parts.append(json.dumps(response.json(), ensure_ascii=False))
            except (ValueError, PlaywrightError):
                continue
        assert parts, "no Dash traffic was seen"
        return "\n".join(parts)


def assert_no_leak(html: str, ids: set[str], names: set[str]) -> None:
    # Ids are whole tokens (U2025000241 is not U202500024): one pass over the page finds them.
    leaked_ids = sorted(ids & set(re.findall(r"[0-9A-Za-z]+", html)))
    leaked_names = sorted(n for n in names if n in html)
    assert not leaked_ids and not leaked_names, (
        f"students outside the scope on the page: ids {leaked_ids[:10]}, names {leaked_names[:10]}"
    )


def test_a_monitor_sees_their_class_and_no_other(
    cast: dict[str, str], served_warehouse: Warehouse, page: Page, console: Console
) -> None:
    monitor = cast["class_monitor"]
    expected = expected_for(served_warehouse, monitor)
    assert len(expected.scope.class_ids) == 1
    traffic = DashTraffic(page)
    open_registration(page, monitor)

    expect(page.locator(SUMMARY)).to_contain_text(summary_text(expected.totals))
    row = expected.by_class.to_dicts()[0]
    assert column(page, PROGRESS, "name") == [str(row["name"])]
    for name in ("roster", "eligible", "registered", "not_registered", "excluded"):
        assert column(page, PROGRESS, name) == [count(row[name])], name

    assert expected.unregistered is not None
    expect(page.locator(f'{UNREGISTERED} td[data-dash-column="student_id"]')).to_have_count(
        expected.unregistered.height
    )
    assert sorted(column(page, UNREGISTERED, "student_id")) == sorted(
        expected.unregistered["student_id"].to_list()
    )
    assert sorted(column(page, UNREGISTERED, "student_name")) == sorted(
        expected.unregistered["student_name"].to_list()
    )

    # Every named list of the page, including all registrations, against everyone else.
    page.locator("#registration-list-kind label", has_text="全部已登记").click()
    wait_idle(page)
    ids, names = names_outside(served_warehouse, expected.scope, expected.campaign_id)
    assert ids, "the campaign has no student outside the monitor's class: nothing is checked"
    assert_no_leak(page.content(), ids, names)
    # Nor in what reached the browser without being drawn (tables' data, other pages of them),
    # where the class's own students do arrive.
    sent = traffic.text()
    assert str(expected.unregistered["student_name"][0]) in sent
    assert_no_leak(sent, ids, names)
    console.assert_clean("the monitor's registration page")


@pytest.mark.parametrize("role", ["counsellor", "college_office", "student_affairs"])
def test_a_staff_member_sees_their_scope_totals(
    role: str, cast: dict[str, str], served_warehouse: Warehouse, page: Page, console: Console
) -> None:
    user_id = cast[role]
    expected = expected_for(served_warehouse, user_id)
    open_registration(page, user_id)
    expect(page.locator(SUMMARY)).to_contain_text(summary_text(expected.totals))
    assert expected.unregistered is not None
    # The named list's first page (50 rows) in the read API's order: by class, then student.
    first_page = expected.unregistered["student_id"].to_list()[:50]
    cells = page.locator(f'{UNREGISTERED} td[data-dash-column="student_id"]')
    expect(cells).to_have_count(len(first_page))
    assert cells.all_inner_texts() == first_page
    if not expected.scope.university:
        ids, names = names_outside(served_warehouse, expected.scope, expected.campaign_id)
        assert_no_leak(page.content(), ids, names)
    console.assert_clean(f"the {role}'s registration page")


def test_leadership_sees_counts_and_no_names(
    cast: dict[str, str], served_warehouse: Warehouse, page: Page, console: Console
) -> None:
    user_id = cast["leadership"]
    expected = expected_for(served_warehouse, user_id)
    assert expected.scope.aggregates_only
    traffic = DashTraffic(page)
    open_registration(page, user_id)
    expect(page.locator(SUMMARY)).to_contain_text(summary_text(expected.totals))
    expect(page.locator(UNREGISTERED)).to_have_count(0)
    expect(page.locator("#registration-export-csv")).to_have_count(0)
    # Leadership's scope names no class: every student of the campaign is outside it.
    ids, names = names_outside(served_warehouse, expected.scope, expected.campaign_id)
    assert_no_leak(page.content(), ids, names)
    assert_no_leak(traffic.text(), ids, names)
    console.assert_clean("leadership's registration page")


@pytest.fixture
def monitor_page(cast: dict[str, str], page: Page) -> Iterator[Page]:
    open_registration(page, cast["class_monitor"])
    yield page


def download(page: Page, button: str, into: Path) -> Path:
    with page.expect_download() as info:
        page.locator(button).click()
    target = into / info.value.suggested_filename
    info.value.save_as(target)
    return target


def test_the_exports_hold_the_not_registered_students_of_the_scope(
    cast: dict[str, str],
    served_warehouse: Warehouse,
    monitor_page: Page,
    console: Console,
    tmp_path: Path,
) -> None:
    expected = expected_for(served_warehouse, cast["class_monitor"])
    assert expected.unregistered is not None and expected.unregistered.height > 0
    want = sorted(
        zip(
            expected.unregistered["student_id"].to_list(),
            expected.unregistered["student_name"].to_list(),
            expected.unregistered["class_id"].to_list(),
            strict=True,
        )
    )

    saved = download(monitor_page, "#registration-export-csv", tmp_path)
    assert saved.suffix == ".csv" and expected.campaign_id in saved.name
    raw = saved.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "no byte-order mark: Excel garbles the names"
    heading, *rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert heading[:3] == ["学号", "姓名", "班级编号"]
    assert sorted((r[0], r[1], r[2]) for r in rows) == want

    saved = download(monitor_page, "#registration-export-xlsx", tmp_path)
    assert saved.suffix == ".xlsx"
    assert sorted(xlsx_rows(saved)[1:]) == [tuple(map(str, w)) for w in want]
    console.assert_clean("the monitor's exports")


def xlsx_rows(path: Path) -> list[tuple[str, str, str]]:
    """The first three cells of each row of the workbook's first sheet (read without openpyxl,
    which the project does not install: the workbook is a zip of XML parts)."""
    with zipfile.ZipFile(path) as book:
        names = book.namelist()
        assert "xl/workbook.xml" in names and "xl/worksheets/sheet1.xml" in names, names
        shared: list[str] = []
        if "xl/sharedStrings.xml" in names:
            strings = book.read("xl/sharedStrings.xml").decode("utf-8")
            shared = [
                _unescape(re.sub(r"<[^>]+>", "", item))
                for item in re.findall(r"<si>(.*?)</si>", strings, re.S)
            ]
        sheet = book.read("xl/worksheets/sheet1.xml").decode("utf-8")
    rows = []
    for row in re.findall(r"<row[^>]*>(.*?)</row>", sheet, re.S):
        cells = []
        for attributes, body in re.findall(r"<c([^>]*)>(.*?)</c>", row, re.S):
            value = re.search(r"<v>(.*?)</v>", body, re.S)
            inline = re.search(r"<t[^>]*>(.*?)</t>", body, re.S)
            if 't="s"' in attributes and value:
                cells.append(shared[int(value.group(1))])
            elif inline:
                cells.append(_unescape(inline.group(1)))
            else:
                cells.append(_unescape(value.group(1)) if value else "")
        rows.append(([*cells, "", "", ""])[:3])
    return [(a, b, c) for a, b, c in rows]


def _unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    )
