"""Read a CSV event log (one event a row, flattened XES names in the header) into a ParsedLog.

Columns named `case:*` (besides the case id) are case attributes, taken from the case's first
row; every other column that is not the case, activity, timestamp, resource, group or lifecycle
is an attribute of the event. Empty cells are absent attributes. Errors name the data row
(1-based, header excluded) and the file line it starts on.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from workflow_core.importing.model import (
    UNKNOWN_RESOURCE,
    LogColumns,
    LogImportError,
    ParsedCase,
    ParsedEvent,
    ParsedLog,
    bulk_allocation,
    check_actor,
    file_sha256,
    parse_timestamp,
)


def read_csv(path: Path, columns: LogColumns | None = None) -> ParsedLog:
    columns = columns or LogColumns()
    source = path.name
    sha256 = file_sha256(path)
    cases: dict[str, ParsedCase] = {}
    try:
        with bulk_allocation(), path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise LogImportError(f"{source}: line 1: empty file, no header")
            index = {name: i for i, name in enumerate(header)}
            if len(index) != len(header):
                raise LogImportError(f"{source}: line 1: the header repeats a column name")

            def locate(name: str, role: str, required: bool) -> int | None:
                if name in index:
                    return index[name]
                if required or role in columns.explicit:
                    raise LogImportError(
                        f"{source}: line 1: missing {role} column {name!r} "
                        f"(the header has: {', '.join(header)})"
                    )
                return None

            case_i = locate(columns.case, "case", True)
            activity_i = locate(columns.activity, "activity", True)
            time_i = locate(columns.timestamp, "timestamp", True)
            resource_i = locate(columns.resource, "resource", False)
            group_i = locate(columns.group, "group", False)
            lifecycle_i = locate(columns.lifecycle, "lifecycle", False)
            assert case_i is not None and activity_i is not None and time_i is not None
            special = {case_i, activity_i, time_i, resource_i, group_i, lifecycle_i}
            case_attrs = [
                (name, i)
                for i, name in enumerate(header)
                if i not in special and name.startswith("case:")
            ]
            event_attrs = [
                (name, i)
                for i, name in enumerate(header)
                if i not in special and not name.startswith("case:")
            ]
            width = len(header)
            for number, row in enumerate(reader, start=1):
                where = f"{source}: row {number} (line {reader.line_num})"
                if len(row) != width:
                    if not row:
                        continue  # a blank line
                    raise LogImportError(f"{where}: {len(row)} fields, the header has {width}")
                case_id = row[case_i].strip()
                if not case_id:
                    raise LogImportError(f"{where}: empty case id ({columns.case})")
                activity = row[activity_i].strip()
                if not activity:
                    raise LogImportError(f"{where}: empty activity ({columns.activity})")
                occurred_at = parse_timestamp(row[time_i], where)
                resource = row[resource_i].strip() if resource_i is not None else ""
                group = row[group_i].strip() if group_i is not None else ""
                lifecycle = row[lifecycle_i].strip() if lifecycle_i is not None else ""
                attributes: dict[str, Any] = {name: row[i] for name, i in event_attrs if row[i]}
                case = cases.get(case_id)
                if case is None:
                    case_attributes = {name: row[i] for name, i in case_attrs if row[i]}
                    case = cases[case_id] = ParsedCase(case_id, case_attributes, reader.line_num)
                case.events.append(
                    ParsedEvent(
                        activity=activity,
                        occurred_at=occurred_at,
                        resource=check_actor(resource, "resource", where) or UNKNOWN_RESOURCE,
                        group=check_actor(group, "group", where) or None,
                        lifecycle=lifecycle or None,
                        attributes=attributes,
                    )
                )
    except UnicodeDecodeError as exc:
        raise LogImportError(f"{source}: not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise LogImportError(f"{source}: malformed CSV: {exc}") from None
    return ParsedLog(source=source, sha256=sha256, cases=list(cases.values()))
