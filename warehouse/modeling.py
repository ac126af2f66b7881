"""The SQL models: discovered from `warehouse/models/<layer>/<name>.sql`, run in dependency order.

A model file is one `select`; the file name is the table name. Its first comment lines configure
it (dbt-style, without templating):

    -- materialized: table | incremental | append | partitioned
    -- key: instance_id        (incremental: the column that holds the stream id)
    -- publish: true           (copied into every published snapshot)
    -- partition: campaign_id  (published: a new snapshot rewrites only the partitions that
                                changed since the previous one)
    -- refresh: periodic       (left out of the live update; rebuilt on a schedule)

- `table` is rebuilt whole on every run (dimensions, marts: cheap aggregates).
- `append` adds the events after the model's high-water mark; its SQL reads
  `getvariable('model_hwm')`.
- `incremental` recomputes the rows of the streams that gained events since the model's
  high-water mark: its SQL reads their events from `affected_events` (the rows of
  `stg_events__all` of those streams) or restricts its inputs to `affected_streams(stream_id)`;
  the runner deletes those streams' rows by `key` and inserts the new ones. Both relations are
  made once for all the models that share a mark: six models each scanning the whole log for a
  pass's streams took a second of a live pass.
- `partitioned` (key: campaign_id) recomputes whole campaigns: those with events since the
  model's mark and those open at its previous build (an open campaign's roster moves with
  the clock); its SQL restricts its inputs to `affected_partitions(key)`. It reads only
  campaign-local inputs (`CAMPAIGN_LOCAL`, other partitioned models) and other tables: when
  one of those others changed, or a partitioned input was rebuilt whole, it is rebuilt whole.

Each model's rows and its high-water mark (in `_model_state`) commit in one transaction, so a
run that dies half-way leaves every model consistent with its own mark, and the next run
catches up: many small runs build exactly what one full build does.

Each model also records the fingerprint of its SQL and of everything upstream of it: when a
model's SQL (or a model it reads) changes, the next run rebuilds it from scratch instead of
appending rows of a new shape to a table of the old one.

Sources and models share one change counter (`_versions`): a table model whose inputs have not
changed since it was built, and which does not read the build's `as_of`, is left as it is
("unchanged") — the business-system dimensions are not rebuilt for every new event.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Final, Literal

import duckdb

from warehouse.raw import ensure_versions, mark_changed, versions_identity

MODELS_DIR: Final = Path(__file__).parent / "models"
LAYERS: Final = ("staging", "intermediate", "marts")
EVENTS_MODEL: Final = "stg_events__all"
# What an incremental model reads its new work from (see `_affected`), or the mark by which it
# picks its inputs' rows (a column of their newest event: `last_event_id > model_hwm`).
AFFECTED: Final = ("affected_events", "affected_streams", "getvariable('model_hwm')")

Materialization = Literal["table", "incremental", "append", "partitioned"]
PARTITION_KEYS: Final = ("campaign_id",)
# Inputs whose rows for a campaign change only with that campaign's events, or with the clock
# while it is open: a partitioned model recomputes the affected campaigns when they change.
CAMPAIGN_LOCAL: Final = frozenset(
    {
        EVENTS_MODEL,
        "int_registrations__submitted",
        "int_campaign_reminders__exploded",
        "dim_campaigns",
    }
)
RunMode = Literal["full", "incremental", "rebuilt", "unchanged"]

_CONFIG = re.compile(r"^--\s*(materialized|key|publish|partition|refresh)\s*:\s*(\S+)\s*$")
_COLUMN = re.compile(r"[a-z_][a-z0-9_]*")
_REFERENCE = re.compile(r"\b(?:from|join)\s+([a-z_][a-z0-9_]*)", re.IGNORECASE)


class ModelError(Exception):
    """A model file is malformed or its SQL failed; names the model."""

    def __init__(self, model: str, problem: str) -> None:
        super().__init__(f"model {model}: {problem}")
        self.model = model
        self.problem = problem


@dataclass(frozen=True)
class Model:
    name: str
    layer: str
    sql: str
    materialized: Materialization
    key: str | None
    publish: bool
    depends_on: tuple[str, ...]  # other models and source tables this one reads
    # Heavy whole-history aggregates (turnaround by period) that the live update skips: the
    # live page needs registrations within seconds, leadership's figures can be minutes old.
    periodic: bool = False
    fingerprint: str = ""  # SHA-256 over its SQL and its upstream models' fingerprints
    # The column a published copy is updated by: only partitions whose rows changed are
    # rewritten (the whereabouts tables change for the open campaigns only).
    partition: str | None = None


@dataclass(frozen=True)
class ModelRun:
    model: str
    mode: RunMode
    rows: int  # rows in the table after the run
    changed: int  # rows written by this run
    seconds: float


def _parse(
    path: Path, layer: str
) -> tuple[str, Materialization, str | None, bool, bool, str | None]:
    sql = path.read_text(encoding="utf-8")
    config: dict[str, str] = {}
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        match = _CONFIG.match(line)
        if match:
            config[match.group(1)] = match.group(2).lower()
    name = path.stem
    materialized = config.get("materialized", "table")
    if materialized not in ("table", "incremental", "append", "partitioned"):
        raise ModelError(name, f"unknown materialization {materialized!r}")
    key = config.get("key")
    if materialized == "incremental" and not key:
        raise ModelError(name, "an incremental model needs '-- key: <stream id column>'")
    if materialized == "incremental" and not any(a in sql for a in AFFECTED):
        raise ModelError(
            name,
            "an incremental model must read affected_events, restrict to affected_streams"
            " or pick its inputs past getvariable('model_hwm')",
        )
    if materialized == "partitioned" and key not in PARTITION_KEYS:
        raise ModelError(name, f"a partitioned model needs '-- key:' one of {PARTITION_KEYS}")
    if materialized == "partitioned" and "affected_partitions" not in sql:
        raise ModelError(
            name, "a partitioned model must restrict its inputs to affected_partitions"
        )
    if materialized == "append" and "model_hwm" not in sql:
        raise ModelError(name, "an append model must read getvariable('model_hwm')")
    publish = config.get("publish", "false") == "true"
    refresh = config.get("refresh", "live")
    if refresh not in ("live", "periodic"):
        raise ModelError(name, f"unknown refresh {refresh!r}: live or periodic")
    if refresh == "periodic" and materialized != "table":
        raise ModelError(name, "only a table model can be refreshed periodically")
    partition = config.get("partition")
    if partition is not None and not publish:
        raise ModelError(name, "'-- partition:' applies to published models only")
    if partition is not None and not _COLUMN.fullmatch(partition):
        raise ModelError(name, f"partition {partition!r} is not a column name")
    periodic = refresh == "periodic"
    return sql, materialized, key, publish, periodic, partition  # type: ignore[return-value]


@cache
def load_models(directory: Path = MODELS_DIR) -> tuple[Model, ...]:
    """Every model under `directory`, in an order that runs each after what it reads."""
    paths = {
        path.stem: (path, layer)
        for layer in LAYERS
        for path in sorted((directory / layer).glob("*.sql"))
    }
    parsed = {name: _parse(path, layer) for name, (path, layer) in paths.items()}
    models: dict[str, Model] = {}
    for name, (sql, materialized, key, publish, periodic, partition) in parsed.items():
        references = {ref.lower() for ref in _REFERENCE.findall(_strip_comments(sql))}
        references.discard(name)
        if "affected_events" in references:  # rows of the events model: runs after it
            references.discard("affected_events")
            references.add(EVENTS_MODEL)
        models[name] = Model(
            name=name,
            layer=paths[name][1],
            sql=sql,
            materialized=materialized,
            key=key,
            publish=publish,
            depends_on=tuple(sorted(references)),
            periodic=periodic,
            partition=partition,
        )
    graph = {
        name: [dep for dep in model.depends_on if dep in models] for name, model in models.items()
    }
    ordered: list[Model] = []
    fingerprints: dict[str, str] = {}
    for name in TopologicalSorter(graph).static_order():
        digest = hashlib.sha256(models[name].sql.encode())
        for upstream in sorted(graph[name]):
            digest.update(fingerprints[upstream].encode())
        fingerprints[name] = digest.hexdigest()
        ordered.append(replace(models[name], fingerprint=fingerprints[name]))
    return tuple(ordered)


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def published_models(models: Sequence[Model]) -> tuple[str, ...]:
    return tuple(model.name for model in models if model.publish)


def published_partitions(models: Sequence[Model]) -> dict[str, str]:
    """The partition column of each published model that declares one."""
    return {m.name: m.partition for m in models if m.publish and m.partition is not None}


def ensure_state(conn: duckdb.DuckDBPyConnection) -> None:
    ensure_versions(conn)
    conn.execute(
        "create table if not exists _model_state ("
        " model varchar primary key, hwm bigint not null, built_at timestamp not null,"
        " fingerprint varchar not null default '')"
    )
    # Working databases from before fingerprints: their models rebuild once.
    conn.execute("alter table _model_state add column if not exists fingerprint varchar default ''")
    # built: the counter when the model last ran; changed: when its rows last changed.
    conn.execute("alter table _model_state add column if not exists built_version bigint")
    conn.execute("alter table _model_state add column if not exists changed_version bigint")
    conn.execute("alter table _model_state add column if not exists checksum varchar")
    # as_of of the last build; whole: the counter when its rows were last rebuilt whole.
    conn.execute("alter table _model_state add column if not exists as_of timestamp")
    conn.execute("alter table _model_state add column if not exists whole_version bigint")
    conn.execute("alter table _model_state add column if not exists materialized varchar")


def missing_models(conn: duckdb.DuckDBPyConnection, models: Iterable[Model]) -> set[str]:
    """The models whose table the work database does not hold yet."""
    names = [model.name for model in models]
    present = {
        str(row[0])
        for row in conn.execute(
            "select table_name from duckdb_tables()"
            " where database_name = current_database() and schema_name = 'main'"
        ).fetchall()
    }
    return {name for name in names if name not in present}


def _table_exists(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = conn.execute(
        "select count(*) from information_schema.tables"
        " where table_schema = 'main' and table_name = ?",
        [name],
    ).fetchall()
    return bool(row[0][0])


def _scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> int:
    rows = conn.execute(sql, list(params)).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _hwm(conn: duckdb.DuckDBPyConnection, model: Model) -> int | None:
    rows = conn.execute(
        "select hwm, fingerprint from _model_state where model = ?", [model.name]
    ).fetchall()
    if not rows or rows[0][1] != model.fingerprint:
        return None  # never built, or built from other SQL: start over
    return int(rows[0][0])


def _body(sql: str) -> str:
    return sql.strip().rstrip(";")


def run_models(
    conn: duckdb.DuckDBPyConnection,
    *,
    as_of: datetime,
    full: bool = False,
    models: Iterable[Model] | None = None,
    select: Iterable[str] | None = None,
) -> list[ModelRun]:
    """Bring the selected models (default: all) up to date; `full` rebuilds them from scratch.

    `as_of` is the build's notion of "now" (naive UTC), available to the SQL as
    `getvariable('as_of')`: open-task ageing and open campaigns' rosters depend on it.
    """
    chosen = tuple(models if models is not None else load_models())
    if select is not None:
        wanted = set(select)
        unknown = wanted - {model.name for model in chosen}
        if unknown:
            raise ModelError(", ".join(sorted(unknown)), "no such model")
        chosen = tuple(model for model in chosen if model.name in wanted)
    ensure_state(conn)
    conn.execute("set variable as_of = ?::timestamp", [as_of.replace(tzinfo=None)])
    return [run_model(conn, model, full=full) for model in chosen]


def _checksum(conn: duckdb.DuckDBPyConnection, table: str) -> str:
    # sum beside xor: two equal rows cancel out of a xor, and a changed version is what
    # publication trusts to leave a table out of the comparison (`change_tokens`).
    rows = conn.execute(
        f"select count(*), bit_xor(hash(t)), sum(hash(t)) from {table} as t"
    ).fetchall()
    return f"{rows[0][0]}:{rows[0][1]}:{rows[0][2]}"


def change_tokens(conn: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> dict[str, str]:
    """For each of `tables` the models built: a token that changes whenever its rows change
    (the counter's identity and the model's changed version). Equal tokens: equal rows."""
    ensure_state(conn)
    identity = versions_identity(conn)
    rows = conn.execute(
        "select model, changed_version from _model_state"
        " where list_contains(?, model) and changed_version is not null",
        [list(tables)],
    ).fetchall()
    return {str(model): f"{identity}:{int(version)}" for model, version in rows}


def _unchanged(conn: duckdb.DuckDBPyConnection, model: Model) -> bool:
    """Whether a table model is still what a rebuild would make: same SQL, no input changed
    since it was built, and no dependence on the build's `as_of`."""
    if model.materialized != "table" or "getvariable('as_of')" in model.sql:
        return False
    rows = conn.execute(
        "select fingerprint, built_version from _model_state where model = ?", [model.name]
    ).fetchall()
    if not rows or rows[0][0] != model.fingerprint or rows[0][1] is None:
        return False
    built = int(rows[0][1])
    for dependency in model.depends_on:
        changed = conn.execute(
            "select changed_version from _model_state where model = ?"
            " union all select version from _source_state where source = ?",
            [dependency, dependency],
        ).fetchall()
        if changed and (changed[0][0] is None or int(changed[0][0]) > built):
            return False
        if not changed and dependency.startswith("raw_"):
            # A source loaded before change tracking: count it as changed now, once.
            mark_changed(conn, dependency)
            return False
    return True


