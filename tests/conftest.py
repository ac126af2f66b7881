"""Shared fixtures: real event stores (SQLite file, and PostgreSQL when available), a generated
small university behind the real SqlDirectory, the shipped catalog, and the service over them.

PostgreSQL: set TONGBAN_TEST_PG_URL (e.g. postgresql://postgres@127.0.0.1:5432/test). Each test
gets its own schema, dropped afterwards. Without the URL the PostgreSQL variants skip with a
reason; with TONGBAN_REQUIRE_POSTGRES=1 (CI) a missing or unreachable server fails them instead.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tongban.university.generator import create_business_schema, generate_university
from tongban.university.personas import write_personas
from workflow_core.catalog.loader import Catalog, default_catalog
from workflow_core.directory.sql_directory import SqlDirectory
from workflow_core.service import WorkflowService
from workflow_core.store.db import make_engine
from workflow_core.store.migrate import upgrade

# The published small university (session-scoped, built once) for the warehouse and dashboards.
pytest_plugins = ["tests.warehouse.university"]

# The generated university's histories run around this day; tests act "now" on it.
AS_OF = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai, a Monday in term


def pg_url() -> str | None:
    url = os.environ.get("TONGBAN_TEST_PG_URL")
    if not url and os.environ.get("TONGBAN_REQUIRE_POSTGRES") == "1":
        pytest.fail("TONGBAN_REQUIRE_POSTGRES=1 but TONGBAN_TEST_PG_URL is not set")
    return url


def _require_pg() -> str:
    url = pg_url()
    if not url:
        pytest.skip("PostgreSQL tests need TONGBAN_TEST_PG_URL (CI sets it)")
    return url


@contextmanager
def fresh_pg_schema(base: str) -> Iterator[str]:
    """A URL of the PostgreSQL server `base` whose search_path is a new schema, dropped after."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(base).set(drivername="postgresql+psycopg"))
    try:
        with admin.begin() as conn:
            conn.execute(text(f'create schema "{schema}"'))
    except Exception as exc:  # an unreachable server must not look like a pass
        admin.dispose()
        pytest.fail(f"PostgreSQL at {base} is not usable: {exc}")
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'drop schema "{schema}" cascade'))
        admin.dispose()


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    with fresh_pg_schema(_require_pg()) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty event-store URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"
    return str(request.getfixturevalue("pg_schema_url"))


@pytest.fixture
def store_engine(store_url: str) -> Iterator[Engine]:
    """A migrated event store on each backend."""
    engine = make_engine(store_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def university_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated university (business systems database and personas), made once."""
    home = tmp_path_factory.mktemp("university")
    engine = make_engine(f"sqlite:///{home / 'business.db'}")
    create_business_schema(engine)
    generate_university(engine, "small", seed=2026, as_of=AS_OF)
    write_personas(engine, home / "personas.json", NOW)
    engine.dispose()
    return home


@pytest.fixture(scope="session")
def business_engine(university_dir: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{university_dir / 'business.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def personas(university_dir: Path) -> dict[str, list[dict[str, Any]]]:
    data = json.loads((university_dir / "personas.json").read_text(encoding="utf-8"))
    return dict(data["personas"])


@pytest.fixture(scope="session")
def directory(business_engine: Engine) -> SqlDirectory:
    return SqlDirectory(business_engine)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return default_catalog()


class Clock:
    """A settable clock, so tests control `now` (and working hours) exactly."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def service(
    store_engine: Engine, catalog: Catalog, directory: SqlDirectory, clock: Clock
) -> WorkflowService:
    return WorkflowService(store_engine, catalog, directory, clock=clock)
