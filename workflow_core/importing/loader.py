"""Write a parsed event log into the event store: one transaction, all or nothing.

Each case becomes a stream `imp-<process_key>-<sha1(case id)[:16]>` of type "imported": a
`CaseImported` event, then one `Activity` per logged event in file order (`sequence`). Every
row carries the process key and process version 1. The instance projection is folded with the
same `evolve` a rebuild uses, so the live import and a rebuild write the same rows.

`log_imports` holds one row per imported file (`import_key` = "<process_key>:<sha256>"): the same
file under the same key is refused, and a process key belongs to one log (a unique index), so a
different file under a used key is refused too, as is a key that native services already use.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from workflow_core.domain.events import Activity, ActorRole, CaseImported, Event
from workflow_core.domain.state import InstanceState, InstanceStatus
from workflow_core.importing.model import (
    LogImportError,
    ParsedCase,
    ParsedLog,
    bulk_allocation,
)
from workflow_core.store.event_store import lock_appends
from workflow_core.store.projections import instance_row
from workflow_core.store.schema import events, instances, log_imports
from workflow_core.store.serialization import SCHEMA_VERSION, to_row

PROCESS_KEY = re.compile(r"[a-z0-9_]{2,40}")
STREAM_TYPE = "imported"
PROCESS_VERSION = 1
BATCH = 20_000  # event rows per INSERT executemany

Progress = Callable[[int], None]  # called with the number of events written so far


@dataclass(frozen=True)
class ImportSummary:
    process_key: str
    import_key: str
    source: str
    sha256: str
    cases: int
    events: int
    activities: int  # distinct activity names
    skipped_empty_cases: int


def validate_process_key(process_key: str) -> str:
    if not PROCESS_KEY.fullmatch(process_key):
        raise LogImportError(
            f"process key {process_key!r}: use 2 to 40 of a-z, 0-9 and _ (e.g. receipt_2011)"
        )
    return process_key


def import_key_of(process_key: str, sha256: str) -> str:
    return f"{process_key}:{sha256}"


def stream_id_of(process_key: str, case_id: str) -> str:
    digest = hashlib.sha1(case_id.encode("utf-8"), usedforsecurity=False).hexdigest()
    return f"imp-{process_key}-{digest[:16]}"


def check_importable(conn: Connection, process_key: str, sha256: str, source: str) -> None:
    """Refuse (LogImportError) when this log or this process key was imported already, or the
    key belongs to a native process."""
    validate_process_key(process_key)
    key = import_key_of(process_key, sha256)
    found = conn.execute(
        select(log_imports.c.import_key, log_imports.c.source, log_imports.c.imported_at).where(
            log_imports.c.process_key == process_key
        )
    ).first()
    if found is not None:
        when = found.imported_at.strftime("%Y-%m-%d %H:%M UTC")
        if found.import_key == key:
            raise LogImportError(
                f"{source} was already imported as process {process_key!r} ({when}); "
                "nothing written"
            )
        raise LogImportError(
            f"process key {process_key!r} belongs to another log ({found.source}, imported "
            f"{when}); choose another key; nothing written"
        )
    native = conn.execute(
        select(events.c.event_id).where(events.c.process_key == process_key).limit(1)
    ).first()
    if native is not None:
        raise LogImportError(
            f"process key {process_key!r} is used by a service of the hall; choose another key; "
            "nothing written"
        )


def case_imported(log: ParsedLog, case: ParsedCase, import_key: str) -> CaseImported:
    """The first event of an imported case; it happened when the case's earliest activity did."""
    return CaseImported(
        occurred_at=min(event.occurred_at for event in case.events),
        actor_id=case.events[0].resource,
        actor_role=ActorRole.RESOURCE,
        case_id=case.case_id,
        attributes=case.attributes,
        source=log.source,
        source_sha256=log.sha256,
        import_key=import_key,
    )


def case_events(log: ParsedLog, case: ParsedCase, import_key: str) -> list[Event]:
    """The events of one imported case: CaseImported, then its activities in file order."""
    stream: list[Event] = [case_imported(log, case, import_key)]
    stream.extend(
        Activity(
            occurred_at=event.occurred_at,
            actor_id=event.resource,
            actor_role=ActorRole.RESOURCE,
            activity=event.activity,
            sequence=sequence,
            lifecycle=event.lifecycle,
            attributes=event.attributes,
            group=event.group,
        )
        for sequence, event in enumerate(case.events)
    )
    return stream


def activity_rows(
    stream_id: str, case: ParsedCase, process_key: str, recorded_at: datetime
) -> list[dict[str, Any]]:
    """The stored rows of a case's `Activity` events (versions 2, 3, …), built as plain dicts:
    exactly what `serialization.to_row` makes of each (a test holds them equal), without
    building 260,000 dataclasses and walking their fields."""
    return [
        {
            "stream_id": stream_id,
            "stream_version": sequence + 2,
            "stream_type": STREAM_TYPE,
            "occurred_at": event.occurred_at,
            "recorded_at": recorded_at,
            "event_type": Activity.TYPE,
            "process_key": process_key,
            "process_version": PROCESS_VERSION,
            "node_key": None,
            "task_id": None,
            "actor_id": event.resource,
            "actor_role": ActorRole.RESOURCE,
            "department_id": event.group,
            "schema_version": SCHEMA_VERSION,
            "payload": {
                "activity": event.activity,
                "sequence": sequence,
                "lifecycle": event.lifecycle,
                "attributes": event.attributes,
            },
        }
        for sequence, event in enumerate(case.events)
    ]


