"""The Warehouse reader follows CURRENT without reopening, keeps a snapshot alive while a cursor
uses it, serves many threads while snapshots switch, and says what to do when none exists."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from warehouse.paths import WarehousePaths
from warehouse.publication import publish
from warehouse.reader import NoSnapshotError, Warehouse, WarehouseClosedError

AS_OF = datetime(2026, 3, 2, 2, 0)


@pytest.fixture
def paths(tmp_path: Path) -> WarehousePaths:
    paths = WarehousePaths(tmp_path / "wh")
    paths.build_dir.mkdir(parents=True)
    return paths


@pytest.fixture
def work(paths: WarehousePaths) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(paths.work_db))
    yield conn
    conn.close()


def publish_k(conn: duckdb.DuckDBPyConnection, paths: WarehousePaths, k: int, **kw: float) -> int:
    conn.execute(f"create or replace table mart_x as select range as i from range({k})")
    return publish(conn, ["mart_x"], paths, as_of=AS_OF, events_cursor=k, **kw).number


def count(cur: duckdb.DuckDBPyConnection) -> int:
    row = cur.execute("select count(*) from mart_x").fetchone()
    assert row is not None
    return int(row[0])


def attached_catalogs(wh: Warehouse) -> set[str]:
    with wh.cursor() as cur:
        rows = cur.execute(
            "select database_name from duckdb_databases() where not internal and path is not null"
        ).fetchall()
    return {str(r[0]) for r in rows}


def test_no_snapshot_tells_the_user_to_build(paths: WarehousePaths) -> None:
    with Warehouse(paths) as wh:
        with pytest.raises(NoSnapshotError, match="run `tongban build`"), wh.cursor():
            pass
        with pytest.raises(NoSnapshotError, match="tongban build"):
            wh.snapshot()


def test_reader_sees_new_snapshots_without_reopening(
    paths: WarehousePaths, work: duckdb.DuckDBPyConnection
) -> None:
    publish_k(work, paths, 3)
    wh = Warehouse(paths.published_dir)
    with wh.cursor() as cur:
        assert count(cur) == 3
    info = wh.snapshot()
    assert (info.number, info.events_cursor, dict(info.tables)) == (1, 3, {"mart_x": 3})
    assert info.as_of == AS_OF

    publish_k(work, paths, 7)
    with wh.cursor() as cur:
        assert count(cur) == 7
    assert wh.snapshot().number == 2
    # The superseded snapshot was detached: one snapshot attached at a time when idle.
    assert len(attached_catalogs(wh)) == 1
    wh.close()
    with pytest.raises(WarehouseClosedError), wh.cursor():
        pass


def test_an_open_cursor_keeps_its_snapshot_until_it_closes(
    paths: WarehousePaths, work: duckdb.DuckDBPyConnection
) -> None:
    publish_k(work, paths, 2)
    with Warehouse(paths) as wh:
        with wh.cursor() as old:
            assert count(old) == 2
            publish_k(work, paths, 5)
            with wh.cursor() as new:
                assert count(new) == 5
                assert count(old) == 2  # the old snapshot is still attached for this cursor
                assert len(attached_catalogs(wh)) == 2
            assert count(old) == 2
        assert len(attached_catalogs(wh)) == 1
        with wh.cursor() as cur:
            assert count(cur) == 5


def test_a_removed_snapshot_still_reads_for_the_cursor_holding_it(
    paths: WarehousePaths, work: duckdb.DuckDBPyConnection
) -> None:
    publish_k(work, paths, 4)
    with Warehouse(paths) as wh, wh.cursor() as cur:
        assert count(cur) == 4
        # Zero grace and a clock far ahead: the first snapshot is deleted from disk.
        publish_k(work, paths, 6)
        publish_k(work, paths, 8, grace_seconds=0.0, now=lambda: 4e9)
        assert not (paths.published_dir / "wh-000001.duckdb").exists()
        assert count(cur) == 4


def test_threads_read_concurrently_while_snapshots_switch(
    paths: WarehousePaths, work: duckdb.DuckDBPyConnection
) -> None:
    publish_k(work, paths, 1)
    wh = Warehouse(paths)
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: set[int] = set()

    def reader() -> None:
        try:
            while not stop.is_set():
                with wh.cursor() as cur:
                    row = cur.execute(
                        "select (select events_cursor from _snapshot), count(*), sum(i) from mart_x"
                    ).fetchone()
                assert row is not None
                k, n, total = int(row[0]), int(row[1]), int(row[2])
                assert n == k and total == k * (k - 1) // 2
                seen.add(k)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for k in range(2, 22):
            publish_k(work, paths, k, grace_seconds=0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    wh.close()
    assert errors == []
    assert len(seen) >= 3
