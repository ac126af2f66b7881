"""A bench root holding a copy of the small test university, simulated and built."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.warehouse.conftest import BuiltUniversity
from tongban.bench.harness import BenchContext


@pytest.fixture
def bench_context(small_university: BuiltUniversity, tmp_path: Path) -> BenchContext:
    """A context whose `small` university is a copy of the tests' (stages may change it)."""
    home = tmp_path / "bench" / "small"
    home.mkdir(parents=True)
    for name in ("business.db", "events.db", "personas.json"):
        shutil.copyfile(small_university.home / name, home / name)
    shutil.copytree(small_university.paths.root, home / "warehouse")
    return BenchContext(
        size="small", root=tmp_path / "bench", results_dir=tmp_path / "results", repeats=1
    )
