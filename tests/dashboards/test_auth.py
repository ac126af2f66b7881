"""Signing in and out of the dashboards: the SSO header (with and without it), the demo's persona
login (only in demo mode), logout, the no-access page, and callbacks refused to anybody unsigned
or without a role — never data."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import dash
import pytest
from flask.testing import FlaskClient

from dashboards.app import DashboardConfigError
from dashboards.shell import POLL, QUALITY_STORE, SNAPSHOT_STORE, STATUS
from tests.dashboards.conftest import config_for
from tests.warehouse.conftest import BuiltUniversity

CALLBACK = "/_dash-update-component"


def poll_request(known: int | None, known_report: int | None = None) -> dict[str, Any]:
    """The request the browser sends when the shell's interval fires."""
    return {
        "output": f"..{SNAPSHOT_STORE}.data...{QUALITY_STORE}.data...{STATUS}.children..",
        "outputs": [
            {"id": SNAPSHOT_STORE, "property": "data"},
            {"id": QUALITY_STORE, "property": "data"},
            {"id": STATUS, "property": "children"},
        ],
        "inputs": [{"id": POLL, "property": "n_intervals", "value": 1}],
        "changedPropIds": [f"{POLL}.n_intervals"],
        "state": [
            {"id": SNAPSHOT_STORE, "property": "data", "value": known},
            {"id": QUALITY_STORE, "property": "data", "value": known_report},
        ],
    }


def page_request(pathname: str) -> dict[str, Any]:
    """The request Dash's page router sends when the browser opens `pathname`."""
    return {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": pathname},
            {"id": "_pages_location", "property": "search", "value": ""},
        ],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }


def layout_text(client: FlaskClient, **headers: str) -> str:
    response = client.get("/_dash-layout", headers=headers)
    assert response.status_code == 200
    return json.dumps(response.get_json(), ensure_ascii=False)


def test_header_mode_trusts_the_sso_header_on_every_request(
    make_app: Callable[..., dash.Dash], persona_ids: dict[str, list[str]]
) -> None:
    client = make_app(auth="header").server.test_client()
    counsellor = {"X-Remote-User": persona_ids["counsellor"][0]}

    page = client.get("/", headers=counsellor)
    assert page.status_code == 200
    assert b"_dash-renderer" in page.data
    text = layout_text(client, **counsellor)
    assert "数据截至 2026-11-02 10:00" in text
    assert "尚未运行数据质量检查" in text  # no checks published yet: said, not faked
    assert persona_ids["counsellor"][0] in text
    assert "退出登录" in text

    answer = client.post(CALLBACK, json=poll_request(None), headers=counsellor)
    assert answer.status_code == 200
    assert "数据截至" in json.dumps(answer.get_json(), ensure_ascii=False)
    same = client.post(
        CALLBACK,
        json=poll_request(answer.get_json()["response"][SNAPSHOT_STORE]["data"]),
        headers=counsellor,
    )
    assert same.status_code == 204  # same snapshot: pages are not redrawn

    # Without the header the earlier session is nobody's: the proxy always sets it.
    assert client.get("/").status_code == 401
    assert client.post(CALLBACK, json=poll_request(None)).status_code == 401
    assert "数据截至" not in layout_text(client)


def test_header_mode_refuses_a_header_that_is_not_a_user_id(
    make_app: Callable[..., dash.Dash],
) -> None:
    client = make_app(auth="header").server.test_client()
    for forged in ("<script>alert(1)</script>", "a b", "", "x" * 80):
        assert client.get("/", headers={"X-Remote-User": forged}).status_code == 401
        assert client.post(CALLBACK, json=poll_request(None)).status_code == 401


