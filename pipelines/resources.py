"""The pipelines' resources: the event store, the business systems, the catalog, the warehouse.

Only the pipelines open the private working database, read-write, one run at a time: a file
lock beside it makes a second writer (a schedule beside the sensor's run, `tongban build`
beside the daemon) wait its turn instead of failing on DuckDB's own lock.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Final

import dagster as dg
import duckdb
from pydantic import PrivateAttr
from sqlalchemy import Engine

from pipelines.extract import EVENT_BATCH
from pipelines.recovery import executor_tags
from warehouse.paths import WarehousePaths
from workflow_core.catalog.loader import Catalog as ProcessCatalog
from workflow_core.catalog.loader import load_catalog
from workflow_core.store.db import make_engine

WORK_LOCK = "work.lock"


class WarehouseBusyError(RuntimeError):
    """Another run held the working database for longer than the wait allows."""


class EventStore(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The workflow core's event store (SQLite or PostgreSQL), read by `event_id`."""

    url: str
    batch_size: int = EVENT_BATCH
    max_batches: int | None = None  # per run; None: until caught up

    @contextmanager
    def engine(self) -> Iterator[Engine]:
        engine = make_engine(self.url, pool_size=1, write_lock_at_begin=False)
        try:
            yield engine
        finally:
            engine.dispose()


class BusinessSystems(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The university's business systems (SIS, HR): rosters, classes, staff, effective-dated."""

    url: str

    @contextmanager
    def engine(self) -> Iterator[Engine]:
        engine = make_engine(self.url, pool_size=1, write_lock_at_begin=False)
        try:
            yield engine
        finally:
            engine.dispose()


class Catalog(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The process catalog: a directory of YAML definitions, or the shipped one (None)."""

    directory: str | None = None

    def load(self) -> ProcessCatalog:
        return load_catalog(Path(self.directory) if self.directory else None)


class LiveUpdate(dg.ConfigurableResource):  # type: ignore[type-arg]
    """How long the sensor's run keeps following the event store after its first pass.

    A run costs seconds of Dagster's own bookkeeping before its first step (creating it,
    queueing, starting): under steady traffic the live run loads, rebuilds and publishes again
    as soon as new events arrive, instead of ending and leaving them to the next tick. It ends
    after `idle_seconds` without a new event or `follow_seconds` in all (the sensor's next run
    takes over); 0 makes it a single pass.
    """

    follow_seconds: float = 120.0
    idle_seconds: float = 20.0
    poll_seconds: float = 0.25


DEFAULT_MEMORY_LIMIT: Final = "2.2GB"


class WarehouseResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The warehouse root: the private work database and the published snapshots; and where
    Great Expectations' Data Docs are built after a run (`gx_dir`; None: not built).

    `memory_limit` caps DuckDB's own memory in a run (its default is 80 % of the machine's):
    past it, joins, aggregates and sorts spill to `build/spill/` instead of growing. A full
    build of 11 M events took 16.8 GB without a cap.

    Within a run, the steps share one connection, opened by the first and closed when the run
    ends (or by `release`): each close checkpoints the database, and a live update paid two
    checkpoints and five opens (0.35 s and 0.52 s closing the two steps that wrote, on the
    large university) where one of each does.
    """

    root: str
    lock_timeout_seconds: float = 600.0
    gx_dir: str | None = None
    memory_limit: str = DEFAULT_MEMORY_LIMIT

    _in_run: bool = PrivateAttr(default=False)
    _held: ExitStack | None = PrivateAttr(default=None)
    _conn: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Every warehouse run uses this resource: its run records the process executing it, so
        # that a run left behind by a killed process is recognised (pipelines.recovery).
        if context.instance is not None and context.run is not None:
            context.instance.add_run_tags(context.run.run_id, executor_tags())
        self._in_run = True

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.release()

    @property
    def paths(self) -> WarehousePaths:
        return WarehousePaths(Path(self.root))

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The work database, read-write, held under the work lock: until the block ends, or
        in a run until the run ends. A block that raises closes it, so that a later step
        never inherits a transaction a failed one left open."""
        if not self._in_run:
            with self._open() as conn:
                yield conn
            return
        if self._conn is None:
            stack = ExitStack()
            self._conn = stack.enter_context(self._open())
            self._held = stack
        try:
            yield self._conn
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Close the run's connection and free the work lock (the next `connect` reopens)."""
        held, self._held, self._conn = self._held, None, None
        if held is not None:
            held.close()

    @contextmanager
    def _open(self) -> Iterator[duckdb.DuckDBPyConnection]:
        paths = self.paths
        paths.build_dir.mkdir(parents=True, exist_ok=True)
        with _locked(paths.build_dir / WORK_LOCK, self.lock_timeout_seconds):
            conn = duckdb.connect(
                str(paths.work_db),
                config={
                    "memory_limit": self.memory_limit,
                    "temp_directory": str(paths.build_dir / "spill"),
                },
            )
            try:
                yield conn
            finally:
                conn.close()


@contextmanager
def _locked(path: Path, timeout: float) -> Iterator[None]:
    deadline = time.monotonic() + timeout
    with path.open("a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusyError(
                        f"{path.parent} is held by another run for over {timeout:.0f} s"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
