"""memory: the dashboard server's resident memory after every page was used, ≤ 600 MB.

`tongban serve` as in production (gunicorn: a master and its workers, summed), over the bench
university's published warehouse. A persona of every role that has pages signs in and opens
each page its navigation offers, posting the callbacks that fire on load, a few rounds each;
then the server's memory is read, and once more after it has idled.
"""

from __future__ import annotations

import json
import time
from typing import Final

import requests

from dashboards.config import shanghai_today
from tongban.bench.callbacks_stage import dashboards
from tongban.bench.dash_client import Persona, plan, server_callbacks, sign_in, timed_post
from tongban.bench.harness import BenchContext
from tongban.bench.processes import PeakMemory, descendants, pss_bytes, rss_bytes
from tongban.bench.results import StageResult, spread
from tongban.university.personas import PERSONA_ROLES
from warehouse.paths import WarehousePaths
from warehouse.reader import Warehouse
from warehouse.scope import resolve_scope

TARGET_BYTES: Final = 600 * 10**6
# Every persona role that has pages (students, staff, alumni and visitors only use the hall).
ROLES: Final = tuple(
    role for role in PERSONA_ROLES if role not in ("student", "staff", "alumni", "visitor")
)
MIB: Final = 2**20
IDLE_S: Final = 10.0  # long enough for a worker's caches to settle after the last request


def every_role(context: BenchContext) -> list[Persona]:
    """The first persona of each role whose scope is not empty."""
    document = json.loads((context.home / "personas.json").read_text(encoding="utf-8"))
    reader = Warehouse(WarehousePaths(context.home / "warehouse"))
    chosen = []
    try:
        with reader.cursor() as cursor:
            for role in ROLES:
                for person in document["personas"].get(role, []):
                    scope = resolve_scope(cursor, str(person["user_id"]), shanghai_today())
                    if not scope.is_empty:
                        chosen.append(Persona(role, scope.user_id, str(person["name"]), scope))
                        break
    finally:
        reader.close()
    return chosen


def run(context: BenchContext, idle_s: float = IDLE_S) -> StageResult:
    rounds = context.times(small=2, demo=3, large=3)
    with dashboards(context, "memory") as server:
        chosen = every_role(context)
        callbacks = server_callbacks(requests.Session(), server.url)
        started = sum(rss_bytes(p) for p in descendants(server.pid))
        requests_made = 0
        with PeakMemory(server.pid, interval_s=0.05) as peak:
            for persona in chosen:
                session = sign_in(server.url, persona.user_id)
                planned = plan(session, server.url, callbacks)
                for _ in range(rounds):
                    for item in planned:
                        timed_post(session, server.url, item)
                        requests_made += 1
        processes = {pid: rss_bytes(pid) for pid in descendants(server.pid)}
        after = sum(processes.values())
        after_pss = sum(pss_bytes(pid) for pid in processes)
        time.sleep(idle_s)
        idle = sum(rss_bytes(p) for p in descendants(server.pid))
    meets = max(after, idle) <= TARGET_BYTES
    return StageResult(
        stage="memory",
        figure=f"{after / MIB:.0f} MiB after every page ({len(processes)} processes, RSS"
        f" summed; {after_pss / MIB:.0f} MiB proportional), {idle / MIB:.0f} MiB idle",
        target="≤ 600 MB",
        meets_target=meets,
        figures={
            "rss_after_pages_mib": round(after / MIB, 1),
            "rss_after_idle_mib": round(idle / MIB, 1),
            "pss_after_pages_mib": round(after_pss / MIB, 1),
            "rss_peak_mib": round(peak.peak_bytes / MIB, 1),
            "rss_at_start_mib": round(started / MIB, 1),
            "processes_mib": {str(pid): round(rss / MIB, 1) for pid, rss in processes.items()},
            "roles": [p.role for p in chosen],
            "requests": requests_made,
            "rounds": rounds,
            "per_process_after_mib": spread([rss / MIB for rss in processes.values()], 1),
        },
        targets={"rss_bytes": TARGET_BYTES},
    )