def imported_state(stream_id: str, first: CaseImported, case: ParsedCase) -> InstanceState:
    """What `evolve` folds a case's stream into, computed at once (a test holds them equal)."""
    times = [event.occurred_at for event in case.events]
    last = max(times)
    return InstanceState(
        instance_id=stream_id,
        version=1 + len(times),
        status=InstanceStatus.IMPORTED,
        process_key=first.process_key,
        process_version=PROCESS_VERSION,
        form=dict(first.attributes),
        submitted_at=min(times),
        updated_at=last,
        closed_at=last,
    )


def import_log(
    engine: Engine,
    log: ParsedLog,
    process_key: str,
    *,
    now: datetime,
    progress: Progress | None = None,
) -> ImportSummary:
    """Append the whole log and its instance rows in one transaction; nothing on any error."""
    validate_process_key(process_key)
    if not log.cases:
        raise LogImportError(f"{log.source}: no cases with events; nothing written")
    import_key = import_key_of(process_key, log.sha256)
    streams = _streams(log, process_key)
    summary = ImportSummary(
        process_key=process_key,
        import_key=import_key,
        source=log.source,
        sha256=log.sha256,
        cases=len(log.cases),
        events=log.event_count,
        activities=len(log.activities),
        skipped_empty_cases=log.skipped_empty_cases,
    )
    with bulk_allocation(), engine.begin() as conn:
        check_importable(conn, process_key, log.sha256, log.source)
        try:
            conn.execute(
                log_imports.insert(),
                {
                    "import_key": import_key,
                    "process_key": process_key,
                    "source": log.source,
                    "sha256": log.sha256,
                    "cases": summary.cases,
                    "events": summary.events,
                    "imported_at": now,
                },
            )
        except IntegrityError:  # a concurrent import of the same key won the race
            raise LogImportError(
                f"process key {process_key!r} was imported meanwhile; nothing written"
            ) from None
        instance_rows: list[dict[str, Any]] = []
        written = 0
        sqlite = conn.dialect.name == "sqlite"
        batch: list[tuple[Any, ...]] = []
        names: dict[str, str] = {}
        for stream_id, case in streams:
            first, rows = case_values(
                log, case, stream_id, process_key, import_key, now, sqlite, names
            )
            instance_rows.append(instance_row(imported_state(stream_id, first, case)))
            batch.extend(rows)
            written += len(case.events)
            if len(batch) >= BATCH:
                _insert_events(conn, batch)
                batch = []
                if progress is not None:
                    progress(written)
        if batch:
            _insert_events(conn, batch)
        for start in range(0, len(instance_rows), BATCH):
            conn.execute(instances.insert(), instance_rows[start : start + BATCH])
        if progress is not None:
            progress(written)
    return summary


def case_values(
    log: ParsedLog,
    case: ParsedCase,
    stream_id: str,
    process_key: str,
    import_key: str,
    now: datetime,
    sqlite: bool,
    names: dict[str, str],
) -> tuple[CaseImported, list[tuple[Any, ...]]]:
    """A case's first event, and the driver's tuples of all its events (`EVENT_COLUMNS`)."""
    first = case_imported(log, case, import_key)
    first_row = to_row(
        first,
        stream_id=stream_id,
        stream_version=1,
        stream_type=STREAM_TYPE,
        process_key=process_key,
        process_version=PROCESS_VERSION,
        recorded_at=now,
    )
    rows = [driver_values(first_row, sqlite)]
    rows.extend(activity_values(stream_id, case, process_key, now, sqlite, names))
    return first, rows


def log_values(log: ParsedLog, process_key: str, *, now: datetime) -> Iterator[tuple[Any, ...]]:
    """Every event row an import of `log` as `process_key` writes on SQLite, in the order it
    writes them (`EVENT_COLUMNS`; ids are the store's), without a store: what `tongban report
    log` reports on."""
    validate_process_key(process_key)
    if not log.cases:
        raise LogImportError(f"{log.source}: no cases with events; nothing to report")
    import_key = import_key_of(process_key, log.sha256)
    names: dict[str, str] = {}
    for stream_id, case in _streams(log, process_key):
        yield from case_values(log, case, stream_id, process_key, import_key, now, True, names)[1]


_COLUMNS = [column.name for column in events.columns if column.name != "event_id"]
EVENT_COLUMNS = tuple(_COLUMNS)  # the order of a driver tuple's values
_DATETIMES = frozenset({"occurred_at", "recorded_at"})


