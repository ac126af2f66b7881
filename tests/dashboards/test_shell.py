"""The frame's rules as plain functions: which sections each kind of scope opens, and what the
status line says when checks have not run, all pass, some fail, or a blocking one has paused
publication."""

from __future__ import annotations

import json
from datetime import date, datetime

from dash import html
from plotly.utils import PlotlyJSONEncoder

from dashboards.shell import SECTIONS, section_allowed, status_line
from warehouse.read_api.status import DataStatus
from warehouse.scope import Scope

ON = date(2026, 11, 2)


def allowed(scope: Scope) -> set[str]:
    return {section.key for section in SECTIONS if section_allowed(section.key, scope)}


def test_each_role_sees_only_its_sections() -> None:
    monitor = Scope("s1", ON, frozenset({"class_monitor"}), frozenset({"c1"}), personal_data=True)
    approver = Scope("t1", ON, frozenset({"department_approver"}), unit_ids=frozenset({"it"}))
    leader = Scope("t2", ON, frozenset({"leadership"}), university=True)
    data = Scope("t3", ON, frozenset({"data_staff"}), university=True)
    nobody = Scope("s2", ON)
    assert allowed(monitor) == {"registration"}
    assert allowed(approver) == {"turnaround", "process"}
    assert allowed(leader) == {"registration", "turnaround", "process"}
    assert allowed(data) == {"registration", "turnaround", "process", "quality"}
    assert allowed(nobody) == set()
    assert [s.path for s in SECTIONS][:3] == ["/registration", "/turnaround", "/process"]


def text(children: list[object]) -> str:
    return json.dumps(html.Div(children), cls=PlotlyJSONEncoder, ensure_ascii=False)


def test_the_status_line_never_fakes_a_pass() -> None:
    as_of = datetime(2026, 11, 2, 2, 0)  # naive UTC
    unchecked = DataStatus(3, as_of, as_of, checks_run=False, failing_checks=0)
    passing = DataStatus(3, as_of, as_of, checks_run=True, failing_checks=0)
    failing = DataStatus(3, as_of, as_of, checks_run=True, failing_checks=4)
    shown = json.loads(text(status_line(unchecked, "zh")))
    flat = json.dumps(shown, ensure_ascii=False)
    assert "数据截至 2026-11-02 10:00" in flat and "尚未运行数据质量检查" in flat
    assert "全部通过" in json.dumps(
        json.loads(text(status_line(passing, "zh"))), ensure_ascii=False
    )
    failing_zh = json.dumps(json.loads(text(status_line(failing, "zh"))), ensure_ascii=False)
    assert "4 项数据质量检查未通过" in failing_zh
    failing_en = json.dumps(json.loads(text(status_line(failing, "en"))), ensure_ascii=False)
    assert "4 data-quality checks failing" in failing_en and "Data as of" in failing_en
    assert "发布已暂停" not in failing_zh and "/quality" not in failing_zh


def test_the_status_line_says_plainly_when_publication_is_paused() -> None:
    as_of = datetime(2026, 11, 2, 2, 0)
    blocked = DataStatus(3, as_of, as_of, checks_run=True, failing_checks=4, blocking_failures=2)
    assert blocked.publication_blocked
    zh = json.dumps(json.loads(text(status_line(blocked, "zh"))), ensure_ascii=False)
    assert "4 项数据质量检查未通过" in zh and "发布已暂停：2 项阻断检查未通过" in zh
    assert "快照 #3" in zh  # the snapshot the figures still rest on
    en = json.dumps(json.loads(text(status_line(blocked, "en"))), ensure_ascii=False)
    assert "Publication paused: 2 blocking checks failing" in en
    # Data staff can follow the count to the data-quality page; others only read it.
    linked = json.loads(text(status_line(blocked, "zh", link=True)))
    assert '"href": "/quality"' in json.dumps(linked, ensure_ascii=False)
