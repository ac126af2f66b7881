"""A run's DuckDB connection is capped at the configured memory and spills beside the work
database, so a build of millions of events cannot take the machine's memory."""

from __future__ import annotations

from pathlib import Path

from pipelines.environment import resources
from pipelines.resources import DEFAULT_MEMORY_LIMIT, WarehouseResource


def _limit(resource: WarehouseResource) -> tuple[str, str]:
    with resource.connect() as conn:
        row = conn.execute(
            "select current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
    assert row is not None
    return str(row[0]), str(row[1])


def test_the_work_connection_is_capped_and_spills_in_the_build_directory(tmp_path: Path) -> None:
    limit, spill = _limit(WarehouseResource(root=str(tmp_path / "wh"), memory_limit="300MB"))
    assert limit == "286.1 MiB"  # DuckDB reports 300 MB in MiB
    assert Path(spill) == tmp_path / "wh" / "build" / "spill"


def test_the_environment_sets_the_cap(tmp_path: Path) -> None:
    env = {"TONGBAN_HOME": str(tmp_path), "TONGBAN_WAREHOUSE_MEMORY": "1GB"}
    configured = resources(env)["warehouse"]
    assert configured.memory_limit == "1GB"
    assert _limit(configured)[0] == "953.6 MiB"
    assert resources({"TONGBAN_HOME": str(tmp_path)})["warehouse"].memory_limit == (
        DEFAULT_MEMORY_LIMIT
    )


def _held_by_another_process(work_lock: Path) -> bool:
    """Whether the work lock is taken, asked the way a second writer would ask."""
    import fcntl

    with work_lock.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def test_a_runs_steps_share_one_connection_closed_when_the_run_ends(tmp_path: Path) -> None:
    import dagster as dg

    seen: list[object] = []
    lock = tmp_path / "wh" / "build" / "work.lock"

    @dg.asset
    def first(warehouse: WarehouseResource) -> None:
        with warehouse.connect() as conn:
            conn.execute("create table t as select 1 as x")
            seen.append(conn)

    @dg.asset(deps=[first])
    def second(warehouse: WarehouseResource) -> None:
        # Between the steps the lock stayed taken: no other writer slipped in.
        assert _held_by_another_process(lock)
        with warehouse.connect() as conn:
            seen.append(conn)
            assert conn.execute("select x from t").fetchall() == [(1,)]

    result = dg.materialize(
        [first, second], resources={"warehouse": WarehouseResource(root=str(tmp_path / "wh"))}
    )
    assert result.success
    assert len(seen) == 2 and seen[0] is seen[1]
    # The run closed it: the lock is free and another process's connection sees the table.
    assert not _held_by_another_process(lock)
    import duckdb

    with duckdb.connect(str(tmp_path / "wh" / "build" / "work.duckdb"), read_only=True) as conn:
        assert conn.execute("select x from t").fetchall() == [(1,)]


def test_a_step_that_fails_leaves_the_next_a_fresh_connection(tmp_path: Path) -> None:
    import dagster as dg

    seen: list[object] = []

    @dg.asset
    def failing(warehouse: WarehouseResource) -> None:
        with warehouse.connect() as conn:
            seen.append(conn)
            conn.begin()
            conn.execute("create table half_done as select 1 as x")
            raise RuntimeError("the step broke mid-transaction")

    @dg.asset
    def independent(warehouse: WarehouseResource) -> None:
        with warehouse.connect() as conn:
            seen.append(conn)
            tables = conn.execute("select table_name from duckdb_tables()").fetchall()
            assert ("half_done",) not in tables  # rolled back by the close, not inherited

    result = dg.materialize(
        [failing, independent],
        resources={"warehouse": WarehouseResource(root=str(tmp_path / "wh"))},
        raise_on_error=False,
    )
    assert not result.success
    assert len(seen) == 2 and seen[0] is not seen[1]
