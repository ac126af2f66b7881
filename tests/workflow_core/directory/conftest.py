"""Fixtures for the directory tests: an empty business-systems database on SQLite (a file in
tmp_path) and, when TONGBAN_TEST_PG_URL is set, on PostgreSQL (a fresh schema, dropped after).

Without the URL the PostgreSQL variants skip with a reason; with TONGBAN_REQUIRE_POSTGRES=1 a
missing or unusable server fails them instead, so CI cannot pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from workflow_core.directory.schema import business_metadata
from workflow_core.store.db import make_engine

PG_URL_ENV = "TONGBAN_TEST_PG_URL"


def _postgres_base_url() -> str:
    url = os.environ.get(PG_URL_ENV)
    if url:
        return url
    if os.environ.get("TONGBAN_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"TONGBAN_REQUIRE_POSTGRES=1 but {PG_URL_ENV} is not set")
    pytest.skip(
        f"PostgreSQL variant needs {PG_URL_ENV} (e.g. postgresql://postgres@127.0.0.1/test)"
    )


@pytest.fixture
def postgres_business_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a schema of its own, dropped after the test."""
    base = _postgres_base_url()
    schema = f"directory_{uuid.uuid4().hex[:12]}"
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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def business_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty business-systems database URL, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'business.db'}"
    return str(request.getfixturevalue("postgres_business_url"))


@pytest.fixture
def business_db(business_db_url: str) -> Iterator[Engine]:
    """An engine on a business-systems database with the schema created and no rows."""
    engine = make_engine(business_db_url)
    business_metadata.create_all(engine)
    yield engine
    engine.dispose()
