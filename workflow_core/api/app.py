"""The workflow HTTP API (Flask): the hall's portal, app and WeChat front ends call it.

Handlers are thin: check the route and the body, call the `WorkflowService`, answer JSON. The
caller is the trusted `X-Remote-User` header set by the single sign-on proxy; the idempotency
key is the `Idempotency-Key` header, passed through to the service. Every error, including the
ones Werkzeug raises itself (unknown route, wrong method, body too large), is answered as
``{"error": {"code", "message", "fields"?}}``; nothing a client sends yields a 500.

Order of checks for every request: route (404/405) → body size (413) → caller (401) → body
(400) → the service (400/403/404/409/422/503). The service runs each command in one
transaction, so an error writes nothing.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, Final

from flask import Flask, Response, g, request
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import (
    HTTPException,
    LengthRequired,
    RequestEntityTooLarge,
)
from werkzeug.routing import BaseConverter

from workflow_core.api.openapi import INSTANCE_ACTIONS, TASK_ACTIONS, openapi_document
from workflow_core.catalog.model import Audience, ProcessDefinition
from workflow_core.errors import (
    BusinessRuleError,
    ConflictError,
    DatabaseUnavailableError,
    FormValidationError,
    IdempotencyKeyReusedError,
    NotAuthorizedError,
    NotFoundError,
    UnknownUserError,
    WorkflowError,
)
from workflow_core.service import Caller, CommandResult, WorkflowService
from workflow_core.store.event_store import high_water_mark

log = logging.getLogger(__name__)

JSON_CONTENT_TYPE: Final = "application/json; charset=utf-8"
DEFAULT_MAX_BODY_BYTES: Final = 64 * 1024
MAX_USER_ID: Final = 64
INBOX_DEFAULT_LIMIT: Final = 200
INBOX_MAX_LIMIT: Final = 1000
# Endpoints anyone may call without X-Remote-User.
PUBLIC_ENDPOINTS: Final = frozenset({"healthz", "openapi"})

# A workflow error's class decides the status; the most specific class wins (MRO order).
STATUS_OF_ERROR: Final[dict[type[WorkflowError], int]] = {
    FormValidationError: 400,
    UnknownUserError: 401,
    NotAuthorizedError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    BusinessRuleError: 422,
    IdempotencyKeyReusedError: 422,
    DatabaseUnavailableError: 503,
}
_UNPAIRED_SURROGATE = re.compile(r"[\ud800-\udfff]")


class ApiError(Exception):
    """An error the API itself detects (header, body, query) before calling the service."""

    def __init__(
        self, status: int, code: str, message: str, fields: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = dict(fields or {})


class IdConverter(BaseConverter):
    """Instance and task ids: anything else cannot exist, so the route does not match (404)."""

    regex = r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,79}"


class CampaignIdConverter(BaseConverter):
    regex = r"[a-z0-9][a-z0-9\-]{2,63}"


class ProcessKeyConverter(BaseConverter):
    regex = r"[a-z][a-z0-9_]{0,63}"


# --- responses -------------------------------------------------------------------------------


def _default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# `json.dumps(body, ensure_ascii=False, sort_keys=True, default=_default)`, built once; for a
# body of JSON values alone it writes what the service's `answer_text` writes.
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=_default).encode


def json_response(
    body: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """UTF-8 JSON with readable Chinese; keys sorted so a replay is byte-identical."""
    response = Response(_encode(body), status=status, content_type=JSON_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(
    status: int,
    code: str,
    message: str,
    fields: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = dict(fields)
    return json_response({"error": error}, status, headers)


def _command_response(result: CommandResult, status: int) -> Response:
    # The service encoded the answer already (the text it keeps under an idempotency key).
    text = result.text if result.text is not None else _encode(result.body)
    response = Response(text, status=status, content_type=JSON_CONTENT_TYPE)
    if request.headers.get("Idempotency-Key") is not None:
        response.headers["Idempotent-Replayed"] = "true" if result.replayed else "false"
    return response


# --- request parsing -------------------------------------------------------------------------


def _read_body(max_bytes: int) -> bytes:
    """The raw body, refusing more than `max_bytes` before any of it is parsed.

    A declared Content-Length is checked first; a chunked body (no Content-Length) is read at
    most `max_bytes + 1` bytes far, so an endless stream cannot exhaust memory. Chunked bodies
    need a server that terminates the input (gunicorn sets `wsgi.input_terminated`).
    """
    length = request.content_length
    if length is not None and length > max_bytes:
        raise RequestEntityTooLarge()
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if chunked and not request.environ.get("wsgi.input_terminated"):
        raise LengthRequired()
    stream = request.stream
    parts: list[bytes] = []
    total = 0
    while total <= max_bytes:
        part = stream.read(max_bytes + 1 - total)
        if not part:
            break
        parts.append(part)
        total += len(part)
    if total > max_bytes:
        raise RequestEntityTooLarge()
    return b"".join(parts)


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _check_strings(value: object, depth: int = 0) -> None:
    """Refuse NUL characters and unpaired surrogates: no store can keep them as text."""
    if isinstance(value, str):
        if "\x00" in value or _UNPAIRED_SURROGATE.search(value):
            raise ApiError(
                400,
                "malformed_json",
                "JSON strings must not contain NUL characters or unpaired surrogates",
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, depth + 1)
            _check_strings(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item, depth + 1)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; an empty body is an empty object (actions without fields)."""
    if not raw.strip():
        return {}
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise ApiError(
            400,
            "unsupported_content_type",
            f"send the body as application/json, not {request.mimetype or 'no content type'!r}",
        )
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise ApiError(400, "unsupported_content_type", "send the body in UTF-8")
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, huge ints
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "not_an_object", "the body must be a JSON object")
    try:
        _check_strings(value)
    except RecursionError:
        raise ApiError(400, "malformed_json", "the body is nested too deeply") from None
    return value


