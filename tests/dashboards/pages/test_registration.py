"""The 去向登记 page for a monitor, a counsellor, a college office and leadership: each sees
exactly its classes (leadership aggregates, "—" for small cells, never names), crafted callback
requests for another class, college or campaign leak zero rows, exports carry exactly the
in-scope students, and a name with markup in it stays text."""

from __future__ import annotations

import csv
import importlib
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import dash
import flask
import polars as pl
import pytest
from dash.exceptions import PreventUpdate
from flask.testing import FlaskClient

from dashboards.session import SESSION_LANGUAGE, SESSION_USER, current_scope, warehouse
from dashboards.shell import SNAPSHOT_STORE
from tests.dashboards.components import CALLBACK, dumped
from tests.warehouse.conftest import AS_OF
from warehouse.read_api import registration as read
from warehouse.scope import Scope

ROLES = ("class_monitor", "counsellor", "college_office", "leadership")


@pytest.fixture
def app(make_app: Callable[..., dash.Dash]) -> dash.Dash:
    return make_app(auth="header")


@pytest.fixture
def page(app: dash.Dash) -> ModuleType:
    # Dash executes the page module when it makes the app; this is that module.
    return importlib.import_module("dashboards.pages.registration")


@contextmanager
def signed_in(app: dash.Dash, user_id: str) -> Iterator[Scope]:
    with app.server.test_request_context("/"):
        flask.session[SESSION_USER] = user_id
        yield current_scope()


def current(scope: Scope) -> str:
    with warehouse().cursor() as cursor:
        campaign = read.current_campaign(cursor, scope)
    assert campaign is not None
    return campaign


def outsiders(scope: Scope, campaign: str) -> tuple[str, str, pl.DataFrame]:
    """A class and a college outside `scope`, and the not-registered students of everyone else
    (read with a student-affairs scope, to check that none of them leaks)."""
    with warehouse().cursor() as cursor:
        everyone = cursor.execute(
            "select class_id, college_id from mart_registration__progress"
            " where campaign_id = ? and not list_contains(?, class_id)"
            " order by not_registered desc",
            [campaign, sorted(scope.class_ids)],
        ).fetchall()
        mine = {
            c
            for (c,) in cursor.execute(
                "select distinct college_id from mart_registration__progress"
                " where list_contains(?, class_id)",
                [sorted(scope.class_ids)],
            ).fetchall()
        }
        others_rows = cursor.execute(
            "select rosters.student_id, people.person_name from fct_campaign_rosters as rosters"
            " join dim_people as people on people.person_id = rosters.student_id"
            " where campaign_id = ? and not list_contains(?, class_id)"
            " and not is_registered and not is_excluded",
            [campaign, sorted(scope.class_ids)],
        ).fetchall()
    others = pl.DataFrame(others_rows, schema=["student_id", "person_name"], orient="row")
    other_class = everyone[0][0]
    other_college = next(college for _, college in everyone if college not in mine)
    return other_class, other_college, others


# --- plain-function callbacks -----------------------------------------------------------------


def test_each_named_persona_sees_exactly_its_classes_and_students(
    app: dash.Dash, page: ModuleType, persona_ids: dict[str, list[str]]
) -> None:
    for role in ("class_monitor", "counsellor", "college_office"):
        with signed_in(app, persona_ids[role][0]) as scope:
            campaign = current(scope)
            notice, summary, rows, _, bars, curve, _, _, _ = page.overview(
                campaign, "class", None, None, 1
            )
            assert notice == "", role
            with warehouse().cursor() as cursor:
                expected = read.progress(cursor, scope, campaign, by="university")
                in_campaign = read.progress(cursor, scope, campaign, by="class")["class_id"]
                missing = read.unregistered_students(cursor, scope, campaign)
            # Every class of the scope that the campaign covers, and nothing else.
            assert {row["id"] for row in rows} == set(in_campaign), role
            assert set(in_campaign) <= scope.class_ids, role
            registered, eligible = expected["registered"][0], expected["eligible"][0]
            assert summary.startswith(f"已登记 {registered:,} / 应登记 {eligible:,}"), role
            assert len([t for t in bars.data if t.type == "bar"]) == 3
            assert curve.data and curve.data[0].y[-1] == registered

            named = page.named_lists(campaign, None, None, "changed", 1, None)
            assert named[0] == ""
            assert [r["id"] for r in named[1]] == missing["student_id"].to_list(), role
            for listing in named[3:]:
                assert {r["class_id"] for r in listing} <= scope.class_ids, role

            assert page.layout() is not None
            ids = dumped(page.layout())
            for component in (
                page.CAMPAIGN,
                page.PROGRESS_TABLE,
                page.UNREGISTERED_TABLE,
                page.EXPORT_CSV,
                page.EXPORT_XLSX,
                page.REMIND,
            ):
                assert f'"id": "{component}"' in ids, (role, component)


