"""The OpenAPI 3.1 description of the workflow HTTP API, as data.

`GET /api/v1/openapi.json` serves `openapi_document()`. A test checks that every Flask route
appears here with its method, and every path here is a route. The task and instance actions
are listed one path each, so each documents its own request body.
"""

from __future__ import annotations

import copy
from typing import Any, Final

TASK_ACTIONS: Final = ("view", "approve", "reject", "return", "reassign", "remind", "comment")
INSTANCE_ACTIONS: Final = ("withdraw", "resubmit", "comment")

_JSON: Final = "application/json"


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _schema(name: str) -> dict[str, str]:
    return _ref("schemas", name)


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {_JSON: {"schema": schema}}


_TEXT = {"type": "string"}
_NULLABLE_TEXT = {"type": ["string", "null"]}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_TIME = {"type": "string", "format": "date-time"}

_ERROR_BODY: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {
            "type": "string",
            "description": "machine-readable, e.g. invalid_form, forbidden, not_found, conflict, "
            "business_rule, idempotency_key_reused, malformed_json, payload_too_large, "
            "database_unavailable",
        },
        "message": {"type": "string", "description": "for people"},
        "fields": {
            "type": "object",
            "description": "each offending field (or header) and its problem",
            "additionalProperties": {"type": "string"},
        },
    },
}

