"""催办 against a real workflow API served over a copy of the small university's event store: a
counsellor reminds their students (recorded once, even when retried), students outside their
classes are refused one by one, the page's action sends only its own list, and an API that is
down reminds nobody and says so."""

from __future__ import annotations

import importlib
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from types import ModuleType

import dash
import flask
import pytest
from sqlalchemy import Engine, select
from werkzeug.serving import BaseWSGIServer, make_server

from dashboards import reminders
from dashboards.session import SESSION_USER, current_scope, warehouse
from tests.warehouse.conftest import AS_OF, BuiltUniversity
from warehouse.read_api import registration as read
from workflow_core.api.app import create_app as create_api
from workflow_core.catalog.loader import default_catalog
from workflow_core.directory.sql_directory import SqlDirectory
from workflow_core.service import WorkflowService
from workflow_core.store.db import make_engine
from workflow_core.store.schema import events

NOW = AS_OF.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LiveApi:
    url: str
    store: Engine

    def reminded(self, campaign_id: str) -> list[tuple[str, list[str]]]:
        """(actor, student ids) of every reminder stored for the campaign, oldest first."""
        with self.store.connect() as conn:
            rows = conn.execute(
                select(events.c.actor_id, events.c.payload)
                .where(events.c.stream_id == campaign_id)
                .where(events.c.event_type == "campaign_reminded")
                .order_by(events.c.event_id)
            ).all()
        result = []
        for actor, payload in rows:
            document = json.loads(payload) if isinstance(payload, str) else payload
            result.append((str(actor), list(document["student_ids"])))
        return result


