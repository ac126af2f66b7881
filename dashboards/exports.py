"""Export files of a page's table: pure `(frame, columns, lang) -> bytes`, no I/O.

`columns` says which frame columns go out, in order, each with the message key of its heading
(`t(key, lang)`). Cells are text as people read them: moments in Asia/Shanghai
("2026-11-02 10:00"), dates as ISO days, missing values empty.

- `to_csv`: UTF-8 with a byte-order mark, so Excel opens Chinese names correctly, CRLF lines.
- `to_xlsx`: one worksheet written with xlsxwriter, every cell written as a string or number
  (never as a formula).

In the CSV a text cell that starts like a formula (=, +, -, @, tab, CR) is prefixed with an
apostrophe: a name typed as "=HYPERLINK(…)" must not run in the spreadsheet of whoever opens it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Final

import polars as pl
import xlsxwriter

from dashboards.formatting import shanghai
from dashboards.i18n import t

Columns = Sequence[tuple[str, str]]
CSV_MEDIA_TYPE: Final = "text/csv"
XLSX_MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def _safe_text(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def cell(value: object, lang: str, *, guard_formulas: bool = True) -> str | int | float:
    """One value as it appears in an export: numbers stay numbers, everything else text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        if lang == "zh":
            return "是" if value else "否"
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return shanghai(value, lang)
    if isinstance(value, date):
        return value.isoformat()
    return _safe_text(str(value)) if guard_formulas else str(value)


def _rows(
    frame: pl.DataFrame, columns: Columns, lang: str, *, guard_formulas: bool = True
) -> list[list[str | int | float]]:
    names = [name for name, _ in columns]
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise KeyError(f"the frame has no column {', '.join(missing)}")
    return [
        [cell(v, lang, guard_formulas=guard_formulas) for v in row]
        for row in frame.select(names).iter_rows()
    ]


def headings(columns: Columns, lang: str) -> list[str]:
    return [t(key, lang) for _, key in columns]


def to_csv(frame: pl.DataFrame, columns: Columns, lang: str) -> bytes:
    """The rows of `frame` as CSV (UTF-8 with BOM) under translated headings."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headings(columns, lang))
    writer.writerows(_rows(frame, columns, lang))
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(frame: pl.DataFrame, columns: Columns, lang: str, *, sheet: str = "Sheet1") -> bytes:
    """The rows of `frame` as an Excel workbook of one sheet under translated headings."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    try:
        worksheet = workbook.add_worksheet(sheet[:31])
        bold = workbook.add_format({"bold": True})
        titles = headings(columns, lang)
        for col, title in enumerate(titles):
            worksheet.write_string(0, col, title, bold)
            worksheet.set_column(col, col, max(10, 2 * len(title) + 2))
        # Strings are written as strings (never parsed as formulas), so no apostrophe is needed.
        rows = _rows(frame, columns, lang, guard_formulas=False)
        for row_number, row in enumerate(rows, start=1):
            for col, value in enumerate(row):
                if isinstance(value, str):
                    worksheet.write_string(row_number, col, value)
                else:
                    worksheet.write_number(row_number, col, value)
        worksheet.freeze_panes(1, 0)
    finally:
        workbook.close()
    return buffer.getvalue()
