"""The column-wise XES reader makes the importer's frame to the byte, or gives the log back."""

from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tongban.report_store import log_events, log_report
from tongban.xes_frame import read_events_frame
from workflow_core.importing.model import LogColumns, LogImportError, read_log_bytes
from workflow_core.importing.xes import read_xes

REAL_LOGS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real_logs"
NOW = datetime(2026, 11, 29, 8, 30, 15, 123456, tzinfo=UTC)

HEADER = """<?xml version="1.0" encoding="UTF-8" ?>
<!-- written by hand: every kind of line a plain log has -->
<log xes.version="1.0" xes.features="nested-attributes" xmlns="http://www.xes-standard.org/">
\t<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
\t<global scope="event">
\t\t<string key="concept:name" value="UNKNOWN"/>
\t</global>
\t<classifier name="Activity" keys="concept:name"/>
\t<float key="meta:spread" value="19.9">
\t\t<float key="10609" value="2.5"/>
\t</float>
"""
TRACES = """\t<trace>
\t\t<string key="concept:name" value="A1"/>
\t\t<int key="AMOUNT_REQ" value="5000"/>
\t\t<float key="ratio" value="nan"/>
\t\t<boolean key="vip" value="TRUE"/>
\t\t<date key="REG_DATE" value="2011-10-01T00:38:44.546+02:00"/>
\t\t<string key="note" value="nested">
\t\t\t<string key="inner" value="kept out"/>
\t\t</string>

\t\t<event>
\t\t\t<string key="org:resource" value=" 112 "/>
\t\t\t<string key="concept:name" value="A_SUBMITTED"/>
\t\t\t<string key="lifecycle:transition" value="COMPLETE"/>
\t\t\t<date key="time:timestamp" value="2011-10-01T00:38:44.546+02:00"/>
\t\t\t<float key="score" value="1.50"/>
\t\t\t<boolean key="ok" value="true"/>
\t\t\t<string key="名称" value="审批 &amp; 归档 &lt;快&gt; &quot;q&quot; &apos;a&apos;"/>
\t\t\t<string key="tabbed" value="a\tb"/>
\t\t</event>
\t\t<event>
\t\t\t<string value="A_ACCEPTED" key="concept:name"/>
\t\t\t<date key="time:timestamp" value="2011-10-01T00:38:44Z"/>
\t\t\t<int key="count" value="x7"/>
\t\t\t<int key="padded" value=" 42 "/>
\t\t\t<string key="org:group" value="教务处"/>
\t\t\t<list key="items">
\t\t\t\t<string key="a" value="1"/>
\t\t\t</list>
\t\t</event>
\t</trace>
\t<trace>
\t\t<string key="concept:name" value="E1"/>
\t</trace>
\t<trace>
\t\t<int key="concept:name" value="007"/>
\t\t<event>
\t\t\t<string key="concept:name" value=" 审批 "/>
\t\t\t<date key="time:timestamp" value="2012-03-04 05:06:07.1+08:00"/>
\t\t\t<int key="lifecycle:transition" value="1"/>
\t\t\t<string key="org:resource" value=""/>
\t\t</event>
\t\t<event>
\t\t\t<string key="concept:name" value="O_SENT"/>
\t\t\t<date key="time:timestamp" value="2012-03-04T05:06:07.123456-05:30"/>
\t\t\t<float key="big" value="1e400"/>
\t\t</event>
\t</trace>
"""
PLAIN = HEADER + TRACES + "</log>\n"


def write(tmp_path: Path, text: str, name: str = "plain.xes", *, crlf: bool = False) -> Path:
    path = tmp_path / name
    data = text.replace("\n", "\r\n") if crlf else text
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(data.encode("utf-8")))
    else:
        path.write_bytes(data.encode("utf-8"))
    return path


def fast(path: Path, columns: LogColumns | None = None) -> pl.DataFrame | None:
    plain = read_events_frame(
        path.name, read_log_bytes(path), "plain", columns or LogColumns(), now=NOW
    )
    return None if plain is None else plain.events


