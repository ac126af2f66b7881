"""数据质量 over the small university's snapshot and a quality report of three runs (clean, a
warning, blocked): data staff see what the read API says, everybody else sees only the count in
the status line, and crafted requests get no details."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import dash
import flask
import pytest

from dashboards.app import DashboardConfigError, create_app
from dashboards.formatting import count, duration, shanghai
from dashboards.session import SESSION_LANGUAGE, current_scope, quality_report, warehouse
from dashboards.shell import POLL, QUALITY_STORE, SNAPSHOT_STORE, STATUS
from tests.dashboards.components import CALLBACK, department_head, dumped, find, signed_in, text_of
from tests.dashboards.conftest import config_for
from tests.warehouse.conftest import AS_OF, BuiltUniversity
from tests.warehouse.quality_report import (
    DECISION_AFTER_TASK,
    EARLY_DECISIONS,
    MEMBERSHIP_OVERLAP,
    OVERLAPS,
    RATE_IN_RANGE,
    QualityWork,
    warning_then_blocked,
)
from warehouse.paths import WarehousePaths
from warehouse.read_api import quality as reads

AT = AS_OF + timedelta(hours=3)  # the blocked run: after the snapshot the pages show
DAGSTER = "http://dagster.test:3000"
OTHERS = ("leadership", "counsellor", "class_monitor", "department_approver")


def page(app: dash.Dash) -> ModuleType:
    # Dash executes the page module anew for every app; this app's copy is the one in use.
    assert app is not None
    return importlib.import_module("dashboards.pages.quality")


def beside(university: BuiltUniversity, root: Path) -> WarehousePaths:
    """A warehouse root that reads the shared university's snapshots and has a quality report
    of its own (the shared university must keep none: other tests read "not checked")."""
    paths = WarehousePaths(root)
    root.mkdir(parents=True)
    paths.published_dir.symlink_to(university.paths.published_dir, target_is_directory=True)
    return paths


@pytest.fixture
def paths(small_university: BuiltUniversity, tmp_path: Path) -> WarehousePaths:
    paths = beside(small_university, tmp_path / "warehouse")
    warning_then_blocked(paths, tmp_path / "quality-work.duckdb", AT)
    return paths


@pytest.fixture
def app(make_app: Callable[..., dash.Dash], paths: WarehousePaths) -> dash.Dash:
    return make_app(auth="header", warehouse=paths, dagster_url=DAGSTER)


def overview(app: dash.Dash, user: str, chosen: object = None) -> tuple[Any, ...]:
    with signed_in(app, user):
        return tuple(page(app).overview(1, 1, chosen))


def detail(app: dash.Dash, user: str, check: object, click: object = None) -> tuple[Any, Any]:
    with signed_in(app, user):
        figure, parts = page(app).detail(check, 1, click)
    return figure, parts


def rows_of(table: Any) -> list[Any]:
    """The body rows of a page table (html.Div > html.Table > [Thead, Tbody])."""
    _, tbody = table.children.children
    return list(tbody.children)


def test_data_staff_see_every_checks_latest_result_as_the_read_api_gives_it(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    staff = persona_ids["data_staff"][0]
    summary, runs, options, value = overview(app, staff)
    with signed_in(app, staff), quality_report().cursor() as cursor:
        scope = current_scope()
        status = reads.check_status(cursor, scope)
        assets = reads.asset_summary(cursor, scope)
        expected_runs = reads.runs(cursor, scope)
    rows = rows_of(find(summary, page(app).STATUS_TABLE))
    groups = [row for row in rows if "tb-group" in row.className]
    checks = [row for row in rows if "tb-check" in row.className]
    assert len(groups) == assets.height and len(checks) == status.height
    assert [text_of(group).split("数据源")[0].split("模型")[0] for group in groups] == [
        "业务系统 · raw_business",
        "事件库 · raw_events",
        "mart_registration__progress",
    ]
    for row, expected in zip(checks, status.iter_rows(named=True), strict=True):
        cells = [text_of(cell) for cell in row.children]
        assert cells[1] == expected["check_name"]
        assert cells[0].endswith(
            {"pass": "通过", "warn": "警告", "fail": "未通过"}[expected["status"]]
        )
        assert cells[5] == count(expected["unexpected_count"])
        assert cells[6] == count(expected["element_count"])
        assert cells[8] == shanghai(expected["evaluated_at"], "zh")
        link = row.children[9].children
        assert link.href == f"{DAGSTER}/runs/{expected['run_id']}"
        assert row.children[1].children.href == f"/quality?check={expected['check_name']}"
    # The picker offers failing checks first and opens on the blocking failure.
    assert value == DECISION_AFTER_TASK
    assert [option["value"] for option in options][:2] == [DECISION_AFTER_TASK, MEMBERSHIP_OVERLAP]
    shown_runs = rows_of(find(runs, page(app).RUNS_TABLE))
    assert [text_of(row.children[1]) for row in shown_runs] == ["已阻断", "已发布 #2", "已发布 #1"]
    assert len(shown_runs) == expected_runs.height


def test_a_blocked_report_says_which_checks_since_when_and_what_is_still_shown(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    summary, *_ = overview(app, persona_ids["data_staff"][0])
    banner = find(summary, page(app).BANNER)
    snapshot = warehouse_snapshot(app, persona_ids["data_staff"][0])
    text = text_of(banner)
    assert "发布已暂停：1 项阻断检查未通过" in text
    assert DECISION_AFTER_TASK in text and MEMBERSHIP_OVERLAP not in text
    assert f"自 {shanghai(AT, 'zh')} 起" in text
    assert f"快照 #{snapshot.number}（数据截至 {shanghai(snapshot.as_of, 'zh')}）" in text


def warehouse_snapshot(app: dash.Dash, user: str) -> Any:
    with signed_in(app, user):
        return warehouse().snapshot()


def test_no_banner_while_only_warnings_fail(
    make_app: Callable[..., dash.Dash],
    small_university: BuiltUniversity,
    tmp_path: Path,
    persona_ids: dict[str, list[str]],
) -> None:
    paths = beside(small_university, tmp_path / "warehouse")
    warning_then_blocked(paths, tmp_path / "work.duckdb", AT, blocked=False)
    app = make_app(auth="header", warehouse=paths)
    summary, _, _, value = overview(app, persona_ids["data_staff"][0])
    assert find(summary, page(app).BANNER) is None
    assert value == MEMBERSHIP_OVERLAP  # the warning is what there is to look at


def test_freshness_ages_every_source_and_the_snapshot(
    app: dash.Dash, persona_ids: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = AT + timedelta(hours=1)
    monkeypatch.setattr(page(app), "utc_now", lambda: now)
    staff = persona_ids["data_staff"][0]
    summary, *_ = overview(app, staff)
    rows = {
        text_of(row.children[0]): [text_of(cell) for cell in row.children]
        for row in rows_of(find(summary, page(app).FRESHNESS_TABLE))
    }
    snapshot = warehouse_snapshot(app, staff)
    events, business = rows["事件库 · events"], rows["业务系统 · business"]
    assert events[2] == "1小时3分钟" == duration(3600 + 180, "zh")  # the newest event
    assert events[4] == "1小时"  # loaded by the blocked run
    assert business[4] == "6小时" and business[2] == "—"
    own = rows[f"已发布快照 #{snapshot.number}"]
    assert "发布快照 · snapshot" not in rows  # the pages' own snapshot, not the report's note
    assert own[1] == shanghai(snapshot.as_of, "zh")
    assert own[2] == duration((now - snapshot.as_of).total_seconds(), "zh")
    assert own[4] == duration((now - snapshot.published_at).total_seconds(), "zh")


def test_a_warning_shows_its_failing_rows_with_their_keys(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    staff = persona_ids["data_staff"][0]
    figure, parts = detail(app, staff, MEMBERSHIP_OVERLAP)
    with signed_in(app, staff), quality_report().cursor() as cursor:
        trend = reads.trend(cursor, current_scope(), MEMBERSHIP_OVERLAP)
    assert list(figure.data[0].y) == trend["unexpected_count"].to_list() == [0, 2, 2]
    table = find(parts, page(app).SAMPLE_TABLE).children
    head, body = table.children
    assert [text_of(cell) for cell in head.children.children][:3] == [
        "student_id（键）",
        "class_id（键）",
        "valid_from（键）",
    ]
    shown = [[text_of(cell) for cell in row.children] for row in body.children]
    assert shown == [list(row.values()) for row in OVERLAPS]
    shown = text_of(parts)
    assert "运行 run-3" in shown and "的结果：! 警告" in shown and "✗" not in shown

    assert '观测值：{"unexpected": 2}' in text_of(parts)

    # A click on the first run's point shows that run's result: it passed, no rows.
    first = {"points": [{"customdata": ["run-1", 2400, MEMBERSHIP_OVERLAP]}]}
    _, clean = detail(app, staff, MEMBERSHIP_OVERLAP, first)
    assert "运行 run-1" in text_of(clean) and "没有失败样本" in text_of(clean)
    # A click left over from another check's trend is not this check's run.
    _, blocking = detail(app, staff, DECISION_AFTER_TASK, first)
    rows = find(blocking, page(app).SAMPLE_TABLE).children.children[1].children
    assert [[text_of(c) for c in row.children] for row in rows] == [
        list(row.values()) for row in EARLY_DECISIONS
    ]
    # A run the trend does not hold falls back to the latest result.
    forged = {"points": [{"customdata": ["run-404", 1, MEMBERSHIP_OVERLAP]}]}
    _, latest = detail(app, staff, MEMBERSHIP_OVERLAP, forged)
    assert "运行 run-3" in text_of(latest)


@pytest.mark.parametrize("check", ["no_such_check", "' or 1=1 --", ["x"], {"check": 1}])
def test_an_unknown_check_gets_a_note_and_no_rows(
    app: dash.Dash, persona_ids: dict[str, list[str]], check: object
) -> None:
    figure, parts = detail(app, persona_ids["data_staff"][0], check)
    assert [part.id for part in parts] == [page(app).NOTICE]
    assert not figure.data
    _, _, _, value = overview(app, persona_ids["data_staff"][0], check)
    assert value == DECISION_AFTER_TASK


def test_the_check_in_the_address_is_opened_unless_another_is_picked(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    staff = persona_ids["data_staff"][0]
    with signed_in(app, staff):
        assert page(app).overview(1, 1, None, MEMBERSHIP_OVERLAP)[3] == MEMBERSHIP_OVERLAP
        # The picked check stays picked (the picker is not set again, so no second trend).
        assert page(app).overview(1, 1, RATE_IN_RANGE, MEMBERSHIP_OVERLAP)[3] is dash.no_update
        assert page(app).overview(1, 1, None, "no_such_check")[3] == DECISION_AFTER_TASK


def test_everybody_but_data_staff_is_refused_the_page_and_its_callbacks(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    users = [persona_ids[role][0] for role in OTHERS] + [department_head(app, persona_ids)[0]]
    for user in users:
        summary, runs, options, value = overview(app, user)
        assert [part.id for part in summary] == [page(app).NOTICE], user
        assert (runs, options, value) == ([], [], None)
        figure, parts = detail(app, user, MEMBERSHIP_OVERLAP)
        assert [part.id for part in parts] == [page(app).NOTICE] and not figure.data
        with signed_in(app, user):
            layout = page(app).layout()
        assert "无访问权限" in dumped(layout), user


def callback_request(output: str, inputs: list[dict[str, Any]], state: Any = ()) -> dict[str, Any]:
    """What the browser sends for one of the page's callbacks (or a forger sends instead)."""
    outputs = [dict(zip(("id", "property"), item.split("."), strict=True)) for item in output]
    return {
        "output": f"..{'...'.join(output)}.." if len(output) > 1 else output[0],
        "outputs": outputs if len(output) > 1 else outputs[0],
        "inputs": inputs,
        "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"],
        "state": list(state),
    }


