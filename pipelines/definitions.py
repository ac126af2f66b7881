"""The Dagster entry point: the assets, jobs, sensor and schedules that build the warehouse.

Modules loaded: events (the event store's feed), business (business systems, catalog,
calendar), models (one asset per SQL model), publication (the snapshot), jobs, sensors,
schedules; resources come from `pipelines.environment`. Nothing is opened at import time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from pipelines.business.assets import raw_business, raw_calendar, raw_catalog
from pipelines.environment import resources as environment_resources
from pipelines.events.assets import raw_events
from pipelines.jobs import JOBS
from pipelines.models.assets import model_assets
from pipelines.schedules import (
    nightly_business_refresh,
    periodic_turnaround_refresh,
    weekly_full_rebuild,
)
from pipelines.sensors import new_events_sensor
from warehouse.modeling import Model, load_models


def build_definitions(
    models: Sequence[Model] | None = None, resources: Mapping[str, Any] | None = None
) -> dg.Definitions:
    """The definitions over `models` (default: every SQL model) and `resources` (default: the
    environment's)."""
    chosen = tuple(load_models() if models is None else models)
    return dg.Definitions(
        assets=[
            raw_events,
            raw_business,
            raw_catalog,
            raw_calendar,
            *model_assets(chosen),
        ],
        jobs=list(JOBS),
        sensors=[new_events_sensor],
        schedules=[nightly_business_refresh, weekly_full_rebuild, periodic_turnaround_refresh],
        resources=dict(environment_resources() if resources is None else resources),
        executor=dg.in_process_executor,
    )


defs = build_definitions()
