"""The one module that decides the pipelines' resources from the environment.

It reads the same TONGBAN_* variables, with the same defaults, as `tongban.settings` (the
pipelines may not import the shell): everything under TONGBAN_HOME (default `./var`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.resources import (
    DEFAULT_MEMORY_LIMIT,
    BusinessSystems,
    Catalog,
    EventStore,
    LiveUpdate,
    WarehouseResource,
)


@dataclass(frozen=True)
class Environment:
    home: Path
    db_url: str
    business_db_url: str
    catalog_dir: Path | None
    warehouse_dir: Path
    gx_dir: Path  # Great Expectations' project, where Data Docs are built
    memory_limit: str = DEFAULT_MEMORY_LIMIT  # DuckDB's, in a run (TONGBAN_WAREHOUSE_MEMORY)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Environment:
        env = os.environ if env is None else env
        home = Path(env.get("TONGBAN_HOME") or "var").resolve()
        catalog = env.get("TONGBAN_CATALOG_DIR")
        warehouse = env.get("TONGBAN_WAREHOUSE_DIR")
        gx_dir = env.get("TONGBAN_GX_DIR")
        return cls(
            home=home,
            db_url=env.get("TONGBAN_DB_URL") or f"sqlite:///{home / 'events.db'}",
            business_db_url=(
                env.get("TONGBAN_BUSINESS_DB_URL") or f"sqlite:///{home / 'business.db'}"
            ),
            catalog_dir=Path(catalog).resolve() if catalog else None,
            warehouse_dir=Path(warehouse).resolve() if warehouse else home / "warehouse",
            gx_dir=Path(gx_dir).resolve() if gx_dir else home / "gx",
            memory_limit=env.get("TONGBAN_WAREHOUSE_MEMORY") or DEFAULT_MEMORY_LIMIT,
        )


def resources(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The resources every asset, sensor and schedule is bound to, for this environment."""
    found = Environment.from_env(env)
    return {
        "event_store": EventStore(url=found.db_url),
        "business_systems": BusinessSystems(url=found.business_db_url),
        "catalog": Catalog(directory=str(found.catalog_dir) if found.catalog_dir else None),
        "warehouse": WarehouseResource(
            root=str(found.warehouse_dir),
            gx_dir=str(found.gx_dir),
            memory_limit=found.memory_limit,
        ),
        "live": LiveUpdate(),
    }