def slow(path: Path, columns: LogColumns | None = None) -> pl.DataFrame:
    return log_events(read_xes(path, columns), "plain", now=NOW)


def assert_same_frame(path: Path, columns: LogColumns | None = None) -> None:
    frame = fast(path, columns)
    assert frame is not None, "the plain reader gave a plain log back"
    expected = slow(path, columns)
    assert frame.schema == expected.schema
    assert frame.to_dicts() == expected.to_dicts()


@pytest.mark.parametrize(
    ("name", "crlf"), [("plain.xes", False), ("plain.xes.gz", False), ("crlf.xes", True)]
)
def test_a_plain_log_makes_the_importers_rows(tmp_path: Path, name: str, crlf: bool) -> None:
    assert_same_frame(write(tmp_path, PLAIN, name, crlf=crlf))


def test_other_column_keys_are_read_as_the_importer_reads_them(tmp_path: Path) -> None:
    columns = LogColumns(case="case:note", activity="lifecycle:transition", resource="score")
    text = PLAIN.replace('key="concept:name" value="A1"', 'key="x" value="A1"')
    text = text.replace('key="concept:name" value="E1"', 'key="note" value="E1"')
    text = text.replace('<string key="note" value="nested">', '<string key="note" value="N1">')
    text = text.replace('<int key="concept:name" value="007"/>', '<id key="note" value="N2"/>')
    text = text.replace('<int key="lifecycle:transition" value="1"/>', "")
    text = text.replace(
        '<string key="concept:name" value="O_SENT"/>',
        '<string key="lifecycle:transition" value="start"/>',
    )
    text = text.replace(
        '<string value="A_ACCEPTED" key="concept:name"/>',
        '<string key="lifecycle:transition" value="complete"/>',
    )
    text = text.replace(
        '<string key="concept:name" value=" 审批 "/>',
        '<string key="lifecycle:transition" value=" 审批 "/>',
    )
    assert_same_frame(write(tmp_path, text), columns)


def test_the_real_bpic_2012_log_makes_the_importers_rows() -> None:
    path = REAL_LOGS / "bpic2012.xes.gz"
    if not path.exists():
        pytest.skip(f"the real event log is absent (expected at {path.resolve()})")
    assert_same_frame(path)


@pytest.mark.parametrize(
    "change",
    [
        ("<trace>\n", "<trace attr='single'>\n"),  # single quotes
        ("</log>", "</log><!-- after -->"),  # two things on one line
        ('<string key="inner"', '<x:string xmlns:x="urn:x" key="inner"'),  # a prefix
        ('value="A1"', 'value="A&#49;"'),  # a character reference
        ("<log ", "<!DOCTYPE log>\n<log "),
        ('encoding="UTF-8"', 'encoding="ISO-8859-1"'),  # read as Latin-1 by expat
        # A key twice in one event (the importer keeps the last value in the first's place).
        (
            '<float key="score"',
            '<string key="concept:name" value="again"/>\n\t\t\t<float key="score"',
        ),
        ('<boolean key="ok"', '<string key="score" value="again"/>\n\t\t\t<boolean key="ok"'),
        ('<int key="AMOUNT_REQ"', '<int key="vip" value="1"/>\n\t\t<int key="AMOUNT_REQ"'),
        ('<float key="score"', '<float\n key="score"'),  # an element over two lines
        ('value="1.50"/>', 'value="1.50">text</float>'),  # text content
        ('<boolean key="ok" value="true"/>', '<boolean key="ok" value="true"/>\n\t\t\tloose'),
    ],
)
def test_an_unusual_log_is_given_back_and_reported_as_before(
    tmp_path: Path, change: tuple[str, str]
) -> None:
    text = PLAIN.replace(*change, 1)
    assert text != PLAIN
    path = write(tmp_path, text)
    assert fast(path) is None
    try:
        expected = slow(path)
    except LogImportError:
        return
    assert expected.height > 0