def _insert_events(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """One driver-level executemany (SQLite) or COPY (PostgreSQL) of plain tuples, under the
    store's append lock (`event_store.lock_appends`, which orders appends on PostgreSQL).

    Not `append_rows`: its RETURNING of the new ids made SQLite insert row by row (31 s for
    BPIC 2012, 262,200 events), and an import needs no ids back. Not a Core insert either:
    SQLAlchemy's per-value bind processing took 16 s of it. The values are what the column
    types would bind (`UtcDateTime`: naive-UTC text on SQLite, aware UTC on PostgreSQL; JSON
    text), and the tests read the rows back through the store's `from_row`.
    """
    lock_appends(conn)
    if conn.dialect.name == "sqlite":
        marks = ", ".join("?" for _ in _COLUMNS)
        statement = f"insert into events ({', '.join(_COLUMNS)}) values ({marks})"
        conn.exec_driver_sql(statement, rows)
        return
    # PostgreSQL: COPY through psycopg on this very connection (same transaction), about ten
    # times faster than an executemany (21 s for BPIC 2012). JSON text loads into jsonb.
    driver = conn.connection.driver_connection
    assert driver is not None
    with (
        driver.cursor() as cursor,
        cursor.copy(f"copy events ({', '.join(_COLUMNS)}) from stdin") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _bound_time(value: datetime, sqlite: bool) -> Any:
    if value.tzinfo is not UTC:  # the readers give UTC already: no conversion for those
        value = value.astimezone(UTC)
    if sqlite:  # what UtcDateTime binds on SQLite: naive UTC, microseconds
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return value


def driver_values(row: dict[str, Any], sqlite: bool) -> tuple[Any, ...]:
    """An event row (as `serialization.to_row` makes it) as the driver's parameter tuple."""
    values: list[Any] = []
    for name in _COLUMNS:
        value = row[name]
        if name in _DATETIMES:
            value = _bound_time(value, sqlite)
        elif name == "payload":
            value = json.dumps(value)
        values.append(value)
    return tuple(values)


def activity_values(
    stream_id: str,
    case: ParsedCase,
    process_key: str,
    recorded_at: datetime,
    sqlite: bool,
    names: dict[str, str] | None = None,
) -> list[tuple[Any, ...]]:
    """`driver_values` of `activity_rows`, built directly (the hot loop of an import).

    The payload's JSON is written from its fixed shape, the names as `json.dumps` encodes them,
    each distinct activity and lifecycle once (`names`: one import's cache of them): `json.dumps`
    of a dict a row took 1.6 of the 8 s it took to write BPIC 2012. A test holds the text equal
    to `json.dumps`.
    """
    recorded = _bound_time(recorded_at, sqlite)
    role, kind, version = ActorRole.RESOURCE, Activity.TYPE, SCHEMA_VERSION
    names = {} if names is None else names
    bound = _bound_time
    values = []
    for sequence, event in enumerate(case.events):
        activity = names.get(event.activity) or _encoded(names, event.activity)
        lifecycle = event.lifecycle
        life = "null" if lifecycle is None else names.get(lifecycle) or _encoded(names, lifecycle)
        attributes = _dumps(event.attributes) if event.attributes else "{}"
        values.append(
            (
                stream_id,
                sequence + 2,
                STREAM_TYPE,
                bound(event.occurred_at, sqlite),
                recorded,
                kind,
                process_key,
                PROCESS_VERSION,
                None,
                None,
                event.resource,
                role,
                event.group,
                version,
                f'{{"activity": {activity}, "sequence": {sequence}, "lifecycle": {life},'
                f' "attributes": {attributes}}}',
            )
        )
    return values


_dumps = json.dumps


def _encoded(names: dict[str, str], name: str) -> str:
    text = names[name] = _dumps(name)
    return text


_COLUMNS = [column.name for column in events.columns if column.name != "event_id"]
_DATETIMES = frozenset({"occurred_at", "recorded_at"})
_EXPECTED_COLUMNS = [
    "stream_id",
    "stream_version",
    "stream_type",
    "occurred_at",
    "recorded_at",
    "event_type",
    "process_key",
    "process_version",
    "node_key",
    "task_id",
    "actor_id",
    "actor_role",
    "department_id",
    "schema_version",
    "payload",
]
if _COLUMNS != _EXPECTED_COLUMNS:  # pragma: no cover - activity_values builds this order
    raise RuntimeError(f"events columns changed: {_COLUMNS}; update activity_values")


def _streams(log: ParsedLog, process_key: str) -> Iterator[tuple[str, ParsedCase]]:
    seen: dict[str, str] = {}
    pairs = []
    for case in log.cases:
        stream_id = stream_id_of(process_key, case.case_id)
        other = seen.setdefault(stream_id, case.case_id)
        if other != case.case_id:  # pragma: no cover - a SHA-1 prefix collision
            raise LogImportError(f"{log.source}: case ids {other!r} and {case.case_id!r} collide")
        pairs.append((stream_id, case))
    return iter(pairs)
