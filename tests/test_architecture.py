"""The package table of DESIGN.md holds: every import contract is kept, and a breach is caught."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workflow_core", "warehouse", "pipelines", "dashboards", "tongban")


def _lint_imports(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [str(exe), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_every_contract_is_kept() -> None:
    result = _lint_imports(ROOT, ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_contracts_cover_every_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert set(config["tool"]["importlinter"]["root_packages"]) == set(PACKAGES)


def test_a_dashboard_importing_the_workflow_core_breaks_a_contract(tmp_path: Path) -> None:
    # The same contracts over a copy of the packages' skeleton with one forbidden import added.
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "workflow_core" / "service.py").write_text("", encoding="utf-8")
    for module in ("api", "domain", "views"):
        (tmp_path / "workflow_core" / f"{module}.py").write_text("", encoding="utf-8")
    (tmp_path / "dashboards" / "page.py").write_text(
        "import workflow_core.service\n", encoding="utf-8"
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    result = _lint_imports(tmp_path, tmp_path)
    assert result.returncode != 0
    assert "Dashboards read the warehouse only" in result.stdout
    assert "BROKEN" in result.stdout