@pytest.fixture
def live_api(small_university: BuiltUniversity, tmp_path: Path) -> Iterator[LiveApi]:
    """The workflow API over copies of the university's stores, on a free port, its clock on
    the warehouse's day (the directory answers who looks after whom on that day)."""
    for name in ("events.db", "business.db"):
        shutil.copy(small_university.home / name, tmp_path / name)
    store = make_engine(f"sqlite:///{tmp_path / 'events.db'}")
    business = make_engine(f"sqlite:///{tmp_path / 'business.db'}")
    service = WorkflowService(store, default_catalog(), SqlDirectory(business), clock=lambda: NOW)
    server: BaseWSGIServer = make_server("127.0.0.1", 0, create_api(service), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveApi(f"http://127.0.0.1:{server.server_port}", store)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        store.dispose()
        business.dispose()


def _students(
    university: BuiltUniversity, user_id: str, campaign_id: str | None = None
) -> tuple[str, list[str], list[str]]:
    """(campaign, students in the user's classes, students outside them) from the warehouse."""
    from warehouse.reader import Warehouse
    from warehouse.scope import resolve_scope

    reader = Warehouse(university.paths)
    try:
        with reader.cursor() as cursor:
            scope = resolve_scope(cursor, user_id, AS_OF.date())
            campaign = campaign_id or read.current_campaign(cursor, scope)
            assert campaign is not None
            mine = cursor.execute(
                "select student_id from fct_campaign_rosters where campaign_id = ?"
                " and list_contains(?, class_id) order by student_id",
                [campaign, sorted(scope.class_ids)],
            ).fetchall()
            others = cursor.execute(
                "select student_id from fct_campaign_rosters where campaign_id = ?"
                " and not list_contains(?, class_id) order by student_id limit 3",
                [campaign, sorted(scope.class_ids)],
            ).fetchall()
    finally:
        reader.close()
    return campaign, [r[0] for r in mine], [r[0] for r in others]


def test_a_counsellor_reminds_their_students_once_even_when_retried(
    live_api: LiveApi, small_university: BuiltUniversity, persona_ids: dict[str, list[str]]
) -> None:
    counsellor = persona_ids["counsellor"][0]
    campaign, mine, _ = _students(small_university, counsellor)
    before = live_api.reminded(campaign)

    first = reminders.remind(live_api.url, counsellor, campaign, mine[:2], "请尽快登记", key="k-1")
    assert first.ok and first.reminded == tuple(mine[:2])
    again = reminders.remind(live_api.url, counsellor, campaign, mine[:2], "请尽快登记", key="k-1")
    assert again.ok and again.reminded == tuple(mine[:2])
    assert live_api.reminded(campaign) == [*before, (counsellor, mine[:2])]


def test_students_outside_the_callers_classes_are_refused_one_by_one(
    live_api: LiveApi, small_university: BuiltUniversity, persona_ids: dict[str, list[str]]
) -> None:
    monitor = persona_ids["class_monitor"][0]
    campaign, mine, others = _students(small_university, monitor)
    before = live_api.reminded(campaign)

    outcome = reminders.remind(live_api.url, monitor, campaign, [mine[0], others[0]])
    assert outcome.reminded == (mine[0],)
    assert set(outcome.refused) == {others[0]}
    assert others[0] in outcome.refused[others[0]]  # the API's reason names the student
    assert outcome.error is None and not outcome.ok
    assert live_api.reminded(campaign) == [*before, (monitor, [mine[0]])]

    # A stranger (no directory entry) and an unknown campaign are refused for everybody.
    stranger = reminders.remind(live_api.url, "S9999999", campaign, [mine[0]])
    assert set(stranger.refused) == {mine[0]} and not stranger.reminded
    missing = reminders.remind(live_api.url, monitor, "no-such-campaign", [mine[0]])
    assert set(missing.refused) == {mine[0]} and not missing.reminded
    assert live_api.reminded(campaign) == [*before, (monitor, [mine[0]])]


def test_an_api_that_is_down_reminds_nobody_and_says_so() -> None:
    outcome = reminders.remind("http://127.0.0.1:9", "U1", "some-campaign", ["U2"], timeout=2)
    assert outcome.error is not None and "did not answer" in outcome.error
    assert not outcome.reminded and not outcome.refused
    assert reminders.remind("http://127.0.0.1:9", "U1", "some-campaign", []).ok


def _page(app: dash.Dash) -> ModuleType:
    del app  # the page module is Dash's, executed when the app was made
    return importlib.import_module("dashboards.pages.registration")


def test_the_page_reminds_only_students_on_the_users_own_list(
    live_api: LiveApi,
    make_app: Callable[..., dash.Dash],
    persona_ids: dict[str, list[str]],
    small_university: BuiltUniversity,
) -> None:
    app = make_app(api_url=live_api.url)
    page = _page(app)
    office = persona_ids["college_office"][0]
    _, _, others = _students(small_university, office)
    with app.server.test_request_context("/"):
        flask.session[SESSION_USER] = office
        scope = current_scope()
        with warehouse().cursor() as cursor:
            campaign = read.current_campaign(cursor, scope)
            assert campaign is not None
            listed = read.unregistered_students(cursor, scope, campaign)
        assert listed.height >= 2, "the fixture's college office has students to remind"
        ticked = [*listed["student_id"].to_list()[:2], others[0]]
        before = live_api.reminded(campaign)

        report = page.send_reminders(1, ticked, campaign, "  请今天完成去向登记  ")

        text = json.dumps([p.to_plotly_json() for p in report], ensure_ascii=False, default=str)
        assert "已催办 2 人" in text
        for name in listed["student_name"].to_list()[:2]:
            assert name in text
        assert f"（{others[0]}）：不在您的未登记名单中" in text
        assert live_api.reminded(campaign) == [*before, (office, ticked[:2])]

        # Nothing ticked, another campaign or a leader's click: nothing is sent.
        assert "请先在名单中勾选" in json.dumps(
            [p.to_plotly_json() for p in page.send_reminders(1, [], campaign, "")],
            ensure_ascii=False,
            default=str,
        )
        refused = page.send_reminders(1, ticked[:1], "no-such-campaign", "")
        assert "不在您的权限范围内" in json.dumps(
            [p.to_plotly_json() for p in refused], ensure_ascii=False, default=str
        )
        flask.session[SESSION_USER] = persona_ids["leadership"][0]
        assert "不在您的权限范围内" in json.dumps(
            [p.to_plotly_json() for p in page.send_reminders(1, ticked[:1], campaign, "")],
            ensure_ascii=False,
            default=str,
        )
    assert live_api.reminded(campaign) == [*before, (office, ticked[:2])]


def test_reminding_when_the_api_is_down_records_nothing_and_says_why(
    make_app: Callable[..., dash.Dash], persona_ids: dict[str, list[str]]
) -> None:
    app = make_app(api_url="http://127.0.0.1:9")
    page = _page(app)
    office = persona_ids["college_office"][0]
    with app.server.test_request_context("/"):
        flask.session[SESSION_USER] = office
        scope = current_scope()
        with warehouse().cursor() as cursor:
            campaign = read.current_campaign(cursor, scope)
            assert campaign is not None
            listed = read.unregistered_students(cursor, scope, campaign)
        report = page.send_reminders(1, listed["student_id"].to_list()[:1], campaign, "")
    text = json.dumps([p.to_plotly_json() for p in report], ensure_ascii=False, default=str)
    assert "催办失败，未记录任何催办" in text and "已催办" not in text
