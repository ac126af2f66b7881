"""A plain XES log read straight into the `raw_events` frame `tongban report log` reports on.

`workflow_core.importing.xes` reads a log the way every XML document can be read: expat hands
each of BPIC 2012's 1.36 million elements to Python, one callback at a time, and the rows are
then made event by event. Most logs in the wild, though, are written by a handful of tools
(OpenXES, ProM, PM4Py) in one shape: one element a line, double-quoted attributes. Such a log is
read here column-wise with Polars: its lines split at the quotes by Polars' CSV reader (so every
attribute value is a column cell), each distinct line shape judged once in Python, nesting and
well-formedness checked over whole columns, and the rows built as columns.

The reader promises one thing: the frame is the one `report_store.log_events` makes of
`read_xes`, to the byte. It gives up (returns None) on anything it does not fully understand —
another line shape, a namespace prefix, a character reference, a document type, a duplicate key,
an unusual time, any content error — and the caller then reads the file with the importer's
reader, which handles the unusual and names the error. Every value whose conversion is not
plain text (typed attributes, text with surrounding white space, entities) goes through the
importer's own functions, once per distinct value.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import polars as pl

from warehouse.raw import RAW_EVENTS_SCHEMA
from workflow_core.domain.events import Activity, ActorRole, CaseImported
from workflow_core.importing.model import (
    MAX_ACTOR,
    UNKNOWN_RESOURCE,
    LogBytes,
    LogColumns,
    LogImportError,
    parse_timestamp,
)
from workflow_core.importing.rows import (
    PROCESS_VERSION,
    STREAM_TYPE,
    import_key_of,
    imported_case,
    stream_id_of,
    validate_process_key,
)
from workflow_core.importing.xes import XES_NS, convert_value
from workflow_core.store.serialization import SCHEMA_VERSION, payload_of

FIELDS: Final = 12  # a line of up to five attributes; a longer one is not a plain log
_FIELD_NAMES: Final = [f"f{i}" for i in range(FIELDS)]
_VALUE_FIELDS: Final = _FIELD_NAMES[1::2]
_PLACEHOLDER: Final = '"X"'
_XES_NAMESPACE: Final = XES_NS.strip("{}")

# Line shapes, values replaced by "X". XML white space only (not Python's \s), XML names in
# ASCII without a namespace prefix; anything else is not a plain log.
_WS = "[ \t\r]"
_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_ELEMENT = re.compile(
    rf'{_WS}*<({_NAME})((?:{_WS}+[A-Za-z_][A-Za-z0-9_.\-:]*{_WS}*={_WS}*"X")*){_WS}*(/?)>{_WS}*'
)
_ATTRIBUTE_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_.\-:]*)[ \t\r]*=")
_CLOSE = re.compile(rf"{_WS}*</({_NAME}){_WS}*>{_WS}*")
_COMMENT = re.compile(rf"{_WS}*<!--((?:(?!--).)*)-->{_WS}*", re.DOTALL)
_DECLARATION = re.compile(
    rf'<\?xml{_WS}+version{_WS}*={_WS}*"X"'
    rf'(?:{_WS}+encoding{_WS}*={_WS}*"X")?(?:{_WS}+standalone{_WS}*={_WS}*"X")?{_WS}*\?>{_WS}*'
)
# The declaration a plain log has: XML 1.0 in UTF-8.
_PLAIN_DECLARATION = re.compile(
    rf'<\?xml{_WS}+version{_WS}*={_WS}*"1\.0"'
    rf'(?:{_WS}+encoding{_WS}*={_WS}*"[Uu][Tt][Ff]-8")?'
    rf'(?:{_WS}+standalone{_WS}*={_WS}*"(?:yes|no)")?{_WS}*\?>{_WS}*'
)
_BLANK = re.compile(rf"{_WS}*")

# What a line is.
BLANK, OPEN, CLOSE, EMPTY = 0, 1, 2, 3
# Times that Polars parses exactly as `datetime.fromisoformat` does; any other goes to Python.
_PLAIN_TIME = (
    r"^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(?:\.\d{1,6})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$"
)
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%:z"
# What a value holds that Polars does not turn into the value expat reports: markup, entities,
# characters XML forbids or normalises (tab, carriage return).
_FORBIDDEN = [*(chr(c) for c in range(0x20) if c not in (9, 10, 13)), "\ufffe", "\uffff"]
_SPECIAL = ["<", "&", "\t", "\r", *_FORBIDDEN]
_ENTITIES: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_ENTITY = re.compile(r"&([a-z]+);")
_NOT_PLAIN_EDGE = r"^[^!-~]|[^!-~]$"  # white space (or anything not printable ASCII) at an edge


class NotPlain(Exception):
    """The log is not of the plain shape this reader handles (or holds an error): the caller
    reads it with the importer's reader."""


