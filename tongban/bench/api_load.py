"""Closed-loop load on the workflow HTTP API: clients that submit requests and approve them.

Each client is a thread with one kept-alive connection (`HallClient`). It submits a request as
an eligible applicant, then approves the instance's open tasks one by one, each as one of its
assignees, until none is left; then it submits the next. Every submit and every approve is one
command. The HTTP floor (`run_floor`) runs the same number of clients against the health check
instead: what the HTTP stack alone allows. The forms are made before the load starts, so the
clients spend their time on the wire, not in form generation (they share two cores with the
server).
"""

from __future__ import annotations

import itertools
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from tongban.simulator.calendar import CAMPUS_TZ
from tongban.simulator.live import (
    CATEGORY_FIELDS,
    CATEGORY_OF_KIND,
    ApiRefusedError,
    ApiUnreachableError,
    HallClient,
    Roster,
)
from tongban.simulator.volumes import yearly_totals
from workflow_core.catalog.examples import example_form
from workflow_core.catalog.forms import validate_form
from workflow_core.catalog.loader import Catalog
from workflow_core.catalog.model import Audience, ProcessDefinition
from workflow_core.command_context import assigner
from workflow_core.directory.port import Directory
from workflow_core.errors import FormValidationError, WorkflowError

APPROVE_BODY: Final = {"comment": "同意"}
FORM_TRIES: Final = 4  # a random form may miss a cross-field rule: draw again a few times
UNREACHABLE_PAUSE: Final = 0.1  # a client whose server went away does not spin
# The HTTP floor's endpoint: public, no body, one indexed read (the store's high-water mark).
FLOOR_PATH: Final = "/healthz"


@dataclass(frozen=True)
class Submission:
    """One request to submit: who, which service, with which form."""

    applicant: str
    process_key: str
    form: dict[str, Any]


def plan_submissions(
    roster: Roster,
    directory: Directory,
    catalog: Catalog,
    rng: random.Random,
    count: int,
    at: datetime,
) -> list[Submission]:
    """`count` submissions chosen as the live simulator chooses them: services weighted by the
    square root of their yearly volume, an applicant of the service's audience, a valid form.

    Unlike live traffic, the load keeps only requests that the hall's rules let run to their
    end, so that every refusal the bench sees is a failure of the server, not of the plan:
    an applicant who alone decides a node of their own request is refused (422) by design.
    """
    today = at.astimezone(CAMPUS_TZ).date()
    volumes = yearly_totals()
    services = [d for d in catalog if not d.campaign_based and d.audience]
    weights = [math.sqrt(volumes.get(d.key, 100.0)) for d in services]
    planned: list[Submission] = []
    while len(planned) < count:
        definition = rng.choices(services, weights)[0]
        kinds = sorted(a.value for a in definition.audience if roster.applicants.get(a.value))
        if not kinds:
            continue
        kind = rng.choice(kinds)
        form = _form(definition, kind, rng, today)
        applicant = rng.choice(roster.applicants[kind])
        if form is not None and _decidable(definition, form, applicant, directory, at):
            planned.append(Submission(applicant, definition.key, form))
    return planned


def _decidable(
    definition: ProcessDefinition,
    form: Mapping[str, Any],
    applicant: str,
    directory: Directory,
    at: datetime,
) -> bool:
    """Whether someone besides the applicant decides every node that applies to `form`."""
    assign = assigner(directory, applicant, at)
    try:
        return all(
            any(person != applicant for person in assign(node).assignees)
            for step in definition.steps
            for node in step.nodes
            if node.applies_to(form)
        )
    except WorkflowError:  # a rule the organisation cannot resolve for this applicant
        return False


def _form(
    definition: ProcessDefinition, kind: str, rng: random.Random, today: date
) -> dict[str, Any] | None:
    category = CATEGORY_OF_KIND.get(Audience(kind))
    for _try in range(FORM_TRIES):
        form = example_form(definition, rng, today=today)
        for name in CATEGORY_FIELDS:
            if name in form and category is not None:
                form[name] = category  # the catalog routes on who the applicant is
        try:
            return validate_form(definition, form)
        except FormValidationError:
            continue
    return None