SCHEMAS: Final[dict[str, Any]] = {
    "Error": {
        "type": "object",
        "description": "Every error answer (status ≥ 400) has this shape.",
        "required": ["error"],
        "properties": {"error": _ERROR_BODY},
    },
    "LocalizedText": {
        "type": "object",
        "required": ["zh", "en"],
        "properties": {"zh": _TEXT, "en": _TEXT},
    },
    "Task": {
        "type": "object",
        "description": "One approval task (审批任务) of an instance.",
        "properties": {
            "task_id": _TEXT,
            "instance_id": _TEXT,
            "node_key": _TEXT,
            "node_name": {"oneOf": [_schema("LocalizedText"), {"type": "null"}]},
            "department_id": _TEXT,
            "step": {"type": "integer"},
            "status": {"type": "string", "description": "open, approved, rejected, …"},
            "assignees": {"type": "array", "items": _TEXT},
            "sla_hours": {"type": "number"},
            "created_at": _TIME,
            "viewed_at": _NULLABLE_TIME,
            "decided_at": _NULLABLE_TIME,
            "decided_by": _NULLABLE_TEXT,
            "reminders": {"type": "integer"},
        },
    },
    "InboxTask": {
        "allOf": [
            _schema("Task"),
            {
                "type": "object",
                "properties": {"process_key": _TEXT, "applicant_id": _TEXT},
            },
        ]
    },
    "Instance": {
        "type": "object",
        "description": "A request (申请) and its tasks.",
        "properties": {
            "instance_id": _TEXT,
            "process_key": _TEXT,
            "process_version": {"type": "integer"},
            "process_name": {"oneOf": [_schema("LocalizedText"), {"type": "null"}]},
            "applicant_id": _TEXT,
            "campaign_id": _NULLABLE_TEXT,
            "supersedes": _NULLABLE_TEXT,
            "status": {"type": "string", "description": "running, returned, completed, …"},
            "outcome": _NULLABLE_TEXT,
            "returns": {"type": "integer"},
            "form": {"type": "object"},
            "submitted_at": _TIME,
            "updated_at": _TIME,
            "closed_at": _NULLABLE_TIME,
            "version": {"type": "integer"},
            "tasks": {"type": "array", "items": _schema("Task")},
        },
    },
    "Event": {
        "type": "object",
        "description": "One event of the append-only log.",
        "properties": {
            "event_id": {"type": "integer"},
            "stream_id": _TEXT,
            "stream_version": {"type": "integer"},
            "event_type": _TEXT,
            "occurred_at": _TIME,
            "recorded_at": _TIME,
            "process_key": _NULLABLE_TEXT,
            "process_version": {"type": ["integer", "null"]},
            "node_key": _NULLABLE_TEXT,
            "task_id": _NULLABLE_TEXT,
            "actor_id": _TEXT,
            "actor_role": _TEXT,
            "department_id": _NULLABLE_TEXT,
            "payload": {"type": "object"},
        },
    },
    "InstanceAnswer": {
        "type": "object",
        "description": "A command's answer: the instance after it, and the events it wrote.",
        "required": ["instance", "events"],
        "properties": {
            "instance": _schema("Instance"),
            "events": {"type": "array", "items": _schema("Event")},
        },
    },
    "EventList": {
        "type": "object",
        "required": ["events"],
        "properties": {"events": {"type": "array", "items": _schema("Event")}},
    },
    "Inbox": {
        "type": "object",
        "required": ["tasks"],
        "properties": {"tasks": {"type": "array", "items": _schema("InboxTask")}},
    },
    "Campaign": {
        "type": "object",
        "description": "A whereabouts registration campaign (去向登记).",
        "properties": {
            "campaign_id": _TEXT,
            "process_key": _TEXT,
            "title": _TEXT,
            "holiday": _TEXT,
            "opens_at": _TIME,
            "deadline": _TIME,
            "audience": {"type": "array", "items": _TEXT},
            "reminders": {"type": "integer"},
            "version": {"type": "integer"},
        },
    },
    "CampaignAnswer": {
        "type": "object",
        "required": ["campaign", "events"],
        "properties": {
            "campaign": _schema("Campaign"),
            "events": {"type": "array", "items": _schema("Event")},
        },
    },
    "CampaignList": {
        "type": "object",
        "required": ["campaigns"],
        "properties": {"campaigns": {"type": "array", "items": _schema("Campaign")}},
    },
    "ProcessSummary": {
        "type": "object",
        "properties": {
            "key": _TEXT,
            "version": {"type": "integer"},
            "name": _schema("LocalizedText"),
            "audience": {"type": "array", "items": _schema("Audience")},
            "category": _TEXT,
            "campaign_based": {"type": "boolean"},
            "nodes": {"type": "integer", "description": "number of approval nodes"},
        },
    },
    "ProcessList": {
        "type": "object",
        "required": ["processes"],
        "properties": {"processes": {"type": "array", "items": _schema("ProcessSummary")}},
    },
    "Audience": {
        "type": "string",
        "enum": ["undergraduate", "graduate", "staff", "alumni", "visitor"],
    },
    "FormField": {
        "type": "object",
        "required": ["name", "label", "type", "required"],
        "properties": {
            "name": _TEXT,
            "label": _schema("LocalizedText"),
            "type": {
                "type": "string",
                "enum": [
                    "text",
                    "textarea",
                    "integer",
                    "number",
                    "boolean",
                    "date",
                    "datetime",
                    "choice",
                    "multichoice",
                    "phone",
                    "email",
                    "province",
                ],
            },
            "required": {"type": "boolean"},
            "options": {"type": "array", "items": _TEXT},
            "max_length": {"type": "integer"},
            "minimum": {"type": "number"},
            "maximum": {"type": "number"},
            "help": _TEXT,
            "required_when": {"type": "object"},
        },
    },
    "Node": {
        "type": "object",
        "properties": {
            "key": _TEXT,
            "name": _schema("LocalizedText"),
            "assignee": {
                "type": "object",
                "properties": {"kind": _TEXT, "department": _TEXT},
            },
            "sla_hours": {"type": "number"},
            "condition": {"type": "object"},
        },
    },
    "ProcessDefinition": {
        "type": "object",
        "description": "A service of the hall: its form schema and approval steps.",
        "properties": {
            "key": _TEXT,
            "version": {"type": "integer"},
            "name": _schema("LocalizedText"),
            "description": {"oneOf": [_schema("LocalizedText"), {"type": "null"}]},
            "category": _TEXT,
            "owner_department": _TEXT,
            "audience": {"type": "array", "items": _schema("Audience")},
            "campaign_based": {"type": "boolean"},
            "form": {"type": "array", "items": _schema("FormField")},
            "rules": {"type": "array", "items": {"type": "object"}},
            "steps": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "parallel": {"type": "boolean"},
                        "nodes": {"type": "array", "items": _schema("Node")},
                    },
                },
            },
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "events": {"type": "integer", "description": "the event store's high-water mark"},
            "error": _ERROR_BODY,
        },
    },
    # --- request bodies ---
    "SubmitRequest": {
        "type": "object",
        "required": ["process_key", "form"],
        "properties": {
            "process_key": {"type": "string", "example": "enrollment_certificate"},
            "form": {
                "type": "object",
                "description": "the process's form; see GET /api/v1/processes/{process_key}",
                "example": {"purpose": "签证", "copies": 2, "language": "英文"},
            },
            "campaign_id": {
                "type": ["string", "null"],
                "description": "required for campaign-based processes (去向登记)",
            },
        },
    },
    "ViewRequest": {"type": "object", "description": "no fields; the body may be empty"},
    "ApproveRequest": {"type": "object", "properties": {"comment": _TEXT}},
    "RejectRequest": {"type": "object", "required": ["reason"], "properties": {"reason": _TEXT}},
    "ReturnRequest": {"type": "object", "required": ["reason"], "properties": {"reason": _TEXT}},
    "ReassignRequest": {
        "type": "object",
        "required": ["to"],
        "properties": {
            "to": {"type": "string", "description": "the person who takes the task over"},
            "delegate": {"type": "boolean", "default": False},
            "reason": _TEXT,
        },
    },
    "RemindRequest": {"type": "object", "properties": {"message": _TEXT}},
    "CommentRequest": {"type": "object", "required": ["text"], "properties": {"text": _TEXT}},
    "WithdrawRequest": {"type": "object", "properties": {"reason": _TEXT}},
    "ResubmitRequest": {
        "type": "object",
        "required": ["form"],
        "properties": {"form": {"type": "object"}},
    },
    "OpenCampaignRequest": {
        "type": "object",
        "required": ["campaign_id", "process_key", "title", "holiday", "opens_at", "deadline"],
        "properties": {
            "campaign_id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{2,63}$"},
            "process_key": {"type": "string", "example": "holiday_whereabouts"},
            "title": _TEXT,
            "holiday": {"type": "string", "example": "寒假"},
            "opens_at": {"type": "string", "format": "date-time"},
            "deadline": {"type": "string", "format": "date-time"},
            "audience": {"type": "array", "items": _schema("Audience")},
        },
    },
    "RemindStudentsRequest": {
        "type": "object",
        "required": ["student_ids"],
        "properties": {
            "student_ids": {"type": "array", "items": _TEXT},
            "message": _TEXT,
        },
    },
}

