"""Errors of the workflow core: each names what went wrong and where.

The edges turn them into HTTP status codes (the API) or one line (the CLI); nothing below the
edges formats them for people.
"""

from __future__ import annotations

from collections.abc import Mapping


class WorkflowError(Exception):
    """Base of every error the workflow core raises on purpose."""

    code = "workflow_error"

    def __init__(self, message: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, str] = dict(fields or {})


class CatalogError(WorkflowError):
    """A process definition file is malformed: names the file and the field."""

    code = "catalog_error"

    def __init__(self, path: str, field: str, problem: str) -> None:
        super().__init__(f"{path}: {field}: {problem}", {field: problem})
        self.path = path
        self.field = field
        self.problem = problem


class FormValidationError(WorkflowError):
    """A submitted form does not match the process's form schema; `fields` names each problem."""

    code = "invalid_form"


class NotFoundError(WorkflowError):
    """The instance, task, process or campaign does not exist."""

    code = "not_found"


class UnknownUserError(WorkflowError):
    """The caller is not a person the university directory knows."""

    code = "unknown_user"


class NotAuthorizedError(WorkflowError):
    """The caller may not perform this command on this instance or task."""

    code = "forbidden"


class ConflictError(WorkflowError):
    """Someone else changed the instance first (a racing decision, a stale version)."""

    code = "conflict"


class BusinessRuleError(WorkflowError):
    """The command is well-formed but the process rules forbid it in the current state."""

    code = "business_rule"


class IdempotencyKeyReusedError(WorkflowError):
    """An idempotency key was sent again with a different request."""

    code = "idempotency_key_reused"


class DatabaseUnavailableError(WorkflowError):
    """A database URL is malformed or the server cannot be reached."""

    code = "database_unavailable"