def detail_request(check: object) -> dict[str, Any]:
    return callback_request(
        ["quality-trend.figure", "quality-sample.children"],
        [
            {"id": "quality-check", "property": "value", "value": check},
            {"id": QUALITY_STORE, "property": "data", "value": 1},
            {"id": "quality-trend", "property": "clickData", "value": None},
        ],
    )


def overview_request() -> dict[str, Any]:
    return callback_request(
        [
            "quality-summary.children",
            "quality-runs.children",
            "quality-check.options",
            "quality-check.value",
        ],
        [
            {"id": SNAPSHOT_STORE, "property": "data", "value": 1},
            {"id": QUALITY_STORE, "property": "data", "value": 1},
        ],
        [
            {"id": "quality-check", "property": "value", "value": MEMBERSHIP_OVERLAP},
            {"id": "quality-requested", "property": "data", "value": None},
        ],
    )


def test_crafted_requests_without_the_data_staff_role_read_no_details(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    client = app.server.test_client()
    staff = {"X-Remote-User": persona_ids["data_staff"][0]}
    full = client.post(CALLBACK, json=detail_request(MEMBERSHIP_OVERLAP), headers=staff)
    assert full.status_code == 200, full.get_data(as_text=True)
    assert OVERLAPS[0]["student_id"] in full.get_data(as_text=True)
    whole = client.post(CALLBACK, json=overview_request(), headers=staff)
    assert whole.status_code == 200 and DECISION_AFTER_TASK in whole.get_data(as_text=True)
    secrets = [str(OVERLAPS[0]["student_id"]), DECISION_AFTER_TASK, MEMBERSHIP_OVERLAP, "run-3"]
    for role in OTHERS:
        header = {"X-Remote-User": persona_ids[role][0]}
        for request in (detail_request(MEMBERSHIP_OVERLAP), overview_request()):
            answer = client.post(CALLBACK, json=request, headers=header)
            assert answer.status_code == 200, role
            text = answer.get_data(as_text=True)
            assert "quality-notice" in text, role
            leaked = [secret for secret in secrets if secret in text]
            assert not leaked, (role, leaked)


def poll_request(known: int | None, known_report: int | None) -> dict[str, Any]:
    return callback_request(
        [f"{SNAPSHOT_STORE}.data", f"{QUALITY_STORE}.data", f"{STATUS}.children"],
        [{"id": POLL, "property": "n_intervals", "value": 1}],
        [
            {"id": SNAPSHOT_STORE, "property": "data", "value": known},
            {"id": QUALITY_STORE, "property": "data", "value": known_report},
        ],
    )


def test_a_new_report_redraws_the_page_while_the_snapshot_stays(
    app: dash.Dash, paths: WarehousePaths, tmp_path: Path, persona_ids: dict[str, list[str]]
) -> None:
    inputs = {
        (item["id"], item["property"])
        for key, spec in app.callback_map.items()
        if key.startswith(("..quality-summary.", "..quality-trend.", "quality-summary."))
        for item in spec["inputs"]
    }
    assert (QUALITY_STORE, "data") in inputs and (SNAPSHOT_STORE, "data") in inputs
    client = app.server.test_client()
    counsellor = {"X-Remote-User": persona_ids["counsellor"][0]}
    number = warehouse_snapshot(app, persona_ids["counsellor"][0]).number
    assert (
        client.post(CALLBACK, json=poll_request(number, 1), headers=counsellor).status_code == 204
    )

    # The blocking check is fixed: a new report, and still no new warehouse snapshot.
    work = QualityWork(tmp_path / "quality-work.duckdb")
    work.evaluate("run-4", AT + timedelta(minutes=5), "published", snapshot_number=3)
    work.publish(paths, AT + timedelta(minutes=5))
    work.close()
    answer = client.post(CALLBACK, json=poll_request(number, 1), headers=counsellor)
    assert answer.status_code == 200
    response = answer.get_json()["response"]
    assert response[QUALITY_STORE]["data"] == 2
    assert SNAPSHOT_STORE not in response  # the other pages are not redrawn
    text = json.dumps(response[STATUS], ensure_ascii=False)
    assert "数据质量检查全部通过" in text and "发布已暂停" not in text


def test_every_reader_sees_the_count_and_the_pause_but_only_data_staff_get_the_link(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    client = app.server.test_client()
    for role in (*OTHERS, "data_staff"):
        header = {"X-Remote-User": persona_ids[role][0]}
        layout = client.get("/_dash-layout", headers=header)
        text = json.dumps(layout.get_json(), ensure_ascii=False)
        assert "2 项数据质量检查未通过" in text, role
        assert "发布已暂停：1 项阻断检查未通过" in text, role
        assert ('"href": "/quality"' in text) == (role == "data_staff"), role
        assert DECISION_AFTER_TASK not in text, role


def test_without_a_report_the_page_and_the_status_line_say_nothing_was_checked(
    make_app: Callable[..., dash.Dash],
    small_university: BuiltUniversity,
    tmp_path: Path,
    persona_ids: dict[str, list[str]],
) -> None:
    app = make_app(auth="header", warehouse=beside(small_university, tmp_path / "warehouse"))
    staff = persona_ids["data_staff"][0]
    summary, runs, options, value = overview(app, staff)
    assert "尚未发布数据质量报告" in text_of(summary)
    assert (runs, options, value) == ([], [], None)
    _, parts = detail(app, staff, MEMBERSHIP_OVERLAP)
    assert "尚未发布数据质量报告" in text_of(parts)
    layout = app.server.test_client().get("/_dash-layout", headers={"X-Remote-User": staff})
    assert "尚未运行数据质量检查" in json.dumps(layout.get_json(), ensure_ascii=False)


def test_the_page_speaks_english_when_asked(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    staff = persona_ids["data_staff"][0]
    with signed_in(app, staff):
        flask.session[SESSION_LANGUAGE] = "en"
        summary, runs, _, _ = page(app).overview(1, 1, None)
        _, parts = page(app).detail(MEMBERSHIP_OVERLAP, 1, None)
        layout = page(app).layout(check=MEMBERSHIP_OVERLAP)
    text = dumped([summary, runs, parts, layout])
    assert "Latest result of every check" in text and "Publication paused" in text
    assert "student_id (key)" in text and "Recent runs" in text
    assert "各项检查" not in text
    assert find(layout, page(app).REQUESTED).data == MEMBERSHIP_OVERLAP


@pytest.mark.parametrize("url", ["javascript:alert(1)", "dagster:3000", ""])
def test_a_dagster_address_that_is_not_http_is_refused_before_serving(
    small_university: BuiltUniversity, url: str
) -> None:
    # It becomes the href of every run link: nothing but http(s) may get there.
    with pytest.raises(DashboardConfigError, match="Dagster"):
        create_app(config_for(small_university, dagster_url=url))


def test_a_long_observed_value_is_clipped(app: dash.Dash) -> None:
    clipped = page(app)._clipped('["' + "column, " * 100 + '"]')
    assert len(clipped) == page(app).OBSERVED_CHARS and clipped.endswith("…")
    assert page(app)._clipped('{"unexpected": 2}') == '{"unexpected": 2}'
