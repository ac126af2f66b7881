"""What a stage measured, summarised the same way for every stage, and its JSON document."""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Final

PACKAGES: Final = (
    "dagster",
    "dash",
    "duckdb",
    "great-expectations",
    "gunicorn",
    "polars",
    "psycopg",
    "sqlalchemy",
)


def spread(values: Sequence[float], digits: int = 3) -> dict[str, Any]:
    """Median, min and max of repeated runs, with every run kept."""
    if not values:
        raise ValueError("a figure needs at least one run")
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "runs": [round(v, digits) for v in values],
    }


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (no interpolation: a value that was measured)."""
    if not values:
        raise ValueError("a percentile needs at least one value")
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(share * len(ordered) - 1e-9))) - 1]


def ratio(figure: float, limit: float) -> float | None:
    return round(figure / limit, 3) if limit else None


@dataclass
class StageResult:
    """One stage: its figures, what it was held to, and a line for the table.

    `figure` / `target` / `peer` are the table's words (e.g. "1,234 commands/s",
    "≥ 1,000 commands/s", "0.08 × SQLAlchemy Core insert"); `figures` is everything measured.
    """

    stage: str
    figure: str
    target: str
    meets_target: bool
    figures: dict[str, Any]
    targets: dict[str, Any]
    peer: str = ""
    notes: list[str] = field(default_factory=list)

    def document(self, size: str) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "size": size,
            "figure": self.figure,
            "target": self.target,
            "meets_target": self.meets_target,
            "peer": self.peer,
            "figures": self.figures,
            "targets": self.targets,
            "notes": self.notes,
            "machine": machine(),
            "versions": versions(),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def write(self, results_dir: Path, size: str) -> Path:
        results_dir.mkdir(parents=True, exist_ok=True)
        path = results_dir / f"{self.stage}.json"
        # Written aside and renamed, so that an interrupted run never leaves half a document.
        partial = path.with_suffix(".json.partial")
        partial.write_text(
            json.dumps(self.document(size), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        partial.replace(path)
        return path


def machine() -> dict[str, Any]:
    memory = None
    with contextlib.suppress(ValueError, OSError):
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cpus": os.cpu_count(),
        "memory_bytes": memory,
        "platform": platform.platform(),
        "processor": _cpu_model(),
        # The machine is shared: the load says how far to trust the absolute figures.
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[package] = metadata.version(package)
    with contextlib.suppress(metadata.PackageNotFoundError):
        found["tongban"] = metadata.version("tongban")
    return found
