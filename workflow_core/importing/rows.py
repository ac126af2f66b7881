"""The event rows of an imported log, built without a database: what `loader.import_log` writes
and what `tongban report log` reports on, so both see the same rows. No SQLAlchemy here: a report
of a file need not load it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final

from workflow_core.domain.events import Activity, ActorRole, CaseImported, Event
from workflow_core.importing.model import LogImportError, ParsedCase, ParsedLog
from workflow_core.store.serialization import EVENT_ROW_COLUMNS, SCHEMA_VERSION, to_row

PROCESS_KEY = re.compile(r"[a-z0-9_]{2,40}")
STREAM_TYPE = "imported"
PROCESS_VERSION = 1
# The order of a driver tuple's values: the `events` table's columns but the id (`loader` holds
# them equal to the table's).
EVENT_COLUMNS: Final = EVENT_ROW_COLUMNS
_DATETIMES = frozenset({"occurred_at", "recorded_at"})


def import_key_of(process_key: str, sha256: str) -> str:
    return f"{process_key}:{sha256}"


def stream_id_of(process_key: str, case_id: str) -> str:
    digest = hashlib.sha1(case_id.encode("utf-8"), usedforsecurity=False).hexdigest()
    return f"imp-{process_key}-{digest[:16]}"


def validate_process_key(process_key: str) -> str:
    if not PROCESS_KEY.fullmatch(process_key):
        raise LogImportError(
            f"process key {process_key!r}: use 2 to 40 of a-z, 0-9 and _ (e.g. receipt_2011)"
        )
    return process_key


def case_imported(log: ParsedLog, case: ParsedCase, import_key: str) -> CaseImported:
    """The first event of an imported case; it happened when the case's earliest activity did."""
    return imported_case(
        log.source,
        log.sha256,
        case.case_id,
        case.attributes,
        min(event.occurred_at for event in case.events),
        case.events[0].resource,
        import_key,
    )


def imported_case(
    source: str,
    sha256: str,
    case_id: str,
    attributes: dict[str, Any],
    first_at: datetime,
    first_resource: str,
    import_key: str,
) -> CaseImported:
    """`case_imported` from its parts: the earliest activity's time, the first one's resource."""
    return CaseImported(
        occurred_at=first_at,
        actor_id=first_resource,
        actor_role=ActorRole.RESOURCE,
        case_id=case_id,
        attributes=attributes,
        source=source,
        source_sha256=sha256,
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
    rows = [first_values_of(first, stream_id, process_key, now, sqlite=sqlite)]
    rows.extend(activity_values(stream_id, case, process_key, now, sqlite, names))
    return first, rows


def first_values_of(
    first: CaseImported, stream_id: str, process_key: str, now: datetime, *, sqlite: bool
) -> tuple[Any, ...]:
    """The driver's tuple of a case's `case_imported` event (its stream's version 1)."""
    row = to_row(
        first,
        stream_id=stream_id,
        stream_version=1,
        stream_type=STREAM_TYPE,
        process_key=process_key,
        process_version=PROCESS_VERSION,
        recorded_at=now,
    )
    return driver_values(row, sqlite)


def log_values(log: ParsedLog, process_key: str, *, now: datetime) -> Iterator[tuple[Any, ...]]:
    """Every event row an import of `log` as `process_key` writes on SQLite, in the order it
    writes them (`EVENT_COLUMNS`; ids are the store's), without a store: what `tongban report
    log` reports on."""
    validate_process_key(process_key)
    if not log.cases:
        raise LogImportError(f"{log.source}: no cases with events; nothing to report")
    import_key = import_key_of(process_key, log.sha256)
    names: dict[str, str] = {}
    for stream_id, case in streams_of(log, process_key):
        yield from case_values(log, case, stream_id, process_key, import_key, now, True, names)[1]


def _bound_time(value: datetime, sqlite: bool) -> Any:
    if value.tzinfo is not UTC:  # the readers give UTC already: no conversion for those
        value = value.astimezone(UTC)
    if sqlite:  # what UtcDateTime binds on SQLite: naive UTC, microseconds
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return value


def driver_values(row: dict[str, Any], sqlite: bool) -> tuple[Any, ...]:
    """An event row (as `serialization.to_row` makes it) as the driver's parameter tuple."""
    values: list[Any] = []
    for name in EVENT_COLUMNS:
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


def streams_of(log: ParsedLog, process_key: str) -> Iterator[tuple[str, ParsedCase]]:
    seen: dict[str, str] = {}
    pairs = []
    for case in log.cases:
        stream_id = stream_id_of(process_key, case.case_id)
        other = seen.setdefault(stream_id, case.case_id)
        if other != case.case_id:  # pragma: no cover - a SHA-1 prefix collision
            raise LogImportError(f"{log.source}: case ids {other!r} and {case.case_id!r} collide")
        pairs.append((stream_id, case))
    return iter(pairs)
