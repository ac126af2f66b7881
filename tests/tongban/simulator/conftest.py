"""The simulator reads the generated university through an in-memory directory snapshot."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from workflow_core.directory.memory_directory import MemoryDirectory


@pytest.fixture(scope="session")
def directory(business_engine: Engine) -> MemoryDirectory:
    return MemoryDirectory.load(business_engine)
