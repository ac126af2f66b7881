"""The workflow HTTP API end to end through Flask's test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import logging
import re
import string
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, text
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder, TestResponse, run_wsgi_app
from werkzeug.wrappers import Request

from workflow_core.api.app import create_app
from workflow_core.api.openapi import INSTANCE_ACTIONS, TASK_ACTIONS, openapi_document
from workflow_core.catalog.examples import example_form
from workflow_core.catalog.model import Audience
from workflow_core.service import WorkflowService

JSON = "application/json"
TABLES = ("events", "instances", "tasks", "inbox", "idempotency_keys", "campaigns")
ORDER = {
    "events": "event_id",
    "instances": "instance_id",
    "tasks": "task_id",
    "inbox": "user_id, task_id",
    "idempotency_keys": "actor_id, idempotency_key",
    "campaigns": "campaign_id",
}
Personas = dict[str, list[dict[str, Any]]]


# --- helpers ---------------------------------------------------------------------------------


def pid(persona: Mapping[str, Any]) -> str:
    for key in ("person_id", "user_id", "id"):
        if key in persona:
            return str(persona[key])
    raise KeyError(f"no id in persona {persona}")


def headers(user: str | None, key: str | None = None, **extra: str) -> dict[str, str]:
    out = dict(extra)
    if user is not None:
        out["X-Remote-User"] = user
    if key is not None:
        out["Idempotency-Key"] = key
    return out


def post(
    client: FlaskClient,
    path: str,
    body: object = None,
    *,
    user: str | None,
    key: str | None = None,
) -> TestResponse:
    data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
    return client.post(path, data=data, content_type=JSON, headers=headers(user, key))


def get(client: FlaskClient, path: str, *, user: str | None) -> TestResponse:
    return client.get(path, headers=headers(user))


def body_of(response: TestResponse) -> dict[str, Any]:
    assert response.content_type == "application/json; charset=utf-8", response.content_type
    value = json.loads(response.get_data())
    assert isinstance(value, dict)
    return value


def assert_error(response: TestResponse, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    error = body_of(response)["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if "fields" in error:
        assert isinstance(error["fields"], dict) and error["fields"]
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in error["fields"].items())
    if code is not None:
        assert error["code"] == code, error
    return dict(error)


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the store's tables: equal snapshots mean nothing was written."""
    with engine.connect() as conn:
        return {
            table: [
                tuple(row)
                for row in conn.execute(text(f"select * from {table} order by {ORDER[table]}"))
            ]
            for table in TABLES
        }


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"select count(*) from {t}")).scalar_one()) for t in TABLES
        }


@contextmanager
def nothing_written(engine: Engine) -> Iterator[None]:
    before_counts, before = counts(engine), snapshot(engine)
    yield
    assert counts(engine) == before_counts
    assert snapshot(engine) == before


