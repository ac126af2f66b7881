"""What a dashboards app is configured with (`DashboardConfig`), checked before it starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Final, Literal

from dashboards.formatting import SHANGHAI
from dashboards.i18n import DEFAULT_LANGUAGE, LANGUAGES, Language
from warehouse.paths import WarehousePaths

AuthMode = Literal["header", "dev"]
AUTH_MODES: Final[tuple[AuthMode, ...]] = ("header", "dev")


class DashboardConfigError(ValueError):
    """The dashboards cannot start with this configuration; the message says why."""


def shanghai_today() -> date:
    """The campus day now: scopes are resolved on the day in Asia/Shanghai, not in UTC."""
    return datetime.now(SHANGHAI).date()


@dataclass(frozen=True)
class DashboardConfig:
    """`warehouse`: where the published snapshots are (only `published_dir` is read).
    `auth`: "header" trusts X-Remote-User from the SSO proxy; "dev" offers the personas in
    `personas_path` and needs `demo`. `api_url`: the workflow HTTP API, for actions (催办).
    `dagster_url`: the Dagster UI, which the data-quality page links each result's run to.
    `secret_key`: signs the session cookie; every worker of one deployment needs the same.
    `campus_day`: the day scopes are resolved on (tests fix it).
    """

    warehouse: WarehousePaths
    secret_key: str
    auth: AuthMode = "header"
    demo: bool = False
    personas_path: Path | None = None
    api_url: str = "http://127.0.0.1:8000"
    dagster_url: str = "http://127.0.0.1:3000"
    default_language: Language = DEFAULT_LANGUAGE
    campus_day: Callable[[], date] = field(default=shanghai_today)

    def check(self) -> None:
        """Raise DashboardConfigError when this configuration must not serve anyone."""
        if self.auth not in AUTH_MODES:
            raise DashboardConfigError(
                f"unknown authentication mode {self.auth!r}: use one of {', '.join(AUTH_MODES)}"
            )
        if self.auth == "dev" and not self.demo:
            raise DashboardConfigError(
                "dev authentication (pick a persona) is for demos only: "
                "turn demo mode on (TONGBAN_DEMO=1) or use header authentication"
            )
        if self.auth == "dev" and self.personas_path is None:
            raise DashboardConfigError("dev authentication needs the personas file")
        if len(self.secret_key) < 16:
            raise DashboardConfigError("the session secret key must be at least 16 characters")
        if not self.dagster_url.startswith(("http://", "https://")):
            raise DashboardConfigError(
                f"the Dagster UI's address must be an http(s) URL, not {self.dagster_url!r}"
            )
        if self.default_language not in LANGUAGES:
            raise DashboardConfigError(f"unknown language {self.default_language!r}")