@dataclass(frozen=True)
class _Shape:
    kind: int
    name: str | None = None
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlainLog:
    """A plain log read: the rows an import writes (`raw_events`, numbered from 1), and what
    the importer's summary counts besides."""

    events: pl.DataFrame
    cases: int
    log_events: int  # the log's own events (the rest of the rows are the cases' first)
    activities: int  # distinct activity names
    skipped_empty_cases: int  # traces without events


def read_events_frame(
    source: str, log: LogBytes, process_key: str, columns: LogColumns, *, now: datetime
) -> PlainLog | None:
    """The rows of the plain XES log `source` (`log`: its bytes, as `read_log_bytes` gives
    them), or None when it is not plain."""
    validate_process_key(process_key)
    try:
        lines = _lines(log)
        return _frame(source, log.sha256, lines, process_key, columns, now)
    except NotPlain:
        return None


# --- the lines --------------------------------------------------------------------------------


def _lines(log: LogBytes) -> pl.DataFrame:
    data = log.document
    if data is None:
        raise NotPlain  # a broken gzip stream: the importer's reader names it
    start = data.removeprefix(b"\xef\xbb\xbf")[:1]
    if not (start.isspace() or start == b"<"):
        raise NotPlain  # not XML as it is (another compression, another encoding)
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        raise NotPlain  # Polars drops a carriage return that ends a field; XML reads it as a space
    try:
        return pl.read_csv(
            io.BytesIO(data),
            has_header=False,
            separator='"',
            quote_char=None,
            schema=dict.fromkeys(_FIELD_NAMES, pl.String()),
            truncate_ragged_lines=True,
            missing_columns="insert",
            infer_schema=False,
            raise_if_empty=False,
        )
    except (pl.exceptions.PolarsError, OSError):
        raise NotPlain from None


def _field_count() -> pl.Expr:
    """How many quote-separated fields a line has. An empty field reads as null; a valid line's
    fields in even places (between values) are never empty, and its last is the tag's end."""
    count: pl.Expr = pl.lit(0)
    for index, name in enumerate(_FIELD_NAMES):
        count = pl.when(pl.col(name).is_not_null()).then(index + 1).otherwise(count)
    return count


def _shape_column() -> pl.Expr:
    """A line's text between its values, each value written "X"."""
    parts: list[pl.Expr] = [pl.col("f0").fill_null("")]
    for index in range(2, FIELDS, 2):
        name = _FIELD_NAMES[index]
        parts.append(
            pl.when(pl.col("n") > index)
            .then(pl.lit(_PLACEHOLDER) + pl.col(name).fill_null(""))
            .otherwise(pl.lit(""))
        )
    return pl.concat_str(parts)


def _judge(shape: str, first_line: bool) -> _Shape:
    """One line shape, judged exactly; NotPlain for any shape this reader does not handle."""
    if any(char in shape for char in _FORBIDDEN):
        raise NotPlain  # a character XML does not allow, even in a comment
    if _BLANK.fullmatch(shape):
        return _Shape(BLANK)
    if _COMMENT.fullmatch(shape):
        if '"' in shape:
            raise NotPlain  # a comment's quoted text is not in its shape: "--" could hide there
        return _Shape(BLANK)
    if first_line and _DECLARATION.fullmatch(shape):
        return _Shape(BLANK)
    if match := _CLOSE.fullmatch(shape):
        return _Shape(CLOSE, match[1])
    if match := _ELEMENT.fullmatch(shape):
        attributes = tuple(_ATTRIBUTE_NAME.findall(match[2]))
        if len(set(attributes)) != len(attributes):
            raise NotPlain  # expat refuses a repeated attribute
        if any(":" in name for name in attributes):
            raise NotPlain  # prefixed attributes and namespace declarations: expat's to judge
        return _Shape(EMPTY if match[3] else OPEN, match[1], attributes)
    raise NotPlain