def test_dev_mode_lists_the_personas_and_signs_in_as_one(
    make_app: Callable[..., dash.Dash], persona_ids: dict[str, list[str]]
) -> None:
    client = make_app(auth="dev", demo=True).server.test_client()
    first = client.get("/registration")
    assert first.status_code == 302 and first.headers["Location"] == "/login"
    assert client.get("/login").status_code == 200
    login = layout_text(client)
    assert "演示模式" in login and "辅导员" in login
    for role in ("counsellor", "class_monitor", "leadership"):
        assert persona_ids[role][0] in login
    # Only listed personas: an id typed into the form is refused.
    refused = client.post("/auth/login", data={"user_id": "S0000000"})
    assert refused.status_code == 403
    # The SSO header means nothing in dev mode.
    header = {"X-Remote-User": persona_ids["leadership"][0]}
    assert client.post(CALLBACK, json=poll_request(None), headers=header).status_code == 401

    signed_in = client.post("/auth/login", data={"user_id": persona_ids["counsellor"][0]})
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert "数据截至" in layout_text(client)
    assert client.post(CALLBACK, json=poll_request(None)).status_code == 200

    out = client.get("/auth/logout")
    assert out.status_code == 302 and out.headers["Location"] == "/login"
    assert client.post(CALLBACK, json=poll_request(None)).status_code == 401
    assert client.get("/").status_code == 302


def test_dev_mode_is_refused_outside_demo_mode(
    small_university: BuiltUniversity, make_app: Callable[..., dash.Dash]
) -> None:
    from dashboards.app import create_app

    with pytest.raises(DashboardConfigError, match="demo"):
        create_app(config_for(small_university, auth="dev", demo=False))
    # And a header-mode app has no persona login to offer.
    client = make_app(auth="header", demo=True).server.test_client()
    assert client.post("/auth/login", data={"user_id": "anyone"}).status_code == 403


def test_a_user_without_any_role_sees_no_access_and_no_data(
    make_app: Callable[..., dash.Dash], persona_ids: dict[str, list[str]]
) -> None:
    client = make_app(auth="header").server.test_client()
    for role in ("student", "alumni", "visitor"):
        header = {"X-Remote-User": persona_ids[role][0]}
        text = layout_text(client, **header)
        assert "无访问权限" in text, role
        assert "数据截至" not in text and SNAPSHOT_STORE not in text, role
        assert client.post(CALLBACK, json=poll_request(None), headers=header).status_code == 403
        assert client.post(CALLBACK, json=page_request("/"), headers=header).status_code == 403


def test_unsigned_callbacks_are_refused_whatever_they_ask(
    make_app: Callable[..., dash.Dash],
) -> None:
    client = make_app(auth="dev", demo=True).server.test_client()
    for body in (poll_request(None), page_request("/"), page_request("/login"), {}):
        response = client.post(CALLBACK, json=body)
        assert response.status_code == 401
        assert set(response.get_json()) == {"error"}


def test_pages_open_through_the_router_for_a_signed_in_user(
    make_app: Callable[..., dash.Dash], persona_ids: dict[str, list[str]]
) -> None:
    client = make_app(auth="header").server.test_client()
    leader = {"X-Remote-User": persona_ids["leadership"][0]}
    home = client.post(CALLBACK, json=page_request("/"), headers=leader)
    assert home.status_code == 200
    text = json.dumps(home.get_json(), ensure_ascii=False)
    assert "欢迎" in text and "全校（汇总数据）" in text
    login = client.post(CALLBACK, json=page_request("/login"), headers=leader)
    assert "请通过学校统一身份认证" in json.dumps(login.get_json(), ensure_ascii=False)


def test_the_language_switch_keeps_the_page_and_refuses_other_sites(
    make_app: Callable[..., dash.Dash], persona_ids: dict[str, list[str]]
) -> None:
    client = make_app(auth="header").server.test_client()
    header = {"X-Remote-User": persona_ids["counsellor"][0]}
    back = client.get(
        "/auth/language/en", headers={**header, "Referer": "http://localhost/registration?x=1"}
    )
    assert back.status_code == 302 and back.headers["Location"] == "/registration?x=1"
    text = layout_text(client, **header)
    assert "Data as of 2026-11-02 10:00" in text and "Sign out" in text
    for target in ("//evil.example/", "https://evil.example/x", "javascript:alert(1)"):
        away = client.get(f"/auth/language/zh?next={target}", headers=header)
        assert away.headers["Location"] == "/", target
    assert "数据截至" in layout_text(client, **header)
