"""The model runner: models load in dependency order with fingerprints; a model whose SQL (or an
upstream model's SQL) changed is rebuilt from scratch; malformed model files are refused with
the model named."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from warehouse.modeling import ModelError, load_models, run_models
from warehouse.raw import RAW_EVENTS_COLUMNS, append_events, replace_table

AS_OF = datetime(2026, 3, 2, 2, 0)


def write(root: Path, layer: str, name: str, sql: str) -> None:
    (root / layer).mkdir(parents=True, exist_ok=True)
    (root / layer / f"{name}.sql").write_text(sql, encoding="utf-8")


def events(first: int, last: int) -> pl.DataFrame:
    rows = [
        {
            "event_id": n,
            "stream_id": f"s{n % 3}",
            "stream_version": n,
            "stream_type": "instance",
            "occurred_at": datetime(2026, 3, 1, 1, 0),
            "recorded_at": datetime(2026, 3, 1, 1, 0),
            "event_type": "submitted",
            "process_key": "p",
            "process_version": 1,
            "node_key": None,
            "task_id": None,
            "actor_id": "a",
            "actor_role": "applicant",
            "department_id": None,
            "schema_version": 1,
            "payload": "{}",
        }
        for n in range(first, last + 1)
    ]
    return pl.DataFrame(rows).select(list(RAW_EVENTS_COLUMNS))


def project(root: Path, count_sql: str = "count(*)") -> tuple[object, ...]:
    write(
        root,
        "staging",
        "stg_events__all",
        "-- materialized: append\nselect event_id, stream_id from raw_events"
        " where event_id > getvariable('model_hwm')\n",
    )
    write(
        root,
        "intermediate",
        "int_streams__counted",
        "-- materialized: incremental\n-- key: stream_id\n"
        f"select stream_id, {count_sql} as events from stg_events__all"
        " where stream_id in (select stream_id from affected_streams) group by stream_id\n",
    )
    write(
        root,
        "marts",
        "mart_streams",
        "-- materialized: table\n-- publish: true\nselect * from int_streams__counted\n",
    )
    load_models.cache_clear()
    return load_models(root)


def test_models_run_after_what_they_read_and_carry_fingerprints(tmp_path: Path) -> None:
    models = project(tmp_path)
    assert [m.name for m in models] == ["stg_events__all", "int_streams__counted", "mart_streams"]
    assert all(len(m.fingerprint) == 64 for m in models)
    assert models[1].depends_on == ("affected_streams", "stg_events__all")


def test_a_changed_model_and_everything_downstream_rebuild_from_scratch(tmp_path: Path) -> None:
    conn = duckdb.connect(str(tmp_path / "work.duckdb"))
    models = project(tmp_path / "models")
    append_events(conn, events(1, 6), 0)
    run_models(conn, as_of=AS_OF, models=models)
    append_events(conn, events(7, 9), 6)
    runs = {run.model: run.mode for run in run_models(conn, as_of=AS_OF, models=models)}
    assert runs == {
        "stg_events__all": "incremental",
        "int_streams__counted": "incremental",
        "mart_streams": "rebuilt",
    }
    # The intermediate model's SQL changes shape: it and the mart start over; staging does not.
    changed = project(tmp_path / "models", count_sql="count(*) * 10")
    before = {m.name: m.fingerprint for m in models}
    after = {m.name: m.fingerprint for m in changed}
    assert before["stg_events__all"] == after["stg_events__all"]
    assert before["int_streams__counted"] != after["int_streams__counted"]
    assert before["mart_streams"] != after["mart_streams"]
    runs = {run.model: run.mode for run in run_models(conn, as_of=AS_OF, models=changed)}
    assert runs["stg_events__all"] == "incremental"
    assert runs["int_streams__counted"] == "full"
    rows = conn.execute("select stream_id, events from mart_streams order by 1").fetchall()
    assert rows == [("s0", 30), ("s1", 30), ("s2", 30)]


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("-- materialized: view\nselect 1", "unknown materialization 'view'"),
        ("-- materialized: incremental\nselect 1", "needs '-- key: <stream id column>'"),
        (
            "-- materialized: incremental\n-- key: stream_id\nselect 1",
            "must read affected_events, restrict to affected_streams",
        ),
        ("-- materialized: append\nselect 1", "must read getvariable('model_hwm')"),
        ("-- refresh: hourly\nselect 1", "unknown refresh 'hourly'"),
        (
            "-- materialized: append\n-- refresh: periodic\nselect getvariable('model_hwm')",
            "only a table model can be refreshed periodically",
        ),
    ],
)
def test_a_malformed_model_is_refused_by_name(tmp_path: Path, header: str, problem: str) -> None:
    write(tmp_path, "marts", "mart_broken", header)
    load_models.cache_clear()
    with pytest.raises(ModelError, match="model mart_broken") as caught:
        load_models(tmp_path)
    assert problem in str(caught.value)


def test_a_failing_model_names_itself_and_leaves_its_table_as_it_was(tmp_path: Path) -> None:
    conn = duckdb.connect(str(tmp_path / "work.duckdb"))
    write(tmp_path / "models", "marts", "mart_one", "-- materialized: table\nselect 1 as x\n")
    load_models.cache_clear()
    run_models(conn, as_of=AS_OF, models=load_models(tmp_path / "models"))
    write(tmp_path / "models", "marts", "mart_one", "-- materialized: table\nselect nope as x\n")
    load_models.cache_clear()
    with pytest.raises(ModelError, match="model mart_one: Binder Error"):
        run_models(conn, as_of=AS_OF, models=load_models(tmp_path / "models"))
    assert conn.execute("select x from mart_one").fetchall() == [(1,)]
    with pytest.raises(ModelError, match="mart_two: no such model"):
        run_models(conn, as_of=AS_OF, models=load_models(tmp_path / "models"), select=["mart_two"])


def test_a_table_whose_inputs_did_not_change_is_left_alone(tmp_path: Path) -> None:
    conn = duckdb.connect(str(tmp_path / "work.duckdb"))
    root = tmp_path / "models"
    write(root, "staging", "stg_things", "-- materialized: table\nselect * from raw_things\n")
    write(
        root,
        "marts",
        "mart_things_now",
        "-- materialized: table\nselect count(*) as things from stg_things"
        " where getvariable('as_of') > timestamp '2000-01-01'\n",
    )
    write(
        root,
        "marts",
        "mart_things",
        "-- materialized: table\nselect count(*) as n from stg_things\n",
    )
    write(
        root,
        "marts",
        "mart_things_later",
        "-- materialized: table\nselect things from mart_things_now\n",
    )
    load_models.cache_clear()
    models = load_models(root)
    replace_table(conn, "raw_things", pl.DataFrame({"thing": [1, 2]}))

    def modes(as_of: datetime = AS_OF) -> dict[str, str]:
        return {run.model: run.mode for run in run_models(conn, as_of=as_of, models=models)}

    assert set(modes().values()) == {"rebuilt"}
    # Nothing changed: only the model that reads as_of runs again; its content is the same,
    # so the model reading it stays as it is.
    assert modes() == {
        "stg_things": "unchanged",
        "mart_things": "unchanged",
        "mart_things_now": "rebuilt",
        "mart_things_later": "unchanged",
    }
    replace_table(conn, "raw_things", pl.DataFrame({"thing": [1, 2, 3]}))
    assert set(modes().values()) == {"rebuilt"}
    assert conn.execute("select things from mart_things_later").fetchall() == [(3,)]
    assert modes(datetime(2026, 3, 3))["mart_things_later"] == "unchanged"
    runs = run_models(conn, as_of=AS_OF, models=models, full=True)
    assert {run.mode for run in runs} == {"rebuilt"}


def test_change_tokens_move_with_the_rows_and_start_over_with_the_counter(tmp_path: Path) -> None:
    from warehouse.modeling import change_tokens

    conn = duckdb.connect(str(tmp_path / "work.duckdb"))
    models = project(tmp_path / "models")
    names = ["int_streams__counted", "mart_streams"]
    append_events(conn, events(1, 6), after=0)
    run_models(conn, as_of=AS_OF, models=models)
    first = change_tokens(conn, names)
    assert set(first) == set(names)

    # Rebuilt on new events of other rows: the mart's rows moved, so did its token.
    append_events(conn, events(7, 7), after=6)
    run_models(conn, as_of=AS_OF, models=models)
    second = change_tokens(conn, names)
    assert second["mart_streams"] != first["mart_streams"]
    assert second["int_streams__counted"] != first["int_streams__counted"]

    # Rebuilt to the same rows (a new as_of): the token stays.
    run_models(conn, as_of=datetime(2026, 3, 3), models=models)
    assert change_tokens(conn, names) == second

    # The counter lost (a database copied table by table): the same versions under a new
    # identity can never match a token recorded before.
    conn.execute("drop sequence _versions")
    run_models(conn, as_of=AS_OF, models=models)
    third = change_tokens(conn, names)
    assert all(third[n].split(":")[0] != second[n].split(":")[0] for n in names)


def test_an_incremental_run_that_only_removes_rows_is_a_change(tmp_path: Path) -> None:
    from warehouse.modeling import change_tokens

    conn = duckdb.connect(str(tmp_path / "work.duckdb"))
    # A stream's row disappears once its newest event says so: nothing is written back for it.
    models = project(tmp_path / "models")
    (tmp_path / "models" / "intermediate" / "int_streams__counted.sql").write_text(
        "-- materialized: incremental\n-- key: stream_id\n"
        "select stream_id, count(*) as events from stg_events__all"
        " where stream_id in (select stream_id from affected_streams) group by stream_id"
        " having max(event_id) < 7\n",
        encoding="utf-8",
    )
    load_models.cache_clear()
    models = load_models(tmp_path / "models")
    append_events(conn, events(1, 6), after=0)
    run_models(conn, as_of=AS_OF, models=models)
    before = change_tokens(conn, ["int_streams__counted"])
    append_events(conn, events(7, 7), after=6)
    run_models(conn, as_of=AS_OF, models=models)
    assert conn.execute("select count(*) from int_streams__counted").fetchall() == [(2,)]
    assert change_tokens(conn, ["int_streams__counted"]) != before


class _Counting:
    """A connection that counts the statements that make the affected events."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn
        self.made = 0

    def execute(self, sql: str, *args: object) -> duckdb.DuckDBPyConnection:
        if "affected_events as" in sql:
            self.made += 1
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.conn, name)


