"""Read a XES event log (IEEE 1849; plain or gzip-compressed) into a ParsedLog, streaming.

The first pass feeds expat large blocks and reads the log from its start and end callbacks,
building no element objects: memory holds the parsed cases, never the document. (ElementTree's
`iterparse`, which built an element for each of BPIC 2012's 1.4 million XML elements and handed
each back to Python twice, took 1.5 times as long.) An XML syntax error names the parser's line
and column. When the log is wrong in content (a missing case id, activity or timestamp, an event
outside a trace, a root that is not `<log>`), the file is read again by `iterparse`, fed one line
at a time, so the line the offending trace or event starts on is known exactly: the error is
raised from there.

Trace attributes (besides the case id) become the case's attributes and event attributes the
event's, typed as XES types them (int, float, boolean; dates and ids stay text). Nested
attributes keep their own value only. Traces without events are skipped and counted.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Any, Protocol
from xml.etree.ElementTree import Element, ParseError, iterparse
from xml.parsers import expat

from workflow_core.importing.model import (
    GZIP_MAGIC,
    UNKNOWN_RESOURCE,
    LogColumns,
    LogImportError,
    ParsedCase,
    ParsedEvent,
    ParsedLog,
    bulk_allocation,
    check_actor,
    file_sha256,
    json_number,
    parse_timestamp,
)

BLOCK = 1 << 16


class _Lines(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def readline(self, size: int = -1, /) -> bytes: ...


class _LineReader:
    """Hands the parser one line per read (`exact`) or a large block of lines, and counts the
    lines handed over: with `exact`, `line` is the line an element just started on."""

    def __init__(self, handle: _Lines, *, exact: bool) -> None:
        self.handle = handle
        self.exact = exact
        self.line = 0

    def read(self, _size: int = -1) -> bytes:
        if self.exact:
            data = self.handle.readline()
            self.line += bool(data)
            return data
        data = self.handle.read(BLOCK)
        if data and not data.endswith(b"\n"):
            data += self.handle.readline()  # whole lines only
        self.line += data.count(b"\n")
        return data


XES_NS = "{http://www.xes-standard.org/}"


def _tags(name: str) -> frozenset[str]:
    return frozenset({name, XES_NS + name})


LOG, TRACE, EVENT = _tags("log"), _tags("trace"), _tags("event")


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _int(raw: str) -> Any:
    try:
        return int(raw)
    except ValueError:
        return raw


def _float(raw: str) -> Any:
    try:
        return json_number(float(raw))
    except ValueError:
        return raw


def _boolean(raw: str) -> Any:
    return raw.strip().lower() == "true"


# Typed XES attributes; every other kind (string, date, id, list, container) stays text.
_CONVERT = {
    tag: convert
    for name, convert in (("int", _int), ("float", _float), ("boolean", _boolean))
    for tag in _tags(name)
}


def _attributes(element: Element) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for child in element:
        tag = child.tag
        if tag in EVENT:
            continue
        raw = child.get("value", "")
        convert = _CONVERT.get(tag)
        attributes[child.get("key", "")] = raw if convert is None else convert(raw)
    return attributes


def read_xes(path: Path, columns: LogColumns | None = None) -> ParsedLog:
    columns = columns or LogColumns()
    source = path.name
    sha256 = file_sha256(path)
    with path.open("rb") as probe:
        compressed = probe.read(2) == GZIP_MAGIC
    try:
        with (
            bulk_allocation(),
            gzip.open(path, "rb") if compressed else path.open("rb") as handle,
        ):
            return _read(handle, source, sha256, columns, exact=False)
    except _ContentError:
        pass
    # Read again line by line: the error is raised again, naming its exact line.
    with gzip.open(path, "rb") if compressed else path.open("rb") as handle:
        return _read(handle, source, sha256, columns, exact=True)


class _ContentError(Exception):
    """The fast pass met a content error; the exact pass names its line."""


def _read(
    handle: _Lines, source: str, sha256: str, columns: LogColumns, *, exact: bool
) -> ParsedLog:
    reader = _LineReader(handle, exact=exact)
    try:
        if exact:
            return _parse(reader, source, sha256, columns)
        return _parse_fast(reader, source, sha256, columns)
    except LogImportError:
        if exact:
            raise
        raise _ContentError from None
    except ParseError as exc:
        line, column = exc.position
        raise LogImportError(f"{source}: line {line}, column {column}: malformed XML") from None
    except expat.ExpatError as exc:  # the fast pass's parser: the same expat, the same position
        raise LogImportError(
            f"{source}: line {exc.lineno}, column {exc.offset}: malformed XML"
        ) from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise LogImportError(
            f"{source}: line {reader.line}: the gzip stream is broken or truncated ({exc})"
        ) from None


def _parse(reader: _LineReader, source: str, sha256: str, columns: LogColumns) -> ParsedLog:
    case_key = columns.trace_case_key
    cases: dict[str, ParsedCase] = {}
    skipped = 0
    root: Element | None = None
    exact = reader.exact
    trace_line = event_line = 0
    in_trace = False
    events: list[ParsedEvent] = []
    for kind, element in iterparse(reader, events=("start", "end")):
        tag = element.tag
        if kind == "start":
            if root is None:
                root = element
                if tag not in LOG:
                    raise LogImportError(
                        f"{source}: line {reader.line}: not a XES log (root element "
                        f"<{_local(tag)}>)"
                    )
            elif tag in TRACE:
                trace_line, events, in_trace = reader.line if exact else 0, [], True
            elif exact and tag in EVENT:
                event_line = reader.line
            continue
        if tag in EVENT:
            if not in_trace:
                raise LogImportError(f"{source}: line {event_line} (event): outside any trace")
            events.append(_event(element, columns, f"{source}: line {event_line} (event)"))
            element.clear()
        elif tag in TRACE:
            in_trace = False
            where = f"{source}: line {trace_line} (trace)"
            attributes = _attributes(element)
            case_id = str(attributes.pop(case_key, "")).strip()
            if not case_id:
                raise LogImportError(f"{where}: missing case id ({case_key})")
            if case_id in cases:
                raise LogImportError(
                    f"{where}: case id {case_id!r} again (first at line {cases[case_id].line})"
                )
            if events:
                cases[case_id] = ParsedCase(case_id, attributes, trace_line, events)
            else:
                skipped += 1
            assert root is not None
            root.clear()  # drops the finished trace, and the log's header elements before it
    if root is None:
        raise LogImportError(f"{source}: line {reader.line}: no XML document")
    return ParsedLog(
        source=source, sha256=sha256, cases=list(cases.values()), skipped_empty_cases=skipped
    )


def _parse_fast(reader: _LineReader, source: str, sha256: str, columns: LogColumns) -> ParsedLog:
    """The whole log from expat's callbacks, no element objects: each attribute element is read
    as it starts, each event and trace built as it ends. Anything but a plain log (an event
    outside a trace, a root other than `<log>`, a missing or repeated case id, an event without
    activity or timestamp) raises LogImportError with no line: the caller then reads the file
    again with `_parse`, which names it (or, for an odd but valid nesting, reads it whole)."""
    case_key = columns.trace_case_key
    special = columns.keys
    cases: dict[str, ParsedCase] = {}
    skipped = 0
    # What each open element is: (L)og, (T)race, (E)vent, (A)ttribute, (O)ther.
    stack: list[str] = []
    push, pop = stack.append, stack.pop
    events: list[ParsedEvent] = []
    trace_attributes: dict[str, Any] = {}
    event_attributes: dict[str, Any] = {}
    found: dict[str, Any] = {}

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal events, trace_attributes, event_attributes, found
        parent = stack[-1] if stack else None
        if name in _EXPAT_EVENT:
            if parent != "T":
                raise LogImportError(f"{source}: an event outside any trace")
            event_attributes, found = {}, {}
            push("E")
        elif parent == "E":
            raw = attrs.get("value", "")
            convert = _EXPAT_CONVERT.get(name)
            key = attrs.get("key", "")
            (found if key in special else event_attributes)[key] = (
                raw if convert is None else convert(raw)
            )
            push("A")
        elif name in _EXPAT_TRACE:
            if parent != "L":
                raise LogImportError(f"{source}: a trace outside the log")
            events, trace_attributes = [], {}
            push("T")
        elif parent == "T":
            raw = attrs.get("value", "")
            convert = _EXPAT_CONVERT.get(name)
            trace_attributes[attrs.get("key", "")] = raw if convert is None else convert(raw)
            push("A")
        elif parent is None:
            if name not in _EXPAT_LOG:
                raise LogImportError(f"{source}: not a XES log")
            push("L")
        else:
            push("O")

    def end(_name: str) -> None:
        nonlocal skipped
        kind = pop()
        if kind == "E":
            events.append(_built_event(found, event_attributes, columns, source))
        elif kind == "T":
            case_id = str(trace_attributes.pop(case_key, "")).strip()
            if not case_id or case_id in cases:
                raise LogImportError(f"{source}: a missing or repeated case id")
            if events:
                cases[case_id] = ParsedCase(case_id, trace_attributes, 0, events)
            else:
                skipped += 1

    # Namespaced names come as "<uri>}<local>", as ElementTree's "{<uri>}<local>" without "{".
    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    while data := reader.read():
        parser.Parse(data, False)
    parser.Parse(b"", True)
    return ParsedLog(
        source=source, sha256=sha256, cases=list(cases.values()), skipped_empty_cases=skipped
    )


def _expat_tags(name: str) -> frozenset[str]:
    return frozenset({name, XES_NS[1:] + name})


_EXPAT_LOG, _EXPAT_TRACE, _EXPAT_EVENT = (
    _expat_tags("log"),
    _expat_tags("trace"),
    _expat_tags("event"),
)
_EXPAT_CONVERT = {
    tag: convert
    for name, convert in (("int", _int), ("float", _float), ("boolean", _boolean))
    for tag in _expat_tags(name)
}


def convert_value(tag: str, raw: str) -> Any:
    """An attribute element's value as the reader types it, by its tag as expat names it."""
    convert = _EXPAT_CONVERT.get(tag)
    return raw if convert is None else convert(raw)