def _shapes(lines: pl.DataFrame) -> pl.DataFrame:
    """Each line's kind, element name and the field numbers of its `key`, `value` and `xmlns`
    attributes."""
    lines = lines.with_columns(n=_field_count())
    bad = lines.select(
        even_count=((pl.col("n") % 2 == 0) & (pl.col("n") > 0)).any(),
        truncated=(pl.col("n") == FIELDS).any(),
        gap=pl.any_horizontal(
            (pl.col(name).is_null() & (pl.col("n") > index))
            for index, name in enumerate(_FIELD_NAMES)
            if index % 2 == 0
        ).any(),
    ).row(0)
    if any(bad):
        raise NotPlain
    # A line's shape (its text between the values) is known by a hash of its parts; each
    # distinct shape is spelled out and judged once. Two shapes under one hash would be judged
    # as one: a second hash of other seeds tells them apart, and such a log is refused.
    # (Column by column: hashing a struct of the parts hashed row by row, ten times slower.)
    parts = [*(pl.col(name) for name in _FIELD_NAMES[0::2]), pl.col("n")]
    lines = lines.with_columns(
        shape=_combined_hash(parts, 1), check=_combined_hash(parts, 1 + len(parts))
    )
    firsts = lines.filter(pl.col("shape").is_first_distinct())
    if lines.select(pl.struct("shape", "check").n_unique()).item() != firsts.height:
        raise NotPlain  # pragma: no cover - a 64-bit hash collision
    texts = firsts.select(_shape_column()).to_series().to_list()
    hashes = firsts.get_column("shape").to_list()
    first_shape = texts[hashes.index(lines.get_column("shape")[0])] if lines.height else ""
    judged = [_judge(text, text == first_shape) for text in texts]
    # Each line's shape as its number among the distinct ones; the judgements gathered by it.
    number = lines.get_column("shape").replace_strict(
        hashes, range(len(hashes)), return_dtype=pl.UInt32
    )
    table = pl.DataFrame(
        {
            "kind": [one.kind for one in judged],
            "name": [one.name for one in judged],
            "key_at": [_field_of(one, "key") for one in judged],
            "value_at": [_field_of(one, "value") for one in judged],
            "xmlns_at": [_field_of(one, "xmlns") for one in judged],
        },
        schema={
            "kind": pl.Int8,
            # Categorical: a line's name is gathered as a number, not copied as text.
            "name": pl.Categorical,
            "key_at": pl.Int8,
            "value_at": pl.Int8,
            "xmlns_at": pl.Int8,
        },
    )
    judged_lines = lines.with_columns(
        table.get_column(column).gather(number) for column in table.columns
    )
    if _DECLARATION.fullmatch(first_shape):
        first = lines.row(0, named=True)
        text = '"'.join(first[name] or "" for name in _FIELD_NAMES[: first["n"]])
        if not _PLAIN_DECLARATION.fullmatch(text):
            raise NotPlain  # another version or encoding: expat's to judge
        if (lines.get_column("shape") == first["shape"]).sum() > 1:
            raise NotPlain  # a declaration's shape below the first line
    return judged_lines.drop("shape", "check")


def _combined_hash(parts: list[pl.Expr], first_seed: int) -> pl.Expr:
    """One hash of several columns: each hashed with a seed of its own, combined."""
    combined = parts[0].hash(first_seed)
    for offset, part in enumerate(parts[1:], start=1):
        combined = combined ^ part.hash(first_seed + offset)
    return combined


def _field_of(shape: _Shape, attribute: str) -> int | None:
    try:
        return 2 * shape.attributes.index(attribute) + 1
    except ValueError:
        return None


def _cell(lines: pl.DataFrame, at: str) -> pl.Expr:
    """The value of the field whose number is in column `at`: a choice among the numbers that
    occur only (a log writes its attributes in one order: one or two)."""
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for index in lines.get_column(at).drop_nulls().unique().sort().to_list():
        expr = pl.when(pl.col(at) == index).then(pl.col(_FIELD_NAMES[index])).otherwise(expr)
    return expr


# --- values -------------------------------------------------------------------------------------