def test_leadership_sees_aggregates_with_small_cells_suppressed_and_no_names(
    app: dash.Dash, page: ModuleType, persona_ids: dict[str, list[str]]
) -> None:
    with signed_in(app, persona_ids["leadership"][0]) as scope:
        assert scope.aggregates_only
        campaign = current(scope)
        _, summary, colleges, *_ = page.overview(campaign, "college", None, None, 1)
        assert len(colleges) > 1 and "已登记" in summary
        _, _, classes, *_ = page.overview(campaign, "class", None, None, 1)
        with warehouse().cursor() as cursor:
            progress = read.progress(cursor, scope, campaign, by="class")
        suppressed = set(progress.filter(pl.col("is_suppressed"))["class_id"])
        assert suppressed, "the small university has classes under k students"
        for row in classes:
            if row["id"] in suppressed:
                assert row["registered"] == row["rate"] == row["eligible"] == "—"
            else:
                assert row["registered"] != "—"
        # Names are refused in every way: the named callback, the export, the layout.
        named = page.named_lists(campaign, None, None, "all", 1, None)
        assert named[0] == "所选内容不在您的权限范围内。" and not any(named[1:])
        with pytest.raises(PreventUpdate):
            page.export_file("csv", campaign, None, None)
        layout = dumped(page.layout())
        for component in (page.UNREGISTERED_TABLE, page.REMIND, page.EXPORT_CSV):
            assert f'"id": "{component}"' not in layout
        assert "仅可查看汇总数据" in layout


def test_invalid_inputs_get_empty_answers_never_other_rows(
    app: dash.Dash, page: ModuleType, persona_ids: dict[str, list[str]]
) -> None:
    with signed_in(app, persona_ids["class_monitor"][0]) as scope:
        campaign = current(scope)
        other_class, other_college, _ = outsiders(scope, campaign)
        refused = "所选内容不在您的权限范围内。"
        for args in (
            ("sim2026-2099-winter", "class", None, None),  # no such campaign
            (campaign, "planet", None, None),  # no such roll-up
            (campaign, "class", other_college, None),
            (campaign, "class", None, [other_class]),
            (campaign, "class", None, [*scope.class_ids, other_class]),
            (campaign, "class", None, {"$ne": None}),
            ([campaign], "class", None, None),
        ):
            notice, summary, rows, *_ = page.overview(*args, 1)
            assert (notice, summary, rows) == (refused, "", []), args
            if args[1] in page.LEVELS:  # the named lists take no roll-up
                named = page.named_lists(args[0], args[2], args[3], "all", 1, None)
                assert named[0] == refused and not any(named[1:]), args
        assert page.named_lists(campaign, None, None, "everything", 1, None)[0] == refused
        with pytest.raises(PreventUpdate):
            page.export_file("csv", campaign, None, [other_class])
        with pytest.raises(PreventUpdate):
            page.export_file("pdf", campaign, None, None)
        # Drilling into another college or class does nothing.
        with pytest.raises(PreventUpdate):
            page.drill({"row_id": other_college}, "college", campaign)
        with pytest.raises(PreventUpdate):
            page.drill({"row_id": other_class}, "class", campaign)
        (mine,) = scope.class_ids
        assert page.drill({"row_id": mine}, "class", campaign) == ("class", dash.no_update, [mine])

        # A campaign that exists is still refused to a scope none of whose classes it covers.
        with warehouse().cursor() as cursor:
            stranger = Scope(
                user_id="U0", on=AS_OF.date(), class_ids=frozenset({"C-NONE"}), personal_data=True
            )
            assert not page.select(cursor, stranger, campaign).allowed
            assert page.select(cursor, scope, campaign, None, [mine]).allowed


