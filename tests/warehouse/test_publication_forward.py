"""A new snapshot made from a copy of the current one rewrites only the tables and the
partitions whose rows differ, and holds exactly what a snapshot written from scratch holds;
a changed table set or column, a copy grown too much, or `forward=False` writes from scratch,
and a failure half-way publishes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from warehouse import publication
from warehouse.paths import WarehousePaths
from warehouse.publication import PublicationError, current_snapshot_path, publish

AS_OF = datetime(2026, 3, 2, 2, 0)
PARTITIONS = {"fct_rosters": "campaign_id"}
TABLES = ["dim_units", "fct_rosters"]


@pytest.fixture
def paths(tmp_path: Path) -> WarehousePaths:
    paths = WarehousePaths(tmp_path / "wh")
    paths.build_dir.mkdir(parents=True)
    return paths


@pytest.fixture
def work(paths: WarehousePaths) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(paths.work_db))
    conn.execute(
        "create table dim_units as select range as unit, 'u' || range as name from range(50)"
    )
    conn.execute(
        "create table fct_rosters as select 'c' || (range % 3) as campaign_id, range as student,"
        " range % 2 = 0 as registered from range(3000)"
    )
    yield conn
    conn.close()


def rows(path: Path, table: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(f"select * from {table} order by all").fetchall()


def snapshot_row(path: Path) -> tuple[object, ...]:
    with duckdb.connect(str(path), read_only=True) as conn:
        found = conn.execute("select * from _snapshot").fetchall()
    assert len(found) == 1
    return tuple(found[0])


def same_as_work(work: duckdb.DuckDBPyConnection, path: Path) -> None:
    for table in TABLES:
        expected = work.execute(f"select * from {table} order by all").fetchall()
        assert rows(path, table) == expected, table


def test_only_changed_partitions_and_tables_are_rewritten(
    paths: WarehousePaths, work: duckdb.DuckDBPyConnection
) -> None:
    first = publish(work, TABLES, paths, as_of=AS_OF, events_cursor=1, partitions=PARTITIONS)
    assert first.rewritten is None  # nothing to copy yet
    before = rows(first.path, "fct_rosters")

    # One campaign's registrations move, one campaign closes out, a new one opens.
    work.execute("update fct_rosters set registered = true where campaign_id = 'c1'")
    work.execute("delete from fct_rosters where campaign_id = 'c2'")
    work.execute("insert into fct_rosters select 'c3', range, false from range(10)")
    second = publish(work, TABLES, paths, as_of=AS_OF, events_cursor=2, partitions=PARTITIONS)

    assert second.rewritten is not None
    assert dict(second.rewritten) == {"dim_units": 0, "fct_rosters": 1000 + 10}
    assert dict(second.tables) == {"dim_units": 50, "fct_rosters": 2010}
    same_as_work(work, second.path)
    assert rows(first.path, "fct_rosters") == before  # the copied snapshot stayed as it was
    number, _, as_of, cursor, base = snapshot_row(second.path)
    assert (number, as_of, cursor) == (2, AS_OF, 2)
    assert base == first.path.stat().st_size

    work.execute("update dim_units set name = 'renamed' where unit = 7")
    third = publish(work, TABLES, paths, as_of=AS_OF, events_cursor=3, partitions=PARTITIONS)
    assert third.rewritten is not None and dict(third.rewritten) == {
        "dim_units": 50,
        "fct_rosters": 0,
    }
    same_as_work(work, third.path)
    assert snapshot_row(third.path)[4] == base  # measured against the same scratch-written file


def test_equal_rows_that_swap_are_seen_as_a_change(
    paths: WarehousePaths, work: duckdb.DuckDBPyConnection
) -> None:
    work.execute("create or replace table dim_units as select 1 as unit, 'a' as name from range(2)")
    publish(work, TABLES, paths, as_of=AS_OF, events_cursor=1, partitions=PARTITIONS)
    # Same count; a xor of row hashes would not tell (a, a) from (b, b).
    work.execute("create or replace table dim_units as select 2 as unit, 'b' as name from range(2)")
    snapshot = publish(work, TABLES, paths, as_of=AS_OF, events_cursor=2, partitions=PARTITIONS)
    assert snapshot.rewritten is not None and snapshot.rewritten["dim_units"] == 2
    same_as_work(work, snapshot.path)


@pytest.mark.parametrize("change", ["column", "tables", "growth", "not forward"])
def test_a_copy_that_cannot_serve_is_written_from_scratch(
    paths: WarehousePaths,
    work: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
    change: str,
) -> None:
    publish(work, TABLES, paths, as_of=AS_OF, events_cursor=1, partitions=PARTITIONS)
    tables, forward = TABLES, True
    if change == "column":
        work.execute("alter table dim_units add column code varchar default 'x'")
    elif change == "tables":
        tables = ["dim_units"]
    elif change == "growth":
        monkeypatch.setattr(publication, "GROWTH_LIMIT", 0.99)
    else:
        forward = False
    snapshot = publish(
        work, tables, paths, as_of=AS_OF, events_cursor=2, partitions=PARTITIONS, forward=forward
    )
    assert snapshot.rewritten is None
    for table in tables:
        assert (
            rows(snapshot.path, table)
            == work.execute(f"select * from {table} order by all").fetchall()
        )
    assert snapshot_row(snapshot.path)[4] is None
    assert not [p for p in paths.published_dir.iterdir() if ".building" in p.name]


def test_a_failure_while_updating_the_copy_publishes_nothing(
    paths: WarehousePaths, work: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = publish(work, TABLES, paths, as_of=AS_OF, events_cursor=1, partitions=PARTITIONS)
    work.execute("update fct_rosters set registered = true where campaign_id = 'c0'")

    def broken(*_: object) -> int:
        raise duckdb.IOException("disk full")

    monkeypatch.setattr(publication, "_rewrite", broken)
    with pytest.raises(PublicationError, match="disk full"):
        publish(work, TABLES, paths, as_of=AS_OF, events_cursor=2, partitions=PARTITIONS)
    assert current_snapshot_path(paths) == first.path
    leftovers = sorted(p.name for p in paths.published_dir.iterdir())
    assert leftovers == [".publish.lock", "CURRENT", first.path.name]
    # The work connection is usable again, and the next publish succeeds.
    monkeypatch.undo()
    snapshot = publish(work, TABLES, paths, as_of=AS_OF, events_cursor=2, partitions=PARTITIONS)
    same_as_work(work, snapshot.path)


def with_tokens(
    work: duckdb.DuckDBPyConnection, paths: WarehousePaths, cursor: int, tokens: dict[str, str]
) -> publication.Snapshot:
    return publish(
        work,
        TABLES,
        paths,
        as_of=AS_OF,
        events_cursor=cursor,
        partitions=PARTITIONS,
        tokens=tokens,
    )


def test_a_table_with_the_token_it_was_published_with_is_not_compared(
    paths: WarehousePaths, work: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = {"dim_units": "w:1", "fct_rosters": "w:2"}
    with_tokens(work, paths, 1, tokens)
    compared: list[str] = []
    rewrite = publication._rewrite

    def spying(conn: duckdb.DuckDBPyConnection, source: str, alias: str, table: str, part: object):  # type: ignore[no-untyped-def]
        compared.append(table)
        return rewrite(conn, source, alias, table, part)  # type: ignore[arg-type]

    monkeypatch.setattr(publication, "_rewrite", spying)
    work.execute("insert into fct_rosters select 'c3', range, false from range(10)")
    second = with_tokens(work, paths, 2, {"dim_units": "w:1", "fct_rosters": "w:3"})
    # dim_units kept its token: taken as copied, its count from the record; fct_rosters compared.
    assert compared == ["fct_rosters"]
    assert second.rewritten is not None and dict(second.rewritten) == {
        "dim_units": 0,
        "fct_rosters": 10,
    }
    assert dict(second.tables) == {"dim_units": 50, "fct_rosters": 3010}
    same_as_work(work, second.path)

    # Without tokens (or with tokens the snapshot did not record) the hashes decide again.
    compared.clear()
    work.execute("delete from dim_units where unit = 0")
    third = publish(work, TABLES, paths, as_of=AS_OF, events_cursor=3, partitions=PARTITIONS)
    assert sorted(compared) == ["dim_units", "fct_rosters"]
    assert third.rewritten is not None and third.rewritten["dim_units"] == 49
    same_as_work(work, third.path)


def test_a_snapshot_from_before_tokens_is_updated_by_comparing(
    paths: WarehousePaths, work: duckdb.DuckDBPyConnection
) -> None:
    first = publish(work, TABLES, paths, as_of=AS_OF, events_cursor=1, partitions=PARTITIONS)
    with duckdb.connect(str(first.path)) as old:  # as an older release wrote it
        old.execute("alter table _snapshot_tables drop column change_token")
    work.execute("delete from dim_units where unit = 0")
    second = with_tokens(work, paths, 2, {"dim_units": "w:1", "fct_rosters": "w:2"})
    assert second.rewritten is not None and second.rewritten["dim_units"] == 49
    same_as_work(work, second.path)