def _unescaped(raw: str) -> str:
    """An attribute value as expat reports it; NotPlain where expat would refuse it."""
    if "<" in raw or any(char in raw for char in _FORBIDDEN):
        raise NotPlain

    def entity(match: re.Match[str]) -> str:
        try:
            return _ENTITIES[match[1]]
        except KeyError:
            raise NotPlain from None

    text = _ENTITY.sub(entity, raw.replace("\t", " ").replace("\r", " "))
    if "&" in _ENTITY.sub("", raw):
        raise NotPlain  # a bare ampersand
    return text


def _plain_values(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """`column` with entities resolved and white space normalised as expat does, each distinct
    unusual value once in Python."""
    special = frame.get_column(column).str.contains_any(_SPECIAL).fill_null(False)
    if not special.any():
        return frame
    odd = frame.filter(special).get_column(column).unique().to_list()
    mapping = {raw: _unescaped(raw) for raw in odd}
    return frame.with_columns(pl.col(column).replace(mapping))


def _check_values(lines: pl.DataFrame) -> None:
    """Every attribute value is one expat would read: no forbidden character anywhere (comments
    too), and in an element no markup and no bare ampersand."""
    element = pl.col("kind").is_in([OPEN, EMPTY])
    flagged = lines.select(
        pl.col(name).str.contains_any(_SPECIAL).any() for name in _VALUE_FIELDS
    ).row(0)
    for name, any_special in zip(_VALUE_FIELDS, flagged, strict=True):
        if not any_special:
            continue
        special = pl.col(name).str.contains_any(_SPECIAL)
        odd = lines.select(
            pl.col(name).filter(special), in_element=element.filter(special)
        ).unique()
        for raw, in_element in odd.iter_rows():
            if any(char in raw for char in _FORBIDDEN):
                raise NotPlain
            if in_element:
                _unescaped(raw)


# --- structure --------------------------------------------------------------------------------


def _structure(lines: pl.DataFrame) -> pl.DataFrame:
    """The elements with their depth, parent kinds, trace and event numbers; NotPlain unless the
    elements nest properly in one `<log>` root, traces in it, events in traces."""
    opens = (pl.col("kind") == OPEN).cast(pl.Int32)
    closes = (pl.col("kind") == CLOSE).cast(pl.Int32)
    # Blank lines (and comments) stay: they change no level, and no element is among them.
    lines = lines.with_columns(
        level=(opens - closes).cum_sum(), line=pl.int_range(pl.len(), dtype=pl.Int64)
    )
    lines = lines.with_columns(
        depth=pl.when(pl.col("kind") == OPEN).then(pl.col("level") - 1).otherwise(pl.col("level"))
    )
    element = pl.col("kind") != BLANK
    summary = lines.select(
        lowest=pl.col("level").min(),
        last=pl.col("level").last(),
        roots=((pl.col("depth") == 0) & element).sum(),
        first_name=pl.col("name").filter(element).first(),
        first_kind=pl.col("kind").filter(element).first(),
    ).row(0, named=True)
    # One root, `<log>`, opened first and closed last (its close is the second depth-0 line).
    if (
        summary["lowest"] < 0
        or summary["last"] != 0
        or summary["roots"] != 2
        or summary["first_name"] != "log"
        or summary["first_kind"] != OPEN
    ):
        raise NotPlain
    _check_nesting(lines)
    lines = lines.with_columns(
        parent1=pl.when((pl.col("depth") == 1) & (pl.col("kind") == OPEN))
        .then(pl.col("name"))
        .forward_fill(),
        parent2=pl.when((pl.col("depth") == 2) & (pl.col("kind") == OPEN))
        .then(pl.col("name"))
        .forward_fill(),
    )
    misplaced = lines.select(
        (
            (pl.col("kind") != CLOSE)
            & (
                ((pl.col("name") == "trace") & ((pl.col("depth") != 1) | (pl.col("kind") != OPEN)))
                | (
                    (pl.col("name") == "event")
                    & (
                        (pl.col("depth") != 2)
                        | (pl.col("kind") != OPEN)
                        | (pl.col("parent1") != "trace")
                    )
                )
            )
        ).any()
    ).item()
    if misplaced:
        raise NotPlain  # an empty or misplaced trace or event: the importer names it
    return lines.with_columns(
        trace_no=((pl.col("name") == "trace") & (pl.col("kind") == OPEN)).cum_sum(),
        event_no=((pl.col("name") == "event") & (pl.col("kind") == OPEN)).cum_sum(),
    )


def _check_nesting(lines: pl.DataFrame) -> None:
    """Each opened element is closed by its own name: at every depth, opens and closes alternate
    in file order, and each close names the open before it."""
    tags = (
        lines.filter(pl.col("kind").is_in([OPEN, CLOSE]))
        .select("depth", "kind", "name", "line")
        .sort("depth", "line")
    )
    same_depth = pl.col("depth") == pl.col("depth").shift(1)
    wrong = tags.select(
        (
            (
                (pl.col("kind") == CLOSE)
                & ~(
                    same_depth
                    & (pl.col("kind").shift(1) == OPEN)
                    & (pl.col("name").shift(1) == pl.col("name"))
                )
            )
            | ((pl.col("kind") == OPEN) & same_depth & (pl.col("kind").shift(1) == OPEN))
            | (
                (pl.col("kind") == OPEN)
                & (pl.col("depth") != pl.col("depth").shift(-1)).fill_null(True)
            )
        ).any()
    ).item()
    if wrong:
        raise NotPlain


def _check_namespace(lines: pl.DataFrame) -> None:
    """A default namespace, if declared, is XES's: the importer takes no other for a log."""
    declared = lines.select(pl.col("xmlns").drop_nulls()).to_series()
    if (declared != _XES_NAMESPACE).any():
        raise NotPlain


# --- attributes ---------------------------------------------------------------------------------


def _attributes(elements: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The traces' attributes and the events' (trace_no, event_no, tag, key, raw value, order),
    no key twice in one trace or event."""
    attribute = pl.col("kind").is_in([OPEN, EMPTY]) & ~pl.col("name").is_in(["trace", "event"])
    picked = elements.with_columns(pl.col("key", "raw").fill_null(""))
    trace_rows = picked.filter(attribute & (pl.col("depth") == 2) & (pl.col("parent1") == "trace"))
    event_rows = picked.filter(attribute & (pl.col("depth") == 3) & (pl.col("parent2") == "event"))
    keep = ["trace_no", "event_no", "name", "key", "raw"]
    trace_rows, event_rows = trace_rows.select(keep), event_rows.select(keep)
    _check_unique_keys(trace_rows, "trace_no")
    trace_rows = _plain_values(_plain_values(trace_rows, "key"), "raw")
    event_rows = _plain_values(_plain_values(event_rows, "key"), "raw")
    return trace_rows, event_rows


def _check_unique_keys(rows: pl.DataFrame, owner: str) -> None:
    """No key twice in one trace or event: the importer keeps the last value in the first's
    place, a case this reader leaves to it."""
    # The key by its number among the distinct keys: no string hashed a row.
    key_code = pl.col("key").cast(pl.Categorical).to_physical().cast(pl.UInt64)
    pair = pl.col(owner).cast(pl.UInt64) * (1 << 32) + key_code
    if rows.height and rows.select(pair.is_duplicated().any()).item():
        raise NotPlain


def _column_texts(rows: pl.DataFrame, owner: str = "event_no") -> pl.DataFrame:
    """The event columns' texts, as `_built_event` makes them: `str(value).strip()` of the typed
    value; plain text as it is, the rest through the importer's conversion, once per value."""
    typed = pl.col("name").is_in(["int", "float", "boolean"])
    needs_python = typed | pl.col("raw").str.contains(_NOT_PLAIN_EDGE)
    odd = rows.filter(needs_python).select("name", "raw").unique()
    text = pl.col("raw")
    if odd.height:
        converted = odd.with_columns(
            converted=pl.Series(
                [str(convert_value(tag, raw)).strip() for tag, raw in odd.iter_rows()],
                dtype=pl.String,
            )
        )
        rows = rows.join(converted, on=["name", "raw"], how="left", maintain_order="left")
        text = pl.coalesce("converted", "raw")
    return rows.select(owner, "key", text.alias("text"))


def _json_texts(values: pl.Series, encode: Callable[[str], str]) -> pl.Series:
    distinct = values.unique().drop_nulls().to_list()
    return values.replace_strict(
        {value: encode(value) for value in distinct}, default=None, return_dtype=pl.String
    )


def _attributes_json(event_rows: pl.DataFrame, owner: str = "event_no") -> pl.DataFrame:
    """Each event's (or trace's) other attributes as `json.dumps` writes their dict (first key
    first)."""
    if event_rows.height == 0:
        return pl.DataFrame(schema={owner: pl.UInt32, "attributes": pl.String})
    # Text that JSON writes as it is (printable ASCII but quote and backslash) is quoted here;
    # typed values and any other text go through `json.dumps` of the importer's value.
    plain_text = ~pl.col("name").is_in(["int", "float", "boolean"]) & pl.col("raw").str.contains(
        r"^[ !#-\[\]-~]*$"
    )
    pairs = event_rows.filter(~plain_text).select("name", "raw").unique()
    encoded = pairs.with_columns(
        value_json=pl.Series(
            [json.dumps(convert_value(tag, raw)) for tag, raw in pairs.iter_rows()],
            dtype=pl.String,
        )
    )
    rows = event_rows.join(encoded, on=["name", "raw"], how="left", maintain_order="left")
    rows = rows.with_columns(
        value_json=pl.when(plain_text)
        .then(pl.lit('"') + pl.col("raw") + pl.lit('"'))
        .otherwise(pl.col("value_json")),
        key_json=_json_texts(rows.get_column("key"), json.dumps),
    )
    return rows.group_by(owner, maintain_order=True).agg(
        attributes=pl.lit("{")
        + (pl.col("key_json") + pl.lit(": ") + pl.col("value_json")).str.join(", ")
        + pl.lit("}")
    )


# --- the frame ----------------------------------------------------------------------------------


def _frame(
    source: str,
    sha256: str,
    lines: pl.DataFrame,
    process_key: str,
    columns: LogColumns,
    now: datetime,
) -> PlainLog:
    judged = _shapes(lines)
    _check_values(judged)
    judged = judged.select(
        "kind",
        "name",
        key=_cell(judged, "key_at"),
        raw=_cell(judged, "value_at"),
        xmlns=_cell(judged, "xmlns_at"),
    )
    _check_namespace(judged)
    elements = _structure(judged)
    trace_rows, event_rows = _attributes(elements)
    events = _events(elements, event_rows, columns)
    cases = _cases(source, sha256, elements, trace_rows, events, process_key, columns)
    traces = elements.select(((pl.col("name") == "trace") & (pl.col("kind") == OPEN)).sum()).item()
    return PlainLog(
        events=_rows(cases, events, process_key, now),
        cases=cases.height,
        log_events=events.height,
        activities=events.get_column("activity").n_unique(),
        skipped_empty_cases=traces - cases.height,
    )


def _events(elements: pl.DataFrame, event_rows: pl.DataFrame, columns: LogColumns) -> pl.DataFrame:
    """One row an event: its trace, its column values as `_built_event` makes them, and its
    other attributes as JSON."""
    events = elements.filter((pl.col("name") == "event") & (pl.col("kind") == OPEN)).select(
        "trace_no", "event_no"
    )
    special = _column_texts(event_rows.filter(pl.col("key").is_in(list(columns.keys))))
    # The index named as no key can be (XML forbids NUL): a key may be any text.
    try:
        wide = special.rename({"event_no": "\x00"}).pivot(on="key", index="\x00", values="text")
    except pl.exceptions.ComputeError:
        raise NotPlain from None  # a column's key twice in one event

    roles = {
        "activity": columns.activity,
        "stamp": columns.timestamp,
        "resource": columns.resource,
        "group": columns.group,
        "lifecycle": columns.lifecycle,
    }
    wide = wide.select(
        pl.col("\x00").alias("event_no"),
        *(
            (pl.col(key) if key in wide.columns else pl.lit(None, dtype=pl.String)).alias(role)
            for role, key in roles.items()
        ),
    )
    events = events.join(wide, on="event_no", how="left", maintain_order="left")
    others = event_rows.filter(~pl.col("key").is_in(list(columns.keys)))
    _check_unique_keys(others, "event_no")
    events = events.join(_attributes_json(others), on="event_no", how="left", maintain_order="left")
    events = events.with_columns(
        pl.col("attributes").fill_null("{}"),
        pl.col("resource").fill_null(""),
        pl.col("group").fill_null(""),
    )
    problems = events.select(
        no_activity=(pl.col("activity").is_null() | (pl.col("activity") == "")).any(),
        no_time=pl.col("stamp").is_null().any(),
        long_actor=(
            (pl.col("resource").str.len_chars() > MAX_ACTOR)
            | (pl.col("group").str.len_chars() > MAX_ACTOR)
        ).any(),
    ).row(0)
    if any(problems):
        raise NotPlain  # the importer names the event
    return events.with_columns(
        occurred_at=_times(events.get_column("stamp")),
        resource=pl.when(pl.col("resource") == "")
        .then(pl.lit(UNKNOWN_RESOURCE))
        .otherwise(pl.col("resource")),
        group=pl.when(pl.col("group") == "").then(None).otherwise(pl.col("group")),
        lifecycle=pl.when(pl.col("lifecycle") == "").then(None).otherwise(pl.col("lifecycle")),
    ).drop("stamp")


def _times(stamps: pl.Series) -> pl.Series:
    """UTC times (naive, microseconds) as `parse_timestamp` reads them; the usual form by Polars,
    any other through `parse_timestamp` itself (NotPlain where it refuses one)."""
    plain = stamps.str.contains(_PLAIN_TIME)
    parsed = (
        stamps.str.replace(r"Z$", "+00:00")
        .str.to_datetime(_TIME_FORMAT, time_unit="us", strict=False)
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
    )
    parsed = pl.select(pl.when(plain).then(parsed).otherwise(None)).to_series()
    unusual = stamps.filter(parsed.is_null())
    if unusual.len() == 0:
        return parsed
    mapping = {}
    for text in unusual.unique().to_list():
        try:
            mapping[text] = parse_timestamp(text, "").replace(tzinfo=None)
        except LogImportError:
            raise NotPlain from None
    fallback = unusual.replace_strict(mapping, return_dtype=pl.Datetime("us"))
    return parsed.scatter(parsed.is_null().arg_true(), fallback)


def _cases(
    source: str,
    sha256: str,
    elements: pl.DataFrame,
    trace_rows: pl.DataFrame,
    events: pl.DataFrame,
    process_key: str,
    columns: LogColumns,
) -> pl.DataFrame:
    """The cases with events, in file order (trace_no, stream_id, case_order, first_at, actor,
    payload of their `case_imported`): ids and attributes as `_parse_fast` takes them (a
    missing id, or one id twice even among traces without events: NotPlain)."""
    case_key = columns.trace_case_key
    traces = elements.filter((pl.col("name") == "trace") & (pl.col("kind") == OPEN)).select(
        "trace_no"
    )
    ids = _column_texts(trace_rows.filter(pl.col("key") == case_key), "trace_no")
    others = _attributes_json(trace_rows.filter(pl.col("key") != case_key), "trace_no")
    firsts = events.group_by("trace_no").agg(
        first_at=pl.col("occurred_at").min(), actor=pl.col("resource").first()
    )
    cases = (
        traces.join(ids.select("trace_no", case_id="text"), on="trace_no", how="left")
        .join(others, on="trace_no", how="left")
        .join(firsts, on="trace_no", how="left")
        .sort("trace_no")
    )
    bad = cases.select(
        (pl.col("case_id").is_null() | (pl.col("case_id") == "")).any()
        | pl.col("case_id").is_duplicated().any()
    ).item()
    if bad:
        raise NotPlain  # the importer names the trace (or takes a repeat among empty traces)
    cases = cases.filter(pl.col("first_at").is_not_null())  # traces without events: skipped
    if cases.height == 0:
        raise NotPlain  # the importer says there is nothing to report
    head, middle, tail = _case_payload_parts(source, sha256, import_key_of(process_key, sha256))
    stream_ids = [stream_id_of(process_key, case_id) for case_id in cases.get_column("case_id")]
    if len(set(stream_ids)) != len(stream_ids):  # pragma: no cover - a SHA-1 prefix collision
        raise NotPlain  # the importer names the two cases
    return cases.select(
        "trace_no",
        stream_id=pl.Series(stream_ids, dtype=pl.String),
        first_at="first_at",
        actor="actor",
        payload=pl.lit(head)
        + _json_texts(cases.get_column("case_id"), json.dumps)
        + pl.lit(middle)
        + pl.col("attributes").fill_null("{}")
        + pl.lit(tail),
        case_order=pl.int_range(pl.len(), dtype=pl.Int64),
    )


_CASE_MARK: Final = "\x00case"
_ATTRIBUTES_MARK: Final = {"\x00attributes": 0}


def _case_payload_parts(source: str, sha256: str, import_key: str) -> tuple[str, str, str]:
    """The text of a `case_imported` payload around its case id and its attributes: the
    importer's own `payload_of` of a case whose id and attributes are marks no log can hold."""
    first = imported_case(
        source,
        sha256,
        _CASE_MARK,
        _ATTRIBUTES_MARK,
        datetime(2000, 1, 1, tzinfo=UTC),
        "",
        import_key,
    )
    text = json.dumps(payload_of(first))
    head, found, rest = text.partition(json.dumps(_CASE_MARK))
    middle, found_too, tail = rest.partition(json.dumps(_ATTRIBUTES_MARK))
    if not (found and found_too):  # pragma: no cover - the payload's shape changed
        raise NotPlain
    return head, middle, tail


def _rows(
    cases: pl.DataFrame, events: pl.DataFrame, process_key: str, now: datetime
) -> pl.DataFrame:
    """The rows an import writes, in its order: each case's `case_imported`, then its
    activities in file order; numbered from 1."""
    recorded = now.astimezone(UTC).replace(tzinfo=None)
    first = cases.select(
        *_event_row(
            CaseImported.TYPE,
            process_key,
            recorded,
            stream_version=pl.lit(1, dtype=pl.Int32),
            occurred_at=pl.col("first_at"),
            actor_id=pl.col("actor"),
            department_id=pl.lit(None, dtype=pl.String),
            payload=pl.col("payload"),
        ),
        case_order=pl.col("case_order"),
    )
    activities = _activity_frame(events, cases, process_key, recorded)
    rows = pl.concat([first, activities], how="vertical").sort("case_order", "stream_version")
    return rows.with_columns(
        event_id=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
    ).select([pl.col(name).cast(kind) for name, kind in RAW_EVENTS_SCHEMA.items()])


def _event_row(
    event_type: str,
    process_key: str,
    recorded: datetime,
    *,
    stream_version: pl.Expr,
    occurred_at: pl.Expr,
    actor_id: pl.Expr,
    department_id: pl.Expr,
    payload: pl.Expr,
) -> list[pl.Expr]:
    """An imported event's row, as `serialization.to_row` makes it: `raw_events`' columns but
    the id, the parts that vary given."""
    return [
        pl.col("stream_id"),
        stream_version.alias("stream_version"),
        pl.lit(STREAM_TYPE).alias("stream_type"),
        occurred_at.alias("occurred_at"),
        pl.lit(recorded, dtype=pl.Datetime("us")).alias("recorded_at"),
        pl.lit(event_type).alias("event_type"),
        pl.lit(process_key).alias("process_key"),
        pl.lit(PROCESS_VERSION, dtype=pl.Int32).alias("process_version"),
        pl.lit(None, dtype=pl.String).alias("node_key"),
        pl.lit(None, dtype=pl.String).alias("task_id"),
        actor_id.alias("actor_id"),
        pl.lit(ActorRole.RESOURCE).alias("actor_role"),
        department_id.alias("department_id"),
        pl.lit(SCHEMA_VERSION, dtype=pl.Int32).alias("schema_version"),
        payload.alias("payload"),
    ]


def _activity_frame(
    events: pl.DataFrame, case_frame: pl.DataFrame, process_key: str, recorded: datetime
) -> pl.DataFrame:
    """The `activity` rows of the kept cases, as `rows.activity_values` makes them."""
    frame = events.join(
        case_frame.select("trace_no", "stream_id", "case_order"),
        on="trace_no",
        how="inner",
        maintain_order="left",
    ).with_columns(sequence=pl.int_range(pl.len()).over("trace_no"))
    activity_json = _json_texts(frame.get_column("activity"), json.dumps)
    lifecycle_json = _json_texts(frame.get_column("lifecycle"), json.dumps).fill_null("null")
    return frame.select(
        *_event_row(
            Activity.TYPE,
            process_key,
            recorded,
            stream_version=(pl.col("sequence") + 2).cast(pl.Int32),
            occurred_at=pl.col("occurred_at"),
            actor_id=pl.col("resource"),
            department_id=pl.col("group"),
            payload=pl.lit('{"activity": ')
            + activity_json
            + pl.lit(', "sequence": ')
            + pl.col("sequence").cast(pl.String)
            + pl.lit(', "lifecycle": ')
            + lifecycle_json
            + pl.lit(', "attributes": ')
            + pl.col("attributes")
            + pl.lit("}"),
        ),
        case_order=pl.col("case_order"),
    )
