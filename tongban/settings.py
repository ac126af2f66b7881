"""Where everything lives: one place that reads the environment (TONGBAN_*).

Every path defaults under `./var/`; environment variables override them. Nothing else in the
code base reads `os.environ` for configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_UNSET = Path()


@dataclass(frozen=True)
class Settings:
    home: Path
    db_url: str  # the event store (workflow core)
    business_db_url: str  # the university's business systems (SIS, HR)
    catalog_dir: Path | None  # None: the catalog shipped with the workflow core
    # The DuckDB warehouse (private build and published snapshots), the Dagster instance and
    # the Great Expectations project (Data Docs, a by-product of the data-quality checks); left
    # out, they default to `home / "warehouse"`, `home / "dagster"` and `home / "gx"`.
    warehouse_dir: Path = _UNSET
    dagster_home: Path = _UNSET
    gx_dir: Path = _UNSET
    # The dashboards (`tongban serve`): `header` trusts X-Remote-User from the SSO proxy; `dev`
    # offers the personas to pick from and is refused unless `demo` is on.
    auth: str = "header"
    demo: bool = False
    # Signs the dashboards' session cookie; None: `tongban serve` keeps one in `home`, so that
    # every gunicorn worker (and a restart) accepts the same sessions.
    secret_key: str | None = None
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8050
    # The workflow HTTP API, which the dashboards call for actions such as 催办 (remind).
    api_url: str = "http://127.0.0.1:8000"
    # The Dagster UI: the data-quality page links each check result to its run there.
    dagster_url: str = "http://127.0.0.1:3000"

    def __post_init__(self) -> None:
        if self.warehouse_dir == _UNSET:
            object.__setattr__(self, "warehouse_dir", self.home / "warehouse")
        if self.dagster_home == _UNSET:
            object.__setattr__(self, "dagster_home", self.home / "dagster")
        if self.gx_dir == _UNSET:
            object.__setattr__(self, "gx_dir", self.home / "gx")

    @property
    def personas_path(self) -> Path:
        return self.home / "personas.json"

    @property
    def secret_key_path(self) -> Path:
        return self.home / "dashboard-secret-key"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = Path(env.get("TONGBAN_HOME") or "var").resolve()
        db_url = env.get("TONGBAN_DB_URL") or f"sqlite:///{home / 'events.db'}"
        business = env.get("TONGBAN_BUSINESS_DB_URL") or f"sqlite:///{home / 'business.db'}"
        catalog = env.get("TONGBAN_CATALOG_DIR")
        warehouse = env.get("TONGBAN_WAREHOUSE_DIR")
        dagster_home = env.get("DAGSTER_HOME")
        gx_dir = env.get("TONGBAN_GX_DIR")
        port = env.get("TONGBAN_DASHBOARD_PORT")
        return cls(
            home=home,
            db_url=db_url,
            business_db_url=business,
            catalog_dir=Path(catalog).resolve() if catalog else None,
            warehouse_dir=Path(warehouse).resolve() if warehouse else home / "warehouse",
            dagster_home=Path(dagster_home).resolve() if dagster_home else home / "dagster",
            gx_dir=Path(gx_dir).resolve() if gx_dir else home / "gx",
            auth=(env.get("TONGBAN_AUTH") or "header").strip().lower(),
            demo=_flag(env.get("TONGBAN_DEMO")),
            secret_key=env.get("TONGBAN_SECRET_KEY") or None,
            dashboard_host=env.get("TONGBAN_DASHBOARD_HOST") or "127.0.0.1",
            dashboard_port=int(port) if port else 8050,
            api_url=(env.get("TONGBAN_API_URL") or "http://127.0.0.1:8000").rstrip("/"),
            dagster_url=(env.get("TONGBAN_DAGSTER_URL") or "http://127.0.0.1:3000").rstrip("/"),
        )


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}
