"""Dashboards under test: apps over the published small university (built once per session)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import dash
import pytest

from dashboards.app import DashboardConfig, create_app
from dashboards.session import app_state
from tests.warehouse.conftest import AS_OF, BuiltUniversity

SECRET = "a test secret key, not for production"
CAMPUS_DAY = AS_OF.date()


def config_for(university: BuiltUniversity, **overrides: Any) -> DashboardConfig:
    values: dict[str, Any] = {
        "warehouse": university.paths,
        "secret_key": SECRET,
        "personas_path": university.home / "personas.json",
        "campus_day": lambda: CAMPUS_DAY,
        **overrides,
    }
    return DashboardConfig(**values)


@pytest.fixture
def make_app(small_university: BuiltUniversity) -> Iterator[Callable[..., dash.Dash]]:
    """`make_app(auth="header", demo=False)`: a fresh app; its warehouse is closed afterwards."""
    made: list[dash.Dash] = []

    def make(**overrides: Any) -> dash.Dash:
        app = create_app(config_for(small_university, **overrides))
        made.append(app)
        return app

    yield make
    for app in made:
        app_state(app.server).close()


@pytest.fixture(scope="session")
def persona_ids(small_university: BuiltUniversity) -> dict[str, list[str]]:
    """Role → the user ids personas.json offers for it."""
    document = json.loads((small_university.home / "personas.json").read_text(encoding="utf-8"))
    return {
        role: [person["user_id"] for person in people]
        for role, people in document["personas"].items()
    }
