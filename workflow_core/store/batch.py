"""A batched writer for trusted history writers (the simulator): the domain's rules, fewer commits.

Every command runs through the same `decide`/`evolve` as in the application service, with the
same context (the caller, assignees and 催办 scope from the directory, via
`workflow_core.command_context`), so an invalid command raises the same error and writes
nothing. What differs is the transaction: the writer keeps the states of the instances it
touches in memory, collects their events, and on `flush` appends the events of many instances
in one transaction (one bulk `append_rows`, under the ordering lock) together with their
projection rows, written in bulk. Those rows are the same pure functions of the folded state
that the live path and `projections.rebuild` write.

Each command carries its own `occurred_at` (history keeps its own times). Commands must come in
time order per instance; the writer appends in the order it was given. It takes no campaign
registrations (a whereabouts submission needs the campaign and the applicant's previous
registration from the store; the service does that): a campaign-based service is refused by
`decide` as it would be without a campaign id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, select

from workflow_core.catalog.loader import Catalog
from workflow_core.command_context import (
    assigner,
    definition_of,
    resolve_actor,
    supervision_checker,
)
from workflow_core.directory.port import Directory
from workflow_core.domain.commands import InstanceCommand, Submit
from workflow_core.domain.decide import DecisionContext, decide, instance_of_task
from workflow_core.domain.events import Event, Submitted
from workflow_core.domain.evolve import evolve, fold
from workflow_core.domain.state import InstanceState, InstanceStatus
from workflow_core.errors import ConflictError, NotFoundError
from workflow_core.store import event_store
from workflow_core.store.projections import inbox_rows, instance_row, task_row, upsert_rows
from workflow_core.store.schema import events, inbox, instances, tasks
from workflow_core.store.serialization import to_row

DEFAULT_BATCH_EVENTS = 20_000


class BatchWriter:
    """Runs instance commands through the domain and appends them in batches.

    Use as a context manager (flushes on a clean exit) or call `flush()` yourself. Events are
    durable only after a flush; a failed flush rolls its whole batch back.
    """

    def __init__(
        self,
        engine: Engine,
        catalog: Catalog,
        directory: Directory,
        *,
        batch_events: int = DEFAULT_BATCH_EVENTS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.catalog = catalog
        self.directory = directory
        self.batch_events = batch_events
        self.clock = clock
        self._states: dict[str, InstanceState] = {}
        self._flushed: dict[str, InstanceState] = {}  # as the projections last saw them
        self._pending: list[tuple[str, Event]] = []
        self._dirty: dict[str, None] = {}  # insertion-ordered set
        self._forget: set[str] = set()
        self._new_prefixes: tuple[str, ...] = ()
        self._seen: set[str] = set()  # every instance this writer has held (forgotten too)
        self.events_written = 0

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, exc_type: object, *_rest: object) -> None:
        if exc_type is None:
            self.flush()

    # --- commands ----------------------------------------------------------------------------

    def submit(
        self,
        user_id: str,
        process_key: str,
        form: dict[str, Any],
        *,
        instance_id: str,
        occurred_at: datetime,
    ) -> list[Event]:
        """Submit a new request as `user_id` at `occurred_at`; the events it caused."""
        self.catalog.get(process_key)  # NotFoundError for an unknown service, as the service
        return self.execute(
            user_id, instance_id, Submit(instance_id, process_key, form), occurred_at
        )

    def act_on_task(
        self, user_id: str, command: InstanceCommand, occurred_at: datetime
    ) -> list[Event]:
        """A command naming a task (view, approve, reject, return, reassign, remind)."""
        task_id = getattr(command, "task_id", None)
        if not isinstance(task_id, str):
            raise NotFoundError("the command names no task")
        return self.execute(user_id, instance_of_task(task_id), command, occurred_at)

    def execute(
        self, user_id: str, instance_id: str, command: InstanceCommand, occurred_at: datetime
    ) -> list[Event]:
        """Decide `command` on the instance as the service would; keep its events for the batch."""
        now = occurred_at.astimezone(UTC)
        actor = resolve_actor(self.directory, user_id, now)
        state = self.state(instance_id)
        if state.status is InstanceStatus.NEW and not isinstance(command, Submit):
            task_id = getattr(command, "task_id", None)
            missing = f"task {task_id}" if task_id else f"instance {instance_id}"
            raise NotFoundError(f"{missing} does not exist")
        if isinstance(command, Submit):
            definition = self.catalog.get(command.process_key)
        else:
            definition = definition_of(self.catalog, state.process_key, state.process_version)
        applicant_id = user_id if isinstance(command, Submit) else state.applicant_id
        ctx = DecisionContext(
            actor=actor,
            now=now,
            definition=definition,
            assign=assigner(self.directory, applicant_id, now),
            person_exists=lambda pid: self.directory.person(pid, now) is not None,
            campaign=None,
            supervises=supervision_checker(self.directory, user_id, now),
        )
        new_events = decide(state, command, ctx)
        after = state
        for event in new_events:
            after = evolve(after, event)
        if new_events:
            self._states[instance_id] = after
            self._dirty[instance_id] = None
            self._pending.extend((instance_id, e) for e in new_events)
            if len(self._pending) >= self.batch_events:
                self.flush()
        return new_events

    def claim_prefix(self, prefix: str) -> None:
        """Promise that this writer alone creates streams whose ids start with `prefix`.

        Checked once here (ConflictError if the store already holds such a stream); afterwards
        an unknown id with the prefix is a new instance without a look-up in the store.
        """
        if not prefix:
            raise ValueError("a stream id prefix cannot be empty")
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self.engine.connect() as conn:
            taken = conn.execute(
                select(events.c.stream_id)
                .where(events.c.stream_id.like(pattern, escape="\\"))
                .limit(1)
            ).first()
        if taken is not None:
            raise ConflictError(f"the store already holds {taken[0]}: {prefix}… is in use")
        self._new_prefixes = (*self._new_prefixes, prefix)

    def state(self, instance_id: str) -> InstanceState:
        """The instance as this writer knows it (loaded from the store on first use)."""
        known = self._states.get(instance_id)
        if known is not None:
            return known
        if instance_id.startswith(self._new_prefixes) and instance_id not in self._seen:
            self._seen.add(instance_id)
            fresh = InstanceState(instance_id)
            self._states[instance_id] = fresh
            return fresh
        self._seen.add(instance_id)
        with self.engine.connect() as conn:
            loaded = event_store.load_stream(conn, instance_id)
        if loaded and loaded[0].event.TYPE != Submitted.TYPE:
            raise ConflictError(f"{instance_id} names a stream that is no instance")
        state = fold(instance_id, (s.event for s in loaded))
        self._states[instance_id] = state
        self._flushed[instance_id] = state
        return state

    def forget(self, instance_id: str) -> None:
        """Drop an instance from memory once it is written (e.g. when it is terminal); a later
        command on it loads it from the store again."""
        if instance_id in self._dirty:
            self._forget.add(instance_id)
        else:
            self._states.pop(instance_id, None)
            self._flushed.pop(instance_id, None)

    # --- writing -----------------------------------------------------------------------------

    def flush(self) -> int:
        """Append every pending event and its projection rows in one transaction."""
        if not self._pending:
            return 0
        recorded_at = self.clock()
        versions: dict[str, int] = {}
        rows: list[dict[str, Any]] = []
        for instance_id, event in self._pending:
            if instance_id not in versions:
                versions[instance_id] = self._flushed.get(
                    instance_id, InstanceState(instance_id)
                ).version
            versions[instance_id] += 1
            state = self._states[instance_id]
            rows.append(
                to_row(
                    event,
                    stream_id=instance_id,
                    stream_version=versions[instance_id],
                    stream_type="instance",
                    process_key=state.process_key,
                    process_version=state.process_version,
                    recorded_at=recorded_at,
                )
            )
        dirty = list(self._dirty)
        with self.engine.begin() as conn:
            self._project(conn, dirty)
            event_store.append_rows(conn, rows)
        for instance_id in dirty:
            self._flushed[instance_id] = self._states[instance_id]
        for instance_id in self._forget:
            self._states.pop(instance_id, None)
            self._flushed.pop(instance_id, None)
        self._forget = set()
        written = len(rows)
        self.events_written += written
        self._pending = []
        self._dirty = {}
        return written

    def _project(self, conn: Connection, dirty: Sequence[str]) -> None:
        """The projection rows of every changed instance, as `project_instance` writes them."""
        instance_rows = []
        changed_tasks = []
        stale: list[str] = []
        fresh = []
        for instance_id in dirty:
            before = self._flushed.get(instance_id, InstanceState(instance_id))
            after = self._states[instance_id]
            instance_rows.append(instance_row(after))
            old = {t.task_id: t for t in before.tasks}
            for task in after.tasks:
                if old.get(task.task_id) == task:
                    continue
                changed_tasks.append(task_row(instance_id, task))
                if task.task_id in old:
                    stale.append(task.task_id)
                fresh.extend(inbox_rows(instance_id, task))
        upsert_rows(conn, instances, instance_rows, ("instance_id",))
        if changed_tasks:
            upsert_rows(conn, tasks, changed_tasks, ("task_id",))
        for start in range(0, len(stale), 500):
            conn.execute(delete(inbox).where(inbox.c.task_id.in_(stale[start : start + 500])))
        if fresh:
            conn.execute(inbox.insert(), fresh)
