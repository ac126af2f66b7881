"""Data Docs: frames validated through validate_frame are rendered into a local GX project, one
validation per frame however often it is rebuilt; a failed build only warns; the live update
builds none; a frame validated in batches shows its failing batch; the shell and the pipelines
agree where the project lives."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import dagster as dg
import pandas as pd
import pytest

from pipelines.environment import Environment, resources
from pipelines.jobs import LIVE_UPDATE, WAREHOUSE_UPDATE
from pipelines.quality.asset_checks import maybe_build_docs
from pipelines.quality.checks import CHECKS, Check
from pipelines.quality.docs import RUN_NAME, build_docs
from pipelines.quality.validate import (
    latest_batches,
    latest_validations,
    validate_batches,
    validate_frame,
)
from tongban.settings import Settings


def _checks(frame: str) -> list[Check]:
    return [check for check in CHECKS if check.frame == frame]


def _validate_staff(ids: list[str]) -> None:
    validate_frame("staff", _checks("staff"), pd.DataFrame({"staff_id": ids}))


def _validate_instances(terminal: list[int]) -> None:
    frame = pd.DataFrame(
        {
            "instance_id": [f"i{n}" for n in range(len(terminal))],
            "terminal_events": terminal,
            "events_after_terminal": [0] * len(terminal),
        }
    )
    validate_frame("instances", _checks("instances"), frame)


def _site(directory: Path) -> Path:
    return directory / "gx" / "uncommitted" / "data_docs" / "local_site"


def _stored(directory: Path, frame: str) -> list[dict[str, object]]:
    found = sorted((directory / "gx" / "uncommitted" / "validations" / frame).rglob("*.json"))
    return [json.loads(path.read_text(encoding="utf-8")) for path in found]


def test_docs_show_each_validated_frame_once(tmp_path: Path) -> None:
    _validate_staff(["s1", "s2", "s2"])  # s2 twice: business_staff_id_unique fails
    _validate_instances([1, 1, 0])
    directory = tmp_path / "gx-home"

    index = build_docs(directory)

    assert index == _site(directory) / "index.html"
    assert index.is_file()
    text = index.read_text(encoding="utf-8")
    for suite in ("staff", "instances"):
        assert f"'_expectation_suite_name_sort': '{suite}'" in text
        assert (_site(directory) / "expectations" / f"{suite}.html").is_file()
    [staff] = _stored(directory, "staff")
    assert staff["suite_name"] == "staff" and staff["success"] is False
    [result] = cast(list[dict[str, object]], staff["results"])
    assert cast(dict[str, object], result["result"])["unexpected_count"] == 2
    [instances] = _stored(directory, "instances")
    assert instances["success"] is True
    page = next((_site(directory) / "validations" / "staff" / RUN_NAME).rglob("*.html"))
    assert "2 unexpected values found" in " ".join(page.read_text(encoding="utf-8").split())

    # The staff are corrected and validated again: the new result replaces the old one.
    _validate_staff(["s1", "s2", "s3"])
    assert build_docs(directory) == index
    [staff] = _stored(directory, "staff")
    assert staff["success"] is True
    assert len(list((_site(directory) / "validations" / "staff").rglob("*.html"))) == 1
    assert len(_stored(directory, "instances")) == 1


def test_a_frame_validated_in_batches_shows_its_failing_batch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    batches = [
        pd.DataFrame({"staff_id": ["s1", "s2"]}),
        pd.DataFrame({"staff_id": ["s3", "s3", "s3"]}),  # s3 thrice: the uniqueness check fails
        pd.DataFrame({"staff_id": ["s4"]}),
    ]
    [result] = validate_batches("staff", _checks("staff"), iter(batches))
    assert (result.success, result.element_count, result.unexpected_count) == (False, 6, 3)
    assert latest_batches()["staff"] == 3
    directory = tmp_path / "gx-home"

    with caplog.at_level(logging.INFO, logger="pipelines.quality.docs"):
        assert build_docs(directory) is not None

    [staff] = _stored(directory, "staff")
    assert staff["success"] is False
    [shown] = cast(list[dict[str, object]], staff["results"])
    assert cast(dict[str, object], shown["result"])["element_count"] == 3
    assert any("staff in 3 batches" in r.getMessage() for r in caplog.records)


def test_a_failed_build_warns_and_returns_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _validate_staff(["s1"])
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the GX project should go", encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="pipelines.quality.docs"):
        assert build_docs(blocker / "gx") is None

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Data Docs not built in" in warnings[0].getMessage()
    assert str(blocker / "gx") in warnings[0].getMessage()


def _context(job_name: str) -> dg.AssetExecutionContext:
    return cast(
        dg.AssetExecutionContext,
        SimpleNamespace(job_name=job_name, log=logging.getLogger("test_docs")),
    )


def test_the_live_update_and_an_unconfigured_directory_build_no_docs(tmp_path: Path) -> None:
    _validate_staff(["s1"])
    assert "staff" in latest_validations()

    assert maybe_build_docs(_context(LIVE_UPDATE), tmp_path / "live") is None
    assert not (tmp_path / "live").exists()
    assert maybe_build_docs(_context(WAREHOUSE_UPDATE), None) is None

    index = maybe_build_docs(_context(WAREHOUSE_UPDATE), str(tmp_path / "update"))
    assert index is not None and index.is_file()
    assert index == _site(tmp_path / "update") / "index.html"


def test_the_shell_and_the_pipelines_agree_where_the_gx_project_lives(tmp_path: Path) -> None:
    home = {"TONGBAN_HOME": str(tmp_path)}
    assert Settings.from_env(home).gx_dir == Environment.from_env(home).gx_dir == tmp_path / "gx"
    assert resources(home)["warehouse"].gx_dir == str(tmp_path / "gx")
    moved = {**home, "TONGBAN_GX_DIR": str(tmp_path / "docs")}
    assert Settings.from_env(moved).gx_dir == Environment.from_env(moved).gx_dir
    assert resources(moved)["warehouse"].gx_dir == str(tmp_path / "docs")
