"""The check catalog against the real frames of a small university's warehouse: every frame
runs, every column a check, a sample or a batch names exists, and the event types match the
workflow's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.quality.checks import CHECKS, FRAMES, FRAMES_DIR, KNOWN_EVENT_TYPES
from pipelines.quality.touched import touched_events
from workflow_core.domain.events import EVENT_TYPES

_COLUMN_ARGS = ("column", "column_A", "column_B")


def test_known_event_types_are_the_workflows() -> None:
    assert sorted(KNOWN_EVENT_TYPES) == sorted(EVENT_TYPES)


def test_every_frame_has_its_sql_and_no_sql_is_orphaned() -> None:
    assert {path.stem for path in FRAMES_DIR.glob("*.sql")} == set(FRAMES)
    assert {check.frame for check in CHECKS} == set(FRAMES)


def test_check_names_are_unique_and_severities_known() -> None:
    names = [check.name for check in CHECKS]
    assert len(names) == len(set(names))
    assert {check.severity for check in CHECKS} <= {"error", "warn"}
    # Checks on imported logs never block: a foreign log's habits are not our bugs.
    assert all(c.severity == "warn" for c in CHECKS if c.applies_to == "imported")


@pytest.fixture(scope="module")
def frame_columns(full_build: dict[str, Any]) -> dict[str, list[str]]:
    root: Path = full_build["root"]
    with duckdb.connect(str(root / "build" / "work.duckdb"), read_only=True) as conn:
        conn.execute("set variable quality_after = 0::bigint")
        columns = {}
        with touched_events(conn) as prepare:
            prepare(0)
            for name, frame in FRAMES.items():
                cursor = conn.execute(frame.sql)
                columns[name] = [column[0] for column in cursor.description]
                cursor.fetchall()
    return columns


def test_every_column_a_check_reads_is_in_its_frame(frame_columns: dict[str, list[str]]) -> None:
    missing = {}
    for check in CHECKS:
        wanted = [check.expect.kwargs[a] for a in _COLUMN_ARGS if a in check.expect.kwargs]
        wanted += (
            check.expect.kwargs.get("column_list", []) if check.frame != "event_columns" else []
        )
        absent = [c for c in wanted if c not in frame_columns[check.frame]]
        if absent:
            missing[check.name] = absent
    assert not missing


def test_every_sample_key_is_in_its_frame(frame_columns: dict[str, list[str]]) -> None:
    absent = {
        name: [key for key in frame.keys if key not in frame_columns[name]]
        for name, frame in FRAMES.items()
    }
    assert not {name: keys for name, keys in absent.items() if keys}


def test_every_batch_and_order_column_is_in_its_frame(
    frame_columns: dict[str, list[str]],
) -> None:
    absent = {
        name: [c for c in (*frame.batch_by, frame.order_by) if c and c not in frame_columns[name]]
        for name, frame in FRAMES.items()
    }
    assert not {name: columns for name, columns in absent.items() if columns}


def test_rows_a_uniqueness_check_compares_share_a_batch() -> None:
    for check in CHECKS:
        kwargs = check.expect.kwargs
        if "Unique" in check.expect.kind:
            unique = kwargs.get("column_list") or [kwargs["column"]]
            batch_by = FRAMES[check.frame].batch_by
            assert batch_by and set(batch_by) <= set(unique), check.name


def test_a_frame_ordered_in_sql_keeps_its_order_in_batches() -> None:
    for name, frame in FRAMES.items():
        ordered = re.search(r"\border by (\w+)\s*$", frame.sql)
        assert frame.order_by == (ordered.group(1) if ordered else None), name


def test_the_readme_lists_every_check_with_its_severity() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    for check in CHECKS:
        severity = "blocking" if check.severity == "error" else "warning"
        assert f"| `{check.name}` | `{check.asset}` | {severity} |" in readme, check.name
