"""Callbacks: how long each page's main callbacks take over HTTP for a class monitor, a
counsellor, a college office and leadership, beside the warehouse queries they make, alone.

Run it beside a running dashboard server over a published warehouse (demo mode, dev sign-in),
with the same TONGBAN_HOME, so that the in-process queries read the snapshot the server reads:

    TONGBAN_AUTH=dev TONGBAN_DEMO=1 .venv/bin/tongban serve --port 8050
    .venv/bin/python bench/callbacks.py --url http://127.0.0.1:8050

Per role, the first persona of personas.json whose scope holds that role alone (else any) and,
for the class-level roles, has classes in the current campaign. Each persona signs in through
the dev login (a cookie session, as a browser), opens every page its navigation offers, and
POSTs each page's callbacks to `/_dash-update-component` with the body dash-renderer sends
(`output`, `outputs`, `inputs`, `changedPropIds`, `parsedChangedPropsIds`, `state`), built from
`/_dash-dependencies` and the values of the layout the page callback returned. Measured: the
page itself (Dash's `_pages_content` callback, which runs the page's `layout`) and every
server-side callback that fires when the page loads; not the clientside ones, nor those that
wait for a click (export, 催办, drill).

"Query alone" is the read-API calls of the same callback, made in this process through
`warehouse.reader.Warehouse` with the scope `resolve_scope` gives (the server caches scopes per
snapshot, so resolving one is not part of either figure). The calls mirror the callbacks in
`dashboards/pages/` (see `QUERIES`); the ratio HTTP/query shows what Dash, figure building,
JSON and HTTP add. Every figure is over `--repeats` rounds after one warm-up round; requests
go one at a time (latency, not throughput). Prints a table and writes
`bench/results/callbacks.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import metadata
from typing import Any, Final

import duckdb
import polars as pl
import requests

from dashboards.config import shanghai_today
from tongban.settings import Settings
from warehouse.paths import WarehousePaths
from warehouse.process_report import UnknownProcessError, process_report
from warehouse.read_api import processes as process_reads
from warehouse.read_api import registration as registration_reads
from warehouse.read_api import turnaround as turnaround_reads
from warehouse.reader import Warehouse
from warehouse.scope import Scope, resolve_scope

RESULTS: Final = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
TARGET_P95_MS: Final = 150.0
ROLES: Final = ("class_monitor", "counsellor", "college_office", "leadership")
CALLBACK_PATH: Final = "/_dash-update-component"
PAGES_CONTENT: Final = "_pages_content"
# A callback is named by the first component id of its outputs (ids are global in Dash).
CALLBACK_NAMES: Final = {
    PAGES_CONTENT: "layout",
    "registration-college": "filter_options",
    "registration-notice": "overview",
    "registration-named-notice": "named_lists",
    "turnaround-body": "render",
    "process-body": "render",
}
ALL_SERVICES: Final = "*"
REGISTRATION_LEVELS: Final = ("college", "grade", "residential_college", "class")

Values = dict[str, Any]  # "component-id.property" -> the value the browser would send
Query = Callable[[duckdb.DuckDBPyConnection, Scope, Values], None]


# --- the read-API calls of each callback (mirrors dashboards/pages/*.py) ---------------------


def _registration_select(
    cursor: duckdb.DuckDBPyConnection, scope: Scope, values: Values
) -> tuple[str | None, str | None, list[str]]:
    """`registration.select`: the campaign, college and classes checked against the scope."""
    campaign = values.get("registration-campaign.value")
    college = values.get("registration-college.value")
    classes = values.get("registration-classes.value") or []
    known = registration_reads.campaigns(cursor, scope)
    if not isinstance(campaign, str) or known.filter(pl.col("campaign_id") == campaign).is_empty():
        return None, None, []
    if college is not None:
        registration_reads.progress(cursor, scope, campaign, by="college")
    if classes:
        registration_reads.progress(cursor, scope, campaign, by="class", college_id=college)
    return campaign, college, list(classes)


def _chosen_classes(
    cursor: duckdb.DuckDBPyConnection,
    scope: Scope,
    campaign: str,
    college: str | None,
    classes: list[str],
) -> list[str] | None:
    if classes:
        return classes
    if college is not None:
        frame = registration_reads.progress(cursor, scope, campaign, by="class", college_id=college)
        return [str(c) for c in frame["class_id"].to_list()]
    return None


def registration_layout(cursor: duckdb.DuckDBPyConnection, scope: Scope, _: Values) -> None:
    registration_reads.campaigns(cursor, scope)
    current = registration_reads.current_campaign(cursor, scope)
    if current is not None:
        registration_reads.progress(cursor, scope, current, by="college")


def registration_filter_options(
    cursor: duckdb.DuckDBPyConnection, scope: Scope, values: Values
) -> None:
    campaign, college, _ = _registration_select(cursor, scope, values)
    if campaign is None:
        return
    registration_reads.progress(cursor, scope, campaign, by="college")
    registration_reads.progress(cursor, scope, campaign, by="class", college_id=college)


def registration_overview(cursor: duckdb.DuckDBPyConnection, scope: Scope, values: Values) -> None:
    level = values.get("registration-level.value")
    if level not in REGISTRATION_LEVELS:
        return
    campaign, college, classes = _registration_select(cursor, scope, values)
    if campaign is None:
        return
    registration_reads.progress(cursor, scope, campaign, by=level, college_id=college)
    chosen = _chosen_classes(cursor, scope, campaign, college, classes)
    if classes:
        registration_reads.progress(cursor, scope, campaign, by="class")
    elif college is not None:
        registration_reads.progress(cursor, scope, campaign, by="college", college_id=college)
    else:
        registration_reads.progress(cursor, scope, campaign, by="university")
    registration_reads.curve(cursor, scope, campaign, chosen)
    registration_reads.destinations(cursor, scope, campaign, chosen)
    registration_reads.reminder_effect(cursor, scope, campaign)


def registration_named_lists(
    cursor: duckdb.DuckDBPyConnection, scope: Scope, values: Values
) -> None:
    kind = values.get("registration-list-kind.value")
    if not scope.personal_data or kind not in ("late", "changed", "all"):
        return
    campaign, college, classes = _registration_select(cursor, scope, values)
    if campaign is None:
        return
    chosen = _chosen_classes(cursor, scope, campaign, college, classes)
    mine = sorted(scope.class_ids) if chosen is None else chosen
    named = [c for c in mine if c in scope.class_ids]
    if not named:
        return
    registration_reads.unregistered_students(cursor, scope, campaign, named)
    registration_reads.registrations(cursor, scope, campaign, named, only=kind)
    registration_reads.excluded_students(cursor, scope, campaign, named)
    if kind != "all":
        registration_reads.registrations(cursor, scope, campaign, named)


def _native_services(cursor: duckdb.DuckDBPyConnection, scope: Scope) -> pl.DataFrame:
    return process_reads.processes(cursor, scope).filter(pl.col("origin") == "native")


def _day(value: object) -> date | None:
    return date.fromisoformat(value[:10]) if isinstance(value, str) and value else None


def turnaround_layout(cursor: duckdb.DuckDBPyConnection, scope: Scope, _: Values) -> None:
    _native_services(cursor, scope)


def turnaround_render(cursor: duckdb.DuckDBPyConnection, scope: Scope, values: Values) -> None:
    service = str(values.get("turnaround-service.value") or ALL_SERVICES)
    since = _day(values.get("turnaround-period.start_date"))
    until = _day(values.get("turnaround-period.end_date"))
    _native_services(cursor, scope)  # the input check
    catalog = _native_services(cursor, scope)  # the body's own catalog
    process_key = None if service == ALL_SERVICES else service
    turnaround_reads.departments(cursor, scope, process_key=service)
    turnaround_reads.nodes(cursor, scope, process_key=process_key)
    turnaround_reads.open_task_ageing(cursor, scope, process_key=process_key)
    turnaround_reads.approver_signals(cursor, scope)
    if process_key is not None:
        turnaround_reads.departments(cursor, scope)
    if scope.university:
        turnaround_reads.services(cursor, scope)
        if process_key is not None:
            turnaround_reads.nodes(cursor, scope)
        turnaround_reads.services(cursor, scope, grain="week", since=since, until=until)
    else:
        keys = [process_key] if process_key is not None else catalog["process_key"].to_list()
        for key in keys:
            turnaround_reads.departments(cursor, scope, process_key=str(key))
        turnaround_reads.departments(
            cursor, scope, grain="week", since=since, until=until, process_key=service
        )


def process_layout(cursor: duckdb.DuckDBPyConnection, scope: Scope, _: Values) -> None:
    process_reads.processes(cursor, scope)


def process_render(cursor: duckdb.DuckDBPyConnection, scope: Scope, values: Values) -> None:
    service = values.get("process-service.value")
    catalog = process_reads.processes(cursor, scope)
    if not isinstance(service, str) or catalog.filter(pl.col("process_key") == service).is_empty():
        return
    process_reads.handoffs(cursor, scope, service)
    process_reads.critical_path(cursor, scope, service)
    with contextlib.suppress(UnknownProcessError):
        process_report(cursor, service)
    if scope.university:
        process_reads.slowest_cases(cursor, scope, service)


QUERIES: Final[dict[tuple[str, str], Query]] = {
    ("/registration", "layout"): registration_layout,
    ("/registration", "filter_options"): registration_filter_options,
    ("/registration", "overview"): registration_overview,
    ("/registration", "named_lists"): registration_named_lists,
    ("/turnaround", "layout"): turnaround_layout,
    ("/turnaround", "render"): turnaround_render,
    ("/process", "layout"): process_layout,
    ("/process", "render"): process_render,
}


# --- choosing the personas ---------------------------------------------------------------------


@dataclass(frozen=True)
class Persona:
    role: str
    user_id: str
    name: str
    scope: Scope


def _has_current_classes(cursor: duckdb.DuckDBPyConnection, scope: Scope) -> bool:
    campaign = registration_reads.current_campaign(cursor, scope)
    if campaign is None:
        return False
    return not registration_reads.progress(cursor, scope, campaign, by="class").is_empty()


def choose_personas(
    cursor: duckdb.DuckDBPyConnection, document: dict[str, Any], day: date
) -> list[Persona]:
    """Per role, a persona holding that role alone where the file offers one (a second role
    would widen the scope and blur what the row measures), with classes in the current
    campaign; else the first one whose scope is not empty."""
    chosen = []
    for role in ROLES:
        people = document["personas"].get(role, [])
        candidates = []
        for person in people:
            scope = resolve_scope(cursor, str(person["user_id"]), day)
            if scope.is_empty:
                continue
            if (scope.class_ids or scope.university) and not _has_current_classes(cursor, scope):
                continue
            persona = Persona(role, scope.user_id, str(person["name"]), scope)
            candidates.append((scope.roles == {role}, persona))
        if not candidates:
            sys.exit(f"no {role} in personas.json has a non-empty scope in the current campaign")
        alone = [p for only, p in candidates if only]
        chosen.append((alone or [p for _, p in candidates])[0])
    return chosen


# --- talking to the app as dash-renderer does --------------------------------------------------


@dataclass(frozen=True)
class Callback:
    """One server-side callback from `/_dash-dependencies`."""

    output: str
    outputs: list[dict[str, str]]
    inputs: list[dict[str, str]]
    state: list[dict[str, str]]
    prevent_initial_call: bool

    @property
    def name(self) -> str:
        first = self.outputs[0]["id"]
        return CALLBACK_NAMES.get(first, first)

    @property
    def component_ids(self) -> set[str]:
        return {d["id"] for d in (*self.outputs, *self.inputs, *self.state)}


def parse_output(output: str) -> list[dict[str, str]]:
    """`..a.children...b.data..` (several outputs) or `a.children` (one) as id/property pairs."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    pairs = []
    for part in parts:
        component, prop = part.rsplit(".", 1)
        pairs.append({"id": component, "property": prop})
    return pairs


