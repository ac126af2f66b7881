"""`tongban bench --only memory` serves the small university, opens every page as every role
and writes what the server's processes hold."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tongban.bench import memory_stage
from tongban.bench.harness import BenchContext
from tongban.cli import main


def test_memory_after_every_page_of_every_role(
    bench_context: BenchContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory_stage, "IDLE_S", 0.5)
    monkeypatch.setenv("TONGBAN_HOME", str(bench_context.root.parent))
    answer = CliRunner().invoke(
        main,
        [
            "bench",
            "--size",
            "small",
            "--only",
            "memory",
            "--repeats",
            "1",
            "--results",
            str(bench_context.results_dir),
        ],
        catch_exceptions=False,
    )
    assert answer.exit_code == 0, answer.output
    document = json.loads((bench_context.results_dir / "memory.json").read_text())
    figures = document["figures"]
    # gunicorn's master and its worker, which has the dashboards imported.
    assert len(figures["processes_mib"]) == 2
    assert figures["rss_after_pages_mib"] > 100
    assert 0 < figures["pss_after_pages_mib"] <= figures["rss_after_pages_mib"]
    assert {"class_monitor", "counsellor", "leadership", "data_staff"} <= set(figures["roles"])
    assert figures["requests"] > len(figures["roles"])
    assert document["meets_target"] == (figures["rss_after_pages_mib"] * 2**20 <= 600e6)
