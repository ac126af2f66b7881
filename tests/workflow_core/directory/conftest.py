"""Fixtures for the directory tests: an empty business-systems database on SQLite (a file in
tmp_path) and on PostgreSQL (the root conftest's `pg_schema_url`: a fresh schema, dropped after;
skipped with a reason without TONGBAN_TEST_PG_URL, failed under TONGBAN_REQUIRE_POSTGRES=1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from workflow_core.directory.schema import business_metadata
from workflow_core.store.db import make_engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def business_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty business-systems database URL, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'business.db'}"
    return str(request.getfixturevalue("pg_schema_url"))


@pytest.fixture
def business_db(business_db_url: str) -> Iterator[Engine]:
    """An engine on a business-systems database with the schema created and no rows."""
    engine = make_engine(business_db_url)
    business_metadata.create_all(engine)
    yield engine
    engine.dispose()
