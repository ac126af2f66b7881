"""Freshness: how long a submission made through the workflow API takes to appear in the
published warehouse, with the Dagster sensor running (as under `make demo`).

Run it beside a running demo (API, `dagster dev` with the sensor on):

    .venv/bin/python bench/freshness.py --submissions 50

Each round submits a museum booking as a random student over HTTP, then polls the published
snapshot (`CURRENT`, read-only, through the warehouse reader) until its event cursor reaches
the submission's last event: every model in it has then seen the submission.
Rounds start 0–3 s apart at random, so submissions land at
every phase of the sensor's 5 s tick. Prints the distribution and writes
`bench/results/freshness.json`.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from tongban.settings import Settings
from warehouse.paths import WarehousePaths
from warehouse.reader import NoSnapshotError, Warehouse
from workflow_core.catalog.examples import example_form
from workflow_core.catalog.loader import load_catalog

RESULTS = Path(__file__).resolve().parent / "results"
SERVICES = ("museum_booking",)


def students(business_url: str, limit: int = 500) -> list[str]:
    engine = create_engine(business_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "select students.student_id from students"
                " join student_statuses using (student_id)"
                " where student_statuses.status = '在读' and student_statuses.valid_to is null"
                " order by students.student_id limit :limit"
            ),
            {"limit": limit},
        ).fetchall()
    engine.dispose()
    return [str(row[0]) for row in rows]


def submit(api_url: str, user: str, process_key: str, form: dict[str, object]) -> int:
    """The id of the submission's last event."""
    body = json.dumps({"process_key": process_key, "form": form}).encode()
    request = urllib.request.Request(
        f"{api_url}/api/v1/instances",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "X-Remote-User": user,
            "Idempotency-Key": uuid.uuid4().hex,
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    return max(int(event["event_id"]) for event in answer["events"])


def visible(warehouse: Warehouse, mark: int) -> bool:
    try:
        return warehouse.snapshot().events_cursor >= mark
    except NoSnapshotError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=50)
    parser.add_argument("--api-url", default="http://127.0.0.1:8000")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    settings = Settings.from_env()
    catalog = load_catalog(settings.catalog_dir)
    rng = random.Random(args.seed)
    people = students(settings.business_db_url)
    warehouse = Warehouse(WarehousePaths(settings.warehouse_dir))
    latencies: list[float] = []
    missed = 0
    today = date.today() + timedelta(days=1)
    for round_ in range(args.submissions):
        time.sleep(rng.uniform(0, 3))
        process_key = rng.choice(SERVICES)
        form = example_form(catalog.get(process_key), rng, today=today)
        started = time.monotonic()
        mark = submit(args.api_url, rng.choice(people), process_key, form)
        while not visible(warehouse, mark):
            if time.monotonic() - started > args.timeout:
                missed += 1
                break
            time.sleep(0.1)
        else:
            latencies.append(time.monotonic() - started)
            print(f"{round_ + 1:3d} event {mark}: {latencies[-1]:5.1f} s", flush=True)
    warehouse.close()
    ordered = sorted(latencies)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)] if ordered else None
    figures = {
        "stage": "freshness",
        "submissions": args.submissions,
        "seen": len(latencies),
        "missed_after_timeout": missed,
        "median_s": statistics.median(ordered) if ordered else None,
        "p95_s": p95,
        "min_s": ordered[0] if ordered else None,
        "max_s": ordered[-1] if ordered else None,
        "target_p95_s": 10.0,
        "meets_target": p95 is not None and p95 <= 10.0 and missed == 0,
        "latencies_s": [round(x, 3) for x in latencies],
        "machine": {"cpus": __import__("os").cpu_count(), "platform": platform.platform()},
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "freshness.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"freshness over {len(latencies)} submissions: median {figures['median_s']:.1f} s,"
        f" p95 {p95:.1f} s, max {figures['max_s']:.1f} s, missed {missed}"
        if ordered
        else f"no submission became visible within {args.timeout} s"
    )


if __name__ == "__main__":
    main()
