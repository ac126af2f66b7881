"""Reads a whereabouts registration needs from the store: the campaign and the previous entry.

Shared by the application service and the batched history writer, so that a registration
supersedes the same earlier one whichever path wrote it.
"""

from __future__ import annotations

from sqlalchemy import Connection, and_, select

from workflow_core.domain.events import CampaignOpened
from workflow_core.domain.evolve import fold_campaign
from workflow_core.domain.state import CampaignState, InstanceStatus
from workflow_core.store import event_store
from workflow_core.store.schema import instances


def load_campaign(conn: Connection, campaign_id: str) -> CampaignState | None:
    """The campaign's folded state; None when the id names no campaign (e.g. an instance)."""
    loaded = event_store.load_stream(conn, campaign_id)
    if loaded and loaded[0].event.TYPE != CampaignOpened.TYPE:
        return None
    return fold_campaign(campaign_id, (s.event for s in loaded))


def latest_registration(conn: Connection, campaign_id: str, applicant_id: str) -> str | None:
    """The applicant's latest registration in the campaign, which a new one supersedes.

    The latest is the head of the chain: the registration no other one supersedes. Times
    cannot say it, because two registrations can carry the same `submitted_at` (a clock's
    resolution, an importer's timestamps), and a random instance id then broke the tie.
    """
    mine = and_(
        instances.c.campaign_id == campaign_id,
        instances.c.applicant_id == applicant_id,
        instances.c.status != InstanceStatus.WITHDRAWN.value,
    )
    later = instances.alias("later")
    superseded = (
        select(later.c.instance_id)
        .where(
            later.c.campaign_id == campaign_id,
            later.c.applicant_id == applicant_id,
            later.c.supersedes == instances.c.instance_id,
        )
        .exists()
    )
    found = conn.execute(
        select(instances.c.instance_id)
        .where(mine, ~superseded)
        .order_by(instances.c.submitted_at.desc(), instances.c.instance_id.desc())
        .limit(1)
    ).scalar()
    return str(found) if found is not None else None