def server_callbacks(session: requests.Session, url: str) -> list[Callback]:
    answer = session.get(f"{url}/_dash-dependencies", timeout=30)
    answer.raise_for_status()
    callbacks = []
    for spec in answer.json():
        if spec.get("clientside_function"):
            continue
        callbacks.append(
            Callback(
                output=spec["output"],
                outputs=parse_output(spec["output"]),
                inputs=[{"id": d["id"], "property": d["property"]} for d in spec["inputs"]],
                state=[{"id": d["id"], "property": d["property"]} for d in spec["state"]],
                prevent_initial_call=bool(spec.get("prevent_initial_call")),
            )
        )
    return callbacks


def components(tree: Any) -> Iterator[dict[str, Any]]:
    """Every component (its props) in a layout as Dash serialises it."""
    if isinstance(tree, list):
        for item in tree:
            yield from components(item)
    elif isinstance(tree, dict) and "props" in tree and "type" in tree:
        props = tree["props"]
        yield props
        for value in props.values():
            yield from components(value)


def props_by_id(tree: Any) -> dict[str, dict[str, Any]]:
    return {str(p["id"]): p for p in components(tree) if isinstance(p.get("id"), str)}


def request_body(callback: Callback, props: dict[str, dict[str, Any]], changed: list[str]) -> Any:
    def fill(specs: list[dict[str, str]]) -> list[dict[str, Any]]:
        filled = []
        for spec in specs:
            item: dict[str, Any] = dict(spec)
            component = props.get(spec["id"], {})
            # A prop the layout leaves unset is sent without a value, as the renderer does.
            if spec["property"] in component:
                item["value"] = component[spec["property"]]
            filled.append(item)
        return filled

    body: dict[str, Any] = {
        "output": callback.output,
        "outputs": callback.outputs if len(callback.outputs) > 1 else callback.outputs[0],
        "inputs": fill(callback.inputs),
        "changedPropIds": changed,
        "parsedChangedPropsIds": changed,
    }
    if callback.state:
        body["state"] = fill(callback.state)
    return body


