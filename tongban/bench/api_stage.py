"""Stage `api`: submit + approve over HTTP against the production server, on SQLite and PostgreSQL.

32 clients, each on a kept-alive connection, submit requests of the bench university and
approve every task of each to its end (`api_load`), against `tongban api` (gunicorn, its
default workers and threads) on a fresh event store per run and database. The limit, measured
in the same run on the same kind of database, is one bare SQLAlchemy Core insert + commit per
event into a table shaped like `events`: what one writer gets with no API, no decision and no
projection around it. The HTTP floor, measured in the same run against the same server with the
same number of clients, is its health check (`GET /healthz`: no caller, no body, one indexed
read): what gunicorn, Flask and the clients alone allow on this machine.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, Index, MetaData, Table, UniqueConstraint, create_engine, text
from sqlalchemy.engine import URL, make_url

from tongban.bench.api_load import (
    FLOOR_PATH,
    LoadWindow,
    Submission,
    plan_submissions,
    run_floor,
    run_load,
)
from tongban.bench.harness import BenchContext, tongban_command
from tongban.bench.processes import descendants, free_port, serving
from tongban.bench.results import StageResult, percentile, spread
from tongban.bench.university import ensure_directory
from tongban.simulator.live import load_roster
from workflow_core.catalog.loader import default_catalog
from workflow_core.directory.memory_directory import MemoryDirectory
from workflow_core.store.db import make_engine
from workflow_core.store.migrate import upgrade
from workflow_core.store.schema import events

STAGE: Final = "api"
CLIENTS: Final = 32
WARMUP_S: Final = 2.0
DURATION_S: Final = {"small": 5.0, "demo": 20.0, "large": 20.0}
BARE_S: Final = {"small": 1.0, "demo": 3.0, "large": 3.0}
FLOOR_WARMUP_S: Final = 1.0  # the server is warm already: the clients only connect
SUBMISSIONS: Final = 4_000  # planned forms, cycled: more than a run submits at the target rate
TARGETS: Final = {"sqlite": 1_000.0, "postgresql": 600.0}
LABELS: Final = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
PG_DATABASE_PREFIX: Final = "tongban_bench_api_"
PG_HINT: Final = "set TONGBAN_BENCH_PG_URL (or --pg-url) to a PostgreSQL server to measure it"


def run(context: BenchContext) -> StageResult:
    return measure(context, duration_s=DURATION_S[context.size], bare_s=BARE_S[context.size])


@dataclass(frozen=True)
class RunFigures:
    """One run on one database: the API under load, the HTTP floor on the same server, and the
    bare insert beside them."""

    load: LoadWindow
    bare_events_per_s: float
    floor: LoadWindow | None = None

    @property
    def floor_requests_per_s(self) -> float:
        return self.floor.commands / self.floor.seconds if self.floor else 0.0

    @property
    def floor_server_cpu_ms_per_request(self) -> float:
        floor = self.floor
        return 1000 * floor.server_cpu_s / floor.commands if floor and floor.commands else 0.0

    def floor_latency_ms(self, share: float) -> float:
        floor = self.floor
        return 1000 * percentile(floor.latencies_s, share) if floor and floor.latencies_s else 0.0

    @property
    def commands_per_s(self) -> float:
        return self.load.commands / self.load.seconds

    @property
    def events_per_s(self) -> float:
        return self.load.events / self.load.seconds

    @property
    def server_cpu_ms_per_command(self) -> float:
        return 1000 * self.load.server_cpu_s / self.load.commands if self.load.commands else 0.0

    @property
    def client_cpu_ms_per_command(self) -> float:
        return 1000 * self.load.client_cpu_s / self.load.commands if self.load.commands else 0.0

    def latency_ms(self, share: float) -> float:
        return 1000 * percentile(self.load.latencies_s, share) if self.load.latencies_s else 0.0


@dataclass(frozen=True)
class Plan:
    """How each run loads the server and measures the limit."""

    duration_s: float
    bare_s: float
    warmup_s: float = WARMUP_S
    clients: int = CLIENTS
    floor_s: float = 0.0  # the HTTP floor's window; 0: half the load's
    # Extra `tongban api` options (e.g. "--threads", "4"), to compare settings by hand; the
    # stage itself measures the server as it ships.
    server_args: tuple[str, ...] = ()


def measure(
    context: BenchContext,
    *,
    duration_s: float,
    bare_s: float,
    warmup_s: float = WARMUP_S,
    clients: int = CLIENTS,
    databases: Sequence[str] = ("sqlite", "postgresql"),
    server_args: Sequence[str] = (),
    floor_s: float | None = None,
) -> StageResult:
    """The stage with its durations given (a test keeps them short)."""
    floor = duration_s / 2 if floor_s is None else floor_s
    plan = Plan(duration_s, bare_s, warmup_s, clients, floor, tuple(server_args))
    ensure_directory(context)
    notes: list[str] = []
    kinds = [kind for kind in databases if kind == "sqlite" or _pg_usable(context, notes)]
    submissions = _submissions(context) if kinds else []
    runs: dict[str, list[RunFigures]] = {kind: [] for kind in kinds}
    times = context.times(small=1, demo=3, large=3)
    for number in range(1, times + 1):
        for kind in kinds:
            context.say(f"api: run {number}/{times} on {LABELS[kind]} …")
            figures = _one_run(context, kind, number, submissions, plan)
            context.say(f"api: {_run_line(kind, figures)}")
            runs[kind].append(figures)
    return _result(context, runs, databases, notes, plan)


# --- the bench university and its load --------------------------------------------------------


def _submissions(context: BenchContext) -> list[Submission]:
    now = datetime.now(UTC)
    business = make_engine(_sqlite_url(context.home / "business.db"), write_lock_at_begin=False)
    try:
        directory = MemoryDirectory.load(business)
    finally:
        business.dispose()
    roster = load_roster(directory, now)
    rng = random.Random(f"bench-api:{context.size}")
    return plan_submissions(roster, directory, default_catalog(), rng, SUBMISSIONS, now)


def _one_run(
    context: BenchContext, kind: str, number: int, submissions: Sequence[Submission], plan: Plan
) -> RunFigures:
    scratch = context.root / STAGE / f"{kind}-{number}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        with fresh_store(context, kind, scratch) as url:
            load, floor = _load_api(context, kind, number, url, scratch, submissions, plan)
            # Beside the store, never in it: the same database kind, server and settings.
            bare_url = _sqlite_url(scratch / "bare.db") if kind == "sqlite" else url
            bare = bare_insert_events_per_s(bare_url, plan.bare_s)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return RunFigures(load, bare, floor)


@contextlib.contextmanager
def fresh_store(context: BenchContext, kind: str, scratch: Path) -> Iterator[str]:
    """An empty, migrated event store: a SQLite file in `scratch`, or a PostgreSQL database of
    its own on the bench server, dropped when the block ends (also on error)."""
    if kind == "sqlite":
        url = _sqlite_url(scratch / "events.db")
        _migrate(url)
        yield url
        return
    assert context.pg_url is not None
    name = pg_database_name()
    admin = _pg_admin(context.pg_url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
            conn.execute(text(f'create database "{name}"'))
        try:
            store = make_url(context.pg_url).set(database=name)
            rendered = store.render_as_string(hide_password=False)
            _migrate(rendered)
            yield rendered
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'drop database if exists "{name}" with (force)'))
    finally:
        admin.dispose()


def pg_database_name() -> str:
    return f"{PG_DATABASE_PREFIX}{os.getpid()}"


def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def _load_api(
    context: BenchContext,
    kind: str,
    number: int,
    url: str,
    scratch: Path,
    submissions: Sequence[Submission],
    plan: Plan,
) -> tuple[LoadWindow, LoadWindow]:
    """The commands' load, then the HTTP floor, on one server."""
    port = free_port()
    env = context.env(
        home=scratch,
        TONGBAN_DB_URL=url,
        TONGBAN_BUSINESS_DB_URL=_sqlite_url(context.home / "business.db"),
    )
    base_url = f"http://127.0.0.1:{port}"
    command = tongban_command("api", "--host", "127.0.0.1", "--port", str(port), *plan.server_args)
    log = context.logs / f"api-{context.size}-{kind}-{number}.log"
    with serving("tongban api", command, env, log, base_url, ready_path="/healthz") as server:
        load = run_load(
            base_url,
            submissions,
            clients=plan.clients,
            warmup_s=plan.warmup_s,
            duration_s=plan.duration_s,
            key_prefix=f"bench-{kind}-{number}-{os.getpid()}",
            server_cpu=lambda: tree_cpu_seconds(server.pid),
        )
        floor = run_floor(
            base_url,
            clients=plan.clients,
            warmup_s=min(FLOOR_WARMUP_S, plan.warmup_s),
            duration_s=plan.floor_s,
            server_cpu=lambda: tree_cpu_seconds(server.pid),
        )
    return load, floor


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants (gunicorn's workers)."""
    ticks = 0
    for member in descendants(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = Path(f"/proc/{member}/stat").read_text()
            # Fields after the command name, which may hold spaces: utime and stime are 14, 15.
            fields = stat.rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


# --- the limit: one bare insert + commit per event ----------------------------------------------


def bare_table(metadata: MetaData) -> Table:
    """A table with the columns of `events`, under names of its own (PostgreSQL names indexes
    per schema, and the bare table may sit beside the store's own `events`)."""
    return Table(
        "bench_bare_events",
        metadata,
        *(column._copy() for column in events.columns),
        UniqueConstraint("stream_id", "stream_version", name="uq_bench_bare_stream_version"),
        Index("ix_bench_bare_process_occurred", "process_key", "occurred_at"),
    )


def bare_insert_events_per_s(url: str, seconds: float) -> float:
    """Events/s of one thread inserting one event per transaction through SQLAlchemy Core,
    on an engine made as the store makes its own (same PRAGMAs, same BEGIN, same driver)."""
    engine = make_engine(url)
    table = bare_table(MetaData())
    try:
        table.create(engine, checkfirst=True)
        statement = table.insert()
        count = 0
        with engine.connect() as conn:
            started = time.perf_counter()
            deadline = started + seconds
            while time.perf_counter() < deadline:
                conn.execute(statement, _bare_row(count))
                conn.commit()
                count += 1
            elapsed = time.perf_counter() - started
        table.drop(engine)
    finally:
        engine.dispose()
    return count / elapsed


def _bare_row(number: int) -> dict[str, Any]:
    """A `task_created`-like event: the shape and size the API writes most."""
    now = datetime.now(UTC)
    return {
        "stream_id": f"bare-{number // 4}",
        "stream_version": number % 4 + 1,
        "stream_type": "instance",
        "occurred_at": now,
        "recorded_at": now,
        "event_type": "task_created",
        "process_key": "vpn_application",
        "process_version": 1,
        "node_key": "department_review",
        "task_id": f"bare-{number // 4}-t{number % 4 + 1}",
        "actor_id": "2024010101",
        "actor_role": "applicant",
        "department_id": "network_center",
        "schema_version": 1,
        "payload": {"assignees": ["T0001", "T0002"], "sla_hours": 16.0, "step": number % 4},
    }


# --- PostgreSQL ---------------------------------------------------------------------------------


def _pg_admin(pg_url: str) -> Engine:
    url: URL = make_url(pg_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    # CREATE / DROP DATABASE cannot run inside a transaction.
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def _pg_usable(context: BenchContext, notes: list[str]) -> bool:
    """Whether the bench's PostgreSQL server answers; if not, a note says why and what to do."""
    if not context.pg_url:
        notes.append(f"PostgreSQL not measured: {PG_HINT}")
        return False
    redacted = make_url(context.pg_url).render_as_string(hide_password=True)
    try:
        admin = _pg_admin(context.pg_url)
        try:
            with admin.connect() as conn:
                conn.execute(text("select 1"))
        finally:
            admin.dispose()
    except Exception as exc:  # any failure here means "not measured", with its reason
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        notes.append(f"PostgreSQL not measured: {redacted} is not reachable ({reason}); {PG_HINT}")
        return False
    return True


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


# --- the result ---------------------------------------------------------------------------------


def _run_line(kind: str, run: RunFigures) -> str:
    load = run.load
    errors = sum(load.errors.values())
    return (
        f"{LABELS[kind]} {run.commands_per_s:,.0f} cmd/s, {run.events_per_s:,.0f} ev/s, "
        f"p50 {run.latency_ms(0.5):.0f} ms, p99 {run.latency_ms(0.99):.0f} ms, "
        f"{errors} errors, {load.conflicts} conflicts, "
        f"server CPU {run.server_cpu_ms_per_command:.1f} ms/cmd; "
        f"HTTP floor {run.floor_requests_per_s:,.0f} req/s "
        f"(p99 {run.floor_latency_ms(0.99):.0f} ms, "
        f"server CPU {run.floor_server_cpu_ms_per_request:.2f} ms/req); "
        f"bare insert {run.bare_events_per_s:,.0f} ev/s"
    )


def _database_figures(runs: Sequence[RunFigures]) -> dict[str, Any]:
    errors: Counter[str] = Counter()
    messages: dict[str, str] = {}
    for run in runs:
        errors.update(run.load.errors)
        messages.update((k, v) for k, v in run.load.messages.items() if k not in messages)
    return {
        "commands_per_s": spread([r.commands_per_s for r in runs], 1),
        "events_per_s": spread([r.events_per_s for r in runs], 1),
        "p50_ms": spread([r.latency_ms(0.5) for r in runs], 1),
        "p99_ms": spread([r.latency_ms(0.99) for r in runs], 1),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors.most_common()),
        "error_messages": messages,
        "conflicts": sum(r.load.conflicts for r in runs),
        "commands": [r.load.commands for r in runs],
        "submits": [r.load.submits for r in runs],
        "approves": [r.load.approves for r in runs],
        "instances_done": [r.load.instances_done for r in runs],
        # CPU per command, whatever else the machine runs: what bounds the rate on its cores.
        "server_cpu_ms_per_command": spread([r.server_cpu_ms_per_command for r in runs], 2),
        "client_cpu_ms_per_command": spread([r.client_cpu_ms_per_command for r in runs], 2),
        "bare_insert_events_per_s": spread([r.bare_events_per_s for r in runs], 1),
        # Per run: the API and its limit shared the run's machine load.
        "commands_vs_bare": spread([r.commands_per_s / r.bare_events_per_s for r in runs]),
        "events_vs_bare": spread([r.events_per_s / r.bare_events_per_s for r in runs]),
        "http_floor": _floor_figures(runs),
        "commands_vs_http_floor": spread(
            [r.commands_per_s / r.floor_requests_per_s for r in runs if r.floor_requests_per_s]
            or [0.0]
        ),
    }


def _floor_figures(runs: Sequence[RunFigures]) -> dict[str, Any]:
    """The HTTP floor of the runs: the same clients against the health check, same server."""
    floors = [r.floor for r in runs if r.floor is not None]
    errors: Counter[str] = Counter()
    messages: dict[str, str] = {}
    for floor in floors:
        errors.update(floor.errors)
        messages.update((k, v) for k, v in floor.messages.items() if k not in messages)
    measured = [r for r in runs if r.floor is not None] or list(runs)
    return {
        "path": FLOOR_PATH,
        "requests_per_s": spread([r.floor_requests_per_s for r in measured], 1),
        "p50_ms": spread([r.floor_latency_ms(0.5) for r in measured], 1),
        "p99_ms": spread([r.floor_latency_ms(0.99) for r in measured], 1),
        "server_cpu_ms_per_request": spread(
            [r.floor_server_cpu_ms_per_request for r in measured], 3
        ),
        "requests": [f.commands for f in floors],
        "errors": sum(errors.values()),
        "error_kinds": dict(errors.most_common()),
        "error_messages": messages,
    }


def _server_figures(server_args: Sequence[str]) -> dict[str, Any]:
    """The server as measured: `tongban api`'s default workers and threads, or those given."""
    from tongban.cli import api

    found: dict[str, Any] = {"command": "tongban api", "worker_class": "gthread"}
    found.update((p.name, p.default) for p in api.params if p.name in ("workers", "threads"))
    given = dict(zip(server_args[::2], server_args[1::2], strict=False))
    for name in ("workers", "threads"):
        if f"--{name}" in given:
            found[name] = int(given[f"--{name}"])
    if server_args:
        found["args"] = list(server_args)
    return found


def _result(
    context: BenchContext,
    runs: dict[str, list[RunFigures]],
    databases: Sequence[str],
    notes: list[str],
    plan: Plan,
) -> StageResult:
    per_db = {kind: _database_figures(measured) for kind, measured in runs.items() if measured}
    meets = all(
        kind in per_db
        and per_db[kind]["commands_per_s"]["median"] >= TARGETS[kind]
        and per_db[kind]["errors"] == 0
        for kind in databases
    )
    for kind, measured in per_db.items():
        if measured["errors"]:
            notes.append(
                f"{LABELS[kind]}: {measured['errors']} failed commands {measured['error_kinds']}"
            )
        floor = measured["http_floor"]
        if floor["errors"]:
            notes.append(
                f"{LABELS[kind]}: {floor['errors']} failed requests to the HTTP floor's "
                f"{floor['path']} {floor['error_kinds']}"
            )
    figures: dict[str, Any] = {
        **per_db,
        "clients": plan.clients,
        "duration_s": plan.duration_s,
        "warmup_s": plan.warmup_s,
        "bare_insert_s": plan.bare_s,
        "http_floor_s": plan.floor_s,
        "server": _server_figures(plan.server_args),
        "runs": context.times(small=1, demo=3, large=3),
    }
    return StageResult(
        stage=STAGE,
        figure=" · ".join(_figure_words(kind, per_db.get(kind)) for kind in databases),
        target=_target_words(databases),
        meets_target=meets,
        figures=figures,
        targets={f"{kind}_commands_per_s": TARGETS[kind] for kind in databases},
        peer=_peer_words(per_db),
        notes=notes,
    )


def _target_words(databases: Sequence[str]) -> str:
    """The table's words, e.g. "≥ 1,000 cmd/s SQLite, ≥ 600 PostgreSQL"."""
    unit = iter(("cmd/s ",))
    return ", ".join(f"≥ {TARGETS[k]:,.0f} {next(unit, '')}{LABELS[k]}" for k in databases)


def _figure_words(kind: str, figures: dict[str, Any] | None) -> str:
    if figures is None:
        return f"{LABELS[kind]} not measured"
    commands = figures["commands_per_s"]["median"]
    p99 = figures["p99_ms"]["median"]
    errors = f", {figures['errors']} errors" if figures["errors"] else ""
    return f"{LABELS[kind]} {commands:,.0f} cmd/s (p99 {p99:,.0f} ms{errors})"


def _peer_words(per_db: dict[str, dict[str, Any]]) -> str:
    if not per_db:
        return ""
    short = {"sqlite": "SQLite", "postgresql": "PG"}
    limits = ", ".join(
        f"{short[k]} {f['bare_insert_events_per_s']['median']:,.0f} ev/s" for k, f in per_db.items()
    )
    shares = " / ".join(f"{f['events_vs_bare']['median']:.2f}×" for f in per_db.values())
    floors = ", ".join(
        f"{short[k]} {f['http_floor']['requests_per_s']['median']:,.0f} req/s"
        for k, f in per_db.items()
    )
    floor_shares = " / ".join(
        f"{f['commands_vs_http_floor']['median']:.2f}×" for f in per_db.values()
    )
    return (
        f"bare Core insert+commit: {limits}; API ev/s {shares}. "
        f"HTTP floor (GET {FLOOR_PATH}, same server and clients): {floors}; "
        f"API cmd/s {floor_shares}"
    )
