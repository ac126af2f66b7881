"""The XES reader's fast pass (expat callbacks) and its exact pass (iterparse by line) agree."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from workflow_core.importing.model import LogColumns, LogImportError, ParsedLog
from workflow_core.importing.xes import _read, read_xes

HEAD = '<?xml version="1.0" encoding="UTF-8" ?>\n'
TRACES = """\t<trace>
\t\t<string key="concept:name" value="A1"/>
\t\t<int key="AMOUNT_REQ" value="5000"/>
\t\t<string key="note" value="nested">
\t\t\t<string key="inner" value="kept out"/>
\t\t</string>
\t\t<event>
\t\t\t<string key="org:resource" value="112"/>
\t\t\t<string key="concept:name" value="A_SUBMITTED"/>
\t\t\t<string key="lifecycle:transition" value="COMPLETE"/>
\t\t\t<date key="time:timestamp" value="2011-10-01T00:38:44.546+02:00"/>
\t\t\t<float key="score" value="1.5"/>
\t\t\t<boolean key="ok" value="true"/>
\t\t\t<string key="名称" value="审批 &amp; 归档"/>
\t\t</event>
\t\t<event>
\t\t\t<string key="concept:name" value="A_ACCEPTED"/>
\t\t\t<date key="time:timestamp" value="2011-10-01T00:38:44.546+02:00"/>
\t\t\t<int key="count" value="x7"/>
\t\t</event>
\t</trace>
\t<trace>
\t\t<string key="concept:name" value="E1"/>
\t</trace>
"""


def both_passes(path: Path, columns: LogColumns | None = None) -> tuple[ParsedLog, ParsedLog]:
    opened = gzip.open if path.suffix == ".gz" else open
    results = []
    for exact in (False, True):
        with opened(path, "rb") as handle:
            results.append(_read(handle, path.name, "x", columns or LogColumns(), exact=exact))
    return results[0], results[1]


@pytest.mark.parametrize(
    "root",
    [
        '<log xes.version="1.0" xmlns="http://www.xes-standard.org/">',
        '<log xes.version="1.0">',  # no namespace
        '<x:log xmlns:x="http://www.xes-standard.org/">',  # a prefix for it
    ],
)
def test_fast_and_exact_passes_read_the_same_log(tmp_path: Path, root: str) -> None:
    closing = "</x:log>" if root.startswith("<x:") else "</log>"
    body = TRACES.replace("<trace", "<x:trace").replace("</trace", "</x:trace")
    body = body.replace("<event", "<x:event").replace("</event", "</x:event")
    traces = body if root.startswith("<x:") else TRACES
    path = tmp_path / "tiny.xes.gz"
    path.write_bytes(gzip.compress((HEAD + root + "\n" + traces + closing + "\n").encode()))
    fast, exact = both_passes(path)
    assert [(c.case_id, c.attributes, c.events) for c in fast.cases] == [
        (c.case_id, c.attributes, c.events) for c in exact.cases
    ]
    assert fast.skipped_empty_cases == exact.skipped_empty_cases == 1
    (case,) = fast.cases
    assert case.attributes == {"AMOUNT_REQ": 5000, "note": "nested"}
    first, second = case.events
    assert first.attributes == {"score": 1.5, "ok": True, "名称": "审批 & 归档"}
    assert (second.resource, second.lifecycle, second.attributes) == (
        "unknown",
        None,
        {"count": "x7"},
    )


def test_a_root_other_than_log_is_named(tmp_path: Path) -> None:
    path = tmp_path / "notlog.xes"
    path.write_text(HEAD + "<logbook>\n" + TRACES + "</logbook>\n", encoding="utf-8")
    with pytest.raises(LogImportError, match=r"line 2: not a XES log \(root element <logbook>\)"):
        read_xes(path)


def test_an_event_after_the_last_trace_names_its_line(tmp_path: Path) -> None:
    stray = '\t<event>\n\t\t<string key="concept:name" value="late"/>\n\t</event>\n'
    path = tmp_path / "late.xes"
    path.write_text(HEAD + "<log>\n" + TRACES + stray + "</log>\n", encoding="utf-8")
    line = (HEAD + "<log>\n" + TRACES).count("\n") + 1
    with pytest.raises(LogImportError, match=rf"line {line} \(event\): outside any trace"):
        read_xes(path)


def test_traces_nested_deeper_are_still_read(tmp_path: Path) -> None:
    # Not plain XES: the fast pass leaves it to the exact one, which reads every trace.
    path = tmp_path / "grouped.xes"
    path.write_text(HEAD + "<log>\n<group>\n" + TRACES + "</group>\n</log>\n", encoding="utf-8")
    log = read_xes(path)
    assert [c.case_id for c in log.cases] == ["A1"]
    assert log.event_count == 2


def test_a_repeated_case_id_names_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "twice.xes"
    path.write_text(HEAD + "<log>\n" + TRACES + TRACES + "</log>\n", encoding="utf-8")
    second = (HEAD + "<log>\n" + TRACES).count("\n") + 1
    with pytest.raises(LogImportError, match=rf"line {second} \(trace\): case id 'A1' again"):
        read_xes(path)


def test_malformed_xml_in_the_fast_pass_names_its_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.xes"
    path.write_text(HEAD + "<log>\n" + TRACES.replace("</event>", "</evnt>", 1), encoding="utf-8")
    line = (HEAD + "<log>\n" + TRACES.split("</event>")[0]).count("\n") + 1
    with pytest.raises(LogImportError, match=rf"broken\.xes: line {line}, column \d+: malformed"):
        read_xes(path)
