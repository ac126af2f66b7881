"""Sharing the lanes out between worker processes: every lane exactly once, the loads even."""

from __future__ import annotations

from tongban.simulator.run import CAMPAIGN_LANE, lane_names, share_lanes
from workflow_core.catalog.loader import Catalog


def test_every_lane_runs_once_and_the_heaviest_does_not_share_a_crowded_worker(
    catalog: Catalog,
) -> None:
    names = lane_names(catalog)
    assert names[-1] == CAMPAIGN_LANE and "holiday_whereabouts" not in names
    (alone,) = share_lanes(names, catalog, "demo", 1)
    assert sorted(alone) == sorted(names)
    for workers in (2, 3, 16):
        shares = share_lanes(names, catalog, "demo", workers)
        assert len(shares) == min(workers, len(names))
        assert sorted(n for share in shares for n in share) == sorted(names)
    two = share_lanes(names, catalog, "demo", 2)
    # The enrollment certificate (six nodes, 42 % of the cross-department cases) is the heaviest
    # lane; the campaigns go to the other worker.
    heavy = next(share for share in two if "enrollment_certificate" in share)
    assert CAMPAIGN_LANE not in heavy
    assert len(heavy) < len(names) - len(heavy)
