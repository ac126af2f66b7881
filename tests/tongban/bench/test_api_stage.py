"""The api bench stage drives the production server briefly on a small university and reports."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tongban.bench.api_stage import PG_DATABASE_PREFIX, measure, pg_database_name
from tongban.bench.harness import BenchContext
from tongban.bench.results import StageResult


@pytest.fixture(scope="module")
def bench_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bench root for the module: the small university is generated once, by the first."""
    return tmp_path_factory.mktemp("bench")


def _context(root: Path, pg_url: str | None = None) -> BenchContext:
    return BenchContext(
        size="small", root=root, results_dir=root / "results", repeats=1, pg_url=pg_url
    )


def _measure_briefly(context: BenchContext, *databases: str) -> StageResult:
    # Seconds, not the stage's 20: enough for a few hundred commands on a busy two-core machine.
    return measure(
        context,
        duration_s=2.0,
        bare_s=0.5,
        warmup_s=0.5,
        databases=databases or ("sqlite", "postgresql"),
    )


def _server_pg_url() -> str:
    """The test PostgreSQL server (the stage makes and drops a database of its own on it)."""
    url = os.environ.get("TONGBAN_TEST_PG_URL")
    if not url:
        if os.environ.get("TONGBAN_REQUIRE_POSTGRES") == "1":
            pytest.fail("TONGBAN_REQUIRE_POSTGRES=1 but TONGBAN_TEST_PG_URL is not set")
        pytest.skip("PostgreSQL tests need TONGBAN_TEST_PG_URL (CI sets it)")
    return url


def test_sqlite_load_is_measured_and_written(bench_root: Path) -> None:
    context = _context(bench_root)

    result = _measure_briefly(context)

    sqlite = result.figures["sqlite"]
    assert sqlite["commands_per_s"]["median"] > 0
    assert sqlite["events_per_s"]["median"] > sqlite["commands_per_s"]["median"] > 0
    assert sqlite["errors"] == 0, sqlite["error_messages"]
    assert sqlite["approves"][0] > 0 and sqlite["submits"][0] > 0
    assert 0 < sqlite["p50_ms"]["median"] <= sqlite["p99_ms"]["median"]
    assert sqlite["bare_insert_events_per_s"]["median"] > 0
    # The HTTP floor: the same clients against the health check of the same server.
    floor = sqlite["http_floor"]
    assert floor["path"] == "/healthz"
    assert floor["errors"] == 0, floor["error_messages"]
    assert floor["requests"][0] > 0
    assert 0 < floor["p50_ms"]["median"] <= floor["p99_ms"]["median"]
    assert floor["server_cpu_ms_per_request"]["median"] > 0
    ratio = sqlite["commands_per_s"]["median"] / floor["requests_per_s"]["median"]
    assert sqlite["commands_vs_http_floor"]["median"] == pytest.approx(ratio, abs=1e-3)
    assert "HTTP floor (GET /healthz" in result.peer
    assert result.figures["http_floor_s"] == 1.0  # half the load's window unless given
    assert result.figures["clients"] == 32
    assert result.figures["server"]["workers"] >= 1
    # Without a PostgreSQL server the stage cannot meet its target and says what to set.
    assert "postgresql" not in result.figures
    assert result.meets_target is False
    assert any("TONGBAN_BENCH_PG_URL" in note for note in result.notes)
    assert "PostgreSQL not measured" in result.figure
    # Each run's scratch store is removed; the server's log stays for reading.
    assert not any((bench_root / "api").iterdir())
    assert list(context.logs.glob("api-small-sqlite-1.log"))

    document = json.loads(result.write(context.results_dir, "small").read_text(encoding="utf-8"))
    assert document["stage"] == "api"
    assert document["meets_target"] is False
    assert document["targets"] == {
        "sqlite_commands_per_s": 1000.0,
        "postgresql_commands_per_s": 600.0,
    }


def test_an_unreachable_postgresql_is_named_and_not_measured(bench_root: Path) -> None:
    unreachable = "postgresql://postgres@127.0.0.1:1/postgres"

    result = _measure_briefly(_context(bench_root, unreachable), "postgresql")

    assert result.meets_target is False
    assert result.figure == "PostgreSQL not measured"
    (note,) = result.notes
    assert "127.0.0.1:1" in note and "not reachable" in note and "TONGBAN_BENCH_PG_URL" in note


@pytest.mark.postgres
def test_postgresql_load_runs_on_a_database_of_its_own_dropped_after(bench_root: Path) -> None:
    server = _server_pg_url()

    result = _measure_briefly(_context(bench_root, server), "postgresql")

    postgresql = result.figures["postgresql"]
    assert postgresql["commands_per_s"]["median"] > 0
    assert postgresql["errors"] == 0, postgresql["error_messages"]
    assert postgresql["bare_insert_events_per_s"]["median"] > 0
    assert postgresql["http_floor"]["errors"] == 0, postgresql["http_floor"]["error_messages"]
    assert postgresql["http_floor"]["requests_per_s"]["median"] > 0
    assert result.notes == []
    admin = create_engine(make_url(server).set(drivername="postgresql+psycopg"))
    try:
        with admin.connect() as conn:
            left = conn.execute(
                text("select datname from pg_database where datname like :prefix"),
                {"prefix": f"{PG_DATABASE_PREFIX}%"},
            ).scalars()
            assert pg_database_name() not in set(left)
    finally:
        admin.dispose()
