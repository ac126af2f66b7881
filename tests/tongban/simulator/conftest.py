"""The simulator reads the generated university through an in-memory directory snapshot and
writes into fresh SQLite stores; `streams` reads a store back stream by stream."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from workflow_core.directory.memory_directory import MemoryDirectory
from workflow_core.domain.events import StoredEvent
from workflow_core.store import event_store
from workflow_core.store.db import make_engine
from workflow_core.store.migrate import upgrade


@pytest.fixture(scope="session")
def directory(business_engine: Engine) -> MemoryDirectory:
    return MemoryDirectory.load(business_engine)


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[Callable[[str], Engine]]:
    """Makes migrated SQLite event stores by file name; disposed after the test."""
    made: list[Engine] = []

    def make(name: str) -> Engine:
        engine = make_engine(f"sqlite:///{tmp_path / name}")
        upgrade(engine)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.dispose()


def streams(engine: Engine) -> dict[str, list[StoredEvent]]:
    """Every stream of the store with its events in order."""
    found: dict[str, list[StoredEvent]] = defaultdict(list)
    with engine.connect() as conn:
        for stored in event_store.iter_all(conn):
            found[stored.stream_id].append(stored)
    return found
