"""The loader's fast paths, and a file's report, see just what the serializer and evolve write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from workflow_core.domain.evolve import fold
from workflow_core.importing.csv_log import read_csv
from workflow_core.importing.loader import (
    EVENT_COLUMNS,
    STREAM_TYPE,
    activity_values,
    case_events,
    case_imported,
    driver_values,
    import_log,
    imported_state,
    log_values,
)
from workflow_core.importing.model import ParsedCase, ParsedEvent, ParsedLog
from workflow_core.store.db import make_engine
from workflow_core.store.migrate import upgrade
from workflow_core.store.projections import instance_row
from workflow_core.store.serialization import to_row

T0 = datetime(2011, 10, 1, 0, 38, 44, 546000, tzinfo=timezone(timedelta(hours=2)))


def sample() -> tuple[ParsedLog, ParsedCase]:
    times = [T0 + timedelta(minutes=m) for m in (5, 0, 5, 9, 1)]  # not in time order
    case = ParsedCase(
        "173688",
        {"AMOUNT_REQ": 20000, "REG_DATE": "2011-10-01T00:38:44.546+02:00"},
        0,
        [
            ParsedEvent(
                activity=f"A_{i}",
                occurred_at=t.astimezone(UTC),
                resource="unknown" if i == 3 else "112",
                group=None if i % 2 else "G1",
                lifecycle=None if i == 2 else "COMPLETE",
                attributes={} if i else {"score": 1.5, "ok": True, "名称": "审批"},
            )
            for i, t in enumerate(times)
        ],
    )
    return ParsedLog(source="x.xes.gz", sha256="f" * 64, cases=[case]), case


@pytest.mark.parametrize("sqlite", [True, False])
def test_activity_values_are_the_serialized_activities(sqlite: bool) -> None:
    log, case = sample()
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    stream = case_events(log, case, "bpic:" + "f" * 64)
    expected = [
        driver_values(
            to_row(
                event,
                stream_id="imp-bpic-0011223344556677",
                stream_version=version,
                stream_type=STREAM_TYPE,
                process_key="bpic",
                process_version=1,
                recorded_at=now,
            ),
            sqlite,
        )
        for version, event in enumerate(stream, start=1)
    ]
    fast = activity_values("imp-bpic-0011223344556677", case, "bpic", now, sqlite)
    assert fast == expected[1:]


def test_the_imported_state_is_what_evolve_folds() -> None:
    log, case = sample()
    stream = case_events(log, case, "bpic:" + "f" * 64)
    folded = fold("imp-bpic-0011223344556677", stream)
    direct = imported_state("imp-bpic-0011223344556677", case_imported(log, case, "bpic:x"), case)
    assert instance_row(direct) == instance_row(folded)
    assert folded.submitted_at == T0 and folded.closed_at == T0 + timedelta(minutes=9)
    assert folded.process_key == "bpic" and folded.status.terminal


def test_log_values_are_the_rows_an_import_writes(tmp_path: Path) -> None:
    path = tmp_path / "tiny.csv"
    path.write_text(
        "case:concept:name,concept:name,time:timestamp,org:resource,org:group,amount\n"
        "c1,register,2024-03-01T09:00:00+08:00,r1,g1,5\n"
        "c2,register,2024-03-01T09:30:00+08:00,r2,,\n"
        "c1,decide,2024-03-01T10:00:00+08:00,,g1,\n",
        encoding="utf-8",
    )
    log = read_csv(path)
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    engine = make_engine(f"sqlite:///{tmp_path / 'events.db'}")
    upgrade(engine)
    import_log(engine, log, "tiny", now=now)
    with engine.connect() as conn:
        stored = conn.exec_driver_sql(
            f"select {', '.join(EVENT_COLUMNS)} from events order by event_id"
        ).fetchall()
    engine.dispose()
    assert [tuple(row) for row in stored] == list(log_values(log, "tiny", now=now))
