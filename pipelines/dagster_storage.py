"""Dagster's SQLite event log, as the default one, with each database kept open and committed
without waiting for the disk.

Dagster writes an event per asset and check it plans, and one per materialization and check
result: about 200 for one live update. Its SQLite event log opens and closes a connection for
each, and in the index database's rollback journal a commit waits for the disk: measured on
the large university, 16–24 ms an event, 2.5 s of a live update's 8 s. Here each database keeps
one connection (the storage's own lock already lets one caller use a database at a time), in
WAL mode with `synchronous=NORMAL`: a commit is durable once the WAL is synced at a checkpoint,
and a crash of the machine loses at most the last events of Dagster's own log, never the
warehouse (which has its own files and cursor) nor a consistent state of the log.

`ensure_dagster_home` writes it into the instance's `dagster.yaml` (`event_log_storage`).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, Final

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import StaticPool

# The index and the runs being written; a run's database is seldom read once the run is over.
OPEN_DATABASES: Final = 8


class SqliteEventLog(SqliteEventLogStorage):
    """`SqliteEventLogStorage` with a kept-open connection per database (WAL, synchronous
    NORMAL); configured like it (`base_dir`)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: dict[str, Any]
    ) -> SqliteEventLog:
        return cls(inst_data=inst_data, **config_value)

    @contextlib.contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(
            self.conn_string_for_shard(shard),
            poolclass=StaticPool,
            # One connection, used by one thread at a time under the storage's lock.
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        event.listen(engine, "connect", _pragmas)
        self._engines[shard] = engine
        while len(self._engines) > OPEN_DATABASES:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    def _close_databases(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def delete_events(self, run_id: str) -> None:
        super().delete_events(run_id)
        with self._db_lock:
            engine = self._engines.pop(run_id, None)
            if engine is not None:
                engine.dispose()

    def wipe(self) -> None:
        # Wiping removes the database files: no connection may outlive them.
        self._close_databases()
        super().wipe()
        self._close_databases()

    def dispose(self) -> None:
        super().dispose()
        self._close_databases()


def _pragmas(connection: sqlite3.Connection, _record: object) -> None:
    # journal_mode is stored in the file (and refused inside a transaction: a new connection
    # has none); synchronous is per connection.
    connection.execute("pragma journal_mode=wal")
    connection.execute("pragma synchronous=normal")
