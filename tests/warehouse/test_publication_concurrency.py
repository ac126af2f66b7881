"""A separate reader process reads continuously through Warehouse while this process publishes
60 snapshots (old ones deleted after a 1 s grace): no read fails and every read is consistent."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import duckdb

from warehouse.paths import WarehousePaths
from warehouse.publication import publish

PUBLISHES = 60
GRACE_S = 1.0

# Runs in the reader process: every read is one cursor, so every figure comes from one snapshot.
READER = """
import json, sys, time
from pathlib import Path
from warehouse.reader import Warehouse

published, stop, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
reads, errors = [], []
wh = Warehouse(published)
ready = out.with_suffix(".ready")
deadline = time.monotonic() + 60
while not stop.exists() and time.monotonic() < deadline:
    try:
        with wh.cursor() as cur:
            number, cursor = cur.execute("select number, events_cursor from _snapshot").fetchone()
            a_rows, a_sum = cur.execute("select count(*), coalesce(sum(i), 0) from a").fetchone()
            b_rows, b_sum = cur.execute("select count(*), coalesce(sum(j), 0) from b").fetchone()
            listed = dict(
                cur.execute("select table_name, row_count from _snapshot_tables").fetchall()
            )
        reads.append([number, cursor, a_rows, a_sum, b_rows, b_sum, listed])
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    if not ready.exists():
        ready.write_text("")
    # Leaves the publisher some of the two shared cores; hundreds of reads still happen.
    time.sleep(0.002)
wh.close()
out.write_text(json.dumps({"reads": reads, "errors": errors}))
"""


def test_a_reader_process_sees_only_complete_snapshots_while_publishes_run(
    tmp_path: Path,
) -> None:
    paths = WarehousePaths(tmp_path / "wh")
    paths.build_dir.mkdir(parents=True)
    work = duckdb.connect(str(paths.work_db))

    def publish_k(k: int) -> None:
        # Snapshot k holds k rows in both tables; number, cursor and sums are all tied to k.
        work.execute(f"create or replace table a as select range as i from range({k})")
        work.execute(f"create or replace table b as select range * 2 as j from range({k})")
        snap = publish(
            work,
            ["a", "b"],
            paths,
            as_of=datetime(2026, 3, 2),
            events_cursor=10 * k,
            grace_seconds=GRACE_S,
        )
        assert snap.number == k

    publish_k(1)
    stop, out = tmp_path / "stop", tmp_path / "reads.json"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(paths.published_dir), str(stop), str(out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not out.with_suffix(".ready").exists():
            assert reader.poll() is None, reader.stderr.read() if reader.stderr else ""
            assert time.monotonic() < deadline, "the reader process did not start"
            time.sleep(0.02)
        for k in range(2, PUBLISHES):
            publish_k(k)
        # The last publish comes after the grace period, however fast the others were: it
        # removes the snapshots superseded before it.
        time.sleep(GRACE_S + 0.2)
        publish_k(PUBLISHES)
    finally:
        stop.write_text("")
        _, stderr = reader.communicate(timeout=60)
        work.close()
    assert reader.returncode == 0, stderr

    result = json.loads(out.read_text())
    assert result["errors"] == []
    reads = result["reads"]
    assert len(reads) > 100
    for number, cursor, a_rows, a_sum, b_rows, b_sum, listed in reads:
        k = number
        assert cursor == 10 * k
        assert a_rows == b_rows == k
        assert a_sum == k * (k - 1) // 2 and b_sum == k * (k - 1)
        assert listed == {"a": k, "b": k}
    seen = [r[0] for r in reads]
    assert seen == sorted(seen), "a reader never goes back to an older snapshot"
    assert len(set(seen)) >= 5
    remaining = sorted(p.name for p in paths.published_dir.glob("wh-*.duckdb"))
    assert len(remaining) < PUBLISHES, "the grace period removed old snapshots"
    assert f"wh-{PUBLISHES:06d}.duckdb" in remaining
    assert not list(paths.published_dir.glob("*.building*"))