def test_models_sharing_a_mark_share_one_read_of_their_streams_events(tmp_path: Path) -> None:
    root = tmp_path / "models"
    models = project(root)
    write(
        root,
        "intermediate",
        "int_streams__latest",
        "-- materialized: incremental\n-- key: stream_id\n"
        "select stream_id, max(event_id) as latest from affected_events group by stream_id\n",
    )
    load_models.cache_clear()
    models = load_models(root)
    # It reads the events model's rows, so it runs after it.
    order = [m.name for m in models]
    assert order.index("stg_events__all") < order.index("int_streams__latest")
    conn = duckdb.connect(str(tmp_path / "work.duckdb"))
    counting = _Counting(conn)
    append_events(conn, events(1, 6), after=0)
    run_models(counting, as_of=AS_OF, models=models)  # type: ignore[arg-type]
    append_events(conn, events(7, 8), after=6)
    counting.made = 0
    run_models(counting, as_of=AS_OF, models=models)  # type: ignore[arg-type]
    assert counting.made == 1  # two incremental models, one read
    assert conn.execute("select * from int_streams__latest order by all").fetchall() == [
        ("s0", 6),
        ("s1", 7),
        ("s2", 8),
    ]
    assert conn.execute("select * from int_streams__counted order by all").fetchall() == [
        ("s0", 2),
        ("s1", 3),
        ("s2", 3),
    ]