def run_model(conn: duckdb.DuckDBPyConnection, model: Model, *, full: bool) -> ModelRun:
    started = time.perf_counter()
    ensure_state(conn)
    exists = _table_exists(conn, model.name)
    if exists and not full and _unchanged(conn, model):
        rows = _scalar(conn, f"select count(*) from {model.name}")
        return ModelRun(model.name, "unchanged", rows, 0, time.perf_counter() - started)
    hwm = None if full or not exists else _hwm(conn, model)
    source = "raw_events" if model.materialized == "append" else EVENTS_MODEL
    mode: RunMode
    state_as_of: datetime | None = None  # partitioned: the clock its inputs held
    conn.begin()
    try:
        if model.materialized == "table":
            mode = "rebuilt"
            conn.execute(f"create or replace table {model.name} as\n{_body(model.sql)}")
            changed = _scalar(conn, f"select count(*) from {model.name}")
            new_hwm = 0
        else:
            new_hwm = _scalar(conn, f"select max(event_id) from {source}")
            if model.materialized == "append":
                conn.execute("set variable model_hwm = ?", [hwm or 0])
                if hwm is None:
                    mode = "full"
                    conn.execute(f"create or replace table {model.name} as\n{_body(model.sql)}")
                    changed = _scalar(conn, f"select count(*) from {model.name}")
                else:
                    mode = "incremental"
                    changed = _scalar(
                        conn, f"select count(*) from {source} where event_id > ?", [hwm]
                    )
                    conn.execute(f"insert into {model.name}\n{_body(model.sql)}")
            elif model.materialized == "partitioned":
                changed, whole, consumed = _partitioned(conn, model, hwm)
                mode = "full" if whole else "incremental"
                new_hwm, state_as_of = consumed.hwm, consumed.as_of
            else:
                changed = _incremental(conn, model, hwm, new_hwm)
                mode = "full" if hwm is None else "incremental"
        version = _scalar(conn, "select nextval('_versions')")
        previous = conn.execute(
            "select changed_version, checksum from _model_state where model = ?", [model.name]
        ).fetchall()
        checksum = _checksum(conn, model.name) if mode == "rebuilt" else None
        # A rebuilt table with the same content (a dimension rebuilt for a new as_of that did not
        # move it) is no change: the models that read it need not be rebuilt.
        kept = previous and previous[0][0] is not None
        same = kept and checksum is not None and previous[0][1] == checksum
        if kept and (same or (mode == "incremental" and not changed)):
            changed_version = int(previous[0][0])
        else:
            changed_version = version
        whole_version = version if mode in ("full", "rebuilt") else _whole_version(conn, model)
        conn.execute("delete from _model_state where model = ?", [model.name])
        conn.execute(
            "insert into _model_state (model, hwm, built_at, fingerprint, built_version,"
            " changed_version, checksum, as_of, whole_version, materialized)"
            " values (?, ?, timezone('UTC', now()), ?, ?, ?, ?,"
            " coalesce(?::timestamp, getvariable('as_of')), ?, ?)",
            [
                model.name,
                new_hwm,
                model.fingerprint,
                version,
                changed_version,
                checksum,
                state_as_of,
                whole_version,
                model.materialized,
            ],
        )
        rows = _scalar(conn, f"select count(*) from {model.name}")
        conn.commit()
    except duckdb.Error as exc:
        conn.rollback()
        raise ModelError(model.name, str(exc).splitlines()[0]) from exc
    except BaseException:
        conn.rollback()
        raise
    finally:
        # affected_streams/affected_events stay for the next model with the same mark.
        conn.execute("drop table if exists affected_partitions")
    return ModelRun(model.name, mode, rows, changed, time.perf_counter() - started)


