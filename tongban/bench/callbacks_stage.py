"""callbacks: each page's callbacks answer within 150 ms (p95) over HTTP at the bench size.

The dashboards are served as in production (`tongban serve`, gunicorn) over the published
warehouse, with dev sign-in so that a persona per role can be chosen: a class monitor, a
counsellor, a college office and leadership. Each opens every page its navigation offers and
posts the callbacks that fire on load, one request at a time (latency, not throughput); beside
each, in the same round, the read-API calls of the same callback are timed alone in this
process, so the ratio shows what Dash, figure building, JSON and HTTP add.
"""

from __future__ import annotations

import contextlib
import json
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import requests

from dashboards.config import shanghai_today
from tongban.bench.dash_client import (
    Persona,
    Planned,
    choose_personas,
    plan,
    server_callbacks,
    sign_in,
    timed_post,
    timed_query,
)
from tongban.bench.harness import BenchContext, tongban_command
from tongban.bench.processes import Server, free_port, serving
from tongban.bench.results import StageResult, percentile
from tongban.bench.university import ensure_warehouse
from warehouse.paths import WarehousePaths
from warehouse.reader import Warehouse

TARGET_P95_MS: Final = 150.0


@contextlib.contextmanager
def dashboards(context: BenchContext, name: str) -> Iterator[Server]:
    """`tongban serve` over the bench university's published warehouse, dev sign-in on."""
    ensure_warehouse(context)
    port = free_port()
    env = context.env(TONGBAN_AUTH="dev", TONGBAN_DEMO="1")
    command = tongban_command("serve", "--host", "127.0.0.1", "--port", str(port))
    log = context.logs / context.size / f"{name}-serve.log"
    with serving("the dashboards", command, env, log, f"http://127.0.0.1:{port}", "/") as server:
        yield server


def personas(context: BenchContext, reader: Warehouse, roles: tuple[str, ...]) -> list[Persona]:
    document = json.loads((context.home / "personas.json").read_text(encoding="utf-8"))
    with reader.cursor() as cursor:
        return choose_personas(cursor, document, shanghai_today(), roles)


@dataclass(frozen=True)
class Row:
    persona: Persona
    item: Planned

    @property
    def http_p95(self) -> float:
        return percentile(self.item.http_ms, 0.95)

    def document(self) -> dict[str, Any]:
        http, query = _summary(self.item.http_ms), _summary(self.item.query_ms)
        return {
            "role": self.persona.role,
            "user_id": self.persona.user_id,
            "page": self.item.page,
            "callback": self.item.callback.name,
            "http_ms": http,
            "query_alone_ms": query,
            "ratio_median": round(http["median"] / query["median"], 2)
            if query and query["median"] > 0
            else None,
            "response_bytes": self.item.response_bytes,
            "wire_bytes": self.item.wire_bytes,
            "meets_target": self.http_p95 <= TARGET_P95_MS,
        }


def _summary(values: list[float]) -> dict[str, float] | None:
    if not values or any(v != v for v in values):  # NaN: no query mirror for this callback
        return None
    return {
        "median": round(statistics.median(values), 1),
        "p95": round(percentile(values, 0.95), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
    }


def measure(url: str, reader: Warehouse, chosen: list[Persona], repeats: int) -> list[Row]:
    callbacks = server_callbacks(requests.Session(), url)
    rows = []
    for persona in chosen:
        session = sign_in(url, persona.user_id)
        planned = plan(session, url, callbacks)
        # One warm-up round: a worker's first request opens the snapshot and resolves the
        # scope; the figures are about a page in use, not the first visit.
        for item in planned:
            timed_post(session, url, item)
            timed_query(reader, persona.scope, item)
        for _ in range(repeats):
            for item in planned:
                item.http_ms.append(timed_post(session, url, item))
                item.query_ms.append(timed_query(reader, persona.scope, item))
        rows.extend(Row(persona, item) for item in planned)
    return rows


def run(context: BenchContext) -> StageResult:
    repeats = context.times(small=3, demo=20, large=20)
    with dashboards(context, "callbacks") as server:
        reader = Warehouse(WarehousePaths(context.home / "warehouse"))
        try:
            chosen = personas(
                context, reader, ("class_monitor", "counsellor", "college_office", "leadership")
            )
            snapshot = reader.snapshot()
            rows = measure(server.url, reader, chosen, repeats)
        finally:
            reader.close()
    for row in rows:
        doc = row.document()
        query = doc["query_alone_ms"]
        context.say(
            f"  {doc['role']:<15}{doc['page']:<14}{doc['callback']:<15}"
            f" p95 {doc['http_ms']['p95']:7.1f} ms (median {doc['http_ms']['median']:6.1f})"
            + (f"  query alone p95 {query['p95']:6.1f} ms" if query else "")
            + f"  {doc['response_bytes']:>9,} B"
        )
    worst = max(rows, key=lambda r: r.http_p95)
    worst_query = _summary(worst.item.query_ms)
    over = [r for r in rows if r.http_p95 > TARGET_P95_MS]
    return StageResult(
        stage="callbacks",
        figure=f"worst p95 {worst.http_p95:.0f} ms ({worst.persona.role} {worst.item.page}"
        f" {worst.item.callback.name}); {len(over)} of {len(rows)} over 150 ms",
        target="p95 ≤ 150 ms, every callback",
        meets_target=not over,
        peer=f"its queries alone p95 {worst_query['p95']:.0f} ms"
        f" ({worst.http_p95 / worst_query['p95']:.1f}×)"
        if worst_query and worst_query["p95"] > 0
        else "",
        figures={
            "repeats": repeats,
            "snapshot": {"number": snapshot.number, "events_cursor": snapshot.events_cursor},
            "personas": {p.role: {"user_id": p.user_id, "name": p.name} for p in chosen},
            "rows": [row.document() for row in rows],
            "worst_p95_ms": round(worst.http_p95, 1),
        },
        targets={"p95_ms": TARGET_P95_MS},
    )
