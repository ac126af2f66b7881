"""办理效能 on the small university: the warehouse's numbers per scope; bad input refused."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import dash
import flask
import pytest

from dashboards.formatting import SUPPRESSED, count, percent
from dashboards.session import SESSION_LANGUAGE, current_scope, warehouse
from dashboards.shell import SNAPSHOT_STORE
from tests.dashboards.components import CALLBACK, department_head, dumped, find, signed_in
from warehouse.read_api import processes, turnaround


def page(app: dash.Dash) -> ModuleType:
    # Dash executes the page module anew for every app; this app's copy is the one in use.
    assert app is not None
    return importlib.import_module("dashboards.pages.turnaround")


def rows_of(table: Any) -> list[list[str]]:
    """The body cells of a page table (html.Div > html.Table > [Thead, Tbody])."""
    _, tbody = table.children.children
    return [[cell.children for cell in row.children] for row in tbody.children]


@pytest.fixture
def app(make_app: Callable[..., dash.Dash]) -> dash.Dash:
    return make_app(auth="header")


def render(app: dash.Dash, user: str, service: object = "*", **inputs: object) -> list[Any]:
    values: dict[str, object] = {"clock": "working", "start": None, "end": None, **inputs}
    with signed_in(app, user):
        result: list[Any] = page(app).render(
            1, service, values["clock"], values["start"], values["end"]
        )
    return result


def test_leadership_sees_every_service_with_the_warehouses_numbers(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    leader = persona_ids["leadership"][0]
    body = render(app, leader)
    with signed_in(app, leader), warehouse().cursor() as cursor:
        scope = current_scope()
        services = turnaround.services(cursor, scope)
        departments = turnaround.departments(cursor, scope)
        weekly = turnaround.services(cursor, scope, grain="week")
    shown = {row[0]: row for row in rows_of(find(body, page(app).SERVICES_TABLE))}
    assert len(shown) == services.height
    for row in services.iter_rows(named=True):
        cells = shown[row["process_name_zh"]]
        assert cells[1] == count(row["submitted"])
        assert cells[3] == count(row["finished"])  # the sample size, shown even when small
        expected = SUPPRESSED if row["is_small_sample"] else percent(row["completion_rate"])
        assert cells[2] == expected
    by_department = rows_of(find(body, page(app).DEPARTMENTS_TABLE))
    assert sorted(cells[1] for cells in by_department) == sorted(
        count(value) for value in departments["decided"]
    )
    ranking = rows_of(find(body, page(app).RANKING_TABLE))
    small = departments.filter("is_small_sample").height
    assert sum(1 for cells in ranking if cells[0] == SUPPRESSED) == small
    assert [cells[0] for cells in ranking[:3]] == ["1", "2", "3"]
    # All services: the weekly bars are the summed volume the warehouse counts.
    trend = find(body, page(app).TREND).figure
    assert sum(trend.data[0].y) == weekly["submitted"].sum()
    assert find(body, page(app).NODES) is not None and find(body, page(app).AGEING) is not None
    signals = rows_of(find(body, page(app).SIGNALS_TABLE))
    assert {cells[0] for cells in signals} <= set(departments["department_name_zh"])


def test_one_service_draws_its_weekly_turnaround_and_its_nodes(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    leader = persona_ids["leadership"][0]
    body = render(app, leader, "enrollment_certificate", clock="wall")
    with signed_in(app, leader), warehouse().cursor() as cursor:
        scope = current_scope()
        weekly = turnaround.services(cursor, scope, grain="week").filter(
            process_key="enrollment_certificate"
        )
        nodes = turnaround.nodes(cursor, scope, process_key="enrollment_certificate")
    bars, median, _ = find(body, page(app).TREND).figure.data
    assert list(bars.y) == weekly["submitted"].to_list()
    expected = [
        None if small else round(value / 3600, 2)
        for value, small in weekly.select("turnaround_median_s", "is_small_sample").iter_rows()
    ]
    assert list(median.y) == expected
    wait, _ = find(body, page(app).NODES).figure.data
    assert len(wait.y) == nodes.height
    # Signals are not per service; their departments are still named, not shown as ids.
    with signed_in(app, leader), warehouse().cursor() as cursor:
        named = set(turnaround.departments(cursor, current_scope())["department_name_zh"])
    signals = rows_of(find(body, page(app).SIGNALS_TABLE))
    assert signals and {cells[0] for cells in signals} <= named


def test_a_department_head_sees_only_their_own_departments(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    head, scope = department_head(app, persona_ids)
    body = render(app, head)
    with signed_in(app, persona_ids["leadership"][0]), warehouse().cursor() as cursor:
        everyone = turnaround.departments(cursor, current_scope())
    with signed_in(app, head), warehouse().cursor() as cursor:
        own = turnaround.departments(cursor, scope)
    assert find(body, page(app).RANKING_TABLE) is None  # a ranking is leadership's view
    shown = rows_of(find(body, page(app).DEPARTMENTS_TABLE))
    assert [cells[1] for cells in shown] == [count(v) for v in own.sort("decided")["decided"][::-1]]
    text = dumped(body)
    others = everyone.filter(~everyone["department_id"].is_in(sorted(scope.unit_ids)))
    for name in others["department_name_zh"].drop_nulls():
        assert name not in text, name
    assert "办结率" not in text  # service-wide completion is for university-wide scopes


@pytest.mark.parametrize(
    ("service", "inputs", "message"),
    [
        ("no_such_service", {}, "不允许的请求"),
        ("' or 1=1 --", {}, "不允许的请求"),
        (["enrollment_certificate"], {}, "不允许的请求"),
        ("*", {"clock": "year"}, "不允许的请求"),
        ("*", {"start": "2026-10-01", "end": "2026-09-01"}, "时间范围无效"),
        ("*", {"start": "yesterday"}, "时间范围无效"),
        ("*", {"start": "1066-10-14"}, "时间范围无效"),
    ],
)
def test_invalid_inputs_get_a_refusal_and_no_rows(
    app: dash.Dash,
    persona_ids: dict[str, list[str]],
    service: object,
    inputs: dict[str, object],
    message: str,
) -> None:
    body = render(app, persona_ids["leadership"][0], service, **inputs)
    assert len(body) == 1 and message in body[0].children
    assert body[0].id == page(app).NOTICE


def test_a_department_head_cannot_ask_for_another_departments_service(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    head, scope = department_head(app, persona_ids)
    with signed_in(app, head), warehouse().cursor() as cursor:
        theirs = set(processes.processes(cursor, scope)["process_key"])
    with signed_in(app, persona_ids["leadership"][0]), warehouse().cursor() as cursor:
        every = set(processes.processes(cursor, current_scope())["process_key"])
    outside = sorted(every - theirs)
    assert outside
    body = render(app, head, outside[0])
    assert [part.id for part in body] == [page(app).NOTICE]


def body_request(service: object, clock: object = "working") -> dict[str, Any]:
    """What the browser sends when the page's inputs change (or a forger sends instead)."""
    return {
        "output": "turnaround-body.children",
        "outputs": {"id": "turnaround-body", "property": "children"},
        "inputs": [
            {"id": SNAPSHOT_STORE, "property": "data", "value": 1},
            {"id": "turnaround-service", "property": "value", "value": service},
            {"id": "turnaround-clock", "property": "value", "value": clock},
            {"id": "turnaround-period", "property": "start_date", "value": None},
            {"id": "turnaround-period", "property": "end_date", "value": None},
        ],
        "changedPropIds": ["turnaround-service.value"],
        "state": [],
    }


