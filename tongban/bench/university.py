"""The bench university: generated, simulated and built once per size, then reused.

A stage that needs what an earlier stage makes (the simulated year, a published warehouse)
and finds it missing makes it first, unmeasured, with the same commands a user would run.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from tongban.bench.harness import BenchContext, tongban_command
from tongban.bench.processes import BenchError, run_measured
from warehouse.paths import WarehousePaths

_RUNS = itertools.count(1)


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_bytes: int
    output: str


def run_tongban(
    context: BenchContext, *args: str, home: Path | None = None, **env: str
) -> Measured:
    """`tongban ARGS` as a child process: its wall time, peak memory and output; a failure
    raises with the command and its log named."""
    # Named by process too: two bench runs on one machine never share a log.
    name = f"{args[0]}-{os.getpid()}-{next(_RUNS)}"
    log = context.logs / context.size / f"{name}.log"
    log.unlink(missing_ok=True)
    seconds, peak, status = run_measured(tongban_command(*args), context.env(home, **env), log)
    output = log.read_text(encoding="utf-8", errors="replace")
    if status != 0:
        tail = "\n".join(output.strip().splitlines()[-5:])
        raise BenchError(f"`tongban {' '.join(args)}` exited with {status} (log {log}):\n{tail}")
    return Measured(seconds, peak, output)


def events_db(home: Path) -> Path:
    return home / "events.db"


def event_count(path: Path) -> int:
    """The store's high-water mark (its events are numbered from 1 without gaps)."""
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        try:
            row = conn.execute("select max(event_id) from events").fetchone()
        except sqlite3.OperationalError:
            return 0
    return int(row[0] or 0)


def ensure_directory(context: BenchContext, home: Path | None = None) -> None:
    """The business systems of a university of the bench's size."""
    home = home or context.home
    if not (home / "business.db").exists():
        context.say(f"generating the {context.size} university in {home}")
        home.mkdir(parents=True, exist_ok=True)
        run_tongban(context, "init", "--size", context.size, home=home)


def ensure_history(context: BenchContext) -> int:
    """A simulated year in the bench university's store; its number of events."""
    ensure_directory(context)
    events = event_count(events_db(context.home))
    if events == 0:
        context.say(f"simulating a year of the {context.size} university (not measured)")
        run_tongban(context, "simulate", "--size", context.size)
        events = event_count(events_db(context.home))
    return events


def ensure_warehouse(context: BenchContext) -> None:
    """A published warehouse over the bench university's history."""
    ensure_history(context)
    if not WarehousePaths(context.home / "warehouse").current.exists():
        context.say("building the warehouse (not measured)")
        run_tongban(context, "build")