def test_drilling_goes_from_a_college_to_its_classes_to_their_students(
    app: dash.Dash, page: ModuleType, persona_ids: dict[str, list[str]]
) -> None:
    with signed_in(app, persona_ids["college_office"][0]) as scope:
        campaign = current(scope)
        _, _, colleges, *_ = page.overview(campaign, "college", None, None, 1)
        college = colleges[0]["id"]
        level, chosen_college, classes = page.drill({"row_id": college}, "college", campaign)
        assert (level, chosen_college, classes) == ("class", college, [])
        _, _, class_rows, *_ = page.overview(campaign, "class", college, None, 1)
        assert class_rows and {r["id"] for r in class_rows} <= scope.class_ids
        with warehouse().cursor() as cursor:
            missing = read.unregistered_students(cursor, scope, campaign)
        lagging = missing["class_id"][0]
        _, _, picked = page.drill({"row_id": lagging}, "class", campaign)
        named = page.named_lists(campaign, college, picked, "late", 1, None)
        expected = missing.filter(pl.col("class_id") == lagging)["student_id"].to_list()
        assert [r["id"] for r in named[1]] == expected
        # The ticked students stay ticked across a redraw, by id, not by position.
        again = page.named_lists(campaign, college, picked, "late", 2, [expected[-1], "U0"])
        assert again[2] == [len(expected) - 1]


def test_a_name_with_markup_renders_as_text(page: ModuleType) -> None:
    frame = pl.DataFrame(
        {
            "student_id": ["U202399999"],
            "student_name": ["<b>x</b>"],
            "phone": ["13800000000"],
            "class_id": ["C-1"],
            "class_name_zh": ["<img src=x onerror=alert(1)>"],
            "college_name_zh": ["计算机学院"],
            "reminders": [0],
            "last_reminded_at": [None],
        }
    )
    (row,) = page.unregistered_rows(frame, "zh")
    assert row["student_name"] == "<b>x</b>"
    table, _ = page._table(page.UNREGISTERED_TABLE, page.UNREGISTERED_COLUMNS, "zh").children
    table.data = [row]
    document = table.to_plotly_json()["props"]
    assert all(column.get("presentation") in (None, "input") for column in document["columns"])
    assert all(column["type"] == "text" for column in document["columns"])
    assert "markdown_options" not in document and document["data"][0]["student_name"] == "<b>x</b>"
    report = page.reminder_report(
        page.reminders.ReminderOutcome(reminded=("U202399999",)),
        {},
        {"U202399999": "<b>x</b>"},
        "zh",
    )
    assert "<b>x</b>（U202399999）" in report[0].children  # a text child, not markup


def test_the_page_redraws_when_a_new_snapshot_lands(app: dash.Dash, page: ModuleType) -> None:
    redrawn = set()
    for key, entry in app.callback_map.items():
        if any(i["id"] == SNAPSHOT_STORE for i in entry["inputs"]):
            redrawn |= {part.rsplit(".", 1)[0] for part in key.strip(".").split("...")}
    assert {page.PROGRESS_TABLE, page.CURVE, page.UNREGISTERED_TABLE} <= redrawn


# --- exports -----------------------------------------------------------------------------------


def test_exports_carry_exactly_the_in_scope_students(
    app: dash.Dash, page: ModuleType, persona_ids: dict[str, list[str]]
) -> None:
    import base64

    with signed_in(app, persona_ids["college_office"][0]) as scope:
        campaign = current(scope)
        with warehouse().cursor() as cursor:
            missing = read.unregistered_students(cursor, scope, campaign)
        assert missing.height > 0
        download = page.export_file("csv", campaign, None, None)
        assert download["filename"].endswith(".csv") and download["base64"]
        text = base64.b64decode(download["content"]).decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [r["学号"] for r in rows] == missing["student_id"].to_list()
        assert [r["姓名"] for r in rows] == missing["student_name"].to_list()

        one = missing["class_id"][0]
        narrowed = page.export_file("csv", campaign, None, [one])
        text = base64.b64decode(narrowed["content"]).decode("utf-8-sig")
        ids = [r["学号"] for r in csv.DictReader(io.StringIO(text))]
        assert ids == missing.filter(pl.col("class_id") == one)["student_id"].to_list()

        workbook = page.export_file("xlsx", campaign, None, None)
        assert workbook["filename"].endswith(".xlsx")
        with zipfile.ZipFile(io.BytesIO(base64.b64decode(workbook["content"]))) as book:
            sheet = book.read("xl/worksheets/sheet1.xml").decode("utf-8")
            shared = book.read("xl/sharedStrings.xml").decode("utf-8")
        assert sheet.count("<row ") == missing.height + 1
        for student_id in missing["student_id"].to_list():
            assert student_id in shared


