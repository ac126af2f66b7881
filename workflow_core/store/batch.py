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
time order per instance and per campaign; the writer appends in the order it was given.

Whereabouts campaigns go through `decide_campaign` as in the service: `open_campaign`,
`remind_students`, and `submit(..., campaign_id=...)` for a registration, which supersedes the
applicant's latest registration in the campaign. The writer remembers the registrations it
wrote, so a change registered before the previous one is flushed still finds it; for campaigns
it did not open itself it asks the store as well.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Dialect, Engine, select

from workflow_core.catalog.loader import Catalog
from workflow_core.catalog.model import Node, ProcessDefinition
from workflow_core.command_context import (
    assigner,
    campaign_context,
    definition_of,
    resolve_actor,
    supervision_checker,
)
from workflow_core.directory.memory_directory import MemoryDirectory
from workflow_core.directory.port import Assignment, Directory
from workflow_core.directory.schema import effective_day
from workflow_core.domain.commands import InstanceCommand, OpenCampaign, RemindStudents, Submit
from workflow_core.domain.decide import (
    Actor,
    DecisionContext,
    decide,
    decide_campaign,
    instance_of_task,
)
from workflow_core.domain.events import Event, Submitted
from workflow_core.domain.evolve import evolve, evolve_campaign, fold
from workflow_core.domain.state import CampaignState, InstanceState, InstanceStatus
from workflow_core.errors import ConflictError, NotFoundError
from workflow_core.store import event_store
from workflow_core.store.campaigns import latest_registration, load_campaign
from workflow_core.store.projections import (
    bound_rows,
    campaign_row,
    delete_rows,
    driver_statement,
    inbox_values,
    instance_values,
    task_values,
)
from workflow_core.store.schema import campaigns, events, inbox, instances, tasks

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
        self._campaigns: dict[str, CampaignState] = {}
        self._campaign_versions: dict[str, int] = {}  # as the store holds them
        self._opened_here: set[str] = set()
        # (campaign, applicant) → their latest registration written by this writer
        self._registrations: dict[tuple[str, str], str] = {}
        # A snapshot directory answers alike all day, so the caller as it knows them is worked
        # out once a day per person (3.5 % of a simulated month); a live one on every command.
        self._actors: dict[str, Actor] | None = (
            {} if isinstance(directory, MemoryDirectory) else None
        )
        self._actors_day: date | None = None
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
        campaign_id: str | None = None,
    ) -> list[Event]:
        """Submit a new request (or a campaign registration) as `user_id` at `occurred_at`."""
        self.catalog.get(process_key)  # NotFoundError for an unknown service, as the service
        supersedes = None
        if campaign_id is not None:
            supersedes = self._latest_registration(campaign_id, user_id)
        new_events = self.execute(
            user_id,
            instance_id,
            Submit(instance_id, process_key, form, campaign_id, supersedes),
            occurred_at,
        )
        if campaign_id is not None:
            self._registrations[(campaign_id, user_id)] = instance_id
        return new_events

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
        actor = self._actor(user_id, now)
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
        directory = self.directory
        # The applicant's assigner and the caller's 催办 scope are worked out when `decide`
        # first asks (most commands never do), with the same answers as made up front.
        assign: list[Callable[[Node], Assignment]] = []
        supervises: list[Callable[[str], bool]] = []

        def assign_node(node: Node) -> Assignment:
            if not assign:
                assign.append(assigner(directory, applicant_id, now))
            return assign[0](node)

        def supervises_applicant(person_id: str) -> bool:
            if not supervises:
                supervises.append(supervision_checker(directory, user_id, now))
            return supervises[0](person_id)

        ctx = DecisionContext(
            actor=actor,
            now=now,
            definition=definition,
            assign=assign_node,
            person_exists=lambda pid: directory.person(pid, now) is not None,
            campaign=self._campaign_of(command),
            supervises=supervises_applicant,
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

    def _actor(self, user_id: str, now: datetime) -> Actor:
        """`resolve_actor` at `now`; remembered for the day with a snapshot directory (a stranger
        is refused again each time: only answers are kept)."""
        actors = self._actors
        if actors is None:
            return resolve_actor(self.directory, user_id, now)
        day = effective_day(now)
        if day != self._actors_day:
            actors.clear()
            self._actors_day = day
        actor = actors.get(user_id)
        if actor is None:
            actor = actors[user_id] = resolve_actor(self.directory, user_id, now)
        return actor

    # --- campaigns (假期去向登记) --------------------------------------------------------------

    def open_campaign(self, user_id: str, command: OpenCampaign) -> list[Event]:
        """Open a whereabouts campaign as `user_id`; it happens at `command.opens_at`."""
        if command.campaign_id in self._campaigns or self._stream_exists(command.campaign_id):
            raise ConflictError(f"campaign {command.campaign_id} already exists")
        definition = None
        if command.process_key in self.catalog:
            definition = self.catalog.get(command.process_key)
        state = CampaignState(command.campaign_id)
        self._campaigns[command.campaign_id] = state
        self._campaign_versions[command.campaign_id] = 0
        self._opened_here.add(command.campaign_id)
        return self._campaign_command(user_id, state, command, definition, command.opens_at)

    def remind_students(
        self,
        user_id: str,
        campaign_id: str,
        student_ids: Sequence[str],
        message: str,
        occurred_at: datetime,
    ) -> list[Event]:
        """Remind students who have not registered (催办) as a monitor, counsellor or office."""
        state = self._campaign(campaign_id)
        if state is None:
            raise NotFoundError(f"campaign {campaign_id} does not exist")
        command = RemindStudents(tuple(student_ids), message)
        return self._campaign_command(user_id, state, command, None, occurred_at)

    def _campaign_command(
        self,
        user_id: str,
        state: CampaignState,
        command: OpenCampaign | RemindStudents,
        definition: ProcessDefinition | None,
        occurred_at: datetime,
    ) -> list[Event]:
        now = occurred_at.astimezone(UTC)
        actor = self._actor(user_id, now)
        ctx = campaign_context(self.directory, actor, user_id, now, definition)
        new_events = decide_campaign(state, command, ctx)
        for event in new_events:
            state = evolve_campaign(state, event)
        if new_events:
            self._campaigns[state.campaign_id] = state
            self._dirty[state.campaign_id] = None
            self._pending.extend((state.campaign_id, e) for e in new_events)
            if len(self._pending) >= self.batch_events:
                self.flush()
        return new_events

    def _campaign(self, campaign_id: str) -> CampaignState | None:
        known = self._campaigns.get(campaign_id)
        if known is not None:
            return known
        with self.engine.connect() as conn:
            loaded = load_campaign(conn, campaign_id)
        if loaded is None or not loaded.opened:
            return None
        self._campaigns[campaign_id] = loaded
        self._campaign_versions[campaign_id] = loaded.version
        return loaded

    def _campaign_of(self, command: InstanceCommand) -> CampaignState | None:
        if not isinstance(command, Submit) or command.campaign_id is None:
            return None
        return self._campaign(command.campaign_id)

    def _latest_registration(self, campaign_id: str, applicant_id: str) -> str | None:
        written = self._registrations.get((campaign_id, applicant_id))
        if written is not None or campaign_id in self._opened_here:
            return written
        with self.engine.connect() as conn:
            return latest_registration(conn, campaign_id, applicant_id)

    def _stream_exists(self, stream_id: str) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(events.c.stream_id).where(events.c.stream_id == stream_id).limit(1)
            ).first()
        return found is not None

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
        dialect = self.engine.dialect
        # Every row is bound for the driver before the transaction begins, so that the store's
        # write lock, which the other writers (the simulator's other workers) queue for, is held
        # for the inserts and the commit alone: binding under it was most of a flush.
        to_time = event_store.time_binder(dialect.name)
        recorded_at = self.clock()
        # stream → [last version, stream type, process key, process version]
        streams: dict[str, list[Any]] = {}
        items: list[tuple[Event, str, int, str, str | None, int | None]] = []
        for stream_id, event in self._pending:
            known = streams.get(stream_id)
            if known is None:
                campaign = self._campaigns.get(stream_id)
                if campaign is not None:
                    version = self._campaign_versions[stream_id]
                    known = [version, "campaign", campaign.process_key, None]
                else:
                    flushed = self._flushed.get(stream_id)
                    state = self._states[stream_id]
                    version = 0 if flushed is None else flushed.version
                    known = [version, "instance", state.process_key, state.process_version]
                streams[stream_id] = known
            known[0] += 1
            items.append((event, stream_id, known[0], known[1], known[2], known[3]))
        params = event_store.bind_events(dialect.name, items, recorded_at, to_time)
        dirty = [s for s in self._dirty if s not in self._campaigns]
        dirty_campaigns = [self._campaigns[s] for s in self._dirty if s in self._campaigns]
        upserts, stale, fresh = self._project(dialect, dirty, to_time)
        campaign_rows = [campaign_row(c) for c in dirty_campaigns]
        later = [
            fresh,
            bound_rows(dialect, campaigns, campaign_rows, ("campaign_id",), to_time),
        ]
        with self.engine.begin() as conn:
            for statement, values in upserts:
                if values:
                    conn.exec_driver_sql(statement, values)
            # One executemany of a statement built once: Core's `in_` over 500 ids at a time
            # was rebuilt and compiled for every chunk, a sixth of a flush.
            delete_rows(conn, inbox, ("task_id",), [(task_id,) for task_id in stale])
            for statement, values in later:
                if values:
                    conn.exec_driver_sql(statement, values)
            event_store.append_bound(conn, params)
        for instance_id in dirty:
            self._flushed[instance_id] = self._states[instance_id]
        for campaign in dirty_campaigns:
            self._campaign_versions[campaign.campaign_id] = campaign.version
        for instance_id in self._forget:
            self._states.pop(instance_id, None)
            self._flushed.pop(instance_id, None)
        self._forget = set()
        written = len(params)
        self.events_written += written
        self._pending = []
        self._dirty = {}
        return written

    def _project(
        self,
        dialect: Dialect,
        dirty: Sequence[str],
        to_time: Callable[[datetime | None], Any],
    ) -> tuple[list[_Bound], list[str], _Bound]:
        """The projection rows of every changed instance, as `project_instance` writes them,
        bound for the driver: the upserts of `instances` and `tasks`, the tasks whose `inbox`
        rows go, then the insert of the fresh ones (each write a statement and its parameters,
        none when nothing changed)."""
        instance_rows = []
        changed_tasks = []
        stale: list[str] = []
        fresh: list[tuple[Any, ...]] = []
        flushed = self._flushed
        states = self._states
        for instance_id in dirty:
            before = flushed.get(instance_id)
            after = states[instance_id]
            instance_rows.append(instance_values(after, to_time))
            old = {} if before is None else {t.task_id: t for t in before.tasks}
            for task in after.tasks:
                was = old.get(task.task_id)
                if was is task or was == task:
                    continue
                changed_tasks.append(task_values(instance_id, task, to_time))
                if was is not None:
                    stale.append(task.task_id)
                fresh.extend(inbox_values(instance_id, task, to_time))
        upserts = [
            (driver_statement(dialect, instances, ("instance_id",)), instance_rows),
            (driver_statement(dialect, tasks, ("task_id",)), changed_tasks),
        ]
        return upserts, stale, (driver_statement(dialect, inbox, None), fresh)


# A driver statement and its parameters, bound before the transaction.
_Bound = tuple[str, list[tuple[Any, ...]]]
