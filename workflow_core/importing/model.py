"""A parsed event log, staged in memory before anything is written: cases, their events, errors.

A log names its columns (CSV) or attribute keys (XES) the XES-standard way by default:
`case:concept:name` (in XES: the trace's `concept:name`), `concept:name`, `time:timestamp`,
`org:resource`, `org:group`, `lifecycle:transition`.
"""

from __future__ import annotations

import gc
import gzip
import hashlib
import math
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from workflow_core.errors import WorkflowError

MAX_ACTOR = 64  # events.actor_id / department_id are String(64)
GZIP_MAGIC = b"\x1f\x8b"
UNKNOWN_RESOURCE = "unknown"  # actor_id is NOT NULL: an event without a resource gets this


class LogImportError(WorkflowError):
    """An event log cannot be imported: names the file and the line (or row) and what is wrong."""

    code = "log_import_error"


@dataclass(frozen=True)
class LogColumns:
    """Which columns (CSV) or attribute keys (XES) hold what. `explicit`: the ones a user named,
    which must then exist; the optional ones (resource, group) may be absent otherwise."""

    case: str = "case:concept:name"
    activity: str = "concept:name"
    timestamp: str = "time:timestamp"
    resource: str = "org:resource"
    group: str = "org:group"
    lifecycle: str = "lifecycle:transition"
    explicit: frozenset[str] = frozenset()

    @cached_property
    def keys(self) -> frozenset[str]:
        """The event keys that are columns of their own (not attributes)."""
        return frozenset((self.activity, self.timestamp, self.resource, self.group, self.lifecycle))

    @property
    def trace_case_key(self) -> str:
        """The case id's key among a XES trace's attributes (`case:` is the CSV flattening)."""
        return self.case.removeprefix("case:")


@dataclass(slots=True)
class ParsedEvent:
    # Not frozen: a frozen dataclass sets each field through object.__setattr__, which cost
    # 0.4 s of BPIC 2012's 262,200 events. Nothing changes a parsed event after the reader.
    activity: str
    occurred_at: datetime  # aware, UTC
    resource: str  # UNKNOWN_RESOURCE when the log has none
    group: str | None
    lifecycle: str | None
    attributes: dict[str, Any]


@dataclass(slots=True)
class ParsedCase:
    case_id: str
    attributes: dict[str, Any]
    # Where the case starts: CSV, its first row's line; XES, its <trace>'s line when the file is
    # read line by line (to name an error), else 0.
    line: int
    events: list[ParsedEvent] = field(default_factory=list)


@dataclass
class ParsedLog:
    """A whole log, validated: cases in order of first appearance, events in file order."""

    source: str  # the file's name
    sha256: str  # of the file's bytes as stored (compressed, if it is)
    cases: list[ParsedCase]
    skipped_empty_cases: int = 0  # XES traces without events: nothing to import

    @property
    def event_count(self) -> int:
        return sum(len(case.events) for case in self.cases)

    @property
    def activities(self) -> set[str]:
        return {event.activity for case in self.cases for event in case.events}


@dataclass(frozen=True)
class LogBytes:
    """A log file in memory: the hash of its bytes as stored, and its document (inflated when
    gzip-compressed; None when the gzip stream is broken: the reader then names the error)."""

    sha256: str
    document: bytes | None


def read_log_bytes(path: Path) -> LogBytes:
    """The file's bytes, hashed and inflated. Reading, hashing and inflating release the GIL:
    a caller may run this in a thread while it imports what it needs."""
    stored = path.read_bytes()
    sha256 = hashlib.sha256(stored).hexdigest()
    if stored[:2] != GZIP_MAGIC:
        return LogBytes(sha256, stored)
    try:
        return LogBytes(sha256, gzip.decompress(stored))
    except (EOFError, zlib.error, gzip.BadGzipFile):
        return LogBytes(sha256, None)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def parse_timestamp(text: str, where: str) -> datetime:
    """An ISO 8601 time with a UTC offset, converted to UTC exactly; LogImportError otherwise."""
    value = text.strip()
    if not value:
        raise LogImportError(f"{where}: missing timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise LogImportError(f"{where}: unparsable timestamp {text!r}") from None
    if parsed.tzinfo is None:
        raise LogImportError(f"{where}: timestamp {text!r} has no UTC offset")
    return parsed.astimezone(UTC)


def check_actor(value: str, what: str, where: str) -> str:
    if len(value) > MAX_ACTOR:
        raise LogImportError(f"{where}: {what} {value[:20]!r}… is longer than {MAX_ACTOR}")
    return value


def json_number(value: float) -> float | str:
    """JSON (and PostgreSQL's jsonb) have no NaN or infinity: keep those as text."""
    return value if math.isfinite(value) else str(value)


@contextmanager
def bulk_allocation() -> Iterator[None]:
    """Pause the cyclic garbage collector while building a whole log in memory: hundreds of
    thousands of long-lived objects made it rescan the heap over and over (2x the parse time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