# --- crafted requests over HTTP ---------------------------------------------------------------


def crafted(
    app: dash.Dash, output: str, values: dict[str, Any], state: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The body the browser would send for the callback writing `output` ("id.property"), with
    any values; the first input given a value is the one that changed."""
    key = next(k for k in app.callback_map if f"..{output}.." in f"..{k}..")
    entry = app.callback_map[key]
    outputs = [
        {"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
        for part in key.strip(".").split("...")
    ]
    inputs = [{**i, "value": values.get(i["id"])} for i in entry["inputs"]]
    states = [{**s, "value": (state or {}).get(s["id"])} for s in entry["state"]]
    return {
        "output": key,
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": inputs,
        "changedPropIds": [
            next(f"{i['id']}.{i['property']}" for i in inputs if i["value"] is not None)
        ],
        "state": states,
    }


def post(client: FlaskClient, user: str, body: dict[str, Any]) -> tuple[int, str]:
    response = client.post(CALLBACK, json=body, headers={"X-Remote-User": user})
    return response.status_code, response.get_data(as_text=True)


def test_crafted_requests_from_a_monitor_leak_no_other_class(
    app: dash.Dash, page: ModuleType, persona_ids: dict[str, list[str]]
) -> None:
    monitor = persona_ids["class_monitor"][0]
    with signed_in(app, monitor) as scope:
        campaign = current(scope)
        other_class, other_college, others = outsiders(scope, campaign)
    assert others.height > 0
    client = app.server.test_client()

    def leaks(text: str) -> list[str]:
        found = [s for s in others["student_id"].to_list() if s in text]
        return found + [n for n in others["person_name"].to_list() if n in text]

    # The honest request works and shows the monitor's own class only.
    status, text = post(
        client,
        monitor,
        crafted(
            app, f"{page.NAMED_NOTICE}.children", {page.CAMPAIGN: campaign, page.LIST_KIND: "all"}
        ),
    )
    assert status == 200 and not leaks(text)
    assert other_class not in text

    attempts = [
        {page.CAMPAIGN: campaign, page.CLASSES: [other_class], page.LIST_KIND: "all"},
        {page.CAMPAIGN: campaign, page.CLASSES: other_class, page.LIST_KIND: "all"},
        {page.CAMPAIGN: campaign, page.COLLEGE: other_college, page.LIST_KIND: "all"},
        {page.CAMPAIGN: "sim2026-2099-winter", page.CLASSES: [other_class], page.LIST_KIND: "all"},
        {page.CAMPAIGN: "' or 1=1 --", page.LIST_KIND: "all"},
    ]
    for values in attempts:
        status, text = post(client, monitor, crafted(app, f"{page.NAMED_NOTICE}.children", values))
        assert status == 200, values
        response = json.loads(text)["response"]
        assert response[page.UNREGISTERED_TABLE]["data"] == [], values
        assert response[page.REGISTRATIONS_TABLE]["data"] == [], values
        assert not leaks(text), values

        status, text = post(
            client,
            monitor,
            crafted(app, f"{page.PROGRESS_TABLE}.data", {**values, page.LEVEL: "class"}),
        )
        assert status == 200 and json.loads(text)["response"][page.PROGRESS_TABLE]["data"] == []
        assert not leaks(text)

        status, text = post(
            client,
            monitor,
            crafted(
                app,
                f"{page.DOWNLOAD}.data",
                {page.EXPORT_CSV: 1},
                {
                    page.CAMPAIGN: values[page.CAMPAIGN],
                    page.CLASSES: values.get(page.CLASSES),
                    page.COLLEGE: values.get(page.COLLEGE),
                },
            ),
        )
        assert status == 204 and not leaks(text), values

    # The class filter options list the monitor's own class only.
    status, text = post(
        client, monitor, crafted(app, f"{page.CLASSES}.options", {page.CAMPAIGN: campaign})
    )
    options = json.loads(text)["response"][page.CLASSES]["options"]
    assert [o["value"] for o in options] == sorted(scope.class_ids)


def test_crafted_requests_for_names_from_leadership_get_none(
    app: dash.Dash, page: ModuleType, persona_ids: dict[str, list[str]]
) -> None:
    leader = persona_ids["leadership"][0]
    with signed_in(app, leader) as scope:
        campaign = current(scope)
        with warehouse().cursor() as cursor:
            names = cursor.execute(
                "select people.person_name from fct_campaign_rosters as rosters"
                " join dim_people as people on people.person_id = rosters.student_id"
                " where campaign_id = ? and not is_registered and not is_excluded",
                [campaign],
            ).fetchall()
    client = app.server.test_client()
    status, text = post(
        client,
        leader,
        crafted(
            app, f"{page.NAMED_NOTICE}.children", {page.CAMPAIGN: campaign, page.LIST_KIND: "all"}
        ),
    )
    assert status == 200
    response = json.loads(text)["response"]
    assert all(response[k]["data"] == [] for k in (page.UNREGISTERED_TABLE, page.EXCLUDED_TABLE))
    assert not [n for (n,) in names if n in text]
    status, _ = post(
        client,
        leader,
        crafted(app, f"{page.DOWNLOAD}.data", {page.EXPORT_XLSX: 1}, {page.CAMPAIGN: campaign}),
    )
    assert status == 204


def components_of(node: Any, kind: str) -> dict[str, dict[str, Any]]:
    """The props of every component of type `kind` in a layout's JSON, by id."""
    found: dict[str, dict[str, Any]] = {}
    if isinstance(node, dict):
        if node.get("type") == kind:
            found[node["props"]["id"]] = node["props"]
        for value in node.values():
            found.update(components_of(value, kind))
    elif isinstance(node, list):
        for value in node:
            found.update(components_of(value, kind))
    return found


def test_the_page_speaks_the_readers_language_and_says_when_a_list_is_empty(
    app: dash.Dash, page: ModuleType, persona_ids: dict[str, list[str]]
) -> None:
    counsellor = persona_ids["counsellor"][0]
    for lang, placeholder, none in (("zh", "筛选…", "无"), ("en", "Filter…", "None")):
        with signed_in(app, counsellor):
            flask.session[SESSION_LANGUAGE] = lang
            layout = json.loads(dumped(page.layout()))
        text = json.dumps(layout, ensure_ascii=False)
        assert "filter data..." not in text
        tables = components_of(layout, "DataTable")
        buttons = components_of(layout, "Button")
        filtered = tables[page.UNREGISTERED_TABLE]
        assert filtered["filter_options"] == {
            "case": "insensitive",
            "placeholder_text": placeholder,
        }
        # Every table has its "无" note, shown by a clientside callback while it has no rows.
        for table_id in tables:
            assert f'"id": "{page.empty_note(table_id)}"' in text
            assert f'"children": "{none}"' in text
        for button in (page.EXPORT_CSV, page.EXPORT_XLSX, page.REMIND):
            assert "tb-button" in buttons[button]["className"].split()
    outputs = set(app.callback_map)
    for table_id in (page.UNREGISTERED_TABLE, page.EXCLUDED_TABLE, page.DESTINATIONS_TABLE):
        assert f"{page.empty_note(table_id)}.style" in outputs


def test_values_written_in_chinese_are_translated_in_english(page: ModuleType) -> None:
    frame = pl.DataFrame(
        {
            "stay_or_leave": ["留校", "离校"],
            "destination_province": [None, "四川省"],
            "students": [3, 5],
            "earliest_return": [None, None],
            "latest_return": [None, None],
        }
    )
    english = page.destination_rows(frame, "en")
    assert [row["stay_or_leave"] for row in english] == ["Staying", "Leaving"]
    assert [row["stay_or_leave"] for row in page.destination_rows(frame, "zh")] == ["留校", "离校"]
    assert page.value_label("休学", "en") == "Suspended"
    assert page.value_label("其他", "en") == "其他"