class Endless(io.RawIOBase):
    """A request body that never ends."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        buffer[:] = b" " * len(buffer)
        return len(buffer)


def chunked_post(
    app: Flask,
    path: str,
    stream: io.IOBase,
    sent: Mapping[str, str],
    *,
    terminated: bool = True,
) -> TestResponse:
    """POST a body without Content-Length (Transfer-Encoding: chunked) straight to the WSGI app.

    `terminated` says the server ends the stream itself, as gunicorn does.
    """
    all_headers = Headers({**sent, "Transfer-Encoding": "chunked", "Content-Type": JSON})
    environ = EnvironBuilder(
        path=path, method="POST", input_stream=io.BytesIO(), headers=all_headers
    ).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = stream
    if terminated:
        environ["wsgi.input_terminated"] = True
    app_iter, status, response_headers = run_wsgi_app(app, environ, buffered=True)
    return TestResponse(app_iter, status, response_headers, request=Request(environ))


def undergraduate(service: WorkflowService, personas: Personas, index: int = 0) -> str:
    found = [
        pid(p)
        for p in personas["student"]
        if (person := service.directory.person(pid(p), service.clock())) is not None
        and person.kind is Audience.UNDERGRADUATE
    ]
    assert len(found) > index, "the generated university needs undergraduate personas"
    return found[index]


def other_student(service: WorkflowService, personas: Personas, applicant: str) -> str:
    for p in personas["student"]:
        if pid(p) != applicant:
            return pid(p)
    pytest.skip("the personas hold a single student")


def enrollment_form(service: WorkflowService) -> dict[str, Any]:
    return {"purpose": "签证", "copies": 2, "language": "英文", "remarks": "申根签证用"}


def submit_certificate(
    client: FlaskClient, service: WorkflowService, applicant: str, key: str | None = None
) -> dict[str, Any]:
    response = post(
        client,
        "/api/v1/instances",
        {"process_key": "enrollment_certificate", "form": enrollment_form(service)},
        user=applicant,
        key=key,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return body_of(response)


def open_task(instance: Mapping[str, Any]) -> dict[str, Any]:
    tasks = [t for t in instance["tasks"] if t["status"] == "open"]
    assert len(tasks) == 1, instance["tasks"]
    return dict(tasks[0])


def approve_all(client: FlaskClient, instance_id: str, applicant: str) -> dict[str, Any]:
    """Approve every node in turn as its first assignee; returns the final instance."""
    instance = body_of(get(client, f"/api/v1/instances/{instance_id}", user=applicant))
    while instance["status"] == "in_progress":
        task = open_task(instance)
        approver = task["assignees"][0]
        response = post(client, f"/api/v1/tasks/{task['task_id']}/approve", {}, user=approver)
        assert response.status_code == 200, response.get_data(as_text=True)
        instance = body_of(response)["instance"]
    return instance


@pytest.fixture
def applicant(service: WorkflowService, personas: Personas) -> str:
    return undergraduate(service, personas)


@pytest.fixture
def submitted(client: FlaskClient, service: WorkflowService, applicant: str) -> dict[str, Any]:
    """An enrollment certificate request waiting at its first node."""
    return dict(submit_certificate(client, service, applicant)["instance"])


# --- the round trip --------------------------------------------------------------------------


def test_enrollment_certificate_round_trip_through_every_node(
    client: FlaskClient, service: WorkflowService, applicant: str
) -> None:
    answer = submit_certificate(client, service, applicant)
    instance = answer["instance"]
    assert instance["status"] == "in_progress"
    assert instance["process_name"]["zh"] == "本科生在读证明"
    assert [e["event_type"] for e in answer["events"]][:2] == ["submitted", "task_created"]
    definition = service.catalog.get("enrollment_certificate")
    expected_nodes = [n.key for n in definition.nodes]

    seen_nodes: list[str] = []
    while instance["status"] == "in_progress":
        task = open_task(instance)
        seen_nodes.append(task["node_key"])
        approver = task["assignees"][0]
        inbox = body_of(get(client, "/api/v1/inbox", user=approver))["tasks"]
        assert task["task_id"] in {t["task_id"] for t in inbox}

        viewed = post(client, f"/api/v1/tasks/{task['task_id']}/view", user=approver)
        assert viewed.status_code == 200, viewed.get_data(as_text=True)
        viewed_task = next(
            t for t in body_of(viewed)["instance"]["tasks"] if t["task_id"] == task["task_id"]
        )
        assert viewed_task["viewed_at"] is not None

        approved = post(
            client,
            f"/api/v1/tasks/{task['task_id']}/approve",
            {"comment": "同意"},
            user=approver,
        )
        assert approved.status_code == 200, approved.get_data(as_text=True)
        assert "approved" in [e["event_type"] for e in body_of(approved)["events"]]
        inbox = body_of(get(client, "/api/v1/inbox", user=approver))["tasks"]
        assert task["task_id"] not in {t["task_id"] for t in inbox}
        instance = body_of(
            get(client, f"/api/v1/instances/{instance['instance_id']}", user=applicant)
        )

    assert seen_nodes == expected_nodes
    assert instance["status"] == "completed"
    assert instance["outcome"] == "approved"
    assert all(t["status"] == "approved" for t in instance["tasks"])

    events = body_of(
        get(client, f"/api/v1/instances/{instance['instance_id']}/events", user=applicant)
    )["events"]
    types = [e["event_type"] for e in events]
    assert types[0] == "submitted" and types[-1] == "completed"
    assert types.count("approved") == len(expected_nodes)
    assert types.count("task_viewed") == len(expected_nodes)
    assert [e["stream_version"] for e in events] == list(range(1, len(events) + 1))


def test_json_is_utf8_with_readable_chinese(
    client: FlaskClient, applicant: str, submitted: dict[str, Any]
) -> None:
    response = get(client, f"/api/v1/instances/{submitted['instance_id']}", user=applicant)
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    raw = response.get_data()
    assert "本科生在读证明".encode() in raw
    assert b"\\u" not in raw


# --- every route -----------------------------------------------------------------------------


def test_processes_list_and_definition(
    client: FlaskClient, service: WorkflowService, applicant: str
) -> None:
    listed = body_of(get(client, "/api/v1/processes", user=applicant))["processes"]
    assert [p["key"] for p in listed] == list(service.catalog.keys())
    by_key = {p["key"]: p for p in listed}
    certificate = by_key["enrollment_certificate"]
    assert certificate == {
        "key": "enrollment_certificate",
        "version": 1,
        "name": {"zh": "本科生在读证明", "en": "Certificate of Enrolment (Undergraduate)"},
        "audience": ["undergraduate"],
        "category": "academic",
        "campaign_based": False,
        "nodes": 6,
    }
    assert by_key["holiday_whereabouts"]["campaign_based"] is True
    assert by_key["activity_application"]["nodes"] >= 15

    staff = body_of(get(client, "/api/v1/processes?audience=staff", user=applicant))
    assert all("staff" in p["audience"] for p in staff["processes"])
    assert_error(get(client, "/api/v1/processes?audience=martian", user=applicant), 400)

    definition = body_of(get(client, "/api/v1/processes/enrollment_certificate", user=applicant))
    assert definition == service.catalog.get("enrollment_certificate").as_dict()
    fields = {f["name"]: f for f in definition["form"]}
    assert fields["purpose"]["type"] == "choice"
    assert fields["purpose"]["required"] is True
    assert fields["purpose"]["options"] == ["签证", "实习", "奖学金", "其他"]
    assert fields["remarks"]["required"] is False
    assert_error(get(client, "/api/v1/processes/no_such_service", user=applicant), 404)


def test_instance_and_events_reads_are_scoped(
    client: FlaskClient,
    service: WorkflowService,
    personas: Personas,
    applicant: str,
    submitted: dict[str, Any],
) -> None:
    instance_id = submitted["instance_id"]
    mine = body_of(get(client, f"/api/v1/instances/{instance_id}", user=applicant))
    assert mine["instance_id"] == instance_id and mine["tasks"]
    approver = open_task(mine)["assignees"][0]
    assert get(client, f"/api/v1/instances/{instance_id}", user=approver).status_code == 200
    leadership = pid(personas["leadership"][0])
    assert (
        get(client, f"/api/v1/instances/{instance_id}/events", user=leadership).status_code == 200
    )
    stranger = other_student(service, personas, applicant)
    with nothing_written(service.engine):
        assert_error(get(client, f"/api/v1/instances/{instance_id}", user=stranger), 403)
        assert_error(get(client, f"/api/v1/instances/{instance_id}/events", user=stranger), 403)
        assert_error(get(client, "/api/v1/instances/nosuchinstance", user=applicant), 404)
        assert_error(get(client, "/api/v1/instances/nosuchinstance/events", user=applicant), 404)


def test_inbox_limit(client: FlaskClient, applicant: str, submitted: dict[str, Any]) -> None:
    approver = open_task(submitted)["assignees"][0]
    assert len(body_of(get(client, "/api/v1/inbox?limit=1", user=approver))["tasks"]) == 1
    for bad in ("0", "-1", "abc", "100000"):
        error = assert_error(get(client, f"/api/v1/inbox?limit={bad}", user=approver), 400)
        assert "limit" in error["fields"]


def test_reject(client: FlaskClient, submitted: dict[str, Any]) -> None:
    task = open_task(submitted)
    approver = task["assignees"][0]
    path = f"/api/v1/tasks/{task['task_id']}/reject"
    error = assert_error(post(client, path, {}, user=approver), 400, "invalid_form")
    assert "reason" in error["fields"]
    response = post(client, path, {"reason": "材料不全"}, user=approver)
    assert response.status_code == 200
    instance = body_of(response)["instance"]
    assert instance["status"] == "completed" and instance["outcome"] == "rejected"


def test_return_and_resubmit(
    client: FlaskClient, service: WorkflowService, applicant: str, submitted: dict[str, Any]
) -> None:
    task = open_task(submitted)
    approver = task["assignees"][0]
    response = post(
        client, f"/api/v1/tasks/{task['task_id']}/return", {"reason": "请补充用途"}, user=approver
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert body_of(response)["instance"]["status"] == "returned"
    path = f"/api/v1/instances/{submitted['instance_id']}/resubmit"
    with nothing_written(service.engine):
        error = assert_error(post(client, path, {"form": {"copies": 0}}, user=applicant), 400)
        assert "copies" in error["fields"]
    form = {**enrollment_form(service), "copies": 3}
    response = post(client, path, {"form": form}, user=applicant)
    assert response.status_code == 200, response.get_data(as_text=True)
    resubmitted = body_of(response)["instance"]
    assert resubmitted["status"] == "in_progress"
    assert resubmitted["form"]["copies"] == 3
    assert resubmitted["returns"] == 1


def test_reassign_remind_and_comments(
    client: FlaskClient,
    service: WorkflowService,
    personas: Personas,
    applicant: str,
    submitted: dict[str, Any],
) -> None:
    task = open_task(submitted)
    approver = task["assignees"][0]
    colleague = pid(personas["counsellor"][-1])
    if colleague == approver:
        colleague = pid(personas["college_office"][0])
    response = post(
        client,
        f"/api/v1/tasks/{task['task_id']}/reassign",
        {"to": colleague, "reason": "出差"},
        user=approver,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    new_task = open_task(body_of(response)["instance"])
    assert colleague in new_task["assignees"]

    remind = post(
        client,
        f"/api/v1/tasks/{new_task['task_id']}/remind",
        {"message": "请尽快审核"},
        user=applicant,
    )
    assert remind.status_code == 200, remind.get_data(as_text=True)
    assert [e["event_type"] for e in body_of(remind)["events"]] == ["reminded"]
    with nothing_written(service.engine):  # at most once an hour
        assert_error(
            post(client, f"/api/v1/tasks/{new_task['task_id']}/remind", {}, user=applicant),
            422,
            "business_rule",
        )

    comment = post(
        client, f"/api/v1/tasks/{new_task['task_id']}/comment", {"text": "已收到"}, user=colleague
    )
    assert comment.status_code == 200, comment.get_data(as_text=True)
    comment = post(
        client,
        f"/api/v1/instances/{submitted['instance_id']}/comment",
        {"text": "谢谢老师"},
        user=applicant,
    )
    assert comment.status_code == 200, comment.get_data(as_text=True)
    assert [e["event_type"] for e in body_of(comment)["events"]] == ["commented"]


def test_withdraw(
    client: FlaskClient, service: WorkflowService, applicant: str, submitted: dict[str, Any]
) -> None:
    response = post(
        client,
        f"/api/v1/instances/{submitted['instance_id']}/withdraw",
        {"reason": "不需要了"},
        user=applicant,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    instance = body_of(response)["instance"]
    assert instance["status"] == "withdrawn"
    approver = open_task(submitted)["assignees"][0]
    assert body_of(get(client, "/api/v1/inbox", user=approver))["tasks"] == [] or all(
        t["instance_id"] != submitted["instance_id"]
        for t in body_of(get(client, "/api/v1/inbox", user=approver))["tasks"]
    )


def test_campaign_open_list_register_and_remind(
    client: FlaskClient, service: WorkflowService, personas: Personas
) -> None:
    office = pid(personas["student_affairs"][0])
    now = service.clock()
    campaign = {
        "campaign_id": "winter-2026",
        "process_key": "holiday_whereabouts",
        "title": "2026年寒假去向登记",
        "holiday": "寒假",
        "opens_at": (now - timedelta(hours=1)).isoformat(),
        "deadline": (now + timedelta(days=7)).isoformat(),
    }
    response = post(client, "/api/v1/campaigns", campaign, user=office)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert body_of(response)["campaign"]["campaign_id"] == "winter-2026"
    with nothing_written(service.engine):
        assert_error(post(client, "/api/v1/campaigns", campaign, user=office), 409, "conflict")
        error = assert_error(
            post(
                client,
                "/api/v1/campaigns",
                {**campaign, "campaign_id": "X", "deadline": 1},
                user=office,
            ),
            400,
        )
        assert {"campaign_id", "deadline"} <= set(error["fields"])
    listed = body_of(get(client, "/api/v1/campaigns", user=office))["campaigns"]
    assert [c["campaign_id"] for c in listed] == ["winter-2026"]

    monitor = pid(personas["class_monitor"][0])
    placement = service.directory.placement(monitor, now)
    assert placement is not None and placement.class_id is not None
    definition = service.catalog.get("holiday_whereabouts")
    registered = post(
        client,
        "/api/v1/instances",
        {
            "process_key": "holiday_whereabouts",
            "form": example_form(definition, today=now.date()),
            "campaign_id": "winter-2026",
        },
        user=monitor,
    )
    assert registered.status_code == 201, registered.get_data(as_text=True)
    assert body_of(registered)["instance"]["status"] == "completed"

    classmates = [
        pid(p)
        for p in personas["student"]
        if (pl := service.directory.placement(pid(p), now)) is not None
        and pl.class_id == placement.class_id
        and pid(p) != monitor
    ]
    if not classmates:
        pytest.skip("no student persona shares the monitor's class")
    remind = post(
        client,
        "/api/v1/campaigns/winter-2026/remind",
        {"student_ids": classmates[:1], "message": "请尽快登记"},
        user=monitor,
    )
    assert remind.status_code == 200, remind.get_data(as_text=True)
    assert [e["event_type"] for e in body_of(remind)["events"]] == ["campaign_reminded"]
    with nothing_written(service.engine):
        assert_error(
            post(
                client,
                "/api/v1/campaigns/no-such-campaign/remind",
                {"student_ids": classmates[:1]},
                user=monitor,
            ),
            404,
        )
        assert_error(
            post(
                client,
                "/api/v1/campaigns/winter-2026/remind",
                {"student_ids": "everyone"},
                user=monitor,
            ),
            400,
        )


def test_healthz(client: FlaskClient, service: WorkflowService, submitted: dict[str, Any]) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = body_of(response)
    with service.engine.connect() as conn:
        top = conn.execute(text("select max(event_id) from events")).scalar_one()
    assert body == {"status": "ok", "events": top}


# --- errors ------------------------------------------------------------------------------------


def test_400_malformed_bodies_write_nothing(
    client: FlaskClient, service: WorkflowService, applicant: str, submitted: dict[str, Any]
) -> None:
    task = open_task(submitted)
    path = f"/api/v1/tasks/{task['task_id']}/approve"
    approver = task["assignees"][0]
    cases: list[tuple[bytes, str, str]] = [
        (b"{", JSON, "malformed_json"),
        (b"{'a': 1}", JSON, "malformed_json"),
        (b'{"comment": NaN}', JSON, "malformed_json"),
        (b"\xff\xfe{}", JSON, "malformed_json"),
        (b'{"comment": "\\u0000"}', JSON, "malformed_json"),
        (b'{"comment": "\\ud800"}', JSON, "malformed_json"),
        (b"[" * 20000 + b"]" * 20000, JSON, "not_an_object"),
        (b'{"a":' * 8000 + b"1" + b"}" * 8000, JSON, "malformed_json"),
        (b"[]", JSON, "not_an_object"),
        (b'"text"', JSON, "not_an_object"),
        (b"null", JSON, "not_an_object"),
        (b'{"comment": "ok"}', "text/plain", "unsupported_content_type"),
        (b'{"comment": "ok"}', "application/x-www-form-urlencoded", "unsupported_content_type"),
        (b'{"comment": "ok"}', "application/json; charset=latin-1", "unsupported_content_type"),
    ]
    with nothing_written(service.engine):
        for raw, content_type, code in cases:
            response = client.post(
                path, data=raw, content_type=content_type, headers=headers(approver)
            )
            error = assert_error(response, 400)
            assert error["code"] in (code, "malformed_json"), (raw[:40], error)
        response = client.post(
            "/api/v1/instances", data=b"[1]", content_type=JSON, headers=headers(applicant)
        )
        assert_error(response, 400, "not_an_object")


def test_400_invalid_form_names_each_field_and_writes_nothing(
    client: FlaskClient, service: WorkflowService, applicant: str, submitted: dict[str, Any]
) -> None:
    with nothing_written(service.engine):
        response = post(
            client,
            "/api/v1/instances",
            {
                "process_key": "enrollment_certificate",
                "form": {"copies": 0, "language": "法语", "purpose": "其他"},
            },
            user=applicant,
        )
        error = assert_error(response, 400, "invalid_form")
        assert {"copies", "language", "purpose_detail"} <= set(error["fields"]), error
        error = assert_error(post(client, "/api/v1/instances", {"form": {}}, user=applicant), 400)
        assert "process_key" in error["fields"]
        error = assert_error(
            post(
                client,
                "/api/v1/instances",
                {"process_key": "enrollment_certificate", "form": "x"},
                user=applicant,
            ),
            400,
        )
        assert "form" in error["fields"]
        error = assert_error(
            post(
                client,
                "/api/v1/instances",
                {
                    "process_key": "enrollment_certificate",
                    "form": enrollment_form(service),
                    "campaign_id": 7,
                },
                user=applicant,
            ),
            400,
        )
        assert "campaign_id" in error["fields"]
        error = assert_error(
            post(
                client,
                "/api/v1/instances",
                {"process_key": "enrollment_certificate", "form": enrollment_form(service)},
                user=applicant,
                key="x" * 500,
            ),
            400,
        )
        assert "Idempotency-Key" in error["fields"]


@pytest.mark.parametrize(
    "user", [None, "", "   ", "nobody-such", "x" * 500, "bad\x01user"], ids=repr
)
def test_401_without_a_known_caller_writes_nothing(
    client: FlaskClient, service: WorkflowService, submitted: dict[str, Any], user: str | None
) -> None:
    task = open_task(submitted)
    with nothing_written(service.engine):
        assert_error(post(client, f"/api/v1/tasks/{task['task_id']}/approve", {}, user=user), 401)
        assert_error(
            post(
                client,
                "/api/v1/instances",
                {"process_key": "enrollment_certificate", "form": {}},
                user=user,
            ),
            401,
        )
        assert_error(get(client, "/api/v1/inbox", user=user), 401)
        assert_error(get(client, "/api/v1/processes", user=user), 401)


def test_403_wrong_approver_and_student_acting_for_another(
    client: FlaskClient,
    service: WorkflowService,
    personas: Personas,
    applicant: str,
    submitted: dict[str, Any],
) -> None:
    task = open_task(submitted)
    stranger = other_student(service, personas, applicant)
    wrong_approver = pid(personas["leadership"][0])
    assert wrong_approver not in task["assignees"]
    with nothing_written(service.engine):
        for user in (wrong_approver, applicant, stranger):
            assert_error(
                post(client, f"/api/v1/tasks/{task['task_id']}/approve", {}, user=user),
                403,
                "forbidden",
            )
        for action, body in (
            ("withdraw", {}),
            ("resubmit", {"form": enrollment_form(service)}),
            ("comment", {"text": "我来替他撤回"}),
        ):
            assert_error(
                post(
                    client,
                    f"/api/v1/instances/{submitted['instance_id']}/{action}",
                    body,
                    user=stranger,
                ),
                403,
                "forbidden",
            )
        # a student may not open a campaign
        assert_error(
            post(
                client,
                "/api/v1/campaigns",
                {
                    "campaign_id": "x-2026",
                    "process_key": "holiday_whereabouts",
                    "title": "t",
                    "holiday": "寒假",
                    "opens_at": "2026-03-01T00:00:00+08:00",
                    "deadline": "2026-03-09T00:00:00+08:00",
                },
                user=applicant,
            ),
            403,
        )


def test_404_unknown_things_write_nothing(
    client: FlaskClient, service: WorkflowService, applicant: str, submitted: dict[str, Any]
) -> None:
    task = open_task(submitted)
    with nothing_written(service.engine):
        assert_error(
            post(client, "/api/v1/tasks/nosuchtask-t1/approve", {}, user=applicant),
            404,
            "not_found",
        )
        assert_error(
            post(client, "/api/v1/instances/nosuchinstance/withdraw", {}, user=applicant),
            404,
            "not_found",
        )
        assert_error(
            post(client, f"/api/v1/tasks/{task['task_id']}/explode", {}, user=applicant), 404
        )
        assert_error(
            post(
                client,
                "/api/v1/instances",
                {"process_key": "no_such_service", "form": {}},
                user=applicant,
            ),
            404,
        )
        for path in (
            "/",
            "/api",
            "/api/v2/instances",
            "/api/v1/instances/",
            "/static/x.js",
            "/api/v1//instances",
            "/api/v1/tasks/%00/approve",
            "/api/v1/instances/%E4%B8%AD",
        ):
            assert_error(client.get(path, headers=headers(applicant)), 404)
            assert_error(client.post(path, headers=headers(applicant)), 404)


def test_405_wrong_method_writes_nothing(
    client: FlaskClient, service: WorkflowService, applicant: str, submitted: dict[str, Any]
) -> None:
    task = open_task(submitted)
    with nothing_written(service.engine):
        response = get(client, f"/api/v1/tasks/{task['task_id']}/approve", user=applicant)
        assert_error(response, 405, "method_not_allowed")
        assert "POST" in response.headers["Allow"]
        assert_error(
            client.delete(
                f"/api/v1/instances/{submitted['instance_id']}", headers=headers(applicant)
            ),
            405,
        )
        assert_error(client.put("/api/v1/instances", headers=headers(applicant)), 405)
        assert_error(client.post("/healthz"), 405)
        assert_error(client.patch("/api/v1/openapi.json"), 405)


def test_409_second_approval_of_one_task_writes_nothing(
    client: FlaskClient, service: WorkflowService, submitted: dict[str, Any]
) -> None:
    task = open_task(submitted)
    approver = task["assignees"][0]
    path = f"/api/v1/tasks/{task['task_id']}/approve"
    assert post(client, path, {}, user=approver).status_code == 200
    with nothing_written(service.engine):
        assert_error(post(client, path, {}, user=approver), 409, "conflict")
        assert_error(
            post(
                client, f"/api/v1/tasks/{task['task_id']}/reject", {"reason": "晚了"}, user=approver
            ),
            409,
            "conflict",
        )


def test_413_oversized_bodies_write_nothing(
    service: WorkflowService, applicant: str, submitted: dict[str, Any]
) -> None:
    app = create_app(service, max_body_bytes=1024)
    client = app.test_client()
    task = open_task(submitted)
    approver = task["assignees"][0]
    path = f"/api/v1/tasks/{task['task_id']}/approve"
    big = json.dumps({"comment": "长" * 2000}).encode()
    small = json.dumps({"comment": "同意"}).encode()
    with nothing_written(service.engine):
        assert_error(
            client.post(path, data=big, content_type=JSON, headers=headers(approver)),
            413,
            "payload_too_large",
        )
        # a declared length is refused before anything is read or the caller is checked
        assert_error(client.post(path, data=big, content_type=JSON), 413)
        assert_error(client.get("/api/v1/inbox", data=big, headers=headers(approver)), 413)
        # chunked: no Content-Length, the server terminates the stream (as gunicorn does)
        streams: tuple[io.IOBase, ...] = (io.BytesIO(big), Endless())
        for stream in streams:
            response = chunked_post(app, path, stream, headers(approver))
            assert_error(response, 413, "payload_too_large")
        # chunked through a server that does not terminate the stream: refused, not misread
        response = chunked_post(app, path, io.BytesIO(small), headers(approver), terminated=False)
        assert_error(response, 411)
    response = chunked_post(app, path, io.BytesIO(small), headers(approver))
    assert response.status_code == 200, response.get_data(as_text=True)
    approved = body_of(response)["events"]
    assert any(e["payload"].get("comment") == "同意" for e in approved), approved


def test_422_withdraw_of_a_completed_instance_writes_nothing(
    client: FlaskClient, service: WorkflowService, applicant: str, submitted: dict[str, Any]
) -> None:
    done = approve_all(client, submitted["instance_id"], applicant)
    assert done["status"] == "completed"
    with nothing_written(service.engine):
        assert_error(
            post(
                client, f"/api/v1/instances/{submitted['instance_id']}/withdraw", {}, user=applicant
            ),
            422,
            "business_rule",
        )


def test_422_idempotency_key_reused_with_a_different_body_writes_nothing(
    client: FlaskClient, service: WorkflowService, applicant: str
) -> None:
    submit_certificate(client, service, applicant, key="req-1")
    with nothing_written(service.engine):
        response = post(
            client,
            "/api/v1/instances",
            {
                "process_key": "enrollment_certificate",
                "form": {**enrollment_form(service), "copies": 5},
            },
            user=applicant,
            key="req-1",
        )
        assert_error(response, 422, "idempotency_key_reused")


def test_idempotent_replay_returns_the_identical_answer_and_writes_nothing(
    client: FlaskClient, service: WorkflowService, applicant: str
) -> None:
    body = {"process_key": "enrollment_certificate", "form": enrollment_form(service)}
    first = post(client, "/api/v1/instances", body, user=applicant, key="submit-abc")
    assert first.status_code == 201
    assert first.headers["Idempotent-Replayed"] == "false"
    with nothing_written(service.engine):
        again = post(client, "/api/v1/instances", body, user=applicant, key="submit-abc")
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()

    task = open_task(body_of(first)["instance"])
    approver = task["assignees"][0]
    path = f"/api/v1/tasks/{task['task_id']}/approve"
    first = post(client, path, {"comment": "好"}, user=approver, key="approve-1")
    assert first.status_code == 200
    with nothing_written(service.engine):
        again = post(client, path, {"comment": "好"}, user=approver, key="approve-1")
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (200, "true")
    assert again.get_data() == first.get_data()


def test_503_when_the_event_store_is_down(
    service: WorkflowService, applicant: str, tmp_path: Any
) -> None:
    dead = create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'events.db'}")
    down = WorkflowService(dead, service.catalog, service.directory, clock=service.clock)
    client = create_app(down).test_client()
    health = client.get("/healthz")
    assert health.status_code == 503
    assert body_of(health)["status"] == "unavailable"
    assert_error(health, 503, "database_unavailable")
    assert_error(
        post(
            client,
            "/api/v1/instances",
            {"process_key": "enrollment_certificate", "form": enrollment_form(service)},
            user=applicant,
        ),
        503,
        "database_unavailable",
    )
    assert_error(get(client, "/api/v1/inbox", user=applicant), 503, "database_unavailable")


def test_500_for_a_server_bug_is_json_and_logged(
    app: Flask,
    client: FlaskClient,
    service: WorkflowService,
    applicant: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "get_inbox", broken)
    with caplog.at_level(logging.ERROR, logger="workflow_core.api.app"):
        response = get(client, "/api/v1/inbox", user=applicant)
    assert_error(response, 500, "internal_error")
    assert "boom" not in response.get_data(as_text=True)
    assert any("boom" in (r.exc_text or "") or r.exc_info for r in caplog.records)


# --- the OpenAPI document ----------------------------------------------------------------------


def _flask_routes(app: Flask) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                routes.add((path, method.lower()))
    return routes


def test_openapi_describes_exactly_the_routes(client: FlaskClient, app: Flask) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = body_of(response)
    assert document["openapi"].startswith("3.1")
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == _flask_routes(app)


def test_openapi_document_is_well_formed() -> None:
    document = openapi_document()

    def resolve(ref: str) -> Any:
        assert ref.startswith("#/")
        node: Any = document
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                resolve(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    error_ref = "#/components/schemas/Error"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            params = [
                resolve(p["$ref"]) if "$ref" in p else p for p in operation.get("parameters", [])
            ]
            declared = {p["name"] for p in params if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), (path, method)
            responses = operation["responses"]
            assert any(code.startswith("2") for code in responses), (path, method)
            for code, answer in responses.items():
                answer = resolve(answer["$ref"]) if "$ref" in answer else answer
                if int(code) >= 400 and path != "/healthz":
                    assert answer["content"][JSON]["schema"] == {"$ref": error_ref}
            if method == "post":
                assert "requestBody" in operation
                assert "400" in responses and "413" in responses and "422" in responses


# --- fuzzing -----------------------------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
_header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=40,
)
_segment = st.text(max_size=30) | st.sampled_from(["", ".", "..", "%", "x" * 200])


def _mostly(
    likely: st.SearchStrategy[Any], other: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """`likely` about four times in five, so most examples get past routing and authentication."""
    return st.sampled_from([True, True, True, True, False]).flatmap(
        lambda pick: likely if pick else other
    )


@pytest.fixture
def campaign(service: WorkflowService, personas: Personas) -> str:
    now = service.clock()
    service.open_campaign(
        pid(personas["student_affairs"][0]),
        {
            "campaign_id": "winter-2026",
            "process_key": "holiday_whereabouts",
            "title": "寒假去向登记",
            "holiday": "寒假",
            "opens_at": (now - timedelta(days=1)).isoformat(),
            "deadline": (now + timedelta(days=7)).isoformat(),
        },
    )
    return "winter-2026"


@given(data=st.data())
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_fuzz_post_routes_never_answer_500(
    client: FlaskClient,
    service: WorkflowService,
    personas: Personas,
    applicant: str,
    submitted: dict[str, Any],
    campaign: str,
    data: st.DataObject,
) -> None:
    task = open_task(submitted)
    users = [applicant, *task["assignees"]] + [pid(p) for ps in personas.values() for p in ps[:2]]
    keys = list(service.catalog.keys())
    fields = sorted({f.name for d in service.catalog for f in d.form})
    ids = st.sampled_from([submitted["instance_id"], task["task_id"], campaign]) | _segment
    actions = st.sampled_from([*TASK_ACTIONS, *INSTANCE_ACTIONS, "remind"]) | _segment
    templates = st.sampled_from(
        ["/api/v1/tasks/{}/{}", "/api/v1/instances/{}/{}", "/api/v1/campaigns/{}/{}", "/api/{}/{}"]
    )
    random_paths = st.builds(
        lambda template, one, two: template.format(
            urllib.parse.quote(one, safe=""), urllib.parse.quote(two, safe="")
        ),
        templates,
        ids,
        actions,
    )
    real_paths = [
        "/api/v1/instances",
        "/api/v1/campaigns",
        f"/api/v1/campaigns/{campaign}/remind",
        *(f"/api/v1/tasks/{task['task_id']}/{action}" for action in TASK_ACTIONS),
        *(f"/api/v1/instances/{submitted['instance_id']}/{action}" for action in INSTANCE_ACTIONS),
    ]
    path = data.draw(_mostly(st.sampled_from(real_paths), random_paths))
    texts = st.text(max_size=30) | _json_values
    shaped = st.fixed_dictionaries(
        {},
        optional={
            "process_key": _mostly(st.sampled_from(keys), _json_values),
            "form": _mostly(
                st.dictionaries(st.sampled_from(fields) | st.text(max_size=8), texts, max_size=8),
                _json_values,
            ),
            "campaign_id": st.sampled_from([campaign, "a"]) | _json_values,
            "reason": texts,
            "comment": texts,
            "text": texts,
            "to": _mostly(st.sampled_from(users), _json_values),
            "delegate": _json_values,
            "message": texts,
            "student_ids": _mostly(st.lists(st.sampled_from(users), max_size=5), _json_values),
            "title": texts,
            "holiday": texts,
            "opens_at": texts,
            "deadline": texts,
            "audience": texts,
        },
    )
    raw = data.draw(
        _mostly(
            shaped.map(lambda b: json.dumps(b, ensure_ascii=False).encode()),
            st.one_of(
                _json_values.map(lambda v: json.dumps(v).encode()),
                st.binary(max_size=200),
                st.text(alphabet=string.printable, max_size=100).map(str.encode),
            ),
        )
    )
    sent: dict[str, str] = {}
    user = data.draw(_mostly(st.sampled_from(users), st.none() | _header_text))
    if user is not None:
        sent["X-Remote-User"] = user
    key = data.draw(st.none() | _header_text)
    if key is not None:
        sent["Idempotency-Key"] = key
    content_type = data.draw(
        _mostly(
            st.sampled_from([JSON, "application/json; charset=utf-8"]),
            st.sampled_from(["text/plain", "application/problem+json", "multipart/form-data", ""])
            | _header_text,
        )
    )
    for name, value in data.draw(
        st.dictionaries(
            st.sampled_from(["Accept", "X-Forwarded-For", "Content-Encoding", "Expect", "Cookie"]),
            _header_text,
            max_size=3,
        )
    ).items():
        sent[name] = value

    response = client.post(path, data=raw, headers={**sent, "Content-Type": content_type})
    event(f"status {response.status_code}")

    assert response.status_code != 500, (path, raw[:200], sent, response.get_data(as_text=True))
    assert response.status_code < 500 or response.status_code == 503
    if response.status_code >= 400:
        assert_error(response, response.status_code)


def test_open_campaign_with_an_overlong_holiday_is_refused(
    client: FlaskClient, service: WorkflowService, personas: Personas
) -> None:
    now = service.clock()
    body = {
        "campaign_id": "winter-2026",
        "process_key": "holiday_whereabouts",
        "title": "寒假去向登记",
        "holiday": "寒" * 40,
        "opens_at": (now - timedelta(hours=1)).isoformat(),
        "deadline": (now + timedelta(days=7)).isoformat(),
    }
    with nothing_written(service.engine):
        response = post(client, "/api/v1/campaigns", body, user=pid(personas["student_affairs"][0]))
        error = assert_error(response, 400, "invalid_form")
    assert "holiday" in error["fields"]


def test_a_command_asks_the_directory_about_its_caller_once(
    client: FlaskClient, service: WorkflowService, applicant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    resolve = service.caller

    def counting(user_id: str) -> Any:
        asked.append(user_id)
        return resolve(user_id)

    monkeypatch.setattr(service, "caller", counting)
    monkeypatch.setattr(service, "actor", lambda *_a, **_k: pytest.fail("resolved again"))
    body = {"process_key": "enrollment_certificate", "form": enrollment_form(service)}
    first = post(client, "/api/v1/instances", body, user=applicant, key="once-1")
    assert first.status_code == 201
    task = open_task(body_of(first)["instance"])
    approver = task["assignees"][0]
    approved = post(client, f"/api/v1/tasks/{task['task_id']}/approve", user=approver, key="once-2")
    assert approved.status_code == 200
    assert asked == [applicant, approver]
    # The answer kept under the key is the response's own text.
    with service.engine.connect() as conn:
        kept = conn.execute(
            text("select response from idempotency_keys where idempotency_key = 'once-2'")
        ).scalar_one()
    if isinstance(kept, str):  # SQLite keeps the text itself
        assert kept == approved.get_data(as_text=True)
    else:  # jsonb: the value
        assert kept == body_of(approved)


@pytest.mark.parametrize("key", [None, "text-1"])
def test_a_commands_answer_is_its_body_as_sorted_json(
    client: FlaskClient, service: WorkflowService, applicant: str, key: str | None
) -> None:
    body = {"process_key": "enrollment_certificate", "form": enrollment_form(service)}
    submitted = post(client, "/api/v1/instances", body, user=applicant, key=key)
    task = open_task(body_of(submitted)["instance"])
    path = f"/api/v1/tasks/{task['task_id']}/approve"
    approved = post(client, path, {"comment": "好"}, user=task["assignees"][0], key=key and "2")
    for response in (submitted, approved):
        text = response.get_data(as_text=True)
        assert text == json.dumps(json.loads(text), ensure_ascii=False, sort_keys=True)
