"""A broken log (bad XML, broken gzip, missing column, empty case id, bad time) names its line
and writes nothing."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.workflow_core.importing.conftest import counts, real_log
from workflow_core.importing.csv_log import read_csv
from workflow_core.importing.loader import import_log
from workflow_core.importing.model import LogColumns, LogImportError, ParsedLog
from workflow_core.importing.xes import read_xes

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

XES_HEAD = """<?xml version="1.0" encoding="UTF-8" ?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
\t<string key="concept:name" value="tiny"/>
"""
GOOD_TRACE = """\t<trace>
\t\t<string key="concept:name" value="A1"/>
\t\t<int key="AMOUNT_REQ" value="5000"/>
\t\t<event>
\t\t\t<string key="org:resource" value="112"/>
\t\t\t<string key="concept:name" value="A_SUBMITTED"/>
\t\t\t<string key="lifecycle:transition" value="COMPLETE"/>
\t\t\t<date key="time:timestamp" value="2011-10-01T00:38:44.546+02:00"/>
\t\t\t<float key="score" value="NaN"/>
\t\t</event>
\t</trace>
"""


def xes(*traces: str) -> str:
    return XES_HEAD + "".join(traces) + "</log>\n"


def csv_text(*rows: str) -> str:
    header = "case:concept:name,concept:name,time:timestamp,org:resource,org:group\n"
    return header + "".join(row + "\n" for row in rows)


GOOD_ROW = "c1,register,2024-03-01T09:00:00+08:00,r1,g1"


def refused(engine: Engine, read: object, match: str) -> None:
    """Parsing (and so importing) fails with `match`; no table gains a row."""
    before = counts(engine)
    with pytest.raises(LogImportError, match=match):
        log = read()  # type: ignore[operator]
        assert isinstance(log, ParsedLog)
        import_log(engine, log, "broken", now=NOW)
    assert counts(engine) == before


@pytest.fixture
def seeded(store_engine: Engine, tmp_path: Path) -> Engine:
    """A store that already holds one small imported log, so "nothing written" is not trivial."""
    path = tmp_path / "seed.csv"
    path.write_text(csv_text(GOOD_ROW), encoding="utf-8")
    import_log(store_engine, read_csv(path), "seed", now=NOW)
    return store_engine


def test_a_small_xes_log_reads_typed_attributes(tmp_path: Path) -> None:
    path = tmp_path / "tiny.xes"
    path.write_text(xes(GOOD_TRACE), encoding="utf-8")
    log = read_xes(path)
    (case,) = log.cases
    assert (case.case_id, case.attributes) == ("A1", {"AMOUNT_REQ": 5000})
    (event,) = case.events
    assert event.occurred_at == datetime(2011, 9, 30, 22, 38, 44, 546000, tzinfo=UTC)
    assert (event.resource, event.lifecycle, event.attributes) == (
        "112",
        "COMPLETE",
        {"score": "nan"},
    )


def test_malformed_xml_names_the_parsers_line(seeded: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.xes"
    path.write_text(xes(GOOD_TRACE, GOOD_TRACE.replace("</event>", "</evnt>")), encoding="utf-8")
    refused(seeded, lambda: read_xes(path), r"bad\.xes: line 24, column \d+: malformed XML")


def test_a_truncated_gzip_is_refused(seeded: Engine, tmp_path: Path) -> None:
    data = gzip.compress(xes(*[GOOD_TRACE] * 200).encode())
    path = tmp_path / "cut.xes.gz"
    path.write_bytes(data[: len(data) // 2])
    refused(seeded, lambda: read_xes(path), r"cut\.xes\.gz: line \d+: the gzip stream is broken")


def test_a_truncated_real_log_is_refused(seeded: Engine, tmp_path: Path) -> None:
    data = real_log("bpic2012.xes.gz").read_bytes()
    path = tmp_path / "bpic_cut.xes.gz"
    path.write_bytes(data[:200_000])
    refused(seeded, lambda: read_xes(path), r"line \d+: the gzip stream is broken or truncated")


def test_an_event_without_a_timestamp_names_its_line(seeded: Engine, tmp_path: Path) -> None:
    broken = GOOD_TRACE.replace("A1", "A2").replace("time:timestamp", "time:stamp")
    path = tmp_path / "notime.xes"
    path.write_text(xes(GOOD_TRACE, broken), encoding="utf-8")
    refused(
        seeded,
        lambda: read_xes(path),
        r"notime\.xes: line 18 \(event\): missing timestamp \(time:timestamp\)",
    )


def test_a_trace_without_a_case_id_names_its_line(seeded: Engine, tmp_path: Path) -> None:
    path = tmp_path / "noid.xes"
    path.write_text(
        xes(GOOD_TRACE, GOOD_TRACE.replace('"concept:name" value="A1"', '"x" value="1"')),
        encoding="utf-8",
    )
    refused(seeded, lambda: read_xes(path), r"noid\.xes: line 15 \(trace\): missing case id")


def test_a_bad_xes_time_names_its_line(seeded: Engine, tmp_path: Path) -> None:
    path = tmp_path / "badtime.xes"
    path.write_text(
        xes(GOOD_TRACE.replace("2011-10-01T00:38", "2011-13-01T00:38")), encoding="utf-8"
    )
    refused(seeded, lambda: read_xes(path), r"line 7 \(event\): unparsable timestamp")


def test_a_missing_csv_column_is_named(seeded: Engine, tmp_path: Path) -> None:
    path = tmp_path / "nocol.csv"
    path.write_text("case:concept:name,concept:name,org:resource\nc1,register,r1\n")
    refused(
        seeded,
        lambda: read_csv(path),
        r"nocol\.csv: line 1: missing timestamp column 'time:timestamp'",
    )
    explicit = LogColumns(resource="who", explicit=frozenset({"resource"}))
    good = tmp_path / "good.csv"
    good.write_text(csv_text(GOOD_ROW))
    refused(seeded, lambda: read_csv(good, explicit), r"missing resource column 'who'")


def test_an_empty_case_id_names_its_row(seeded: Engine, tmp_path: Path) -> None:
    path = tmp_path / "noid.csv"
    path.write_text(csv_text(GOOD_ROW, GOOD_ROW, ",check,2024-03-01T10:00:00+08:00,r1,g1"))
    refused(seeded, lambda: read_csv(path), r"noid\.csv: row 3 \(line 4\): empty case id")


def test_an_unparsable_timestamp_names_its_row(seeded: Engine, tmp_path: Path) -> None:
    path = tmp_path / "badtime.csv"
    path.write_text(csv_text(GOOD_ROW, "c1,check,yesterday at noon,r1,g1", GOOD_ROW))
    refused(
        seeded,
        lambda: read_csv(path),
        r"badtime\.csv: row 2 \(line 3\): unparsable timestamp 'yesterday at noon'",
    )


def test_a_time_without_an_offset_is_refused(seeded: Engine, tmp_path: Path) -> None:
    path = tmp_path / "naive.csv"
    path.write_text(csv_text(GOOD_ROW, "c1,check,2024-03-01T10:00:00,r1,g1"))
    refused(seeded, lambda: read_csv(path), r"row 2 \(line 3\): .* has no UTC offset")


def test_a_bad_process_key_is_refused(seeded: Engine, tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text(csv_text(GOOD_ROW))
    before = counts(seeded)
    with pytest.raises(LogImportError, match="process key 'Bad Key'"):
        import_log(seeded, read_csv(path), "Bad Key", now=NOW)
    assert counts(seeded) == before


def test_an_event_outside_a_trace_names_its_line(seeded: Engine, tmp_path: Path) -> None:
    stray = GOOD_TRACE.split("\t\t<event>", 1)[1].split("\t\t</event>", 1)[0]
    path = tmp_path / "stray.xes"
    path.write_text(xes(GOOD_TRACE, "\t<event>" + stray + "\t</event>\n"), encoding="utf-8")
    refused(seeded, lambda: read_xes(path), r"stray\.xes: line 15 \(event\): outside any trace")


def test_traces_without_events_are_skipped_and_counted(tmp_path: Path) -> None:
    empty = '\t<trace>\n\t\t<string key="concept:name" value="E1"/>\n\t</trace>\n'
    path = tmp_path / "empty.xes"
    path.write_text(xes(empty, GOOD_TRACE), encoding="utf-8")
    log = read_xes(path)
    assert [c.case_id for c in log.cases] == ["A1"] and log.skipped_empty_cases == 1
