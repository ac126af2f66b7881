"""The append-only event store: load a stream, append with an expected version, read the feed.

The feed (`read_since`) hands out events by `event_id`. That cursor is only safe if ids become
visible in the order they were given: SQLite has one writer at a time, so they do; on PostgreSQL
two transactions could commit out of order, so every append takes one transaction-scoped
advisory lock just before it inserts, which makes id order and commit order the same (the lock
is released at commit). Appends do their projection work before taking it, so it is held only
for the insert and the commit.

Commands on one stream are serialised too (`lock_stream`, a transaction-scoped advisory lock per
stream on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already serialises every writer). Without it two
racing approvals both decided on the same version and both wrote projections before the unique
`(stream_id, stream_version)` refused the second: the loser then tripped over the winner's new
inbox rows (a unique violation on `inbox`, not a ConflictError), and two members of a parallel
group approving at once failed one of them for nothing. With it, the second command loads the
first one's events and decides on them. The unique constraint stays the guard of last resort.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Float,
    Integer,
    String,
    Table,
    func,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from workflow_core.domain.events import CampaignOpened, Event, StoredEvent
from workflow_core.errors import ConflictError
from workflow_core.store.db import Statement, driver_execute, driver_executemany, driver_pipeline
from workflow_core.store.schema import UtcDateTime, events
from workflow_core.store.serialization import (
    EVENT_ROW_COLUMNS,
    SCHEMA_VERSION,
    from_row,
    payload_of,
)

APPEND_LOCK_KEY = 0x70_6E_67_62  # arbitrary, constant: the advisory lock that orders appends
# Stream locks use the two-key form (namespace, hash of the stream id): a separate key space from
# APPEND_LOCK_KEY. Two streams whose ids collide on the hash merely wait for each other.
STREAM_LOCK_NAMESPACE = 0x7374


_ALL_COLUMNS = tuple(column.name for column in events.columns)
_LOAD_STREAM = {
    dialect: f"select {', '.join(_ALL_COLUMNS)} from events where stream_id = {mark} "
    f"and stream_version > {mark} order by stream_version"
    for dialect, mark in (("sqlite", "?"), ("postgresql", "%s"))
}


def load_stream(conn: Connection, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
    """The stream's events in version order (those after `after_version`: versions count from 1).

    Read through the driver, with the column types' result conversions done by `driver_reader`:
    Core's statement and result machinery cost more than the query and half of `from_row`.
    """
    return query_stream(conn, stream_id, after_version)()


def query_stream(
    conn: Connection, stream_id: str, after_version: int = 0
) -> Callable[[], list[StoredEvent]]:
    """`load_stream` in two halves: send the query now, read its events when the function
    returned is called (in a `driver_pipeline`, after the block: its one round trip carries
    the query with the statements around it)."""
    dialect = conn.dialect.name
    read = driver_reader(dialect, events, _ALL_COLUMNS)
    cursor = driver_execute(conn, _LOAD_STREAM[dialect], (stream_id, after_version))

    def events_read() -> list[StoredEvent]:
        return [from_row(read(row)) for row in cursor.fetchall()]

    return events_read


def append(
    conn: Connection,
    *,
    stream_id: str,
    stream_type: str,
    expected_version: int,
    new_events: Sequence[Event],
    process_key: str | None,
    process_version: int | None,
    recorded_at: datetime,
    ahead: Callable[[], None] | None = None,
    alongside: Callable[[list[StoredEvent]], Statement | None] | None = None,
    last: bool = False,
) -> list[StoredEvent]:
    """Append `new_events` after `expected_version`; ConflictError if someone was faster.

    `ahead` runs the command's other writes (its projections, through `driver_execute`) just
    before the append lock is taken, and `alongside` makes, from the stored events, a statement
    to run with their insert (the command's answer kept under its idempotency key): on
    PostgreSQL the first go in one round trip with the lock and the ids, the others in one
    more. Neither is called when there is nothing to append.

    `last`: the transaction writes nothing after this. On PostgreSQL its COMMIT then goes in
    that last round trip, and the append lock is let go one round trip (and one wake-up of
    this thread) sooner; the caller's own commit finds nothing left to do.
    """
    if not new_events:
        return []
    items = [
        (event, stream_id, expected_version + offset + 1, stream_type, process_key, process_version)
        for offset, event in enumerate(new_events)
    ]
    stored: list[StoredEvent] = []

    def settle(ids: list[int]) -> Statement | None:
        stored.extend(
            StoredEvent(
                event_id=event_id,
                stream_id=stream_id,
                stream_version=version,
                recorded_at=recorded_at,
                process_key=event.process_key if isinstance(event, CampaignOpened) else key,
                process_version=process_version,
                event=event,
            )
            for event_id, (event, _, version, _, key, _) in zip(ids, items, strict=True)
        )
        return alongside(stored) if alongside is not None else None

    append_bound(conn, bind_events(conn.dialect.name, items, recorded_at), settle, ahead, last)
    return stored


def append_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert prepared event rows under the ordering lock; returns their ids in order."""
    if not rows:
        return []
    bind = driver_binder(conn.dialect.name, events, _EVENT_COLUMNS)
    return append_bound(conn, [bind(row) for row in rows])


def append_bound(
    conn: Connection,
    params: Sequence[tuple[Any, ...]],
    alongside: Callable[[list[int]], Statement | None] | None = None,
    ahead: Callable[[], None] | None = None,
    last: bool = False,
) -> list[int]:
    """Insert event rows already bound for the driver (`bind_events`, or `driver_binder` over
    every column but `event_id`) under the ordering lock; returns their ids in order.

    A batched writer binds before its transaction, so that the write lock it shares with other
    processes is held for the inserts alone. `ahead` and `alongside` (which is given the new
    ids) and `last` as in `append`.
    """
    if not params:
        return []
    try:
        if conn.dialect.name == "sqlite":  # SQLite's one writer orders the appends
            if ahead is not None:
                ahead()
            return _append_bound_sqlite(conn, params, alongside)
        # Takes the append lock with the ids.
        return _append_bound_postgresql(conn, params, alongside, ahead, last)
    except IntegrityError as exc:
        if _is_version_clash(exc):
            streams = sorted({values[_STREAM_ID] for values in params})
            raise ConflictError(
                f"{', '.join(streams[:5])} changed meanwhile; reload and try again"
            ) from exc
        raise


def bind_events(
    dialect: str,
    items: Iterable[tuple[Event, str, int, str, str | None, int | None]],
    recorded_at: datetime,
    to_time: Callable[[datetime | None], Any] | None = None,
) -> list[tuple[Any, ...]]:
    """Event rows bound for the driver of `dialect`, ready for `append_bound`: for each
    `(event, stream_id, stream_version, stream_type, process_key, process_version)` exactly
    `driver_binder(dialect, events, …)` of `to_row(…)` (a test holds them equal), without the
    row dictionaries in between. `to_time` binds the times (default: `time_binder(dialect)`).
    """
    convert = to_time if to_time is not None else time_binder(dialect)
    recorded = convert(recorded_at)
    dumps = json_text
    params: list[tuple[Any, ...]] = []
    append = params.append
    for event, stream_id, stream_version, stream_type, process_key, process_version in items:
        append(
            (
                stream_id,
                stream_version,
                stream_type,
                convert(event.occurred_at),
                recorded,
                event.TYPE,
                event.process_key if isinstance(event, CampaignOpened) else process_key,
                process_version,
                event.node_key,
                event.task_id,
                event.actor_id,
                event.actor_role,
                event.department_id,
                SCHEMA_VERSION,
                dumps(payload_of(event)),
            )
        )
    return params


def time_binder(dialect: str) -> Callable[[datetime | None], Any]:
    """`UtcDateTime`'s binding on the driver of `dialect`, remembering what it has bound.

    A batch repeats a few thousand moments many times over (an event's time is its task's
    creation, view or decision too), and formatting one cost ten dictionary probes. Equal times
    bind alike whatever their zone (both bindings convert to UTC), so the memo is keyed by
    value. Use one per batch: it keeps every time it has seen.
    """
    to_time = _sqlite_time if dialect == "sqlite" else _postgresql_time
    memo: dict[datetime, Any] = {}
    get = memo.get

    def convert(value: datetime | None) -> Any:
        if value is None:
            return None
        bound = get(value)
        if bound is None:
            bound = memo[value] = to_time(value)
        return bound

    return convert


def driver_time(dialect: str) -> Callable[[datetime | None], Any]:
    """`UtcDateTime`'s binding on the driver of `dialect`, for a few values (no memo)."""
    return _sqlite_time if dialect == "sqlite" else _postgresql_time


_EVENT_COLUMNS = tuple(column.name for column in events.columns if column.name != "event_id")
# The order `bind_events` builds its tuples in: the table's, which it must follow.
_BOUND_EVENT_COLUMNS = EVENT_ROW_COLUMNS
assert _EVENT_COLUMNS == _BOUND_EVENT_COLUMNS, "bind_events must follow the events table"
_STREAM_ID = _EVENT_COLUMNS.index("stream_id")
_SQLITE_INSERT_EVENTS = (
    f"insert into events ({', '.join(_EVENT_COLUMNS)}) "
    f"values ({', '.join('?' for _ in _EVENT_COLUMNS)})"
)
_POSTGRESQL_INSERT_EVENTS = (
    f"insert into events (event_id, {', '.join(_EVENT_COLUMNS)}) "
    f"values ({', '.join('%s' for _ in range(len(_EVENT_COLUMNS) + 1))})"
)
# The append lock and the new ids in one round trip: the lock is held until commit, so every
# round trip after it lengthens the time all other appends wait. The fenced subquery (OFFSET 0
# keeps the planner from merging it) yields its row, taking the lock, before the projection
# above the join draws any id.
_LOCK_AND_NEXT_EVENT_IDS = (
    "select nextval(pg_get_serial_sequence('events', 'event_id')) "
    "from (select pg_advisory_xact_lock(%s) offset 0) as appending, generate_series(1, %s)"
)


def _append_bound_sqlite(
    conn: Connection,
    params: Sequence[tuple[Any, ...]],
    alongside: Callable[[list[int]], Statement | None] | None,
) -> list[int]:
    """One driver-level executemany of the rows as the column types would bind them.

    SQLAlchemy's insert with RETURNING ran one statement per row on SQLite (it cannot order a
    multi-row RETURNING by the parameters there), and its per-value bind processing cost as much
    again: 50,000 events took 2.2 s. The ids follow from `last_insert_rowid()`: this transaction
    holds SQLite's write lock (BEGIN IMMEDIATE) and the executemany inserts the rows one after
    the other, each taking the next rowid, so they are consecutive up to the last one.
    """
    driver_executemany(conn, _SQLITE_INSERT_EVENTS, params)
    last = int(driver_execute(conn, "select last_insert_rowid()").fetchone()[0])
    ids = list(range(last - len(params) + 1, last + 1))
    statement = alongside(ids) if alongside is not None else None
    if statement is not None:
        driver_execute(conn, *statement)
    return ids


def _append_bound_postgresql(
    conn: Connection,
    params: Sequence[tuple[Any, ...]],
    alongside: Callable[[list[int]], Statement | None] | None,
    ahead: Callable[[], None] | None,
    last: bool,
) -> list[int]:
    """Take the ids from the events' sequence (after the statements `ahead` runs: one round
    trip), then one driver-level executemany of one prepared INSERT with the statement
    `alongside` makes: one more.

    SQLAlchemy's multi-row INSERT … RETURNING built a new statement text of 1,000 rows at a
    time, which psycopg parsed placeholder by placeholder: 50,000 events took 11 s. The ids are
    drawn while this transaction holds the append lock, so they stay in commit order (the
    feed's guarantee) exactly as the column default would have drawn them. Every round trip
    from here to the commit lengthens the time all other appends wait for the lock.
    """
    with driver_pipeline(conn):
        if ahead is not None:
            ahead()
        drawn = driver_execute(conn, _LOCK_AND_NEXT_EVENT_IDS, (APPEND_LOCK_KEY, len(params)))
        ids = sorted(int(row[0]) for row in drawn.fetchall())  # sends what is queued so far
        statement = alongside(ids) if alongside is not None else None
        driver_executemany(
            conn,
            _POSTGRESQL_INSERT_EVENTS,
            [(event_id, *values) for event_id, values in zip(ids, params, strict=True)],
        )
        if statement is not None:
            driver_execute(conn, *statement)
        if last:
            driver_execute(conn, "commit")
    return ids


def driver_binder(
    dialect: str,
    table: Table,
    columns: Sequence[str],
    to_time: Callable[[datetime | None], Any] | None = None,
) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A function turning a row (a mapping with every name in `columns`) into the parameters
    the driver of `dialect` ("sqlite" or "postgresql") takes: the values that `table`'s column
    types bind there.

    For writers that skip SQLAlchemy's per-value bind processing. The column types here bind
    like this: `UtcDateTime` as naive-UTC text with microseconds on SQLite and as an aware UTC
    time on PostgreSQL (refusing a naive time on both); JSON as `json.dumps` text (the engine
    sets no other serializer; jsonb parses it); the rest as they are. A test checks the stored
    rows against a Core insert of the same rows, column by column.

    `to_time` binds the times instead (a batch's `time_binder`, which remembers them).
    """
    if to_time is not None:
        return _binder(table, tuple(columns), to_time)
    return _driver_binder(dialect, table, tuple(columns))


@functools.lru_cache(maxsize=32)
def _driver_binder(
    dialect: str, table: Table, columns: tuple[str, ...]
) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    return _binder(table, columns, _sqlite_time if dialect == "sqlite" else _postgresql_time)


def _binder(
    table: Table, columns: tuple[str, ...], to_time: Callable[[datetime | None], Any]
) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for index, name in enumerate(columns):
        column_type = table.c[name].type
        if isinstance(column_type, UtcDateTime):
            converters.append((index, to_time))
        elif isinstance(column_type, JSON):
            converters.append((index, json_text))
        elif not isinstance(column_type, (Integer, String, Float)):  # pragma: no cover
            raise TypeError(f"{table.name}.{name}: no driver binding for {column_type!r}")
    get = operator.itemgetter(*columns)

    def bind(row: Mapping[str, Any]) -> tuple[Any, ...]:
        values = list(get(row))
        for index, convert in converters:
            values[index] = convert(values[index])
        return tuple(values)  # SQLAlchemy's executemany takes tuples (or dicts), not lists

    return bind


def driver_reader(
    dialect: str, table: Table, columns: Sequence[str]
) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """A function turning a row the driver of `dialect` returned for `columns` of `table` (in
    that order) into the mapping Core would have returned: `UtcDateTime` as an aware UTC time,
    JSON parsed (SQLite keeps it as text; psycopg parses jsonb itself), the rest as they are.
    The event round-trip tests hold it to what was written, on both databases."""
    return _driver_reader(dialect, table, tuple(columns))


@functools.lru_cache(maxsize=32)
def _driver_reader(
    dialect: str, table: Table, columns: tuple[str, ...]
) -> Callable[[Sequence[Any]], dict[str, Any]]:
    converters: list[tuple[str, Callable[[Any], Any]]] = []
    for name in columns:
        column_type = table.c[name].type
        if isinstance(column_type, UtcDateTime):
            converters.append((name, _utc_from_driver))
        elif isinstance(column_type, JSON) and dialect == "sqlite":
            converters.append((name, _json_from_text))

    def read(row: Sequence[Any]) -> dict[str, Any]:
        values = dict(zip(columns, row, strict=True))
        for name, convert in converters:
            values[name] = convert(values[name])
        return values

    return read


def _json_text() -> Callable[[Any], str]:
    """`json.dumps` with its default arguments, as the store binds JSON: the same text.

    `dumps` builds a new C encoder on every call, which cost twice the encoding of an event's
    small payload; this one is built once. Without the check for circular structures (which
    only turns a `ValueError` for a cyclic value into a `RecursionError`: no stored value is
    cyclic). Plain `json.dumps` where the C encoder is missing.
    """
    if c_make_encoder is None:  # pragma: no cover - CPython has it
        return json.dumps
    encoder = json.JSONEncoder()
    encode = c_make_encoder(
        None,  # no circular check
        encoder.default,
        encode_basestring_ascii,  # ensure_ascii=True
        None,  # no indent
        encoder.key_separator,
        encoder.item_separator,
        False,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )

    def dumps(value: Any) -> str:
        if isinstance(value, str):  # as `JSONEncoder.encode`: the C encoder wants a container
            return encode_basestring_ascii(value)
        return "".join(encode(value, 0))

    return dumps


json_text = _json_text()


def _utc_from_driver(value: datetime | str | None) -> datetime | None:
    """What `UtcDateTime` returns: SQLite's naive-UTC text or PostgreSQL's aware time, in UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _json_from_text(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _postgresql_time(value: datetime | None) -> datetime | None:
    """What `UtcDateTime` binds on PostgreSQL: the time in UTC, aware."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: times are stored in UTC")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _sqlite_time(value: datetime | None) -> str | None:
    """What `UtcDateTime` binds on SQLite (naive UTC) as SQLAlchemy's SQLite DATETIME writes it."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: times are stored in UTC")
    if value.tzinfo is not UTC:  # the store's own times are UTC already: skip the conversion
        value = value.astimezone(UTC)
    # An aware UTC time prints "+00:00" last; cutting it off is cheaper than a naive copy.
    return value.isoformat(" ", "microseconds")[:-6]


def lock_stream(conn: Connection, stream_id: str) -> None:
    """Hold off other commands on `stream_id` until this transaction ends (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        driver_execute(conn, _LOCK_STREAM, (STREAM_LOCK_NAMESPACE, stream_id))


_LOCK_STREAM = "select pg_advisory_xact_lock(%s, hashtext(%s))"


def lock_appends(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})


def _is_version_clash(exc: IntegrityError) -> bool:
    diag = getattr(exc.orig, "diag", None)
    if diag is not None and getattr(diag, "constraint_name", None):
        return bool(diag.constraint_name == "uq_events_stream_version")
    message = str(exc.orig)
    return "events.stream_id, events.stream_version" in message


def read_since(conn: Connection, after_event_id: int, limit: int = 10_000) -> list[StoredEvent]:
    """The next events of the feed after the cursor, in `event_id` order (gap-safe)."""
    rows = conn.execute(
        select(events)
        .where(events.c.event_id > after_event_id)
        .order_by(events.c.event_id)
        .limit(limit)
    ).mappings()
    return [from_row(row) for row in rows]


_HIGH_WATER_MARK = select(func.max(events.c.event_id))  # built once: the health check's query


def high_water_mark(conn: Connection) -> int:
    """The largest event id written so far (0 for an empty store)."""
    value = conn.execute(_HIGH_WATER_MARK).scalar()
    return int(value or 0)


def iter_all(conn: Connection, batch: int = 20_000) -> Iterator[StoredEvent]:
    cursor = 0
    while True:
        chunk = read_since(conn, cursor, batch)
        if not chunk:
            return
        yield from chunk
        cursor = chunk[-1].event_id
