"""Where everything lives: one place that reads the environment (TONGBAN_*).

Every path defaults under `./var/`; environment variables override them. Nothing else in the
code base reads `os.environ` for configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    db_url: str  # the event store (workflow core)
    business_db_url: str  # the university's business systems (SIS, HR)
    catalog_dir: Path | None  # None: the catalog shipped with the workflow core

    @property
    def personas_path(self) -> Path:
        return self.home / "personas.json"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = Path(env.get("TONGBAN_HOME") or "var").resolve()
        db_url = env.get("TONGBAN_DB_URL") or f"sqlite:///{home / 'events.db'}"
        business = env.get("TONGBAN_BUSINESS_DB_URL") or f"sqlite:///{home / 'business.db'}"
        catalog = env.get("TONGBAN_CATALOG_DIR")
        return cls(
            home=home,
            db_url=db_url,
            business_db_url=business,
            catalog_dir=Path(catalog).resolve() if catalog else None,
        )
