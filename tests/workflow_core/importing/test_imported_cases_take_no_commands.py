"""An imported case is a closed historical record: the hall's commands cannot touch it."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.workflow_core.importing.conftest import counts
from workflow_core.domain.commands import Comment, Withdraw
from workflow_core.domain.decide import decide
from workflow_core.domain.evolve import fold
from workflow_core.domain.state import InstanceStatus
from workflow_core.errors import BusinessRuleError, NotFoundError
from workflow_core.importing.csv_log import read_csv
from workflow_core.importing.loader import case_events, import_log, stream_id_of
from workflow_core.importing.model import ParsedCase, ParsedLog
from workflow_core.service import WorkflowService

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_commands_on_an_imported_case_are_refused_and_write_nothing(
    service: WorkflowService,
    store_engine: Engine,
    personas: dict[str, list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    path = tmp_path / "hall.csv"
    path.write_text(
        "case:concept:name,concept:name,time:timestamp\nc1,register,2024-03-01T09:00:00+08:00\n",
        encoding="utf-8",
    )
    import_log(store_engine, read_csv(path), "hall_log", now=NOW)
    assert InstanceStatus.IMPORTED.terminal
    iid = stream_id_of("hall_log", "c1")
    person = str(next(iter(personas.values()))[0]["user_id"])
    before = counts(store_engine)
    for action, body in (("comment", {"text": "还在吗"}), ("withdraw", {})):
        with pytest.raises(NotFoundError):
            service.act_on_instance(person, iid, action, body)
    assert counts(store_engine) == before


def test_decide_refuses_every_command_on_an_imported_state() -> None:
    log_case = read_csv_text(
        "case:concept:name,concept:name,time:timestamp\nc1,register,2024-03-01T09:00:00+08:00\n"
    )
    state = fold("imp-x-0", case_events(log_case[0], log_case[1], "x:" + "0" * 64))
    assert state.status is InstanceStatus.IMPORTED
    for command in (Comment(text="在吗"), Withdraw()):
        with pytest.raises(BusinessRuleError, match="imported historical case"):
            decide(state, command, None)  # type: ignore[arg-type]  # refused before any context


def read_csv_text(text: str) -> tuple[ParsedLog, ParsedCase]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "one.csv"
        path.write_text(text, encoding="utf-8")
        log = read_csv(path)
    return log, log.cases[0]
