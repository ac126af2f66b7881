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

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from workflow_core.domain.events import CaseImported
from workflow_core.domain.state import InstanceState, InstanceStatus
from workflow_core.importing.model import (
    LogImportError,
    ParsedCase,
    ParsedLog,
    bulk_allocation,
)

# The rows themselves are built in `rows` (no database there); re-exported for the importer's
# callers and tests.
from workflow_core.importing.rows import (
    EVENT_COLUMNS,
    PROCESS_KEY,
    PROCESS_VERSION,
    STREAM_TYPE,
    activity_rows,
    activity_values,
    case_events,
    case_imported,
    case_values,
    driver_values,
    import_key_of,
    log_values,
    stream_id_of,
    streams_of,
    validate_process_key,
)
from workflow_core.store.event_store import lock_appends
from workflow_core.store.projections import instance_row
from workflow_core.store.schema import events, instances, log_imports

__all__ = [
    "EVENT_COLUMNS",
    "PROCESS_KEY",
    "PROCESS_VERSION",
    "STREAM_TYPE",
    "ImportChunk",
    "ImportSummary",
    "activity_rows",
    "activity_values",
    "case_events",
    "case_imported",
    "case_values",
    "check_importable",
    "driver_values",
    "import_key_of",
    "import_log",
    "imported_instance",
    "imported_state",
    "log_values",
    "stream_id_of",
    "validate_process_key",
    "write_import",
]

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


def imported_state(stream_id: str, first: CaseImported, case: ParsedCase) -> InstanceState:
    """What `evolve` folds a case's stream into, computed at once (a test holds them equal)."""
    times = [event.occurred_at for event in case.events]
    return imported_instance(
        stream_id, first.process_key, first.attributes, len(times), min(times), max(times)
    )


def imported_instance(
    stream_id: str,
    process_key: str,
    attributes: dict[str, Any],
    events: int,
    first_at: datetime,
    last_at: datetime,
) -> InstanceState:
    """`imported_state` from its parts: the case's attributes, how many events it has, the
    times of its first and last."""
    return InstanceState(
        instance_id=stream_id,
        version=1 + events,
        status=InstanceStatus.IMPORTED,
        process_key=process_key,
        process_version=PROCESS_VERSION,
        form=dict(attributes),
        submitted_at=first_at,
        updated_at=last_at,
        closed_at=last_at,
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

    def chunks(sqlite: bool) -> Iterator[ImportChunk]:
        names: dict[str, str] = {}
        rows: list[tuple[Any, ...]] = []
        states: list[dict[str, Any]] = []
        count = 0
        for stream_id, case in streams_of(log, process_key):
            first, case_rows = case_values(
                log, case, stream_id, process_key, import_key, now, sqlite, names
            )
            states.append(instance_row(imported_state(stream_id, first, case)))
            rows.extend(case_rows)
            count += len(case.events)
            if len(rows) >= BATCH:
                yield ImportChunk(rows, states, count)
                rows, states, count = [], [], 0
        yield ImportChunk(rows, states, count)

    with bulk_allocation():
        return write_import(engine, summary, chunks, now=now, progress=progress)


@dataclass(frozen=True)
class ImportChunk:
    """Part of an import: the driver's tuples of events (`EVENT_COLUMNS`, in the order they are
    written), the `instances` rows of the cases they complete, and how many of the log's own
    events the rows hold (the rest are the cases' `case_imported`)."""

    event_rows: list[tuple[Any, ...]]
    instance_rows: list[dict[str, Any]]
    log_events: int = 0


def write_import(
    engine: Engine,
    summary: ImportSummary,
    chunks: Callable[[bool], Iterable[ImportChunk]],
    *,
    now: datetime,
    progress: Progress | None = None,
) -> ImportSummary:
    """Write an import in one transaction: its `log_imports` row, then `chunks(sqlite)`'s events
    and instance rows (the tuples bound as the dialect binds them: `rows.driver_values`);
    nothing on any error. `summary` counts what the chunks hold."""
    with engine.begin() as conn:
        check_importable(conn, summary.process_key, summary.sha256, summary.source)
        try:
            conn.execute(
                log_imports.insert(),
                {
                    "import_key": summary.import_key,
                    "process_key": summary.process_key,
                    "source": summary.source,
                    "sha256": summary.sha256,
                    "cases": summary.cases,
                    "events": summary.events,
                    "imported_at": now,
                },
            )
        except IntegrityError:  # a concurrent import of the same key won the race
            raise LogImportError(
                f"process key {summary.process_key!r} was imported meanwhile; nothing written"
            ) from None
        instance_rows: list[dict[str, Any]] = []
        written = 0
        for chunk in chunks(conn.dialect.name == "sqlite"):
            if chunk.event_rows:
                _insert_events(conn, chunk.event_rows)
            written += chunk.log_events
            instance_rows.extend(chunk.instance_rows)
            if progress is not None:
                progress(written)
        for start in range(0, len(instance_rows), BATCH):
            conn.execute(instances.insert(), instance_rows[start : start + BATCH])
        if progress is not None:
            progress(written)
    return summary


_COLUMNS = [column.name for column in events.columns if column.name != "event_id"]
if tuple(_COLUMNS) != EVENT_COLUMNS:  # pragma: no cover - the rows are built in this order
    raise RuntimeError(f"events columns changed: {_COLUMNS}; update rows.EVENT_COLUMNS")


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