def _whole_version(conn: duckdb.DuckDBPyConnection, model: Model) -> int | None:
    rows = conn.execute(
        "select whole_version from _model_state where model = ?", [model.name]
    ).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else None


@dataclass(frozen=True)
class _Consumed:
    """What a partitioned model's inputs hold: events up to `hwm`, the clock at `as_of`."""

    hwm: int
    as_of: datetime


def _consumed(conn: duckdb.DuckDBPyConnection, model: Model) -> _Consumed:
    """The oldest state among the model's inputs: the lowest mark of those that follow the
    events, the earliest as_of of the campaign-local ones. A run of a subset of the models can
    leave an input behind; what it has not taken in yet is then still ahead for this model."""
    rows = conn.execute(
        "select model, materialized, hwm, as_of from _model_state where list_contains(?, model)",
        [list(model.depends_on)],
    ).fetchall()
    newest = _scalar(conn, f"select max(event_id) from {EVENTS_MODEL}")
    marks = [int(r[2]) for r in rows if r[1] in ("append", "incremental", "partitioned")]
    clocks = [
        r[3]
        for r in rows
        if r[3] is not None
        and (r[1] == "partitioned" or (r[0] in CAMPAIGN_LOCAL and r[1] == "table"))
    ]
    now = conn.execute("select getvariable('as_of')").fetchall()[0][0]
    return _Consumed(hwm=min([newest, *marks]), as_of=min([now, *clocks]))


