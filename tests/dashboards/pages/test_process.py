"""流程视图 on the small university: flows and cases per scope; case ids for leadership only."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import dash
import pytest

from dashboards.formatting import count
from dashboards.session import current_scope, warehouse
from dashboards.shell import SNAPSHOT_STORE
from tests.dashboards.components import CALLBACK, department_head, dumped, find, signed_in, text_of
from warehouse.read_api import processes

SERVICE = "enrollment_certificate"


def page(app: dash.Dash) -> ModuleType:
    # Dash executes the page module anew for every app; this app's copy is the one in use.
    assert app is not None
    return importlib.import_module("dashboards.pages.process")


def scope_tags(body: list[Any]) -> list[str]:
    """The scope label (全校 / 本单位) in each section title, in page order."""
    tags = []
    for part in body:
        if getattr(part, "className", None) != "tb-section":
            continue
        title = part.children[0]
        tags.extend(
            text_of(child)
            for child in title.children
            if "tb-scope" in str(getattr(child, "className", ""))
        )
    return tags


@pytest.fixture
def app(make_app: Callable[..., dash.Dash]) -> dash.Dash:
    return make_app(auth="header")


def render(app: dash.Dash, user: str, service: object) -> list[Any]:
    with signed_in(app, user):
        result: list[Any] = page(app).render(1, service)
    return result


def test_leadership_sees_the_flow_the_critical_path_and_the_slowest_cases(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    leader = persona_ids["leadership"][0]
    body = render(app, leader, SERVICE)
    with signed_in(app, leader), warehouse().cursor() as cursor:
        scope = current_scope()
        handoffs = processes.handoffs(cursor, scope, SERVICE)
        slowest = processes.slowest_cases(cursor, scope, SERVICE)
        listed = processes.processes(cursor, scope).filter(process_key=SERVICE)
        spread = processes.case_durations(cursor, scope, SERVICE)
    (sankey,) = find(body, page(app).SANKEY).figure.data
    (bars,) = find(body, page(app).HISTOGRAM).figure.data
    assert list(bars.y) == spread["cases"].to_list() and sum(bars.y) == listed["cases"][0]
    drawn = handoffs.filter(handoffs["handoffs"] >= scope.k)
    assert list(sankey.link.value) == drawn["handoffs"].to_list()
    assert sum(sankey.link.value) + handoffs.filter(handoffs["handoffs"] < scope.k)[
        "handoffs"
    ].sum() == (handoffs["handoffs"].sum())
    summary = text_of(find(body, page(app).SUMMARY))
    assert count(listed["cases"][0]) in summary and summary.startswith("全校")
    # Leadership's figures all count the whole university, and each says so.
    assert scope_tags(body) == ["全校"] * 4
    table = find(body, page(app).SLOWEST_TABLE)
    _, tbody = table.children.children
    ids = [row.children[1].children for row in tbody.children]
    assert ids == slowest["case_id"].to_list()
    durations = find(body, page(app).DURATIONS).figure
    assert list(durations.data[1].text) == slowest["case_id"].to_list()


def test_parallel_groups_of_few_rounds_stay_suppressed(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    leader = persona_ids["leadership"][0]
    body = render(app, leader, "activity_application")
    with signed_in(app, leader), warehouse().cursor() as cursor:
        scope = current_scope()
        critical = processes.critical_path(cursor, scope, "activity_application")
    assert critical.height > 0
    (bars,) = find(body, page(app).CRITICAL).figure.data
    expected = [
        None if rounds < scope.k else round(share * 100, 1)
        for rounds, share in critical.sort(
            ["step", "times_last", "node_key"], descending=[False, True, False]
        )
        .select("rounds", "share_last")
        .iter_rows()
    ]
    assert list(bars.x) == expected


def test_a_service_without_parallel_groups_says_so(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    body = render(app, persona_ids["leadership"][0], SERVICE)
    critical = find(body, page(app).CRITICAL).figure
    assert not critical.data and "没有会签" in critical.layout.annotations[0].text


def test_a_department_head_sees_flows_of_their_units_and_no_case_ids(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    head, scope = department_head(app, persona_ids)
    with signed_in(app, head), warehouse().cursor() as cursor:
        theirs = processes.processes(cursor, scope)
    service = str(theirs.sort("cases", descending=True, nulls_last=True)["process_key"][0])
    with signed_in(app, persona_ids["leadership"][0]), warehouse().cursor() as cursor:
        slowest = processes.slowest_cases(cursor, current_scope(), service)
    body = render(app, head, service)
    with signed_in(app, head), warehouse().cursor() as cursor:
        flows = processes.handoffs(cursor, scope, service)
    (sankey,) = find(body, page(app).SANKEY).figure.data
    assert (
        list(sankey.link.value) == flows.filter(flows["handoffs"] >= scope.k)["handoffs"].to_list()
    )
    text = dumped(body)
    for case_id in slowest["case_id"]:
        assert case_id not in text
    assert "仅对全校范围的角色显示" in find(body, page(app).SLOWEST_TABLE).children
    # Its own flows next to university-wide totals: every figure names its scope.
    assert text_of(find(body, page(app).SUMMARY)).startswith("全校")
    assert scope_tags(body) == ["本单位", "本单位", "全校", "全校"]
    assert "不限于本单位" in text_of(body)


def test_keys_outside_the_scopes_list_are_refused(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    head, scope = department_head(app, persona_ids)
    with signed_in(app, head), warehouse().cursor() as cursor:
        theirs = set(processes.processes(cursor, scope)["process_key"])
    outside = "enrollment_certificate" if "enrollment_certificate" not in theirs else "vpn"
    for user, service in (
        (head, outside),
        (persona_ids["leadership"][0], "no_such_log"),
        (persona_ids["leadership"][0], None),
        (persona_ids["leadership"][0], {"process_key": SERVICE}),
        (persona_ids["leadership"][0], "*"),
    ):
        body = render(app, user, service)
        assert [part.id for part in body] == [page(app).NOTICE], service


def body_request(service: object) -> dict[str, Any]:
    return {
        "output": "process-body.children",
        "outputs": {"id": "process-body", "property": "children"},
        "inputs": [
            {"id": SNAPSHOT_STORE, "property": "data", "value": 1},
            {"id": "process-service", "property": "value", "value": service},
        ],
        "changedPropIds": ["process-service.value"],
        "state": [],
    }


def test_crafted_requests_from_class_roles_leak_no_flow_and_no_case(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    client = app.server.test_client()
    leader = {"X-Remote-User": persona_ids["leadership"][0]}
    full = client.post(CALLBACK, json=body_request(SERVICE), headers=leader).get_data(as_text=True)
    assert "process-slowest-table" in full and "sankey" in full
    with signed_in(app, persona_ids["leadership"][0]), warehouse().cursor() as cursor:
        case_ids = processes.slowest_cases(cursor, current_scope(), SERVICE)["case_id"]
    for role in ("class_monitor", "counsellor"):
        header = {"X-Remote-User": persona_ids[role][0]}
        answer = client.post(CALLBACK, json=body_request(SERVICE), headers=header)
        assert answer.status_code == 200, role
        children = answer.get_json()["response"]["process-body"]["children"]
        assert [child["props"]["id"] for child in children] == ["process-notice"]
        text = answer.get_data(as_text=True)
        assert "sankey" not in text and not any(case in text for case in case_ids)


def test_the_body_redraws_when_a_new_snapshot_lands(app: dash.Dash) -> None:
    inputs = [
        (item["id"], item["property"])
        for key, spec in app.callback_map.items()
        if key.startswith("process-body.")
        for item in spec["inputs"]
    ]
    assert (SNAPSHOT_STORE, "data") in inputs


def test_the_layout_offers_the_services_of_the_scope(
    app: dash.Dash, persona_ids: dict[str, list[str]]
) -> None:
    head, scope = department_head(app, persona_ids)
    with signed_in(app, head):
        layout = page(app).layout()
        with warehouse().cursor() as cursor:
            theirs = processes.processes(cursor, scope)
    dropdown = find(layout, page(app).SERVICE)
    assert [option["value"] for option in dropdown.options] == theirs["process_key"].to_list()
    assert dropdown.value in set(theirs["process_key"])
