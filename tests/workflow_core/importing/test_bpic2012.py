"""BPI Challenge 2012 (13,087 loan applications, 262,200 events, XES.gz) imports whole (its speed
is measured by the bench's report stage, not here)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select

from tests.workflow_core.importing.conftest import counts, real_log
from workflow_core.importing.loader import import_log
from workflow_core.importing.xes import read_xes
from workflow_core.store.schema import events


def test_bpic2012_imports_every_trace_and_event_on_sqlite(store_engine: Engine) -> None:
    if store_engine.dialect.name != "sqlite":
        pytest.skip("one run of the large log is enough: SQLite")
    path = real_log("bpic2012.xes.gz")
    log = read_xes(path)
    summary = import_log(store_engine, log, "bpic2012", now=datetime.now(UTC))
    assert (summary.cases, summary.events, summary.skipped_empty_cases) == (13_087, 262_200, 0)
    assert counts(store_engine) == {
        "events": 13_087 + 262_200,
        "instances": 13_087,
        "tasks": 0,
        "log_imports": 1,
    }
    with store_engine.connect() as conn:
        activities = conn.execute(
            select(func.count())
            .select_from(events)
            .where(events.c.event_type == "activity", events.c.process_key == "bpic2012")
        ).scalar_one()
    assert activities == 262_200
