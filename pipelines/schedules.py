"""The warehouse's calendar: turnaround marts every 10 minutes, business systems nightly, a
full rebuild weekly."""

from __future__ import annotations

from typing import Final

import dagster as dg

from pipelines.jobs import business_refresh, periodic_refresh, warehouse_full_rebuild

TIMEZONE: Final = "Asia/Shanghai"

nightly_business_refresh = dg.ScheduleDefinition(
    name="nightly_business_refresh",
    job=business_refresh,
    cron_schedule="0 2 * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Reload rosters, staff and the catalog at 02:00, after the SIS's nightly sync.",
)

weekly_full_rebuild = dg.ScheduleDefinition(
    name="weekly_full_rebuild",
    job=warehouse_full_rebuild,
    cron_schedule="0 3 * * 0",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Rebuild every model from scratch on Sunday at 03:00.",
)

periodic_turnaround_refresh = dg.ScheduleDefinition(
    name="periodic_turnaround_refresh",
    job=periodic_refresh,
    cron_schedule="*/10 * * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Rebuild leadership's whole-history marts every 10 minutes.",
)
