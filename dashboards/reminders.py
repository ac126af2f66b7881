"""催办 (remind) from the whereabouts page: a POST to the workflow HTTP API as the signed-in user.

The dashboards never write the event store themselves (nor import the workflow core): they call
`POST {api_url}/api/v1/campaigns/{campaign_id}/remind` with `{"student_ids": [...],
"message": "..."}`, the user in `X-Remote-User` (the API trusts it as it trusts the SSO proxy)
and an `Idempotency-Key`, so a retried request records one reminder, not two.

The API decides all-or-nothing: one student outside the caller's classes refuses the whole
request. To say per student who was reminded and who was refused, a refused batch is retried one
student at a time (each with its own key derived from the batch's), and `ReminderOutcome`
lists both. An API that cannot be reached, or fails (5xx), leaves `error` set and reminds nobody.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

TIMEOUT_SECONDS: Final = 10.0
# Refusals that may concern single students (validation, authorization); others concern the
# whole request (the caller, the campaign) and are not worth retrying student by student.
_PER_STUDENT_REFUSALS: Final = frozenset({400, 403, 422})


@dataclass(frozen=True)
class ReminderOutcome:
    """Who was reminded, who was refused and why (the API's message), or why nobody was."""

    reminded: tuple[str, ...] = ()
    refused: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.refused


@dataclass(frozen=True)
class _Answer:
    status: int
    body: dict[str, Any]

    @property
    def message(self) -> str:
        error = self.body.get("error")
        if isinstance(error, dict):
            text = str(error.get("message", ""))
            fields = error.get("fields")
            if isinstance(fields, dict) and fields:
                text += " (" + "; ".join(f"{k}: {v}" for k, v in fields.items()) + ")"
            return text or f"HTTP {self.status}"
        return f"HTTP {self.status}"


def remind_url(api_url: str, campaign_id: str) -> str:
    return (
        f"{api_url.rstrip('/')}/api/v1/campaigns/{urllib.parse.quote(campaign_id, safe='')}/remind"
    )


def _post(url: str, user_id: str, body: dict[str, Any], key: str, timeout: float) -> _Answer:
    request = urllib.request.Request(
        url,
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            "X-Remote-User": user_id,
            "Idempotency-Key": key,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return _Answer(response.status, _json(response.read()))
    except urllib.error.HTTPError as refused:
        return _Answer(refused.code, _json(refused.read()))


def _json(raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return document if isinstance(document, dict) else {}


def _reminded_ids(answer: _Answer, asked: Sequence[str]) -> tuple[str, ...]:
    """The student ids the stored event names (the API de-duplicates), else those asked."""
    for event in answer.body.get("events", []):
        ids = event.get("student_ids") if isinstance(event, dict) else None
        if ids is None and isinstance(event, dict):
            ids = (event.get("payload") or {}).get("student_ids")
        if isinstance(ids, list) and all(isinstance(s, str) for s in ids):
            return tuple(ids)
    return tuple(dict.fromkeys(asked))


def remind(
    api_url: str,
    user_id: str,
    campaign_id: str,
    student_ids: Sequence[str],
    message: str = "",
    *,
    key: str | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> ReminderOutcome:
    """Record one reminder (催办) of `student_ids` in `campaign_id` by `user_id`."""
    students = list(dict.fromkeys(student_ids))
    if not students:
        return ReminderOutcome()
    batch_key = key or uuid.uuid4().hex
    url = remind_url(api_url, campaign_id)
    try:
        answer = _post(
            url, user_id, {"student_ids": students, "message": message}, batch_key, timeout
        )
        if answer.status == 200:
            return ReminderOutcome(reminded=_reminded_ids(answer, students))
        if answer.status >= 500:
            return ReminderOutcome(error=answer.message)
        if answer.status not in _PER_STUDENT_REFUSALS or len(students) == 1:
            return ReminderOutcome(refused={s: answer.message for s in students})
        reminded: list[str] = []
        refused: dict[str, str] = {}
        for student in students:
            single = _post(
                url,
                user_id,
                {"student_ids": [student], "message": message},
                f"{batch_key}:{student}",
                timeout,
            )
            if single.status == 200:
                reminded.append(student)
            elif single.status >= 500:
                return ReminderOutcome(tuple(reminded), refused, single.message)
            else:
                refused[student] = single.message
        return ReminderOutcome(tuple(reminded), refused)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as failure:
        reason = getattr(failure, "reason", failure)
        return ReminderOutcome(error=f"the workflow API at {api_url} did not answer: {reason}")
