"""Where the warehouse lives: a private build directory and the published snapshots.

The pipelines alone open `build_dir/work.duckdb` (read-write, incremental). Readers open only
what `published_dir/CURRENT` names: immutable `wh-<n>.duckdb` snapshots (DESIGN.md
"Publication").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WarehousePaths:
    root: Path

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def work_db(self) -> Path:
        return self.build_dir / "work.duckdb"

    @property
    def published_dir(self) -> Path:
        return self.root / "published"

    @property
    def current(self) -> Path:
        return self.published_dir / "CURRENT"

    @property
    def quality(self) -> WarehousePaths:
        """Where the data-quality reports are published, snapshots of their own beside the
        warehouse's: a blocked build publishes no warehouse snapshot, yet its failed checks
        must reach the pages at once."""
        return WarehousePaths(self.root / "quality")
