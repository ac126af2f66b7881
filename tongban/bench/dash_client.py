"""Talking to the dashboards as a browser does, and the warehouse queries each callback makes.

A persona signs in through the dev login (a cookie session), opens every page its navigation
offers, and POSTs each page's callbacks to `/_dash-update-component` with the body
dash-renderer sends (`output`, `outputs`, `inputs`, `changedPropIds`, `parsedChangedPropsIds`,
`state`), built from `/_dash-dependencies` and the values of the layout the page callback
returned: the page itself (Dash's `_pages_content` callback, which runs the page's `layout`)
and every server-side callback that fires when the page loads; not the clientside ones, nor
those that wait for a click (export, 催办, drill).

`QUERIES` mirrors the read-API calls of each callback in `dashboards/pages/`, so that the same
queries can be timed alone, in this process, with the scope `resolve_scope` gives (the server
caches scopes per snapshot, so resolving one is part of neither figure).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import duckdb
import polars as pl
import requests

from tongban.bench.processes import BenchError
from warehouse.process_report import UnknownProcessError, process_report
from warehouse.read_api import processes as process_reads
from warehouse.read_api import registration as registration_reads
from warehouse.read_api import turnaround as turnaround_reads
from warehouse.reader import Warehouse
from warehouse.scope import Scope, resolve_scope

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
    roster = registration_reads.named_roster(cursor, scope, campaign, named)
    registration_reads.registrations(cursor, scope, campaign, named, only=kind)
    registration_reads.unregistered(roster)
    registration_reads.excluded(roster)
    registration_reads.reminded(roster)


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
        turnaround_reads.departments_of_services(cursor, scope, [str(key) for key in keys])
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
    cursor: duckdb.DuckDBPyConnection,
    document: dict[str, Any],
    day: date,
    roles: tuple[str, ...] = ROLES,
) -> list[Persona]:
    """Per role, a persona holding that role alone where the file offers one (a second role
    would widen the scope and blur what the row measures), with classes in the current
    campaign; else the first one whose scope is not empty."""
    chosen = []
    for role in roles:
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
            raise BenchError(
                f"no {role} in personas.json has a non-empty scope in the current campaign"
            )
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
        raise BenchError(f"dev sign-in as {user_id} failed ({answer.status_code})")
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