@dataclass
class ClientRecord:
    """What one client did: per command, when it finished and how long it took."""

    finished: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "kind:status:code"
    messages: dict[str, str] = field(default_factory=dict)  # the first message of each error
    conflicts: int = 0
    instances_done: int = 0


@dataclass(frozen=True)
class LoadWindow:
    """The measured window of a load run, summed over its clients."""

    seconds: float
    commands: int
    submits: int
    approves: int
    latencies_s: list[float]
    errors: Counter[str]  # over the whole run, warm-up included: every failure counts
    messages: dict[str, str]  # one message of each kind of error, to say what failed
    conflicts: int  # 409s: another command won the race for an instance (whole run)
    events: int  # the store's high-water mark moved by this much within the window
    instances_done: int
    server_cpu_s: float  # CPU seconds the server's processes used within the window
    client_cpu_s: float  # … and this process, the clients


class LoadClient(threading.Thread):
    """One client: submit, approve to the end, repeat, until told to stop."""

    def __init__(
        self,
        base_url: str,
        submissions: Sequence[Submission],
        start: int,
        key_prefix: str,
        stop: threading.Event,
    ) -> None:
        super().__init__(name=f"{key_prefix}-client", daemon=True)
        # No retries: a 503 or a dropped connection is a failure the bench must see.
        self.client = HallClient(base_url, delays=(), timeout=60.0)
        self.submissions = submissions
        self.start_at = start
        self.key_prefix = key_prefix
        self.stop_event = stop
        self.record = ClientRecord()
        self._keys = itertools.count(1)

    def run(self) -> None:
        try:
            for index in itertools.count(self.start_at):
                if self.stop_event.is_set():
                    return
                submission = self.submissions[index % len(self.submissions)]
                self._one_instance(submission)
        finally:
            self.client.close()

    def _one_instance(self, submission: Submission) -> None:
        body = {"process_key": submission.process_key, "form": submission.form}
        answer = self._command("submit", "/api/v1/instances", submission.applicant, body)
        while answer is not None and not self.stop_event.is_set():
            task = _next_open_task(answer.get("instance"))
            if task is None:
                self.record.instances_done += 1
                return
            assignees = task.get("assignees") or []
            if not assignees:
                self._failed("approve:no_assignee", f"task {task.get('task_id')} has no assignee")
                return
            path = f"/api/v1/tasks/{task['task_id']}/approve"
            answer = self._command("approve", path, str(assignees[0]), APPROVE_BODY)

    def _command(
        self, kind: str, path: str, user: str, body: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        key = f"{self.key_prefix}-{next(self._keys)}"
        started = time.monotonic()
        try:
            answer = self.client.request("POST", path, user, body, key, retry=False)
        except ApiRefusedError as exc:
            if exc.status == 409:  # another command won the race for this instance
                self.record.conflicts += 1
            else:
                self._failed(f"{kind}:{exc.status}:{exc.code}", exc.message)
            return None
        except ApiUnreachableError as exc:
            self._failed(f"{kind}:unreachable", exc.message)
            time.sleep(UNREACHABLE_PAUSE)
            return None
        finished = time.monotonic()
        self.record.finished.append(finished)
        self.record.latencies.append(finished - started)
        self.record.kinds.append(kind)
        return answer

    def _failed(self, what: str, message: str) -> None:
        self.record.errors.append(what)
        self.record.messages.setdefault(what, message)


def _next_open_task(instance: object) -> Mapping[str, Any] | None:
    """The first open task (lowest step, then task number): approved in turn."""
    if not isinstance(instance, Mapping):
        return None
    for task in instance.get("tasks") or []:
        if task.get("status") == "open":
            return task  # type: ignore[no-any-return]
    return None


class FloorClient(threading.Thread):
    """One client of the HTTP floor: GET `path` (no caller, no body) again and again on its
    kept-alive connection, until told to stop."""

    def __init__(self, base_url: str, path: str, name: str, stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.client = HallClient(base_url, delays=(), timeout=60.0)
        self.path = path
        self.stop_event = stop
        self.record = ClientRecord()

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                started = time.monotonic()
                try:
                    self.client.request("GET", self.path, None, retry=False)
                except ApiRefusedError as exc:
                    self._failed(f"floor:{exc.status}:{exc.code}", exc.message)
                    continue
                except ApiUnreachableError as exc:
                    self._failed("floor:unreachable", exc.message)
                    time.sleep(UNREACHABLE_PAUSE)
                    continue
                finished = time.monotonic()
                self.record.finished.append(finished)
                self.record.latencies.append(finished - started)
                self.record.kinds.append("floor")
        finally:
            self.client.close()

    def _failed(self, what: str, message: str) -> None:
        self.record.errors.append(what)
        self.record.messages.setdefault(what, message)


def run_floor(
    base_url: str,
    *,
    clients: int,
    warmup_s: float,
    duration_s: float,
    path: str = FLOOR_PATH,
    server_cpu: Callable[[], float] = lambda: 0.0,
) -> LoadWindow:
    """The HTTP floor: `clients` clients requesting a trivial endpoint, `warmup_s` unmeasured,
    then `duration_s` measured. What the server, its HTTP stack and these clients allow on this
    machine with no command behind them; its window counts requests as `commands`."""
    stop = threading.Event()
    threads = [FloorClient(base_url, path, f"floor-client-{i}", stop) for i in range(clients)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(warmup_s)
        cpu_before, client_before = server_cpu(), time.process_time()
        opened = time.monotonic()
        time.sleep(duration_s)
        closed = time.monotonic()
        cpu_after, client_after = server_cpu(), time.process_time()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return _window(
        [t.record for t in threads],
        opened,
        closed,
        0,
        cpu=(cpu_after - cpu_before, client_after - client_before),
    )


def high_water_mark(client: HallClient) -> int:
    """The event store's largest event id, as the API's health check reports it."""
    return int(client.request("GET", "/healthz", None, retry=False)["events"])


def run_load(
    base_url: str,
    submissions: Sequence[Submission],
    *,
    clients: int,
    warmup_s: float,
    duration_s: float,
    key_prefix: str,
    server_cpu: Callable[[], float] = lambda: 0.0,
) -> LoadWindow:
    """Run `clients` clients for `warmup_s` unmeasured, then `duration_s` measured.

    `server_cpu` reads the server's CPU seconds so far: read at both ends of the window, it
    says what a command costs the server whatever else the machine runs."""
    if not submissions:
        raise ValueError("the load needs at least one submission")
    stop = threading.Event()
    spacing = max(1, len(submissions) // clients)
    threads = [
        LoadClient(base_url, submissions, i * spacing, f"{key_prefix}-c{i}", stop)
        for i in range(clients)
    ]
    probe = HallClient(base_url, delays=())
    try:
        for thread in threads:
            thread.start()
        time.sleep(warmup_s)
        events_before = high_water_mark(probe)
        cpu_before, client_before = server_cpu(), time.process_time()
        opened = time.monotonic()
        time.sleep(duration_s)
        closed = time.monotonic()
        cpu_after, client_after = server_cpu(), time.process_time()
        events_after = high_water_mark(probe)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        probe.close()
    return _window(
        [t.record for t in threads],
        opened,
        closed,
        events_after - events_before,
        cpu=(cpu_after - cpu_before, client_after - client_before),
    )


def _window(
    records: Sequence[ClientRecord],
    opened: float,
    closed: float,
    events: int,
    cpu: tuple[float, float],
) -> LoadWindow:
    """The commands that finished inside [opened, closed]; the failures of the whole run."""
    latencies: list[float] = []
    kinds: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    conflicts = 0
    messages: dict[str, str] = {}
    for record in records:
        for finished, latency, kind in zip(
            record.finished, record.latencies, record.kinds, strict=True
        ):
            if opened <= finished <= closed:
                latencies.append(latency)
                kinds[kind] += 1
        errors.update(record.errors)
        messages.update((k, v) for k, v in record.messages.items() if k not in messages)
        conflicts += record.conflicts
    return LoadWindow(
        seconds=closed - opened,
        commands=len(latencies),
        submits=kinds["submit"],
        approves=kinds["approve"],
        latencies_s=latencies,
        errors=errors,
        messages=messages,
        conflicts=conflicts,
        events=events,
        instances_done=sum(r.instances_done for r in records),
        server_cpu_s=cpu[0],
        client_cpu_s=cpu[1],
    )
