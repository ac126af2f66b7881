"""Sharing the lanes out between worker processes: a heavy service is cut into parts, every lane
runs exactly once, two workers get even loads, and one process or two write the same streams."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from tongban.settings import Settings
from tongban.simulator.run import (
    CACHE_KIB,
    CAMPAIGN_LANE,
    MAX_LANE_SHARE,
    lane_names,
    lane_part,
    lane_weights,
    share_lanes,
    simulate,
    with_page_cache,
)
from workflow_core.catalog.loader import Catalog
from workflow_core.store import event_store
from workflow_core.store.db import make_engine
from workflow_core.store.migrate import upgrade


def test_lanes_are_cut_and_shared_evenly(catalog: Catalog) -> None:
    names = lane_names(catalog)
    weights = lane_weights(catalog)
    total = sum(weights.values())
    assert names[-1] == CAMPAIGN_LANE and "holiday_whereabouts" not in names
    assert lane_part("enrollment_certificate/2/4") == ("enrollment_certificate", 2, 4)
    assert lane_part(CAMPAIGN_LANE) == (CAMPAIGN_LANE, 1, 1)
    # The enrollment certificate (six nodes, 42 % of the cross-department cases) is cut.
    parts = [n for n in names if n.startswith("enrollment_certificate/")]
    assert len(parts) >= 2 and "enrollment_certificate" not in names
    assert weights["enrollment_certificate"] / len(parts) <= total * MAX_LANE_SHARE

    def weight(name: str) -> float:
        key, _part, parts = lane_part(name)
        return weights[key] / parts

    assert abs(sum(weight(n) for n in names) - total) < 1e-6 * total
    (alone,) = share_lanes(names, catalog, 1)
    assert sorted(alone) == sorted(names)
    for workers in (2, 3, 40):
        shares = share_lanes(names, catalog, workers)
        assert len(shares) == min(workers, len(names))
        assert sorted(n for share in shares for n in share) == sorted(names)
    loads = [sum(weight(n) for n in share) for share in share_lanes(names, catalog, 2)]
    assert max(loads) / min(loads) < 1.1, loads


def test_a_seed_gives_the_same_streams_in_one_process_or_two(
    university_dir: Path, tmp_path: Path
) -> None:
    def run(name: str, workers: int) -> dict[str, list[tuple[Any, ...]]]:
        store = f"sqlite:///{tmp_path / name}"
        engine = make_engine(store)
        upgrade(engine)
        settings = Settings(
            home=tmp_path,
            db_url=store,
            business_db_url=f"sqlite:///{university_dir / 'business.db'}",
            catalog_dir=None,
        )
        result = simulate(
            settings, size="small", first_day=date(2025, 12, 24), days=10, seed=4, workers=workers
        )
        assert result.workers == workers
        streams: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        with engine.connect() as conn:
            for stored in event_store.iter_all(conn):
                event = stored.event
                streams[stored.stream_id].append((stored.stream_version, event))
        engine.dispose()
        return dict(streams)

    alone, shared = run("one.db", 1), run("two.db", 2)
    assert len(alone) > 500 and alone == shared
    assert any(sid.startswith("sim4-enrollment_certificate-2-") for sid in alone)
    assert any(sid.startswith("sim4-2026-new-year-") for sid in alone)


def test_a_workers_store_connections_have_a_large_page_cache(tmp_path: Path) -> None:
    """A batch's rows land all over the store's indexes: SQLite's 2 MiB default missed nearly
    every one; the worker's connections get CACHE_KIB."""
    engine = with_page_cache(make_engine(f"sqlite:///{tmp_path / 'events.db'}"), CACHE_KIB)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("pragma cache_size").scalar_one() == -CACHE_KIB
    finally:
        engine.dispose()
