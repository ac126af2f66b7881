"""`tongban simulate`: a stretch of hall history for the non-campaign services.

Registered on the `tongban` command group at the end of `tongban/cli.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select

from tongban.cli import console, one_line_errors
from tongban.settings import Settings
from tongban.simulator.history import simulate_history
from tongban.simulator.live import (
    DEFAULT_API_URL,
    DEFAULT_CAMPAIGN_MINUTES,
    DEFAULT_RATE,
    simulate_live,
)
from tongban.wiring import catalog_for
from workflow_core.directory.sql_directory import SqlDirectory
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
@one_line_errors
def simulate(
    size: str,
    days: int,
    seed: int,
    end: datetime | None,
    live: bool,
    rate: float,
    api_url: str,
    campaign_minutes: float,
) -> None:
    """Simulate hall history for the non-campaign services through the workflow core.

    Every catalog service except the whereabouts campaigns gets its daily volume; approvers
    work office hours on China's working days, with returns, rejections, withdrawals,
    reassignments and reminders. Not simulated yet: whereabouts campaigns (假期去向登记) in the
    history and directory changes over the year.

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
    if taken is not None:
        raise WorkflowError(
            f"the event store already holds history simulated with seed {seed}; "
            "use another --seed, or start over with `tongban init --force`"
        )
    business = make_engine(settings.business_db_url, write_lock_at_begin=False)
    directory = SqlDirectory(business)
    last = (end.date() if end else datetime.now(UTC).date()) - timedelta(days=1)
    first_day = last - timedelta(days=days - 1)
    console.print(
        f"simulating {days} days ({first_day} … {last}) of a {size} university, seed {seed}: "
        "non-campaign services only (no whereabouts campaigns, live traffic or directory "
        "changes)"
    )
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("days", total=days)
        result = simulate_history(
            engine,
            catalog_for(settings),
            directory,
            business,
            size=size,
            first_day=first_day,
            days=days,
            seed=seed,
            progress=lambda done: progress.update(bar, completed=done),
        )
    directory.close()
    business.dispose()
    engine.dispose()
    refused = sum(result.refused.values())
    console.print(
        f"{result.instances:,} requests, {result.events:,} events in {result.seconds:.1f} s "
        f"({result.events_per_second:,.0f} events/s); {refused:,} commands refused by the "
        "workflow rules and skipped"
    )
