"""The bench university, the stages in order, and the table they print.

Every stage works on one university per size, kept under `var/bench/<size>/` (the events a
`simulate` stage wrote, the warehouse `build` made), so that a stage run alone with `--only`
finds what the earlier stages left and does the missing part first, unmeasured.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.table import Table

from tongban.bench.results import StageResult

SIZES: Final = ("small", "demo", "large")


@dataclass(frozen=True)
class BenchContext:
    """Where a bench run works and how many times it repeats what it measures."""

    size: str
    root: Path  # var/bench: the universities, their logs, the PM4Py environment
    results_dir: Path  # bench/results
    repeats: int | None = None  # None: each stage's own default for the size
    pg_url: str | None = None  # a PostgreSQL server for the API stage (it makes its own db)
    console: Console = field(default_factory=lambda: Console(stderr=True))

    @property
    def home(self) -> Path:
        """The bench university's TONGBAN_HOME."""
        return self.root / self.size

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def times(self, small: int, demo: int, large: int) -> int:
        """The repeat count: `--repeats`, else the stage's default for this size."""
        if self.repeats is not None:
            return self.repeats
        return {"small": small, "demo": demo, "large": large}[self.size]

    def env(self, home: Path | None = None, **extra: str) -> dict[str, str]:
        """The environment of a `tongban` child process working on `home` (default: ours)."""
        home = home or self.home
        env = {
            key: value
            for key, value in os.environ.items()
            # The bench decides where everything lives; a user's own settings must not leak in.
            if not key.startswith("TONGBAN_") and key != "DAGSTER_HOME"
        }
        env.update(
            TONGBAN_HOME=str(home),
            DAGSTER_HOME=str(home / "dagster"),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def say(self, message: str) -> None:
        self.console.print(message, highlight=False, soft_wrap=True)


def tongban_command(*args: str) -> list[str]:
    """`tongban …` with this interpreter, whatever PATH holds."""
    return [sys.executable, "-m", "tongban", *args]


Stage = Callable[[BenchContext], StageResult]


def print_table(console: Console, results: Mapping[str, StageResult]) -> None:
    table = Table(title="tongban bench", show_lines=False)
    for column in ("stage", "figure", "target", "limit / peer", "meets"):
        table.add_column(column, overflow="fold")
    for result in results.values():
        table.add_row(
            result.stage,
            result.figure,
            result.target,
            result.peer,
            "yes" if result.meets_target else "[bold red]NO[/]",
        )
    console.print(table)