def _body() -> dict[str, Any]:
    body = g.get("body")
    return body if isinstance(body, dict) else {}


def _caller() -> str:
    return str(g.user_id)


def _resolved() -> Caller:
    """The caller as the guard resolved them: the service acts as them without asking again."""
    caller: Caller = g.caller
    return caller


def _idempotency_key() -> str | None:
    return request.headers.get("Idempotency-Key")


def _optional_text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise FormValidationError(f"{name} must be text", {name: "must be a string"})
    return value


def _process_summary(definition: ProcessDefinition) -> dict[str, Any]:
    return {
        "key": definition.key,
        "version": definition.version,
        "name": {"zh": definition.name.zh, "en": definition.name.en},
        "audience": sorted(a.value for a in definition.audience),
        "category": definition.category,
        "campaign_based": definition.campaign_based,
        "nodes": len(definition.nodes),
    }


# --- the application -------------------------------------------------------------------------


def create_app(service: WorkflowService, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Flask:
    """The JSON API over `service`; run it under gunicorn (`workflow_core.api.app:create_app`)."""
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.url_map.merge_slashes = False  # "//" is no route (404), not a redirect
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["campaign"] = CampaignIdConverter
    app.url_map.converters["process"] = ProcessKeyConverter
    app.extensions["workflow_service"] = service

    # --- guards ------------------------------------------------------------------------------

    @app.before_request
    def guard() -> None:
        if request.routing_exception is not None:
            raise request.routing_exception
        if request.method == "POST":
            raw = _read_body(max_body_bytes)
        else:
            length = request.content_length
            if length is not None and length > max_body_bytes:
                raise RequestEntityTooLarge()
            raw = b""
        if request.endpoint in PUBLIC_ENDPOINTS or request.method == "OPTIONS":
            return
        user_id = request.headers.get("X-Remote-User", "").strip()
        if not user_id:
            raise ApiError(401, "unauthenticated", "no X-Remote-User: sign in through SSO")
        if len(user_id) > MAX_USER_ID or not user_id.isprintable():
            raise ApiError(401, "unknown_user", "X-Remote-User is not a known user")
        g.caller = service.caller(user_id)  # UnknownUserError → 401
        g.user_id = user_id
        if request.method == "POST":
            g.body = parse_json_object(raw)

    # --- error handlers ----------------------------------------------------------------------

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.fields)

    @app.errorhandler(WorkflowError)
    def workflow_error(exc: WorkflowError) -> Response:
        status = next(
            (STATUS_OF_ERROR[cls] for cls in type(exc).__mro__ if cls in STATUS_OF_ERROR), 500
        )
        if status >= 500:
            log.error("workflow error %s: %s", exc.code, exc.message, exc_info=exc)
        if status == 503:
            return error_response(503, exc.code, "the event store is unavailable; try again")
        return error_response(status, exc.code, exc.message, exc.fields)

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeoutError)
    def database_down(exc: Exception) -> Response:
        log.warning("database unavailable: %s", exc)
        return error_response(
            503, "database_unavailable", "the event store is unavailable; try again"
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | HTTPException:
        if exc.code is not None and exc.code < 400:  # a redirect: not an error
            return exc
        status = exc.code or 500
        if status >= 500:
            log.error("HTTP %s: %s", status, exc.description)
        headers = {}
        allow = exc.get_response().headers.get("Allow")
        if allow:
            headers["Allow"] = allow
        code = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name or "error"
        if isinstance(exc, RequestEntityTooLarge):
            code, message = "payload_too_large", f"the body exceeds {max_body_bytes} bytes"
        return error_response(status, code, message, headers=headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            log.warning("database connection lost: %s", exc)
            return error_response(
                503, "database_unavailable", "the event store is unavailable; try again"
            )
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "an unexpected error; it has been logged")

    # --- routes ------------------------------------------------------------------------------

    @app.get("/healthz", endpoint="healthz")
    def healthz() -> Response:
        try:
            with service.read_engine.connect() as conn:
                events = high_water_mark(conn)
        except (DBAPIError, PoolTimeoutError, DatabaseUnavailableError) as exc:
            log.warning("health check failed: %s", exc)
            return json_response(
                {
                    "status": "unavailable",
                    "error": {
                        "code": "database_unavailable",
                        "message": "the event store does not answer",
                    },
                },
                503,
            )
        return json_response({"status": "ok", "events": events})

    @app.get("/api/v1/openapi.json", endpoint="openapi")
    def openapi() -> Response:
        return json_response(openapi_document())

    @app.post("/api/v1/instances")
    def submit() -> Response:
        body = _body()
        process_key = body.get("process_key")
        if not isinstance(process_key, str) or not process_key.strip():
            raise FormValidationError("process_key is required", {"process_key": "required text"})
        campaign_id = _optional_text(body, "campaign_id")
        result = service.submit(
            _caller(),
            process_key,
            body.get("form"),
            campaign_id,
            idempotency_key=_idempotency_key(),
            caller=_resolved(),
        )
        return _command_response(result, 201)

    @app.get("/api/v1/instances/<id:instance_id>")
    def get_instance(instance_id: str) -> Response:
        return json_response(service.get_instance(_caller(), instance_id, caller=_resolved()))

    @app.get("/api/v1/instances/<id:instance_id>/events")
    def get_events(instance_id: str) -> Response:
        events = service.get_events(_caller(), instance_id, caller=_resolved())
        return json_response({"events": events})

    @app.get("/api/v1/inbox")
    def get_inbox() -> Response:
        raw = request.args.get("limit")
        limit = INBOX_DEFAULT_LIMIT
        if raw is not None:
            if not raw.isdigit() or not 1 <= int(raw) <= INBOX_MAX_LIMIT:
                raise ApiError(
                    400,
                    "invalid_query",
                    "limit must be a whole number",
                    {"limit": f"1–{INBOX_MAX_LIMIT}"},
                )
            limit = int(raw)
        tasks = service.get_inbox(_caller(), limit=limit, caller=_resolved())
        return json_response({"tasks": tasks})

    def task_action(action: str) -> Callable[[str], Response]:
        def handler(task_id: str) -> Response:
            result = service.act_on_task(
                _caller(),
                task_id,
                action,
                _body(),
                idempotency_key=_idempotency_key(),
                caller=_resolved(),
            )
            return _command_response(result, 200)

        return handler

    for action in TASK_ACTIONS:
        app.add_url_rule(
            f"/api/v1/tasks/<id:task_id>/{action}",
            endpoint=f"task_{action}",
            view_func=task_action(action),
            methods=["POST"],
        )

    def instance_action(action: str) -> Callable[[str], Response]:
        def handler(instance_id: str) -> Response:
            result = service.act_on_instance(
                _caller(),
                instance_id,
                action,
                _body(),
                idempotency_key=_idempotency_key(),
                caller=_resolved(),
            )
            return _command_response(result, 200)

        return handler

    for action in INSTANCE_ACTIONS:
        app.add_url_rule(
            f"/api/v1/instances/<id:instance_id>/{action}",
            endpoint=f"instance_{action}",
            view_func=instance_action(action),
            methods=["POST"],
        )

    @app.get("/api/v1/processes")
    def list_processes() -> Response:
        audience = request.args.get("audience")
        definitions = list(service.catalog)
        if audience is not None:
            if audience not in {a.value for a in Audience}:
                raise ApiError(
                    400,
                    "invalid_query",
                    "unknown audience",
                    {"audience": ", ".join(a.value for a in Audience)},
                )
            definitions = list(service.catalog.for_audience(Audience(audience)))
        return json_response({"processes": [_process_summary(d) for d in definitions]})

    @app.get("/api/v1/processes/<process:process_key>")
    def get_process(process_key: str) -> Response:
        return json_response(service.catalog.get(process_key).as_dict())

    @app.get("/api/v1/campaigns")
    def list_campaigns() -> Response:
        return json_response({"campaigns": service.list_campaigns(_caller(), caller=_resolved())})

    @app.post("/api/v1/campaigns")
    def open_campaign() -> Response:
        result = service.open_campaign(
            _caller(), _body(), idempotency_key=_idempotency_key(), caller=_resolved()
        )
        return _command_response(result, 201)

    @app.post("/api/v1/campaigns/<campaign:campaign_id>/remind")
    def remind_students(campaign_id: str) -> Response:
        result = service.remind_students(
            _caller(),
            campaign_id,
            _body(),
            idempotency_key=_idempotency_key(),
            caller=_resolved(),
        )
        return _command_response(result, 200)

    return app


__all__ = ["ApiError", "create_app", "error_response", "json_response", "parse_json_object"]