def values_of(callback: Callback, props: dict[str, dict[str, Any]]) -> Values:
    return {
        f"{d['id']}.{d['property']}": props.get(d["id"], {}).get(d["property"])
        for d in (*callback.inputs, *callback.state)
    }


@dataclass
class Planned:
    """One callback of one page as one persona's browser would POST it."""

    page: str
    callback: Callback
    body: Any
    values: Values
    http_ms: list[float] = field(default_factory=list)
    query_ms: list[float] = field(default_factory=list)
    response_bytes: int = 0
    wire_bytes: int | None = None


def sign_in(url: str, user_id: str) -> requests.Session:
    session = requests.Session()
    answer = session.post(
        f"{url}/auth/login", data={"user_id": user_id}, allow_redirects=False, timeout=30
    )
    if answer.status_code != 302 or "tongban_session" not in session.cookies:
        sys.exit(f"dev sign-in as {user_id} failed ({answer.status_code}): is TONGBAN_AUTH=dev?")
    return session


def post(session: requests.Session, url: str, body: Any) -> requests.Response:
    answer = session.post(
        f"{url}{CALLBACK_PATH}",
        data=json.dumps(body),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        timeout=120,
    )
    if answer.status_code not in (200, 204):
        raise RuntimeError(f"{answer.status_code} from {body['output']}: {answer.text[:300]}")
    return answer


