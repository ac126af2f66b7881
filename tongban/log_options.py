"""How a command is told to read an event log file — `tongban import-log` and `tongban report
log` read it alike: the same options, the format from the file's name, the columns named."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from workflow_core.importing.model import LogColumns

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = (
    click.option(
        "--format",
        "log_format",
        type=click.Choice(["xes", "csv"]),
        default=None,
        help="Default: from the file name (.xes, .xes.gz → xes; .csv → csv).",
    ),
    click.option(
        "--case", default=None, help="Case id column  [CSV: case:concept:name; XES trace]"
    ),
    click.option("--activity", default=None, help="Activity column  [concept:name]"),
    click.option("--timestamp", default=None, help="Timestamp column  [time:timestamp]"),
    click.option("--resource", default=None, help="Resource column  [org:resource]"),
    click.option("--group", default=None, help="Group (department) column  [org:group]"),
)


def log_reading_options(command: F) -> F:
    """`--format`, `--case`, `--activity`, `--timestamp`, `--resource`, `--group`."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def log_format_of(path: Path, log_format: str | None) -> str:
    """`log_format` when given, else the one the file's name says; LogImportError otherwise."""
    from workflow_core.importing.model import LogImportError

    if log_format is not None:
        return log_format
    name = path.name.lower()
    if name.endswith((".xes", ".xes.gz")):
        return "xes"
    if name.endswith(".csv"):
        return "csv"
    raise LogImportError(f"{path.name}: cannot tell the format; pass --format xes|csv")


def log_columns(
    case: str | None,
    activity: str | None,
    timestamp: str | None,
    resource: str | None,
    group: str | None,
) -> LogColumns:
    """The columns to read: those named on the command line, the log's defaults for the rest."""
    from workflow_core.importing.model import LogColumns

    given = {
        "case": case,
        "activity": activity,
        "timestamp": timestamp,
        "resource": resource,
        "group": group,
    }
    named = {role: value for role, value in given.items() if value is not None}
    return LogColumns(**named, explicit=frozenset(named))  # type: ignore[arg-type]
