"""The application service: load an instance's events, fold, decide, append — one transaction.

Each command runs as: resolve the caller in the directory; begin; claim the idempotency key;
lock the stream (PostgreSQL; SQLite serialises writers anyway); load and fold the stream;
decide; update the projections; append the events with the expected version (the unique
`(stream_id, stream_version)` refuses any writer that raced past the lock); record the answer
under the idempotency key; commit. Any error rolls the whole transaction back, so nothing is
written on failure, and a retried request returns its first answer without writing again.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from sqlalchemy import Connection, Engine, select

from workflow_core.catalog.loader import Catalog
from workflow_core.catalog.model import Node, ProcessDefinition
from workflow_core.command_context import (
    MAX_ID,
    assigner,
    campaign_context,
    definition_of,
    resolve_actor,
    supervision_checker,
    unstorable,
)
from workflow_core.directory.port import Assignment, Directory, Role
from workflow_core.domain.commands import (
    Approve,
    Comment,
    InstanceCommand,
    OpenCampaign,
    Reassign,
    Reject,
    Remind,
    RemindStudents,
    Resubmit,
    ReturnToApplicant,
    Submit,
    ViewTask,
    Withdraw,
)
from workflow_core.domain.decide import (
    Actor,
    DecisionContext,
    decide,
    decide_campaign,
    instance_of_task,
)
from workflow_core.domain.events import CampaignOpened, Event, StoredEvent, Submitted
from workflow_core.domain.evolve import evolve, evolve_campaign, fold, fold_campaign
from workflow_core.domain.state import InstanceState, InstanceStatus
from workflow_core.errors import (
    BusinessRuleError,
    ConflictError,
    FormValidationError,
    IdempotencyKeyReusedError,
    NotAuthorizedError,
    NotFoundError,
)
from workflow_core.store import event_store
from workflow_core.store.campaigns import latest_registration, load_campaign
from workflow_core.store.db import Statement, driver_execute, driver_pipeline, reader_of
from workflow_core.store.event_store import driver_time
from workflow_core.store.projections import (
    campaign_row,
    instance_row,
    project_campaign,
    project_instance,
    task_row,
)
from workflow_core.store.schema import campaigns, inbox, instances, tasks
from workflow_core.views import campaign_view, event_view, instance_view, task_view

TaskAction = Literal["view", "approve", "reject", "return", "reassign", "remind", "comment"]
InstanceAction = Literal["withdraw", "resubmit", "comment"]
TASK_ACTIONS: tuple[str, ...] = ("view", "approve", "reject", "return", "reassign", "remind")
INSTANCE_ACTIONS: tuple[str, ...] = ("withdraw", "resubmit")
MAX_IDEMPOTENCY_KEY = 128
# Instances whose folded state a service keeps between commands (a few KiB each).
FOLDED_INSTANCES = 4096
CAMPAIGN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")
# Roles that may read any instance (to follow up, audit or support); others see their own.
READ_ALL_ROLES = frozenset({Role.LEADERSHIP, Role.STUDENT_AFFAIRS, Role.DATA_STAFF})


@dataclass(frozen=True)
class CommandResult:
    """A command's answer: the JSON body, and whether it was replayed from the idempotency log.

    `text` is the body as `answer_text` encodes it, when the command encoded it already (a
    first answer, kept so under its idempotency key): the API answers with it as it is.
    """

    body: dict[str, Any]
    replayed: bool = False
    text: str | None = None


class _FoldedInstances:
    """The folded state of the instances this process committed commands on last, newest
    version kept, at most `size` (least recently used out first); thread-safe.

    A state is never changed (frozen; its form is never written to), only replaced."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._states: OrderedDict[str, InstanceState] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, instance_id: str) -> InstanceState | None:
        with self._lock:
            state = self._states.get(instance_id)
            if state is not None:
                self._states.move_to_end(instance_id)
            return state

    def keep(self, state: InstanceState) -> None:
        if self._size <= 0:
            return
        with self._lock:
            held = self._states.get(state.instance_id)
            if held is not None and held.version > state.version:
                return  # a later command of another thread settled first
            self._states[state.instance_id] = state
            self._states.move_to_end(state.instance_id)
            while len(self._states) > self._size:
                self._states.popitem(last=False)


