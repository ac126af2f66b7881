"""freshness: a submission through the API reaches the published warehouse within 10 s (p95).

As under `make demo`: the production API server, Dagster's daemon with the event sensor (whose
floor is its 5 s tick) and its schedules, and live traffic at 5 commands a second. Each round
submits a museum booking as a student over HTTP and polls the snapshot `CURRENT` names until
its event cursor reaches the submission's last event, when every model in it has seen the
submission. Rounds start 0–3 s apart at random, so submissions land at every phase of the tick.
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Final

from tongban.bench.harness import BenchContext, tongban_command
from tongban.bench.processes import BenchError, check_alive, free_port, running, serving
from tongban.bench.results import StageResult, percentile, spread
from tongban.bench.university import ensure_warehouse
from tongban.dagster_home import ensure_dagster_home
from warehouse.paths import WarehousePaths
from warehouse.reader import NoSnapshotError, Warehouse
from workflow_core.catalog.examples import example_form
from workflow_core.catalog.loader import load_catalog

TARGET_P95_S: Final = 10.0
SENSOR_FLOOR_S: Final = 5.0
SERVICE: Final = "museum_booking"
LIVE_RATE: Final = 5
TIMEOUT_S: Final = 60.0


def students(business_db: Path, limit: int = 500) -> list[str]:
    """Students enrolled today, who may book the museum."""
    with sqlite3.connect(f"file:{business_db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "select students.student_id from students"
            " join student_statuses using (student_id)"
            " where student_statuses.status = '在读' and student_statuses.valid_to is null"
            " order by students.student_id limit ?",
            (limit,),
        ).fetchall()
    return [str(row[0]) for row in rows]


def submit(api_url: str, user: str, form: dict[str, object]) -> int:
    """The id of the submission's last event."""
    body = json.dumps({"process_key": SERVICE, "form": form}).encode()
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


def cursor_of(warehouse: Warehouse) -> int:
    try:
        return warehouse.snapshot().events_cursor
    except NoSnapshotError:
        return 0


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError(f"{what} within {timeout_s:.0f} s")
        time.sleep(0.1)


def run(context: BenchContext, submissions: int | None = None) -> StageResult:
    ensure_warehouse(context)
    rounds = submissions or context.times(small=10, demo=50, large=50)
    env = context.env()
    ensure_dagster_home(context.home / "dagster")
    rng = random.Random(7)
    people = students(context.home / "business.db")
    catalog = load_catalog(None)
    warehouse = Warehouse(WarehousePaths(context.home / "warehouse"))
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    logs = context.logs / context.size
    daemon_log = logs / "freshness-dagster.log"
    traffic_log = logs / "freshness-traffic.log"
    daemon_command = [
        str(Path(sys.executable).with_name("dagster-daemon")),
        "run",
        "-m",
        "pipelines.definitions",
    ]
    api_command = tongban_command("api", "--host", "127.0.0.1", "--port", str(port))
    traffic_command = tongban_command(
        "simulate", "--live", "--rate", str(LIVE_RATE), "--api-url", api_url, "--api-wait", "60"
    )
    latencies: list[float] = []
    missed = 0
    with (
        serving("the API", api_command, env, logs / "freshness-api.log", api_url, "/healthz"),
        running("Dagster's daemon", daemon_command, env, daemon_log) as daemon,
        running("live traffic", traffic_command, env, traffic_log) as traffic,
    ):
        # Warm: the sensor has run once over the traffic, so the first round is not the
        # daemon's start-up.
        start = cursor_of(warehouse)
        wait_for(
            lambda: cursor_of(warehouse) > start,
            180,
            f"no snapshot followed the live traffic (see {daemon_log})",
        )
        tomorrow = date.today() + timedelta(days=1)
        for number in range(1, rounds + 1):
            check_alive("Dagster's daemon", daemon, daemon_log)
            check_alive("live traffic", traffic, traffic_log)
            time.sleep(rng.uniform(0, 3))
            form = example_form(catalog.get(SERVICE), rng, today=tomorrow)
            started = time.monotonic()
            mark = submit(api_url, rng.choice(people), form)
            while cursor_of(warehouse) < mark:
                if time.monotonic() - started > TIMEOUT_S:
                    missed += 1
                    break
                time.sleep(0.1)
            else:
                latencies.append(time.monotonic() - started)
                context.say(f"  {number:3d}/{rounds} event {mark}: {latencies[-1]:5.1f} s")
    warehouse.close()
    if not latencies:
        raise BenchError(f"no submission became visible within {TIMEOUT_S:.0f} s")
    p95 = percentile(latencies, 0.95)
    return StageResult(
        stage="freshness",
        figure=f"p95 {p95:.1f} s, median {spread(latencies, 1)['median']:.1f} s"
        f" ({len(latencies)} submissions, {missed} missed)",
        target="p95 ≤ 10 s over 50 submissions",
        meets_target=p95 <= TARGET_P95_S and missed == 0 and rounds >= 50,
        peer=f"sensor floor {SENSOR_FLOOR_S:.0f} s: p95 {p95 / SENSOR_FLOOR_S:.2f}× the tick",
        figures={
            "submissions": rounds,
            "seen": len(latencies),
            "missed_after_s": {"timeout_s": TIMEOUT_S, "missed": missed},
            "latency_s": spread(latencies, 2),
            "p95_s": round(p95, 2),
            "live_rate_commands_per_s": LIVE_RATE,
            "ratio_p95_to_sensor_floor": round(p95 / SENSOR_FLOOR_S, 2),
        },
        targets={"p95_s": TARGET_P95_S, "submissions": 50},
    )
