"""The `tongban` command: initialise the databases, serve the API, maintain projections."""

from __future__ import annotations

import functools
import importlib
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import click
from rich.console import Console

from tongban.log_options import log_columns, log_format_of, log_reading_options
from tongban.settings import Settings
from workflow_core.errors import WorkflowError

F = TypeVar("F", bound=Callable[..., Any])
console = Console(stderr=True)


def one_line_errors(func: F) -> F:
    """Known failures (bad URL, unreachable database, bad catalog) print one line, exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except WorkflowError as exc:
            click.echo(f"tongban: {exc.message}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


# Each of these is imported when it is called: `tongban serve`'s gunicorn master (which every
# worker forks from) and a one-off `tongban report` then carry none of the others' libraries.
LAZY_COMMANDS: Final = {
    "bench": "tongban.bench.cli:bench",
    "build": "tongban.build_cli:build",
    "quality": "tongban.quality_cli:quality",
    "report": "tongban.report_cli:report",
    "serve": "tongban.serve_cli:serve",
    "simulate": "tongban.simulate_cli:simulate",
}


class LazyGroup(click.Group):
    """A group whose `LAZY_COMMANDS` are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            module, _, name = LAZY_COMMANDS[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(module), name), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup)
def main() -> None:
    """Tongban (通办): analytics and monitoring for a university's one-stop service hall."""


@main.command()
@click.option(
    "--size",
    type=click.Choice(["small", "demo", "large"]),
    default="small",
    show_default=True,
    help="How big a university to generate for the business systems.",
)
@click.option("--seed", type=int, default=2026, show_default=True)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day the generated histories lead up to (default: today).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Regenerate the university and start an empty event store (SQLite files only).",
)
@one_line_errors
def init(size: str, seed: int, as_of: datetime | None, force: bool) -> None:
    """Create the event store and generate the university's business systems."""
    from sqlalchemy import inspect

    from tongban.university.generator import create_business_schema, generate_university
    from tongban.university.personas import write_personas
    from workflow_core.store.db import make_engine
    from workflow_core.store.migrate import upgrade

    settings = Settings.from_env()
    settings.home.mkdir(parents=True, exist_ok=True)
    if force:
        _remove_sqlite(settings.db_url)
        _remove_sqlite(settings.business_db_url)
    # Connect to both before changing either, so a bad URL leaves nothing half-initialised.
    events = make_engine(settings.db_url)
    business = make_engine(settings.business_db_url)
    upgrade(events)
    events.dispose()
    console.print(f"event store ready: {_redact(settings.db_url)}")
    day: date = as_of.date() if as_of else datetime.now(UTC).date()
    if "students" in inspect(business).get_table_names() and not force:
        console.print(
            "business systems already generated (use --force to regenerate): "
            f"{_redact(settings.business_db_url)}"
        )
    else:
        started = time.perf_counter()
        create_business_schema(business)
        with console.status(f"generating a {size} university …"):
            summary = generate_university(business, size, seed=seed, as_of=day)  # type: ignore[arg-type]
        elapsed = time.perf_counter() - started
        console.print(f"business systems generated in {elapsed:.1f} s: {summary}")
    write_personas(business, settings.personas_path, datetime.now(UTC))
    business.dispose()
    console.print(f"personas written: {settings.personas_path}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn processes")
@click.option("--threads", default=16, show_default=True, type=int, help="threads per process")
@one_line_errors
def api(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the workflow HTTP API (gunicorn, threaded workers)."""
    from tongban.server import serve_api

    serve_api(Settings.from_env(), host, port, workers, threads)


@main.command("rebuild-projections")
@one_line_errors
def rebuild_projections() -> None:
    """Rebuild instances, tasks, inbox and campaigns from the event log."""
    from workflow_core.store import projections
    from workflow_core.store.db import make_engine
    from workflow_core.store.migrate import upgrade

    settings = Settings.from_env()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    started = time.perf_counter()
    with engine.begin() as conn:
        counts = projections.rebuild(conn)
    elapsed = time.perf_counter() - started
    summary = ", ".join(f"{name} {count:,}" for name, count in counts.items())
    console.print(f"projections rebuilt in {elapsed:.1f} s: {summary}")


@main.command("import-log")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--process-key",
    "process_key",
    required=True,
    help="The process the log becomes: 2-40 of a-z, 0-9, _ (one log per key).",
)
@log_reading_options
@one_line_errors
def import_log(
    path: Path,
    process_key: str,
    log_format: str | None,
    case: str | None,
    activity: str | None,
    timestamp: str | None,
    resource: str | None,
    group: str | None,
) -> None:
    """Import a real event log (XES or CSV) into the event store as a process of its own."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from workflow_core.importing.csv_log import read_csv
    from workflow_core.importing.loader import check_importable, import_log, validate_process_key
    from workflow_core.importing.model import file_sha256, read_log_bytes
    from workflow_core.importing.xes import read_xes
    from workflow_core.store.db import make_engine
    from workflow_core.store.migrate import upgrade

    validate_process_key(process_key)
    log_format = log_format_of(path, log_format)
    columns = log_columns(case, activity, timestamp, resource, group)
    settings = Settings.from_env()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    started = time.perf_counter()
    # A XES file is read whole once, for its hash and for the column-wise reader.
    stored = read_log_bytes(path) if log_format == "xes" else None
    sha256 = stored.sha256 if stored is not None else file_sha256(path)
    # Refuse a repeated import before spending the parse on it (checked again when writing).
    with engine.connect() as conn:
        check_importable(conn, process_key, sha256, path.name)
    now = datetime.now(UTC)
    plain = log = None
    with console.status(f"reading {path.name} ({log_format}) …"):
        if stored is not None:
            # A plain XES log is read column by column (tongban.xes_frame), into the rows
            # the importer would make; any other log, the importer's own way.
            from tongban.plain_import import write_plain
            from tongban.xes_frame import read_events_frame

            plain = read_events_frame(path.name, stored, process_key, columns, now=now)
        if plain is None:
            log = read_xes(path, columns) if log_format == "xes" else read_csv(path, columns)
    parsed = time.perf_counter()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        total = plain.log_events if plain is not None else log.event_count if log else 0
        task = bar.add_task("writing events", total=total)
        if plain is not None:
            summary = write_plain(
                engine,
                path.name,
                sha256,
                plain,
                process_key,
                now=now,
                progress=lambda done: bar.update(task, completed=done),
            )
        else:
            assert log is not None
            summary = import_log(
                engine,
                log,
                process_key,
                now=now,
                progress=lambda done: bar.update(task, completed=done),
            )
    engine.dispose()
    done = time.perf_counter()
    skipped = (
        f", {summary.skipped_empty_cases:,} empty cases skipped"
        if summary.skipped_empty_cases
        else ""
    )
    console.print(
        f"imported {summary.source} as process {summary.process_key!r}: "
        f"{summary.cases:,} cases, {summary.events:,} events, "
        f"{summary.activities:,} activities{skipped} "
        f"(read {parsed - started:.1f} s, wrote {done - parsed:.1f} s)"
    )


def _remove_sqlite(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        raise WorkflowError(
            f"--force removes SQLite files only; drop {_redact(url)} yourself to start over"
        )
    for suffix in ("", "-wal", "-shm"):
        path = Path(parsed.database + suffix)
        if path.exists():
            path.unlink()


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":  # pragma: no cover
    main()