_ERRORS: Final[dict[str, tuple[str, str]]] = {
    "400": ("BadRequest", "malformed JSON, not an object, wrong content type, invalid form"),
    "401": ("Unauthorized", "X-Remote-User missing, blank or unknown to the directory"),
    "403": ("Forbidden", "the caller may not do this (not the assignee, not the applicant)"),
    "404": ("NotFound", "no such route, instance, task, process or campaign"),
    "405": ("MethodNotAllowed", "the route exists but not with this method"),
    "409": ("Conflict", "someone changed it first (e.g. the task was already decided)"),
    "411": ("LengthRequired", "a chunked body through a server that does not terminate it"),
    "413": ("PayloadTooLarge", "the body exceeds the limit (64 KiB by default)"),
    "422": ("Unprocessable", "a business rule forbids it, or an idempotency key was reused"),
    "500": ("InternalError", "a server bug; it is logged"),
    "503": ("Unavailable", "the event store does not answer"),
}

RESPONSES: Final[dict[str, Any]] = {
    name: {"description": description, "content": _json_content(_schema("Error"))}
    for name, description in _ERRORS.values()
}

PARAMETERS: Final[dict[str, Any]] = {
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "1–128 printable characters; a retry with the same key and body "
        "returns the first answer and writes nothing (reply header Idempotent-Replayed: true)",
        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
    },
    "InstanceId": {
        "name": "instance_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$"},
    },
    "TaskId": {
        "name": "task_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$"},
    },
    "CampaignId": {
        "name": "campaign_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{2,63}$"},
    },
    "ProcessKey": {
        "name": "process_key",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"},
    },
}

