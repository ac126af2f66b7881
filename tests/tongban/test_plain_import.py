"""A plain XES log imported from its columns writes what the importer writes, on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from tests.conftest import fresh_pg_schema
from tests.tongban.test_xes_frame import NOW, PLAIN, REAL_LOGS, write
from tongban.plain_import import write_plain
from tongban.xes_frame import read_events_frame
from workflow_core.importing.loader import import_log
from workflow_core.importing.model import LogColumns, LogImportError, read_log_bytes
from workflow_core.importing.xes import read_xes
from workflow_core.store.db import make_engine
from workflow_core.store.migrate import upgrade
from workflow_core.store.schema import events, instances, log_imports


@contextmanager
def another_store(store_url: str, tmp_path: Path) -> Iterator[Engine]:
    """A second empty store on the same backend as `store_url`."""
    if store_url.startswith("sqlite"):
        engine = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    with fresh_pg_schema(store_url) as url:
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()


def table_rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as conn:
        return {
            table.name: [
                dict(row._mapping)
                for row in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in (events, instances, log_imports)
        }


def test_a_plain_log_writes_the_importers_rows(
    store_engine: Engine, store_url: str, tmp_path: Path
) -> None:
    path = write(tmp_path, PLAIN)
    stored = read_log_bytes(path)
    plain = read_events_frame(path.name, stored, "plain", LogColumns(), now=NOW)
    assert plain is not None
    progress: list[int] = []
    summary = write_plain(
        store_engine, path.name, stored.sha256, plain, "plain", now=NOW, progress=progress.append
    )
    with another_store(store_url, tmp_path) as other:
        expected = import_log(other, read_xes(path), "plain", now=NOW)
        assert table_rows(store_engine) == table_rows(other)
    assert summary == expected
    assert progress[-1] == summary.events == 4
    assert summary.skipped_empty_cases == 1


def test_a_repeated_plain_import_is_refused_and_writes_nothing(
    store_engine: Engine, tmp_path: Path
) -> None:
    path = write(tmp_path, PLAIN)
    stored = read_log_bytes(path)
    plain = read_events_frame(path.name, stored, "plain", LogColumns(), now=NOW)
    assert plain is not None
    write_plain(store_engine, path.name, stored.sha256, plain, "plain", now=NOW)
    before = table_rows(store_engine)
    with pytest.raises(LogImportError, match="already imported"):
        write_plain(store_engine, path.name, stored.sha256, plain, "plain", now=NOW)
    assert table_rows(store_engine) == before


def test_the_real_bpic_2012_log_writes_the_importers_rows(tmp_path: Path) -> None:
    path = REAL_LOGS / "bpic2012.xes.gz"
    if not path.exists():
        pytest.skip(f"the real event log is absent (expected at {path.resolve()})")
    stores = []
    for name in ("plain.db", "importer.db"):
        engine = make_engine(f"sqlite:///{tmp_path / name}")
        upgrade(engine)
        stores.append(engine)
    stored = read_log_bytes(path)
    plain = read_events_frame(path.name, stored, "bpic2012", LogColumns(), now=NOW)
    assert plain is not None
    write_plain(stores[0], path.name, stored.sha256, plain, "bpic2012", now=NOW)
    import_log(stores[1], read_xes(path), "bpic2012", now=NOW)
    assert table_rows(stores[0]) == table_rows(stores[1])
    for engine in stores:
        engine.dispose()