def _needs_whole_rebuild(
    conn: duckdb.DuckDBPyConnection, model: Model, consumed: _Consumed
) -> bool:
    """Whether a partitioned model must be rebuilt whole: its inputs went back in time, an
    input that is not campaign-local changed since it was built, or a partitioned input was
    rebuilt whole since."""
    state = conn.execute(
        "select built_version, as_of from _model_state where model = ?", [model.name]
    ).fetchall()
    if not state or state[0][0] is None or state[0][1] is None or state[0][1] > consumed.as_of:
        return True
    built = int(state[0][0])
    for dependency in model.depends_on:
        rows = conn.execute(
            "select changed_version, whole_version, materialized from _model_state where model = ?"
            " union all select version, version, null from _source_state where source = ?",
            [dependency, dependency],
        ).fetchall()
        if not rows:
            if dependency.startswith("raw_"):
                return True  # a source loaded before change tracking
            continue  # a CTE's name, not a table
        changed, whole, materialized = rows[0]
        partitioned = materialized == "partitioned"
        if not (partitioned or dependency in CAMPAIGN_LOCAL) and (
            changed is None or int(changed) > built
        ):
            return True
        if partitioned and (whole is None or int(whole) > built):
            return True
    return False


def _partitioned(
    conn: duckdb.DuckDBPyConnection, model: Model, hwm: int | None
) -> tuple[int, bool, _Consumed]:
    """Recompute the affected campaigns (all of them when rebuilt whole): (rows written,
    whether rebuilt whole, the inputs' state it took in)."""
    consumed = _consumed(conn, model)
    if hwm is None or _needs_whole_rebuild(conn, model, consumed):
        conn.execute(
            "create or replace temp table affected_partitions as"
            f" select distinct campaign_id as key from {EVENTS_MODEL}"
            " where campaign_id is not null"
            f" union select stream_id from {EVENTS_MODEL} where stream_type = 'campaign'"
        )
        conn.execute(f"create or replace table {model.name} as\n{_by_partition(model)}")
        return _scalar(conn, f"select count(*) from {model.name}"), True, consumed
    previous = conn.execute(
        "select as_of from _model_state where model = ?", [model.name]
    ).fetchall()[0][0]
    conn.execute(
        "create or replace temp table affected_partitions as"
        f" select distinct campaign_id as key from {EVENTS_MODEL}"
        " where event_id > $hwm and campaign_id is not null"
        f" union select stream_id from {EVENTS_MODEL}"
        " where event_id > $hwm and stream_type = 'campaign'"
        # Open at the clock last taken in: its roster day and open flag may have moved since.
        " union select campaign_id from dim_campaigns where deadline > $previous",
        {"hwm": hwm, "previous": previous},
    )
    total = _scalar(conn, f"select count(*) from {model.name}")
    conn.execute(
        f"delete from {model.name} where {model.key} in (select key from affected_partitions)"
    )
    before = _scalar(conn, f"select count(*) from {model.name}")
    conn.execute(f"insert into {model.name}\n{_by_partition(model)}")
    inserted = _scalar(conn, f"select count(*) from {model.name}") - before
    # Rows removed and none written back are a change too: the caller keeps the model's
    # change marker only when nothing was written.
    return inserted or total - before, False, consumed