@pytest.mark.parametrize(
    "change",
    [
        ('<string key="concept:name" value="A_SUBMITTED"/>', ""),  # no activity
        ('<date key="time:timestamp" value="2011-10-01T00:38:44Z"/>', ""),  # no time
        ('value="2011-10-01T00:38:44Z"', 'value="2011-10-01T00:38:44"'),  # no offset
        ('value="2011-10-01T00:38:44Z"', 'value="2011-02-30T00:38:44Z"'),  # no such day
        ('value="E1"', 'value="A1"'),  # a repeated case id
        ('<string key="concept:name" value="A1"/>', ""),  # no case id
        ("\t</trace>\n\t<trace>", "\t</trace>\n\t<event>\n\t</event>\n\t<trace>"),  # outside
        ("</event>\n\t</trace>", "</trace>\n\t</event>"),  # crossed tags
        ('value="x7"', 'value="x & y"'),  # a bare ampersand
        ('value="x7"', 'value="x < y"'),  # markup in a value
        ('value="x7"', 'value="x\x01y"'),  # a forbidden character
        ('value=" 112 "', f'value="{"r" * 65}"'),  # a resource too long
        ("</log>", ""),  # never closed
        ("</log>", "</log>\n<log>\n</log>"),  # two roots
        ('xmlns="http://www.xes-standard.org/"', 'xmlns="urn:other"'),
        ('<string key="tabbed"', '<string key="tabbed" key="again"'),  # a repeated attribute
        ("<!-- written by hand", '<!-- "--" written by hand'),  # "--" in a comment
    ],
)
def test_a_log_with_an_error_is_refused_by_the_importers_reader(
    tmp_path: Path, change: tuple[str, str]
) -> None:
    text = PLAIN.replace(*change, 1)
    assert text != PLAIN
    path = write(tmp_path, text)
    assert fast(path) is None
    with pytest.raises(LogImportError) as refused:
        log_report(path, "plain", "xes")
    with pytest.raises(LogImportError) as expected:
        read_xes(path)
    assert str(refused.value) == str(expected.value)


def test_a_compressed_log_is_read_by_its_own_magic(tmp_path: Path) -> None:
    plain = write(tmp_path, PLAIN, "plain.xes.gz")
    renamed = plain.rename(tmp_path / "renamed.xes")
    assert_same_frame(renamed)
    broken = tmp_path / "broken.xes.gz"
    broken.write_bytes(renamed.read_bytes()[:-40])
    assert fast(broken) is None
    other = tmp_path / "other.xes"
    other.write_bytes(b"\x28\xb5\x2f\xfd" + PLAIN.encode())  # zstd's magic: not a log
    assert fast(other) is None


def test_mutated_logs_read_plainly_only_as_the_importer_reads_them(tmp_path: Path) -> None:
    """Whatever single edit is made to a plain log, the plain reader either gives it back or
    makes the very frame the importer's reader makes of it."""
    alphabet = ['"', "<", ">", "/", "=", "&", " ", "\n", "!", "-", "'", "a", ":", "\t", "?"]
    rng = random.Random(20261129)
    read_plainly = 0
    for case in range(150):
        position = rng.randrange(len(PLAIN))
        edit = rng.choice(("delete", "insert", "replace"))
        char = rng.choice(alphabet)
        if edit == "delete":
            text = PLAIN[:position] + PLAIN[position + 1 :]
        elif edit == "insert":
            text = PLAIN[:position] + char + PLAIN[position:]
        else:
            text = PLAIN[:position] + char + PLAIN[position + 1 :]
        path = write(tmp_path, text, f"mutated-{case}.xes")
        frame = fast(path)
        if frame is None:
            continue
        read_plainly += 1
        try:
            expected = slow(path)
        except LogImportError as exc:
            pytest.fail(f"edit {edit} {char!r} at {position}: plain read, importer: {exc}")
        assert frame.to_dicts() == expected.to_dicts(), f"edit {edit} {char!r} at {position}"
    assert read_plainly > 20  # the edits that keep a log plain are still read plainly