_REPLAYED_HEADER: Final = {
    "Idempotent-Replayed": {
        "description": "true when this answer is replayed for a repeated Idempotency-Key",
        "schema": {"type": "string", "enum": ["true", "false"]},
    }
}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _ref("responses", _ERRORS[code][0]) for code in codes}


_READ_ERRORS: Final = ("400", "401", "403", "404", "405", "413", "500", "503")
_COMMAND_ERRORS: Final = (
    "400", "401", "403", "404", "405", "409", "411", "413", "422", "500", "503",
)  # fmt: skip


def _query(
    summary: str, schema: str, *, params: list[dict[str, Any]] | None = None, tag: str
) -> dict[str, Any]:
    return {
        "summary": summary,
        "tags": [tag],
        "parameters": params or [],
        "responses": {
            "200": {"description": "OK", "content": _json_content(_schema(schema))},
            **_errors(*_READ_ERRORS),
        },
    }


def _command(
    summary: str,
    request: str,
    answer: str,
    *,
    status: str = "200",
    params: list[dict[str, Any]] | None = None,
    tag: str,
    body_required: bool = True,
) -> dict[str, Any]:
    return {
        "summary": summary,
        "tags": [tag],
        "parameters": [*(params or []), _ref("parameters", "IdempotencyKey")],
        "requestBody": {
            "required": body_required,
            "content": _json_content(_schema(request)),
        },
        "responses": {
            status: {
                "description": "done (or replayed)",
                "headers": _REPLAYED_HEADER,
                "content": _json_content(_schema(answer)),
            },
            **_errors(*_COMMAND_ERRORS),
        },
    }


_TASK_SUMMARIES: Final = {
    "view": ("Open the task (签收/查看): starts its handling time", "ViewRequest"),
    "approve": ("Approve the task (同意)", "ApproveRequest"),
    "reject": ("Reject the request (不同意): ends the instance", "RejectRequest"),
    "return": ("Return the request to the applicant for changes (退回)", "ReturnRequest"),
    "reassign": ("Hand the task to someone else (转办/委托)", "ReassignRequest"),
    "remind": ("Remind the assignees (催办): applicant or supervising office", "RemindRequest"),
    "comment": ("Comment on the task (评论)", "CommentRequest"),
}
_INSTANCE_SUMMARIES: Final = {
    "withdraw": ("Withdraw one's own request (撤回)", "WithdrawRequest"),
    "resubmit": ("Resubmit a returned request with a corrected form (重新提交)", "ResubmitRequest"),
    "comment": ("Comment on the request (评论)", "CommentRequest"),
}

_INSTANCE_ID: Final = _ref("parameters", "InstanceId")
_TASK_ID: Final = _ref("parameters", "TaskId")

