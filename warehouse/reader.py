"""The read side of the warehouse: one in-memory DuckDB that follows the published `CURRENT`.

The snapshot `CURRENT` names is `ATTACH`ed read-only; every `cursor()` checks the pointer with a
stat, attaches a newer snapshot when it moved, and detaches an older one once no open cursor
uses it, so threads share one connection and a long query never loses its snapshot.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, TracebackType

import duckdb

from warehouse.paths import WarehousePaths
from warehouse.publication import (
    SNAPSHOT_TABLE,
    SNAPSHOT_TABLES_TABLE,
    Snapshot,
    read_current_name,
)

# CURRENT may name a snapshot that a publisher removes a moment later (it moved on twice within
# the grace period); re-reading the pointer a few times then finds one that exists.
_ATTACH_ATTEMPTS = 5


class NoSnapshotError(RuntimeError):
    """Nothing is published yet, or CURRENT names a file that is gone."""


class WarehouseClosedError(RuntimeError):
    """The Warehouse was closed."""


@dataclass
class _Attached:
    alias: str
    name: str
    refs: int = 0
    retired: bool = False
    info: Snapshot | None = None


_Stamp = tuple[int, int, int, int]


class Warehouse:
    def __init__(self, location: WarehousePaths | Path) -> None:
        if isinstance(location, WarehousePaths):
            self._published_dir, self._pointer = location.published_dir, location.current
        else:
            self._published_dir, self._pointer = location, location / "CURRENT"
        self._conn: duckdb.DuckDBPyConnection | None = duckdb.connect(":memory:")
        self._lock = threading.Lock()
        self._current: _Attached | None = None
        self._stamp: _Stamp | None = None
        self._serial = 0
        self._attached: list[_Attached] = []

    @property
    def published_dir(self) -> Path:
        return self._published_dir

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor whose default catalog is the current snapshot, valid inside the block."""
        attached, cur = self._acquire()
        try:
            yield cur
        finally:
            try:
                cur.close()
            finally:
                self._release(attached)

    def snapshot(self) -> Snapshot:
        """The description of the snapshot a cursor opened now would read."""
        attached, cur = self._acquire()
        try:
            if attached.info is None:
                attached.info = self._describe(cur, attached.name)
            return attached.info
        finally:
            try:
                cur.close()
            finally:
                self._release(attached)

    def close(self) -> None:
        with self._lock:
            if self._conn is None:
                return
            self._conn.close()
            self._conn = None
            self._current = None
            self._attached.clear()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _acquire(self) -> tuple[_Attached, duckdb.DuckDBPyConnection]:
        with self._lock:
            conn = self._open_conn()
            self._refresh(conn)
            attached = self._current
            assert attached is not None
            attached.refs += 1
        # Outside the lock: the reference taken keeps the alias attached, and a statement costs
        # ~0.3 ms that other threads need not wait for.
        try:
            cur = conn.cursor()
            try:
                cur.execute(f"use {attached.alias}")
            except BaseException:
                cur.close()
                raise
        except BaseException:
            self._release(attached)
            raise
        return attached, cur

    def _release(self, attached: _Attached) -> None:
        with self._lock:
            attached.refs -= 1
            if attached.retired and attached.refs == 0 and self._conn is not None:
                self._detach(self._conn, attached)

    def _refresh(self, conn: duckdb.DuckDBPyConnection) -> None:
        stamp = self._stat_current()
        if self._current is not None and stamp == self._stamp:
            return
        for _ in range(_ATTACH_ATTEMPTS):
            name = read_current_name(self._pointer)
            if name is None:
                raise NoSnapshotError(
                    f"no warehouse snapshot is published in {self.published_dir}: "
                    "run `tongban build` first"
                )
            if self._current is not None and self._current.name == name:
                self._stamp = stamp
                return
            path = self.published_dir / name
            self._serial += 1
            alias = f"snap_{self._serial}"
            try:
                conn.execute(f"attach {_literal(str(path))} as {alias} (read_only)")
            except duckdb.IOException:
                if path.exists():
                    raise
                stamp = self._stat_current()
                continue
            previous, self._current = self._current, _Attached(alias=alias, name=name)
            self._attached.append(self._current)
            self._stamp = stamp
            if previous is not None:
                previous.retired = True
                if previous.refs == 0:
                    self._detach(conn, previous)
            return
        raise NoSnapshotError(
            f"{self._pointer} names a snapshot that no longer exists in "
            f"{self.published_dir}: run `tongban build` to publish a new one"
        )

    def _stat_current(self) -> _Stamp | None:
        try:
            st = os.stat(self._pointer)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)

    def _detach(self, conn: duckdb.DuckDBPyConnection, attached: _Attached) -> None:
        conn.execute(f"detach {attached.alias}")
        self._attached.remove(attached)

    def _open_conn(self) -> duckdb.DuckDBPyConnection:
        if self._conn is None:
            raise WarehouseClosedError("the Warehouse is closed")
        return self._conn

    def _describe(self, cur: duckdb.DuckDBPyConnection, name: str) -> Snapshot:
        row = cur.execute(
            f"select number, published_at, as_of, events_cursor from {SNAPSHOT_TABLE}"
        ).fetchone()
        if row is None:
            raise NoSnapshotError(f"{name} has no {SNAPSHOT_TABLE} row: not a published snapshot")
        counts = cur.execute(
            f"select table_name, row_count from {SNAPSHOT_TABLES_TABLE} order by table_name"
        ).fetchall()
        return Snapshot(
            number=int(row[0]),
            path=self.published_dir / name,
            published_at=row[1],
            as_of=row[2],
            events_cursor=int(row[3]),
            tables=MappingProxyType({str(t): int(n) for t, n in counts}),
        )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