def plan(session: requests.Session, url: str, callbacks: list[Callback]) -> list[Planned]:
    """The page callbacks this signed-in persona's browser makes on opening each page."""
    shell = session.get(f"{url}/_dash-layout", timeout=30)
    shell.raise_for_status()
    shell_props = props_by_id(shell.json())
    pages = [
        str(p["href"])
        for p in components(shell_props.get("shell-nav", {}).get("children", []))
        if isinstance(p.get("href"), str)
    ]
    router = next(c for c in callbacks if c.outputs[0]["id"] == PAGES_CONTENT)
    planned = []
    for page in pages:
        location = {"_pages_location": {"pathname": page, "search": ""}}
        body = request_body(router, location, ["_pages_location.pathname"])
        layout = post(session, url, body).json()["response"][PAGES_CONTENT]["children"]
        planned.append(Planned(page, router, body, {}))
        props = {**shell_props, **props_by_id(layout)}
        for callback in callbacks:
            # What fires when the page loads: every component of it present, no click needed.
            if callback is router or callback.prevent_initial_call:
                continue
            if not callback.component_ids <= props.keys():
                continue
            planned.append(
                Planned(
                    page,
                    callback,
                    request_body(callback, props, []),
                    values_of(callback, props),
                )
            )
    return planned


# --- measuring ---------------------------------------------------------------------------------


def timed_post(session: requests.Session, url: str, item: Planned) -> float:
    started = time.perf_counter()
    answer = post(session, url, item.body)
    elapsed = (time.perf_counter() - started) * 1000
    item.response_bytes = len(answer.content)
    length = answer.headers.get("Content-Length")
    item.wire_bytes = int(length) if length is not None else None
    return elapsed


def timed_query(reader: Warehouse, scope: Scope, item: Planned) -> float:
    query = QUERIES.get((item.page, item.callback.name))
    if query is None:
        return float("nan")
    started = time.perf_counter()
    with reader.cursor() as cursor:
        query(cursor, scope, item.values)
    return (time.perf_counter() - started) * 1000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(share * len(ordered)) - 1)]


