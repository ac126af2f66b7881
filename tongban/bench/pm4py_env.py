"""The dev-only PM4Py environment the `report` stage measures against, and how it runs.

PM4Py is AGPL and not a dependency of the project: it lives in a virtual environment of its
own under `var/bench/pm4py-env`, made once with uv and reused. Nothing of the project is
installed there, and the reference script runs in isolated mode from outside the repository,
so PM4Py's figures cannot come from our code.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from tongban.bench.processes import BenchError

PM4PY_VERSION: Final = "2.7.23.11"  # the version tests/warehouse/fixtures/pm4py_*.json came from
# The script that wrote those fixtures, kept beside the package in the repository.
REFERENCE_SCRIPT: Final = Path(__file__).resolve().parents[2] / "bench" / "pm4py_reference.py"
INSTALL_TIMEOUT_S: Final = 900
# How the environment was made, kept in it: one made another way (before its bytecode was
# compiled at install, as ours is by `make`, or from another interpreter than ours: builds of the
# same Python differ by a fifth in speed) is made again, so both sides start and run alike.
RECIPE: Final = (
    f"pm4py=={PM4PY_VERSION} --compile-bytecode"
    f" on {os.path.realpath(sys._base_executable)} {platform.python_version()}"
)
RECIPE_FILE: Final = "tongban-recipe.txt"

# Run by the environment's interpreter: its PM4Py version, and proof that our packages are absent.
_PROBE: Final = (
    "import importlib.util, json, pm4py; "
    "print(json.dumps({'pm4py': pm4py.__version__, "
    "'sees_tongban': importlib.util.find_spec('tongban') is not None}))"
)


def python_of(env_dir: Path) -> Path:
    return env_dir / "bin" / "python"


def uv_command() -> list[str]:
    """uv on PATH, else the module of this interpreter or of the system's python3."""
    found = shutil.which("uv")
    if found:
        return [found]
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    python3 = shutil.which("python3")
    if python3:
        return [python3, "-m", "uv"]
    raise BenchError("uv is needed to make the PM4Py environment: pip install uv")


def clean_env() -> dict[str, str]:
    """Our environment without what would point a child interpreter at the project's venv."""
    dropped = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["TQDM_DISABLE"] = "1"  # PM4Py's parsing progress bar
    return env


def installed_version(env_dir: Path) -> str | None:
    """The PM4Py version the environment imports, or None when it cannot."""
    python = python_of(env_dir)
    if not python.exists():
        return None
    probe = subprocess.run(
        [str(python), "-I", "-c", _PROBE],
        cwd=env_dir,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if probe.returncode != 0:
        return None
    found = json.loads(probe.stdout)
    if found["sees_tongban"]:
        raise BenchError(f"{env_dir} can import tongban: the PM4Py environment must stay apart")
    return str(found["pm4py"])


def ensure(env_dir: Path, say: Callable[[str], None]) -> tuple[Path, float | None]:
    """The environment's python, made first when missing: (python, install seconds or None)."""
    version = installed_version(env_dir)
    recipe = env_dir / RECIPE_FILE
    made_alike = recipe.exists() and recipe.read_text(encoding="utf-8").strip() == RECIPE
    if version == PM4PY_VERSION and made_alike:
        return python_of(env_dir), None
    say(f"making the PM4Py environment (pm4py=={PM4PY_VERSION}) in {env_dir} …")
    started = time.perf_counter()
    # A half-made or other-version environment is replaced, not patched.
    shutil.rmtree(env_dir, ignore_errors=True)
    env_dir.parent.mkdir(parents=True, exist_ok=True)
    log = env_dir.parent / "pm4py-env.log"
    # This interpreter's Python (uv finds its base), so that no download of a Python is needed.
    _uv(["venv", "--python", sys.executable, str(env_dir)], log)
    # Bytecode compiled at install, as `make` does for ours: with PYTHONDONTWRITEBYTECODE set,
    # PM4Py would otherwise compile pandas, SciPy… from source in every run.
    python = str(python_of(env_dir))
    _uv(
        ["pip", "install", "--compile-bytecode", "--python", python, f"pm4py=={PM4PY_VERSION}"], log
    )
    version = installed_version(env_dir)
    if version != PM4PY_VERSION:
        raise BenchError(f"the PM4Py environment imports pm4py {version}, not {PM4PY_VERSION}")
    recipe.write_text(RECIPE + "\n", encoding="utf-8")
    return python_of(env_dir), time.perf_counter() - started


def _uv(args: list[str], log: Path) -> None:
    command = [*uv_command(), *args]
    try:
        done = subprocess.run(
            command,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(
            f"making the PM4Py environment failed: {' '.join(command)}: {exc}"
        ) from exc
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(
            f"making the PM4Py environment failed ({' '.join(args[:2])}): {last}; see {log}"
        )


def reference_command(python: Path, log: Path) -> list[str]:
    """The reference script with PM4Py's interpreter, isolated from PYTHONPATH and the repo."""
    if not REFERENCE_SCRIPT.exists():
        raise BenchError(f"{REFERENCE_SCRIPT} is missing: the report stage runs from a checkout")
    return [str(python), "-I", str(REFERENCE_SCRIPT), "--timings", str(log)]