def _event(element: Element, columns: LogColumns, where: str) -> ParsedEvent:
    """One event from its attribute elements, in one pass: the columns' keys are taken out as
    they come (typed as XES types them, then as text), the rest become its attributes."""
    attributes: dict[str, Any] = {}
    found: dict[str, Any] = {}
    special = columns.keys
    for child in element:
        tag = child.tag
        if tag in EVENT:
            continue
        raw = child.get("value", "")
        convert = _CONVERT.get(tag)
        value = raw if convert is None else convert(raw)
        key = child.get("key", "")
        (found if key in special else attributes)[key] = value
    return _built_event(found, attributes, columns, where)


def _built_event(
    found: dict[str, Any], attributes: dict[str, Any], columns: LogColumns, where: str
) -> ParsedEvent:
    """An event from its column values (`found`, by key) and its other attributes."""
    activity = str(found.get(columns.activity, "")).strip()
    if not activity:
        raise LogImportError(f"{where}: missing activity ({columns.activity})")
    stamp = found.get(columns.timestamp)
    if stamp is None:
        raise LogImportError(f"{where}: missing timestamp ({columns.timestamp})")
    occurred_at = parse_timestamp(str(stamp), where)
    resource = str(found.get(columns.resource, "")).strip()
    group = str(found.get(columns.group, "")).strip()
    lifecycle = found.get(columns.lifecycle)
    return ParsedEvent(
        activity=activity,
        occurred_at=occurred_at,
        resource=check_actor(resource, "resource", where) or UNKNOWN_RESOURCE,
        group=check_actor(group, "group", where) or None,
        lifecycle=str(lifecycle).strip() or None if lifecycle is not None else None,
        attributes=attributes,
    )
