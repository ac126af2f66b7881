"""Publishing copies the named tables into numbered immutable snapshots and switches CURRENT; a
failed publish leaves nothing behind, and only snapshots superseded beyond the grace period go."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from warehouse.paths import WarehousePaths
from warehouse.publication import (
    PublicationError,
    Snapshot,
    current_snapshot_path,
    publish,
)

AS_OF = datetime(2026, 3, 2, 2, 0)


class Clock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def paths(tmp_path: Path) -> WarehousePaths:
    paths = WarehousePaths(tmp_path / "wh")
    paths.build_dir.mkdir(parents=True)
    return paths


@pytest.fixture
def work(paths: WarehousePaths) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(paths.work_db))
    conn.execute("create table mart_a as select range as i from range(5)")
    conn.execute("create table mart_b as select range as j, 'x' as s from range(3)")
    conn.execute("create table raw_events as select range as e from range(100)")
    yield conn
    conn.close()


def read_back(path: Path) -> tuple[set[str], dict[str, int], tuple[object, ...]]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        tables = {
            str(r[0]) for r in conn.execute("select table_name from duckdb_tables()").fetchall()
        }
        counts = {
            t: int(conn.execute(f'select count(*) from "{t}"').fetchone()[0])  # type: ignore[index]
            for t in tables
        }
        row = conn.execute("select * from _snapshot").fetchone()
        assert row is not None
        return tables, counts, tuple(row)
    finally:
        conn.close()


def published_files(paths: WarehousePaths) -> list[str]:
    return sorted(p.name for p in paths.published_dir.iterdir() if p.name != ".publish.lock")


def test_publish_writes_numbered_snapshots_with_exactly_the_listed_tables(
    paths: WarehousePaths, work: duckdb.DuckDBPyConnection
) -> None:
    assert current_snapshot_path(paths) is None
    clock = Clock()
    first = publish(work, ["mart_a", "mart_b"], paths, as_of=AS_OF, events_cursor=42, now=clock)
    assert isinstance(first, Snapshot)
    assert first.number == 1
    assert dict(first.tables) == {"mart_a": 5, "mart_b": 3}
    assert first.published_at == datetime.fromtimestamp(clock.t, UTC).replace(tzinfo=None)
    assert current_snapshot_path(paths) == first.path
    assert paths.current.read_text(encoding="utf-8").strip() == first.path.name

    tables, counts, row = read_back(first.path)
    assert tables == {"mart_a", "mart_b", "_snapshot", "_snapshot_tables"}
    assert counts["mart_a"] == 5 and counts["mart_b"] == 3
    assert row == (1, first.published_at, AS_OF, 42, None)

    work.execute("insert into mart_a select 99")
    clock.t += 1
    second = publish(work, ["mart_a"], paths, as_of=AS_OF, events_cursor=43, now=clock)
    assert second.number == 2
    assert dict(second.tables) == {"mart_a": 6}
    assert current_snapshot_path(paths) == second.path
    # The first snapshot is immutable: still as it was, within the grace period.
    assert read_back(first.path)[1]["mart_a"] == 5
    assert read_back(second.path)[0] == {"mart_a", "_snapshot", "_snapshot_tables"}
    assert published_files(paths) == ["CURRENT", first.path.name, second.path.name]
    assert not any(p.suffix == ".wal" for p in paths.published_dir.iterdir())
    assert int(second.path.name.removeprefix("wh-").removesuffix(".duckdb")) == 2


def test_aware_as_of_is_stored_as_naive_utc(
    paths: WarehousePaths, work: duckdb.DuckDBPyConnection
) -> None:
    aware = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    snap = publish(work, ["mart_a"], paths, as_of=aware, events_cursor=1)
    assert snap.as_of == datetime(2026, 3, 2, 10, 0)
    assert read_back(snap.path)[2][2] == datetime(2026, 3, 2, 10, 0)


def test_unknown_table_is_refused_before_anything_is_written(
    paths: WarehousePaths, work: duckdb.DuckDBPyConnection
) -> None:
    with pytest.raises(PublicationError, match="mart_missing"):
        publish(work, ["mart_a", "mart_missing"], paths, as_of=AS_OF, events_cursor=1)
    assert not paths.published_dir.exists() or published_files(paths) == []
    for bad in (["_snapshot"], ["mart_a", "mart_a"], []):
        with pytest.raises(PublicationError):
            publish(work, bad, paths, as_of=AS_OF, events_cursor=1)
    assert current_snapshot_path(paths) is None


def test_a_failure_mid_publish_publishes_nothing(
    paths: WarehousePaths, work: duckdb.DuckDBPyConnection
) -> None:
    first = publish(work, ["mart_a", "mart_b"], paths, as_of=AS_OF, events_cursor=1)
    before = published_files(paths)
    current_before = paths.current.read_bytes()
    # A view whose base table vanished passes the existence check but fails while copying.
    work.execute("create table doomed as select 1 as x")
    work.execute("create view mart_broken as select * from doomed")
    work.execute("drop table doomed")
    with pytest.raises(PublicationError, match="mart_broken"):
        publish(work, ["mart_a", "mart_broken"], paths, as_of=AS_OF, events_cursor=2)
    assert published_files(paths) == before
    assert paths.current.read_bytes() == current_before
    assert read_back(first.path)[1]["mart_a"] == 5
    # The work connection is still usable and the next publish takes the next number.
    second = publish(work, ["mart_a"], paths, as_of=AS_OF, events_cursor=3)
    assert second.number == 2  # the failed build took no number
    assert current_snapshot_path(paths) == second.path


def test_a_failure_while_switching_current_leaves_it_untouched(
    paths: WarehousePaths, work: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(work, ["mart_a"], paths, as_of=AS_OF, events_cursor=1)
    before = published_files(paths)
    current_before = paths.current.read_bytes()
    real_replace = os.replace

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst) == paths.current:
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(PublicationError, match="disk full"):
        publish(work, ["mart_a"], paths, as_of=AS_OF, events_cursor=2)
    assert published_files(paths) == before
    assert paths.current.read_bytes() == current_before


def test_grace_period_removes_only_old_non_current_snapshots(
    paths: WarehousePaths, work: duckdb.DuckDBPyConnection
) -> None:
    clock = Clock()
    snaps = []
    for _ in range(3):
        snaps.append(
            publish(
                work, ["mart_a"], paths, as_of=AS_OF, events_cursor=1, grace_seconds=60, now=clock
            )
        )
        clock.t += 10
    assert all(s.path.exists() for s in snaps)
    # A stray leftover of a crashed build, long ago.
    stray = paths.published_dir / ".wh-000099.duckdb.building"
    stray.write_bytes(b"partial")
    os.utime(stray, (clock.t - 1000, clock.t - 1000))

    # Snapshot 1 was superseded at t0+10, snapshot 2 at t0+20; with t = t0+75 only 1 is expired.
    clock.t = snaps[0].published_at.replace(tzinfo=UTC).timestamp() + 75
    fourth = publish(
        work, ["mart_a"], paths, as_of=AS_OF, events_cursor=1, grace_seconds=60, now=clock
    )
    assert fourth.number == 100  # numbers never reuse a leftover's
    assert not snaps[0].path.exists()
    assert snaps[1].path.exists() and snaps[2].path.exists()
    assert not stray.exists()

    # Long after: everything but the current snapshot goes, even with a zero grace period.
    clock.t += 10_000
    publish(work, ["mart_a"], paths, as_of=AS_OF, events_cursor=1, grace_seconds=0, now=clock)
    assert current_snapshot_path(paths) is not None
    assert published_files(paths) == ["CURRENT", fourth.path.name, "wh-000101.duckdb"]
    clock.t += 1
    last = publish(
        work, ["mart_a"], paths, as_of=AS_OF, events_cursor=1, grace_seconds=0, now=clock
    )
    assert published_files(paths) == ["CURRENT", "wh-000101.duckdb", last.path.name]


def test_an_open_transaction_on_the_work_connection_is_refused(
    paths: WarehousePaths, work: duckdb.DuckDBPyConnection
) -> None:
    work.begin()
    work.execute("insert into mart_a select 100")
    with pytest.raises(PublicationError, match="open transaction"):
        publish(work, ["mart_a"], paths, as_of=AS_OF, events_cursor=1)
    work.rollback()
    assert current_snapshot_path(paths) is None
    assert published_files(paths) == []
