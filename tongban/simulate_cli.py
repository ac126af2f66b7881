"""`tongban simulate`: a stretch of hall history, or live traffic through the HTTP API.

Registered on the `tongban` command group at the end of `tongban/cli.py`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import func, select

from tongban.cli import console, one_line_errors
from tongban.settings import Settings
from tongban.simulator.live import (
    DEFAULT_API_URL,
    DEFAULT_CAMPAIGN_MINUTES,
    DEFAULT_RATE,
    simulate_live,
)
from tongban.simulator.run import simulate as simulate_history
from tongban.simulator.volumes import students_of
from tongban.university.generator import PROFILES
from workflow_core.directory.schema import students
from workflow_core.errors import WorkflowError
from workflow_core.store.db import make_engine
from workflow_core.store.migrate import is_current
from workflow_core.store.schema import instances


@click.command()
@click.option(
    "--size",
    type=click.Choice(["small", "demo", "large"]),
    default="small",
    show_default=True,
    help="The size `tongban init` generated; volumes scale with it.",
)
@click.option("--days", type=click.IntRange(1, 3660), default=365, show_default=True)
@click.option("--seed", type=int, default=2026, show_default=True)
@click.option(
    "--end",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The first day not simulated (default: today); history covers the days before it.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Processes sharing the services out (default: one per core).",
)
@click.option(
    "--once",
    is_flag=True,
    help="Do nothing when the store already holds this seed's history (for `make demo`).",
)
@click.option("--live", is_flag=True, help="Send live traffic to the HTTP API until Ctrl-C.")
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_RATE,
    show_default=True,
    help="With --live: commands per second.",
)
@click.option("--api-url", default=DEFAULT_API_URL, show_default=True, help="With --live: the API.")
@click.option(
    "--campaign-minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_CAMPAIGN_MINUTES,
    show_default=True,
    help="With --live: a whereabouts campaign's window from opening to its deadline.",
)
@click.option(
    "--api-wait",
    type=click.FloatRange(min=0),
    default=0.0,
    help="With --live: seconds to wait for an API that is still starting.",
)
@one_line_errors
def simulate(
    size: str,
    days: int,
    seed: int,
    end: datetime | None,
    workers: int | None,
    once: bool,
    live: bool,
    rate: float,
    api_url: str,
    campaign_minutes: float,
    api_wait: float,
) -> None:
    """Simulate hall history through the workflow core, or live traffic with --live.

    Every catalog service gets its daily volume; approvers work office hours on China's working
    days, with returns, rejections, withdrawals, reassignments and reminders; students register
    their whereabouts (假期去向登记) in a campaign before every holiday, monitors remind them.
    Applicants and approvers are who the directory says they are on each day, so its changes
    over the year (休学, leaving, changing class, new counsellors) show in the history.

    With --live: whereabouts campaigns with their deadline surge compressed into minutes, and
    the ordinary services submitted and decided, through the HTTP API in real time until Ctrl-C.
    """
    if live:
        simulate_live(
            Settings.from_env(),
            console,
            api_url=api_url,
            rate=rate,
            campaign_minutes=campaign_minutes,
            seed=seed,
            api_wait=api_wait,
        )
        return
    settings = Settings.from_env()
    engine = make_engine(settings.db_url)
    if not is_current(engine):
        raise WorkflowError("the event store is not initialised: run `tongban init` first")
    with engine.connect() as conn:
        taken = conn.execute(
            select(instances.c.instance_id)
            .where(instances.c.instance_id.like(f"sim{seed}-%"))
            .limit(1)
        ).first()
    if taken is not None and once:
        console.print(f"history simulated with seed {seed} is already in the store: kept as it is")
        engine.dispose()
        return
    if taken is not None:
        raise WorkflowError(
            f"the event store already holds history simulated with seed {seed}; "
            "use another --seed, or start over with `tongban init --force`"
        )
    engine.dispose()
    _check_size(settings, size)
    last = (end.date() if end else datetime.now(UTC).date()) - timedelta(days=1)
    first_day = last - timedelta(days=days - 1)
    console.print(
        f"simulating {days} days ({first_day} … {last}) of a {size} university, seed {seed}"
    )
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("service-days", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(bar, completed=done, total=total)

        result = simulate_history(
            settings,
            size=size,
            first_day=first_day,
            days=days,
            seed=seed,
            workers=workers,
            progress=advance,
        )
    refused = sum(result.lanes.refused.values())
    commands = result.lanes.commands
    console.print(
        f"{result.lanes.instances:,} requests and registrations, {result.events:,} events in "
        f"{result.seconds:.1f} s ({result.events_per_second:,.0f} events/s, "
        f"{result.workers} processes); {commands['register']:,} registrations, "
        f"{commands['change']:,} changes, {commands['remind_students']:,} campaign reminders; "
        f"{refused:,} commands refused by the workflow rules and skipped"
    )


def _check_size(settings: Settings, size: str) -> None:
    """Refuse volumes meant for another size: a demo year on a small directory would have a few
    hundred students file thousands of requests a day."""
    business = make_engine(settings.business_db_url, write_lock_at_begin=False)
    try:
        with business.connect() as conn:
            count = conn.execute(select(func.count()).select_from(students)).scalar_one()
    finally:
        business.dispose()
    expected = students_of(PROFILES[size])
    if not expected / 2 <= count <= expected * 2:
        closest = min(
            PROFILES, key=lambda s: abs(math.log(max(count, 1) / students_of(PROFILES[s])))
        )
        raise WorkflowError(
            f"the directory holds {count:,} students, not a {size} university (about "
            f"{expected:,}); simulate it with --size {closest}, or run `tongban init --size {size} "
            "--force` first"
        )