def test_crafted_requests_from_class_roles_leak_nothing(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    client = app.server.test_client()
    leader = {"X-Remote-User": persona_ids["leadership"][0]}
    full = client.post(CALLBACK, json=body_request("*"), headers=leader)
    assert full.status_code == 200
    assert "turnaround-services-table" in full.get_data(as_text=True)
    for role in ("class_monitor", "counsellor"):
        header = {"X-Remote-User": persona_ids[role][0]}
        for service in ("*", "enrollment_certificate"):
            answer = client.post(CALLBACK, json=body_request(service), headers=header)
            assert answer.status_code == 200, role
            text = answer.get_data(as_text=True)
            children = answer.get_json()["response"]["turnaround-body"]["children"]
            assert [child["props"]["id"] for child in children] == ["turnaround-notice"]
            assert "table" not in text.lower() and "figure" not in text, role
        # The page itself is refused too, the same way a typed-in URL is.
        layout = client.post(
            CALLBACK,
            json={
                "output": ".._pages_content.children..._pages_store.data..",
                "outputs": [
                    {"id": "_pages_content", "property": "children"},
                    {"id": "_pages_store", "property": "data"},
                ],
                "inputs": [
                    {"id": "_pages_location", "property": "pathname", "value": "/turnaround"},
                    {"id": "_pages_location", "property": "search", "value": ""},
                ],
                "changedPropIds": ["_pages_location.pathname"],
                "state": [],
            },
            headers=header,
        )
        assert "无访问权限" in json.dumps(layout.get_json(), ensure_ascii=False), role


def test_the_body_redraws_when_a_new_snapshot_lands(app: dash.Dash) -> None:
    inputs = [
        (item["id"], item["property"])
        for key, spec in app.callback_map.items()
        if key.startswith("turnaround-body.")
        for item in spec["inputs"]
    ]
    assert (SNAPSHOT_STORE, "data") in inputs


def test_a_period_without_weeks_says_no_data(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    body = render(
        app,
        persona_ids["leadership"][0],
        "enrollment_certificate",
        start="2001-01-01",
        end="2001-02-01",
    )
    trend = find(body, page(app).TREND).figure
    assert not trend.data and trend.layout.annotations[0].text == "暂无数据"


def test_the_layout_offers_the_scopes_services_and_speaks_english_when_asked(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    head, scope = department_head(app, persona_ids)
    with signed_in(app, head):
        layout = page(app).layout()
        with warehouse().cursor() as cursor:
            theirs = processes.processes(cursor, scope).filter(origin="native")
    dropdown = find(layout, page(app).SERVICE)
    assert [option["value"] for option in dropdown.options] == [
        "*",
        *theirs["process_key"].to_list(),
    ]
    with signed_in(app, head):
        flask.session[SESSION_LANGUAGE] = "en"
        english = page(app).render(1, "*", "wall", None, None)
    text = dumped(english)
    assert "Per department" in text and "Sample (decided)" in text
    assert "各部门" not in text


def approver_names(app: dash.Dash, leader: str) -> set[str]:
    """Every approver's name in the warehouse (people who decided a task)."""
    with signed_in(app, leader), warehouse().cursor() as cursor:
        rows = cursor.execute(
            """
            select distinct people.person_name
            from mart_approver__signals as signals
            join dim_people as people on people.person_id = signals.approver_id
            where people.person_name is not null
            """
        ).fetchall()
    return {str(name) for (name,) in rows}


@pytest.mark.parametrize("who", ["leadership", "department_head"])
def test_no_approver_is_named_on_the_turnaround_page(
    app: dash.Dash, persona_ids: dict[str, list[str]], who: str
) -> None:
    leader = persona_ids["leadership"][0]
    names = approver_names(app, leader)
    assert names  # the small university's approvers have names to leak
    user = leader if who == "leadership" else department_head(app, persona_ids)[0]
    if who == "department_head":
        # The read API does name this scope's approvers: the page must not pass them on.
        with signed_in(app, user), warehouse().cursor() as cursor:
            own = turnaround.approver_signals(cursor, current_scope())
        assert own["approver_name"].drop_nulls().len() > 0
    client = app.server.test_client()
    texts = []
    for service in ("*", "enrollment_certificate"):
        answer = client.post(CALLBACK, json=body_request(service), headers={"X-Remote-User": user})
        assert answer.status_code == 200
        texts.append(json.dumps(answer.get_json(), ensure_ascii=False))
    for lang in ("zh", "en"):
        with signed_in(app, user):
            flask.session[SESSION_LANGUAGE] = lang
            texts.append(dumped(page(app).render(1, "*", "working", None, None)))
            texts.append(dumped(page(app).layout()))
    text = "\n".join(texts)
    assert "turnaround-signals-table" in text
    leaked = sorted(name for name in names if name in text)
    assert not leaked, leaked
