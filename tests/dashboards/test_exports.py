"""Export files of a table: CSV in UTF-8 with a BOM that Excel opens with Chinese intact, an
.xlsx workbook, both with translated headings, people's moments and no runnable formulas."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime

import polars as pl
import pytest

from dashboards.exports import to_csv, to_xlsx
from dashboards.i18n import register_messages

# Headings of its own, so the exports are tested apart from any page.
register_messages(
    "test_exports.",
    {
        "test_exports.student_id": {"zh": "学号", "en": "Student id"},
        "test_exports.name": {"zh": "姓名", "en": "Name"},
        "test_exports.reminders": {"zh": "已催办次数", "en": "Reminders"},
        "test_exports.last_reminded": {"zh": "最近催办", "en": "Last reminded"},
        "test_exports.return_date": {"zh": "返校日期", "en": "Returns"},
    },
)
COLUMNS = (
    ("student_id", "test_exports.student_id"),
    ("student_name", "test_exports.name"),
    ("reminders", "test_exports.reminders"),
    ("last_reminded_at", "test_exports.last_reminded"),
    ("return_date", "test_exports.return_date"),
)


def frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "student_id": ["U202300001", "U202300002", "U202300003"],
            "student_name": ["张三", '=HYPERLINK("http://x")', "<b>x</b>"],
            "reminders": [2, 0, 1],
            "last_reminded_at": [datetime(2026, 9, 20, 2, 30), None, datetime(2026, 9, 21, 16)],
            "return_date": [date(2026, 10, 7), None, None],
            "phone": ["13800000000", "13800000001", "13800000002"],
        }
    )


def test_csv_has_a_bom_chinese_headings_and_only_the_chosen_columns() -> None:
    data = to_csv(frame(), COLUMNS, "zh")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["学号", "姓名", "已催办次数", "最近催办", "返校日期"]
    assert rows[1] == ["U202300001", "张三", "2", "2026-09-20 10:30", "2026-10-07"]
    # A formula-like name is text in the spreadsheet, markup stays as typed.
    assert rows[2][1] == '\'=HYPERLINK("http://x")' and rows[2][3] == ""
    assert rows[3][1] == "<b>x</b>" and rows[3][3] == "2026-09-22 00:00"
    assert len(rows) == 4 and "13800000000" not in data.decode("utf-8-sig")
    assert data.count(b"\r\n") == 4
    english = to_csv(frame(), COLUMNS, "en").decode("utf-8-sig")
    assert english.splitlines()[0] == "Student id,Name,Reminders,Last reminded,Returns"


def test_xlsx_is_a_workbook_with_the_same_rows_written_as_strings_and_numbers() -> None:
    data = to_xlsx(frame(), COLUMNS, "zh", sheet="去向登记")
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        names = book.namelist()
        shared = book.read("xl/sharedStrings.xml").decode("utf-8")
        sheet = book.read("xl/worksheets/sheet1.xml").decode("utf-8")
        workbook = book.read("xl/workbook.xml").decode("utf-8")
    assert "xl/worksheets/sheet1.xml" in names and 'name="去向登记"' in workbook
    strings = re.findall(r"<t[^>]*>([^<]*)</t>", shared)
    for text in ("学号", "姓名", "张三", "2026-09-20 10:30", "2026-10-07"):
        assert text in strings
    # Written as a string, the formula is inert; markup is stored escaped, as text.
    assert '=HYPERLINK("http://x")' in [s.replace("&quot;", '"') for s in strings]
    assert "&lt;b&gt;x&lt;/b&gt;" in shared
    assert "<f>" not in sheet
    assert len(re.findall(r"<row ", sheet)) == 4


def test_a_missing_column_is_an_error_not_an_empty_export() -> None:
    with pytest.raises(KeyError, match="no column nope"):
        to_csv(frame(), (("nope", "test_exports.name"),), "zh")