PATHS: Final[dict[str, Any]] = {
    "/healthz": {
        "get": {
            "summary": "Liveness and event-store check",
            "tags": ["operations"],
            "security": [],
            "responses": {
                "200": {
                    "description": "the store answers",
                    "content": _json_content(_schema("Health")),
                },
                "503": {
                    "description": "the store does not answer",
                    "content": _json_content(_schema("Health")),
                },
                **_errors("405"),
            },
        }
    },
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "tags": ["operations"],
            "security": [],
            "responses": {
                "200": {"description": "OpenAPI 3.1", "content": _json_content({"type": "object"})},
                **_errors("405"),
            },
        }
    },
    "/api/v1/instances": {
        "post": _command(
            "Submit a request (提交申请)",
            "SubmitRequest",
            "InstanceAnswer",
            status="201",
            tag="instances",
        )
    },
    "/api/v1/instances/{instance_id}": {
        "get": _query(
            "An instance with its tasks (applicant, assignees, or offices that read all)",
            "Instance",
            params=[_INSTANCE_ID],
            tag="instances",
        )
    },
    "/api/v1/instances/{instance_id}/events": {
        "get": _query(
            "The instance's events, oldest first",
            "EventList",
            params=[_INSTANCE_ID],
            tag="instances",
        )
    },
    **{
        f"/api/v1/instances/{{instance_id}}/{action}": {
            "post": _command(
                summary,
                request,
                "InstanceAnswer",
                params=[_INSTANCE_ID],
                tag="instances",
                body_required=action == "resubmit",
            )
        }
        for action, (summary, request) in _INSTANCE_SUMMARIES.items()
    },
    "/api/v1/inbox": {
        "get": _query(
            "The caller's open tasks (待办), oldest first",
            "Inbox",
            params=[
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200},
                }
            ],
            tag="tasks",
        )
    },
    **{
        f"/api/v1/tasks/{{task_id}}/{action}": {
            "post": _command(
                summary,
                request,
                "InstanceAnswer",
                params=[_TASK_ID],
                tag="tasks",
                body_required=action in ("reject", "return", "reassign", "comment"),
            )
        }
        for action, (summary, request) in _TASK_SUMMARIES.items()
    },
    "/api/v1/processes": {
        "get": _query(
            "The services of the hall (流程目录)",
            "ProcessList",
            params=[
                {
                    "name": "audience",
                    "in": "query",
                    "required": False,
                    "description": "only the services offered to this audience",
                    "schema": _schema("Audience"),
                }
            ],
            tag="processes",
        )
    },
    "/api/v1/processes/{process_key}": {
        "get": _query(
            "One service's definition: form schema and approval steps",
            "ProcessDefinition",
            params=[_ref("parameters", "ProcessKey")],
            tag="processes",
        )
    },
    "/api/v1/campaigns": {
        "get": _query("Whereabouts campaigns (去向登记)", "CampaignList", tag="campaigns"),
        "post": _command(
            "Open a whereabouts campaign (student affairs, graduate school)",
            "OpenCampaignRequest",
            "CampaignAnswer",
            status="201",
            tag="campaigns",
        ),
    },
    "/api/v1/campaigns/{campaign_id}/remind": {
        "post": _command(
            "Remind students who have not registered (催办), within the caller's scope",
            "RemindStudentsRequest",
            "CampaignAnswer",
            params=[_ref("parameters", "CampaignId")],
            tag="campaigns",
        )
    },
}

DOCUMENT: Final[dict[str, Any]] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Tongban workflow API (通办)",
        "version": "1.0.0",
        "summary": "Submit, approve and follow requests of the one-stop service hall",
        "description": (
            "The caller is the X-Remote-User header, set by the university's single sign-on "
            "proxy. Commands accept an Idempotency-Key header. Bodies are UTF-8 JSON objects of "
            'at most 64 KiB. Every error answer is {"error": {"code", "message", '
            '"fields"?}}.'
        ),
    },
    "servers": [{"url": "/"}],
    "security": [{"remoteUser": []}],
    "tags": [
        {"name": "instances", "description": "requests (申请)"},
        {"name": "tasks", "description": "approval tasks (审批)"},
        {"name": "processes", "description": "the catalog of services"},
        {"name": "campaigns", "description": "whereabouts registration (去向登记)"},
        {"name": "operations", "description": "health and this document"},
    ],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "responses": RESPONSES,
        "parameters": PARAMETERS,
        "securitySchemes": {
            "remoteUser": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Remote-User",
                "description": "the signed-in user's id, set by the SSO proxy (trusted)",
            }
        },
    },
}


def openapi_document() -> dict[str, Any]:
    """A copy of the document (callers may not change the shared one)."""
    return copy.deepcopy(DOCUMENT)