@dataclass(frozen=True)
class Caller:
    """A caller resolved at `at` (`WorkflowService.caller`): a request's edge resolves it once
    to authenticate, and the command it then runs acts as that caller at that moment."""

    user_id: str
    at: datetime
    actor: Actor


# UTF-8 JSON, keys sorted: a command's answer as the API sends it, and as the idempotency log
# keeps it (`json.dumps` with these arguments builds a new encoder on every call).
answer_text: Final[Callable[[object], str]] = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True
).encode


class WorkflowService:
    def __init__(
        self,
        engine: Engine,
        catalog: Catalog,
        directory: Directory,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.read_engine = reader_of(engine)  # queries: never behind SQLite's write lock
        self.catalog = catalog
        self.directory = directory
        self.clock = clock
        self._folded = _FoldedInstances(FOLDED_INSTANCES)

    # --- who is asking -----------------------------------------------------------------------

    def actor(self, user_id: str, at: datetime | None = None) -> Actor:
        """The caller as the directory knows them; UnknownUserError for strangers."""
        return resolve_actor(self.directory, user_id, at or self.clock())

    def caller(self, user_id: str) -> Caller:
        """The caller as the directory knows them now, to hand to the command or query they
        call (`caller=`); UnknownUserError for strangers."""
        now = self.clock()
        return Caller(user_id, now, resolve_actor(self.directory, user_id, now))

    def _actor_at(
        self, user_id: str, caller: Caller | None, occurred_at: datetime | None
    ) -> tuple[Actor, datetime]:
        """The acting caller and the command's moment: the resolved `caller`'s, or now's."""
        if caller is not None and occurred_at is None and caller.user_id == user_id:
            return caller.actor, caller.at
        now = occurred_at or self.clock()
        return self.actor(user_id, now), now

    # --- commands on instances ---------------------------------------------------------------

    def submit(
        self,
        user_id: str,
        process_key: str,
        form: object,
        campaign_id: str | None = None,
        *,
        idempotency_key: str | None = None,
        instance_id: str | None = None,
        occurred_at: datetime | None = None,
        caller: Caller | None = None,
    ) -> CommandResult:
        """Submit a new request (提交). `instance_id`/`occurred_at` are for trusted importers."""
        definition = self.catalog.get(process_key)
        if not isinstance(form, dict):
            raise FormValidationError("the form must be a JSON object", {"form": "not an object"})
        _check_storable("form", form)
        if campaign_id is not None and (
            not isinstance(campaign_id, str) or not CAMPAIGN_ID.match(campaign_id)
        ):
            raise FormValidationError(
                "campaign_id is not a campaign id",
                {"campaign_id": "3–64 lower-case letters, digits and dashes"},
            )
        if instance_id is not None and (
            len(instance_id) > MAX_ID or not instance_id.isprintable() or _unstorable(instance_id)
        ):
            raise FormValidationError(
                "instance_id is not usable", {"instance_id": f"1–{MAX_ID} printable characters"}
            )
        new_id = instance_id or uuid.uuid4().hex
        fingerprint = _fingerprint("submit", process_key, form, campaign_id)

        command: InstanceCommand | Callable[[Connection], InstanceCommand]
        if campaign_id is None:
            command = Submit(new_id, process_key, form)
        else:

            def command(conn: Connection) -> InstanceCommand:
                # One registration of a student at a time: one chain of registrations.
                event_store.lock_stream(conn, f"{campaign_id}/{user_id}")
                supersedes = latest_registration(conn, campaign_id, user_id)
                return Submit(new_id, process_key, form, campaign_id, supersedes)

        return self._run(
            user_id, new_id, command, definition, idempotency_key, fingerprint, occurred_at, caller
        )

    def act_on_task(
        self,
        user_id: str,
        task_id: str,
        action: str,
        body: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        occurred_at: datetime | None = None,
        caller: Caller | None = None,
    ) -> CommandResult:
        """view / approve / reject / return / reassign / remind one task."""
        _check_id("task", task_id)
        _check_storable("", body)
        command = _task_command(task_id, action, body)
        instance_id = instance_of_task(task_id)
        fingerprint = _fingerprint(action, task_id, dict(body))
        return self._run(
            user_id,
            instance_id,
            command,
            None,
            idempotency_key,
            fingerprint,
            occurred_at,
            caller,
        )

    def act_on_instance(
        self,
        user_id: str,
        instance_id: str,
        action: str,
        body: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        occurred_at: datetime | None = None,
        caller: Caller | None = None,
    ) -> CommandResult:
        """withdraw / resubmit / comment on an instance."""
        _check_id("instance", instance_id)
        _check_storable("", body)
        command = _instance_command(action, body)
        fingerprint = _fingerprint(action, instance_id, dict(body))
        return self._run(
            user_id,
            instance_id,
            command,
            None,
            idempotency_key,
            fingerprint,
            occurred_at,
            caller,
        )

    def _run(
        self,
        user_id: str,
        instance_id: str,
        command: InstanceCommand | Callable[[Connection], InstanceCommand],
        definition: ProcessDefinition | None,
        idempotency_key: str | None,
        fingerprint: str,
        occurred_at: datetime | None,
        caller: Caller | None = None,
    ) -> CommandResult:
        """One command on an instance; `command` is made in the transaction when it reads the
        store (a registration's predecessor)."""
        _check_idempotency_key(idempotency_key)
        actor, now = self._actor_at(user_id, caller, occurred_at)
        settled: list[InstanceState] = []
        kept = self._folded.get(instance_id)
        early = None
        if not callable(command) and (kept is not None or isinstance(command, Submit)):
            # Decided before the transaction, on the state kept (a submission: on a new
            # instance's): the decision stands when the transaction finds no event written
            # since, and SQLite's write lock (every writer waits for it) is then held for the
            # writes alone. Otherwise, or where this fails, the command is decided again in the
            # transaction, on the stream as it stands.
            start = kept if kept is not None else fold(instance_id, ())
            try:
                early = self._decide(None, user_id, start, command, definition, actor, now)
            except Exception:  # whatever it was, the transaction decides again
                early = None

        def load(conn: Connection) -> Callable[[], list[StoredEvent]]:
            return event_store.query_stream(conn, instance_id, kept.version if kept else 0)

        def work(conn: Connection, loaded: list[StoredEvent], answer: _Answer) -> dict[str, Any]:
            made = command(conn) if callable(command) else command
            if early is not None and not loaded:
                decision = early
            else:
                state = _instance_state(instance_id, kept, loaded, isinstance(made, Submit))
                decision = self._decide(conn, user_id, state, made, definition, actor, now)
            state, after, process = decision.state, decision.after, decision.process
            body: dict[str, Any] = {"instance": decision.view, "events": []}

            def alongside(stored: list[StoredEvent]) -> Statement | None:
                body["events"] = [event_view(s) for s in stored]
                return answer.keep(body, {"instance": decision.view_text})

            event_store.append(
                conn,
                stream_id=instance_id,
                stream_type="instance",
                expected_version=state.version,
                new_events=decision.new_events,
                process_key=process.key,
                process_version=process.version,
                recorded_at=self.clock(),
                ahead=lambda: project_instance(conn, state, after),
                alongside=alongside,
                last=True,
            )
            settled.append(after)
            return body

        result = self._transact(user_id, instance_id, idempotency_key, fingerprint, now, load, work)
        if settled:  # committed: the next command on the instance starts from here
            self._folded.keep(settled[0])
        return result

    def _decide(
        self,
        conn: Connection | None,
        user_id: str,
        state: InstanceState,
        command: InstanceCommand,
        definition: ProcessDefinition | None,
        actor: Actor,
        now: datetime,
    ) -> _Decision:
        """`decide` on the instance's folded state, its new state and the answer's view of it
        (`conn`: where a registration reads its campaign; only a submission needs it)."""
        if state.status is InstanceStatus.NEW and not isinstance(command, Submit):
            task_id = getattr(command, "task_id", None)
            missing = f"task {task_id}" if task_id else f"instance {state.instance_id}"
            raise NotFoundError(f"{missing} does not exist")
        process = definition or self._definition_of(state.process_key, state.process_version)
        campaign = None
        if isinstance(command, Submit) and command.campaign_id is not None:
            if conn is None:
                raise RuntimeError("a registration is decided in its transaction")
            campaign = load_campaign(conn, command.campaign_id)
        applicant_id = user_id if isinstance(command, Submit) else state.applicant_id
        ctx = DecisionContext(
            actor=actor,
            now=now,
            definition=process,
            assign=self._assigner(applicant_id, now),
            person_exists=lambda pid: self.directory.person(pid, now) is not None,
            campaign=campaign,
            supervises=self._supervision_checker(user_id, now),
        )
        new_events = decide(state, command, ctx)
        after = state
        for event in new_events:
            after = evolve(after, event)
        # Before the append: on PostgreSQL every append waits while this one holds its lock.
        row = instance_row(after)
        row["form"] = _json_copy(after.form)  # the answer's own: `after` is kept (see `_run`)
        view = instance_view(row, [task_row(state.instance_id, t) for t in after.tasks], process)
        return _Decision(state, after, new_events, process, view, answer_text(view))

    # --- campaigns (假期去向登记) --------------------------------------------------------------

    def open_campaign(
        self,
        user_id: str,
        body: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        occurred_at: datetime | None = None,
        caller: Caller | None = None,
    ) -> CommandResult:
        _check_storable("", body)
        command = _open_campaign_command(body)
        definition = None
        try:
            definition = self.catalog.get(command.process_key)
        except NotFoundError:
            definition = None
        return self._run_campaign(
            user_id,
            command.campaign_id,
            command,
            definition,
            idempotency_key,
            _fingerprint("open_campaign", dict(body)),
            occurred_at,
            caller,
        )

    def remind_students(
        self,
        user_id: str,
        campaign_id: str,
        body: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        occurred_at: datetime | None = None,
        caller: Caller | None = None,
    ) -> CommandResult:
        """Remind students who have not registered yet (催办), within the caller's scope."""
        _check_id("campaign", campaign_id)
        _check_storable("", body)
        ids = body.get("student_ids")
        if not isinstance(ids, list) or not all(isinstance(s, str) for s in ids):
            raise FormValidationError(
                "student_ids must be a list of ids", {"student_ids": "a list of strings"}
            )
        message = body.get("message", "")
        if not isinstance(message, str):
            raise FormValidationError("message must be text", {"message": "must be a string"})
        return self._run_campaign(
            user_id,
            campaign_id,
            RemindStudents(tuple(ids), message),
            None,
            idempotency_key,
            _fingerprint("remind_students", campaign_id, dict(body)),
            occurred_at,
            caller,
        )

    def _run_campaign(
        self,
        user_id: str,
        campaign_id: str,
        command: OpenCampaign | RemindStudents,
        definition: ProcessDefinition | None,
        idempotency_key: str | None,
        fingerprint: str,
        occurred_at: datetime | None,
        caller: Caller | None = None,
    ) -> CommandResult:
        def load(conn: Connection) -> Callable[[], list[StoredEvent]]:
            return event_store.query_stream(conn, campaign_id)

        _check_idempotency_key(idempotency_key)
        actor, now = self._actor_at(user_id, caller, occurred_at)

        def work(conn: Connection, loaded: list[StoredEvent], answer: _Answer) -> dict[str, Any]:
            if loaded and loaded[0].event.TYPE != CampaignOpened.TYPE:
                raise BusinessRuleError(f"{campaign_id} is not a campaign")
            state = fold_campaign(campaign_id, (s.event for s in loaded))
            ctx = campaign_context(self.directory, actor, user_id, now, definition)
            new_events = decide_campaign(state, command, ctx)
            for event in new_events:
                state = evolve_campaign(state, event)
            project_campaign(conn, state)
            view = campaign_view(campaign_row(state))
            body: dict[str, Any] = {"campaign": view, "events": []}

            def alongside(stored: list[StoredEvent]) -> Statement | None:
                body["events"] = [event_view(s) for s in stored]
                return answer.keep(body)

            event_store.append(
                conn,
                stream_id=campaign_id,
                stream_type="campaign",
                expected_version=state.version - len(new_events),
                new_events=new_events,
                process_key=state.process_key,
                process_version=None,
                recorded_at=self.clock(),
                alongside=alongside,
            )
            return body

        return self._transact(user_id, campaign_id, idempotency_key, fingerprint, now, load, work)

    def _transact(
        self,
        user_id: str,
        stream_id: str,
        idempotency_key: str | None,
        fingerprint: str,
        now: datetime,
        load: Callable[[Connection], Callable[[], list[StoredEvent]]],
        work: Callable[[Connection, list[StoredEvent], _Answer], dict[str, Any]],
    ) -> CommandResult:
        """The frame of every command: who asks, one transaction, the idempotency key claimed
        first and the answer stored last, and the stream held against concurrent commands.

        `load` sends the query of the stream's events (on PostgreSQL in one round trip with
        the key's claim and the stream's lock); `work` decides on them, writes, and returns the
        answer, which it hands to `_Answer.keep` (with the events' append, see `append`)."""
        with self.engine.begin() as conn:
            answer = _Answer(conn.dialect.name, user_id, idempotency_key, fingerprint, now)
            with driver_pipeline(conn):
                claim = None
                if idempotency_key is not None:
                    claim = self._claim_key(conn, user_id, idempotency_key, fingerprint, now)
                event_store.lock_stream(conn, stream_id)
                read = load(conn)
            replay = claim() if claim is not None else None
            if replay is not None:
                return CommandResult(replay, replayed=True)
            body = work(conn, read(), answer)
            if not answer.kept and (statement := answer.keep(body)) is not None:
                driver_execute(conn, *statement)  # nothing was appended to keep it with
            return CommandResult(body, text=answer.text)

    # --- queries -----------------------------------------------------------------------------

    def get_instance(
        self, user_id: str, instance_id: str, *, caller: Caller | None = None
    ) -> dict[str, Any]:
        actor = self._actor_at(user_id, caller, None)[0]
        _check_id("instance", instance_id)
        with self.read_engine.connect() as conn:
            row = (
                conn.execute(select(instances).where(instances.c.instance_id == instance_id))
                .mappings()
                .first()
            )
            if row is None:
                raise NotFoundError(f"instance {instance_id} does not exist")
            task_rows = list(
                conn.execute(select(tasks).where(tasks.c.instance_id == instance_id)).mappings()
            )
        self._check_may_read(actor, row["applicant_id"], task_rows, instance_id)
        return instance_view(row, task_rows, self._definition_or_none(row["process_key"]))

    def get_events(
        self, user_id: str, instance_id: str, *, caller: Caller | None = None
    ) -> list[dict[str, Any]]:
        actor = self._actor_at(user_id, caller, None)[0]
        _check_id("instance", instance_id)
        with self.read_engine.connect() as conn:
            stored = event_store.load_stream(conn, instance_id)
            task_rows = list(
                conn.execute(select(tasks).where(tasks.c.instance_id == instance_id)).mappings()
            )
        if not stored or stored[0].event.TYPE != Submitted.TYPE:
            raise NotFoundError(f"instance {instance_id} does not exist")
        state = fold(instance_id, (s.event for s in stored))
        self._check_may_read(actor, state.applicant_id, task_rows, instance_id)
        return [event_view(s) for s in stored]

    def get_inbox(
        self, user_id: str, limit: int = 200, *, caller: Caller | None = None
    ) -> list[dict[str, Any]]:
        """The caller's open tasks (待办), oldest first."""
        self._actor_at(user_id, caller, None)
        with self.read_engine.connect() as conn:
            rows = list(
                conn.execute(
                    select(tasks, instances.c.process_key, instances.c.applicant_id)
                    .join(inbox, inbox.c.task_id == tasks.c.task_id)
                    .join(instances, instances.c.instance_id == tasks.c.instance_id)
                    .where(inbox.c.user_id == user_id)
                    .order_by(inbox.c.created_at, inbox.c.task_id)
                    .limit(limit)
                ).mappings()
            )
        out = []
        for row in rows:
            view = task_view(row, self._definition_or_none(row["process_key"]))
            view["process_key"] = row["process_key"]
            view["applicant_id"] = row["applicant_id"]
            out.append(view)
        return out

    def list_campaigns(self, user_id: str, *, caller: Caller | None = None) -> list[dict[str, Any]]:
        self._actor_at(user_id, caller, None)
        with self.read_engine.connect() as conn:
            rows = conn.execute(select(campaigns).order_by(campaigns.c.opens_at)).mappings()
            return [campaign_view(r) for r in rows]

    # --- helpers -----------------------------------------------------------------------------

    def _definition_of(self, process_key: str, version: int) -> ProcessDefinition:
        return definition_of(self.catalog, process_key, version)

    def _definition_or_none(self, process_key: str) -> ProcessDefinition | None:
        try:
            return self.catalog.get(process_key)
        except NotFoundError:
            return None

    def _assigner(self, applicant_id: str, at: datetime) -> Callable[[Node], Assignment]:
        return assigner(self.directory, applicant_id, at)

    def _supervision_checker(self, user_id: str, at: datetime) -> Callable[[str], bool]:
        """Whether the caller's supervising office looks after an applicant (催办 scope)."""
        return supervision_checker(self.directory, user_id, at)

    def _check_may_read(
        self,
        actor: Actor,
        applicant_id: str,
        task_rows: list[Any],
        instance_id: str,
    ) -> None:
        if actor.person_id == applicant_id or actor.roles & READ_ALL_ROLES:
            return
        if any(actor.person_id in t["assignees"] for t in task_rows):
            return
        raise NotAuthorizedError(f"{actor.person_id} may not read {instance_id}")

    def _claim_key(
        self, conn: Connection, user_id: str, key: str, fingerprint: str, now: datetime
    ) -> Callable[[], dict[str, Any] | None]:
        """A function giving the stored answer for a retried key, or None when this run is the
        first (on PostgreSQL call it after the `driver_pipeline` the claim is sent in).

        On PostgreSQL the key is claimed at once with an insert, so a concurrent twin waits on
        it and then sees the first answer instead of running the command again; the insert
        does nothing where the key is taken (a twin that rolled back leaves it free: the insert
        then claims it), so one round trip claims a new key, where a lookup, a savepoint, the
        insert and the savepoint's release took four. SQLite runs one writer at a time (BEGIN
        IMMEDIATE), so no twin can interleave: the answer is inserted at the end, in the same
        transaction.
        """
        if conn.dialect.name != "postgresql":
            existing = self._stored_answer(conn, user_id, key, fingerprint)
            return lambda: existing
        claimed = driver_execute(
            conn, _CLAIM_KEY, (user_id, key, fingerprint, "{}", driver_time("postgresql")(now))
        )

        def outcome() -> dict[str, Any] | None:
            if claimed.rowcount == 1:
                return None
            existing = self._stored_answer(conn, user_id, key, fingerprint)
            if existing is None:  # pragma: no cover - a taken key does not go away
                raise ConflictError(f"Idempotency-Key {key!r} is in use; try again")
            return existing

        return outcome

    def _stored_answer(
        self, conn: Connection, user_id: str, key: str, fingerprint: str
    ) -> dict[str, Any] | None:
        dialect = conn.dialect.name
        row = driver_execute(conn, _SELECT_KEY[dialect], (user_id, key)).fetchone()
        if row is None:
            return None
        request_hash, response = row
        if request_hash != fingerprint:
            raise IdempotencyKeyReusedError(
                f"Idempotency-Key {key!r} was already used for a different request"
            )
        # SQLite keeps JSON as text; psycopg parses jsonb itself.
        return dict(json.loads(response) if dialect == "sqlite" else response)


@dataclass(frozen=True)
class _Decision:
    """What a command decided on an instance: the state it decided on and the state after,
    the new events, the process, and the answer's view of the instance."""

    state: InstanceState
    after: InstanceState
    new_events: list[Event]
    process: ProcessDefinition
    view: dict[str, Any]
    view_text: str  # `answer_text(view)`


class _Answer:
    """A command's answer as it is kept under its idempotency key: encoded once (`text`, the
    response's own), by the statement that `keep` makes."""

    def __init__(
        self, dialect: str, user_id: str, key: str | None, fingerprint: str, now: datetime
    ) -> None:
        self.dialect = dialect
        self.user_id = user_id
        self.key = key
        self.fingerprint = fingerprint
        self.now = now
        self.kept = False
        self.text: str | None = None

    def keep(
        self, body: dict[str, Any], encoded: Mapping[str, str] | None = None
    ) -> Statement | None:
        """Encode `body` (`text`) and return the statement keeping it under the key (None
        without a key). `encoded` holds members of `body` already encoded by `answer_text`
        (before the append lock: what is left is encoded while every other append waits)."""
        self.kept = True
        done = encoded or {}
        # `answer_text` of the whole: `{"a": …, "b": …}`, members in key order.
        members = ", ".join(
            f"{answer_text(name)}: {done.get(name) or answer_text(body[name])}"
            for name in sorted(body)
        )
        self.text = "{" + members + "}"
        if self.key is None:
            return None
        if self.dialect == "postgresql":  # claimed by `_claim_key`
            return _UPDATE_KEY, (self.text, self.user_id, self.key)
        at = driver_time("sqlite")(self.now)
        return _INSERT_KEY, (self.user_id, self.key, self.fingerprint, self.text, at)


def _instance_state(
    instance_id: str, kept: InstanceState | None, loaded: list[StoredEvent], submitting: bool
) -> InstanceState:
    """The instance folded: the state this process kept after its last command on it (`kept`)
    with the events written since (`loaded`, by any process) folded on, or else the whole stream
    (`loaded`). Events are never changed or removed, so both are the same state; reading and
    folding whole streams was a tenth of a command."""
    if kept is not None:
        state = kept
        for stored in loaded:
            state = evolve(state, stored.event)
        return state
    if loaded and loaded[0].event.TYPE != Submitted.TYPE:
        # The id names a campaign's stream, which is no instance (and cannot become one).
        if submitting:
            raise ConflictError(f"{instance_id} is already in use")
        raise NotFoundError(f"instance {instance_id} does not exist")
    return fold(instance_id, (s.event for s in loaded))


# Driver SQL, as the projections write theirs: Core's statement and JSON processing cost more
# than running these. The answer's JSON is the response's own text (`answer_text`): read back,
# it is the same value the column type's `json.dumps` would have stored.
_SELECT_KEY: Final = {
    dialect: "select request_hash, response from idempotency_keys "
    f"where actor_id = {mark} and idempotency_key = {mark}"
    for dialect, mark in (("sqlite", "?"), ("postgresql", "%s"))
}
_CLAIM_KEY: Final = (
    "insert into idempotency_keys (actor_id, idempotency_key, request_hash, response, created_at)"
    " values (%s, %s, %s, %s, %s) on conflict (actor_id, idempotency_key) do nothing"
)
_UPDATE_KEY: Final = (
    "update idempotency_keys set response = %s where actor_id = %s and idempotency_key = %s"
)
_INSERT_KEY: Final = (
    "insert into idempotency_keys (actor_id, idempotency_key, request_hash, response, created_at)"
    " values (?, ?, ?, ?, ?)"
)


# --- request bodies to commands ---------------------------------------------------------------


def _text(body: Mapping[str, Any], name: str, *, required: bool = False) -> str:
    value = body.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise FormValidationError(f"{name} must be text", {name: "must be a string"})
    if required and not value.strip():
        raise FormValidationError(f"{name} is required", {name: "required"})
    return value


def _task_command(task_id: str, action: str, body: Mapping[str, Any]) -> InstanceCommand:
    if action == "view":
        return ViewTask(task_id)
    if action == "approve":
        return Approve(task_id, _text(body, "comment"))
    if action == "reject":
        return Reject(task_id, _text(body, "reason", required=True))
    if action == "return":
        return ReturnToApplicant(task_id, _text(body, "reason", required=True))
    if action == "reassign":
        delegate = body.get("delegate", False)
        if not isinstance(delegate, bool):
            raise FormValidationError("delegate must be true or false", {"delegate": "boolean"})
        return Reassign(task_id, _text(body, "to", required=True), delegate, _text(body, "reason"))
    if action == "remind":
        return Remind(task_id, _text(body, "message"))
    if action == "comment":
        return Comment(_text(body, "text", required=True), task_id)
    raise NotFoundError(f"no task action {action!r}")


def _instance_command(action: str, body: Mapping[str, Any]) -> InstanceCommand:
    if action == "withdraw":
        return Withdraw(_text(body, "reason"))
    if action == "resubmit":
        form = body.get("form")
        if not isinstance(form, dict):
            raise FormValidationError("form must be a JSON object", {"form": "not an object"})
        return Resubmit(form)
    if action == "comment":
        return Comment(_text(body, "text", required=True))
    raise NotFoundError(f"no instance action {action!r}")


def _open_campaign_command(body: Mapping[str, Any]) -> OpenCampaign:
    fields: dict[str, str] = {}
    campaign_id = body.get("campaign_id")
    if not isinstance(campaign_id, str) or not CAMPAIGN_ID.match(campaign_id):
        fields["campaign_id"] = "3–64 lower-case letters, digits and dashes"
    times: dict[str, datetime] = {}
    for name in ("opens_at", "deadline"):
        value = body.get(name)
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            fields[name] = "an ISO 8601 time with a UTC offset"
        else:
            times[name] = parsed.astimezone(UTC)
    audience = body.get("audience", ["undergraduate", "graduate"])
    if not isinstance(audience, list) or not all(isinstance(a, str) for a in audience):
        fields["audience"] = "a list of undergraduate, graduate"
    for name in ("process_key", "title", "holiday"):
        if not isinstance(body.get(name), str):
            fields[name] = "required text"
    if fields:
        raise FormValidationError("the campaign is not valid", fields)
    return OpenCampaign(
        campaign_id=str(campaign_id),
        process_key=str(body["process_key"]),
        title=str(body["title"]),
        holiday=str(body["holiday"]),
        opens_at=times["opens_at"],
        deadline=times["deadline"],
        audience=tuple(audience),
    )


def _json_copy(value: Any) -> Any:
    """A copy of a JSON value (dicts and lists copied all the way down)."""
    if isinstance(value, dict):
        return {key: _json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_copy(item) for item in value]
    return value


def _check_idempotency_key(key: str | None) -> None:
    if key is None:
        return
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise FormValidationError(
            "bad Idempotency-Key",
            {"Idempotency-Key": f"1–{MAX_IDEMPOTENCY_KEY} printable characters"},
        )


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(_canonical(parts).encode()).hexdigest()


# `json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)`, its encoder built once.
_canonical: Final = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str).encode


def _check_id(kind: str, value: object) -> str:
    """An id from a path or a trusted caller: a short printable string, or it names nothing."""
    if not isinstance(value, str) or not value or len(value) > MAX_ID + 16:
        raise NotFoundError(f"{kind} {str(value)[:80]!r} does not exist")
    if not value.isprintable() or _unstorable(value):
        raise NotFoundError(f"{kind} {value[:80]!r} does not exist")
    return value


def _check_storable(name: str, value: object) -> None:
    """Refuse text that neither database can store: NUL characters and lone surrogates."""
    if isinstance(value, str):
        if _unstorable(value):
            raise FormValidationError(
                f"{name} contains characters that cannot be stored",
                {name: "no NUL characters or unpaired surrogates"},
            )
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_storable(f"{name}.{key}" if name else str(key), key)
            _check_storable(f"{name}.{key}" if name else str(key), item)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_storable(f"{name}[{index}]", item)


def _unstorable(text: str) -> bool:
    return unstorable(text)