def _by_partition(model: Model) -> str:
    """The model's rows, one partition after another: a read of one campaign then skips the
    row groups of the others (DuckDB's zone maps), where rows in the order the joins left them
    put every campaign in every row group (a whole college's named list scanned all 832,000
    roster rows for 124,000)."""
    return f"select * from (\n{_body(model.sql)}\n) order by {model.key}"


def _incremental(
    conn: duckdb.DuckDBPyConnection, model: Model, hwm: int | None, newest: int
) -> int:
    _affected(conn, hwm, newest)
    conn.execute("set variable model_hwm = ?::bigint", [hwm or 0])
    if hwm is None:
        conn.execute(f"create or replace table {model.name} as\n{_body(model.sql)}")
        return _scalar(conn, f"select count(*) from {model.name}")
    total = _scalar(conn, f"select count(*) from {model.name}")
    conn.execute(
        f"delete from {model.name} where {model.key} in (select stream_id from affected_streams)"
    )
    before = _scalar(conn, f"select count(*) from {model.name}")
    conn.execute(f"insert into {model.name}\n{_by_partition(model)}")
    inserted = _scalar(conn, f"select count(*) from {model.name}") - before
    # Rows removed and none written back are a change too (see `_partitioned`).
    return inserted or total - before


def _affected(conn: duckdb.DuckDBPyConnection, hwm: int | None, newest: int) -> None:
    """`affected_streams` (the streams with events after `hwm`; every stream when None) and
    `affected_events` (their rows of the events model, whose newest event is `newest`), unless
    the ones left by the previous model were made for the same mark over the same events. Made
    in the caller's transaction, with the key they were made for: a rollback takes all three
    back together."""
    version = conn.execute(
        "select coalesce(max(changed_version), -1) from _model_state where model = ?",
        [EVENTS_MODEL],
    ).fetchall()[0][0]
    key = (-1 if hwm is None else hwm, newest, int(version))
    conn.execute(
        "create temp table if not exists _affected_key"
        " (hwm bigint, newest bigint, version bigint, whole boolean)"
    )
    made = conn.execute("select hwm, newest, version, whole from _affected_key").fetchall()
    if made and tuple(made[0][:3]) == key:
        return
    if made:  # a view when made for every stream, else a table
        conn.execute(f"drop {'view' if made[0][3] else 'table'} if exists affected_events")
    if hwm is None:
        conn.execute(
            f"create or replace temp table affected_streams as"
            f" select distinct stream_id from {EVENTS_MODEL}"
        )
        # Every event: read in place, not copied.
        conn.execute(f"create temp view affected_events as select * from {EVENTS_MODEL}")
    else:
        conn.execute(
            f"create or replace temp table affected_streams as"
            f" select distinct stream_id from {EVENTS_MODEL} where event_id > ?",
            [hwm],
        )
        # Matched on the stream column alone, then fetched by row id: a join that carried
        # every column of every event took 1.2 s where this takes 0.5 (7,500 events of 900
        # streams among 11.3 M).
        conn.execute(
            f"create temp table affected_events as select * from {EVENTS_MODEL} where rowid in"
            f" (select rowid from {EVENTS_MODEL} semi join affected_streams using (stream_id))"
        )
    conn.execute("delete from _affected_key")
    conn.execute("insert into _affected_key values (?, ?, ?, ?)", [*key, hwm is None])