def summary(values: list[float]) -> dict[str, float] | None:
    if not values or any(v != v for v in values):  # NaN: no query mirror for this callback
        return None
    return {
        "median_ms": round(statistics.median(values), 1),
        "p95_ms": round(percentile(values, 0.95), 1),
        "min_ms": round(min(values), 1),
        "max_ms": round(max(values), 1),
    }


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("dash", "flask", "gunicorn", "duckdb", "polars", "plotly", "requests"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[package] = metadata.version(package)
    return found


def memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8050")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    url = args.url.rstrip("/")
    settings = Settings.from_env()
    document = json.loads(settings.personas_path.read_text(encoding="utf-8"))
    reader = Warehouse(WarehousePaths(settings.warehouse_dir))
    day = shanghai_today()
    with reader.cursor() as cursor:
        personas = choose_personas(cursor, document, day)
    snapshot = reader.snapshot()
    callbacks = server_callbacks(requests.Session(), url)
    # The machine is shared: the load around the run says how far to trust its figures.
    load_before = os.getloadavg()

    rows: list[dict[str, Any]] = []
    for persona in personas:
        session = sign_in(url, persona.user_id)
        planned = plan(session, url, callbacks)
        # One warm-up round: the server's first request per worker opens the snapshot and
        # resolves the scope; figures are about a page being used, not the first visit.
        for item in planned:
            timed_post(session, url, item)
            timed_query(reader, persona.scope, item)
        for _ in range(args.repeats):
            for item in planned:
                item.http_ms.append(timed_post(session, url, item))
                item.query_ms.append(timed_query(reader, persona.scope, item))
        for item in planned:
            http = summary(item.http_ms)
            query = summary(item.query_ms)
            assert http is not None
            rows.append(
                {
                    "role": persona.role,
                    "user_id": persona.user_id,
                    "page": item.page,
                    "callback": item.callback.name,
                    "http": http,
                    "query_alone": query,
                    "ratio_median": round(http["median_ms"] / query["median_ms"], 2)
                    if query and query["median_ms"] > 0
                    else None,
                    "response_bytes": item.response_bytes,
                    "wire_bytes": item.wire_bytes,
                    "meets_target": http["p95_ms"] <= TARGET_P95_MS,
                }
            )
            print_row(rows[-1], first=len(rows) == 1)
    reader.close()

    worst = max(rows, key=lambda r: r["http"]["p95_ms"])
    figures = {
        "stage": "callbacks",
        "url": url,
        "repeats": args.repeats,
        "warehouse": {
            "snapshot": snapshot.number,
            "events_cursor": snapshot.events_cursor,
        },
        "personas": {p.role: {"user_id": p.user_id, "name": p.name} for p in personas},
        "rows": rows,
        "worst_p95_ms": worst["http"]["p95_ms"],
        "worst": f"{worst['role']} {worst['page']} {worst['callback']}",
        "target": {"p95_ms": TARGET_P95_MS},
        "meets_target": all(r["meets_target"] for r in rows),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_bytes": memory_bytes(),
            "platform": platform.platform(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "versions": versions(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "callbacks.json"), "w", encoding="utf-8") as out:
        out.write(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    verdict = "meets" if figures["meets_target"] else "MISSES"
    print(
        f"\nworst p95 {worst['http']['p95_ms']:.1f} ms ({figures['worst']}): {verdict} the"
        f" {TARGET_P95_MS:.0f} ms target; {len(rows)} rows, {args.repeats} repeats each"
    )


def print_row(row: dict[str, Any], *, first: bool) -> None:
    if first:
        print(
            f"{'role':<15}{'page':<14}{'callback':<15}"
            f"{'median':>8}{'p95':>8}{'min':>8}{'max':>8}  {'query':>7}{'q p95':>7}{'ratio':>7}"
            f"{'bytes':>9}  ok"
        )
    http, query = row["http"], row["query_alone"]
    q_median = f"{query['median_ms']:7.1f}" if query else f"{'—':>7}"
    q_p95 = f"{query['p95_ms']:7.1f}" if query else f"{'—':>7}"
    ratio = f"{row['ratio_median']:7.1f}" if row["ratio_median"] is not None else f"{'—':>7}"
    print(
        f"{row['role']:<15}{row['page']:<14}{row['callback']:<15}"
        f"{http['median_ms']:8.1f}{http['p95_ms']:8.1f}{http['min_ms']:8.1f}{http['max_ms']:8.1f}"
        f"  {q_median}{q_p95}{ratio}{row['response_bytes']:9d}  "
        f"{'yes' if row['meets_target'] else 'NO'}",
        flush=True,
    )


if __name__ == "__main__":
    main()
