"""Live traffic surges towards each campaign deadline at the asked rate and stops on Ctrl-C."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tongban.simulator.live import (
    Action,
    ApiRefusedError,
    ApiUnreachableError,
    HallClient,
    Kind,
    LivePlanner,
    Roster,
    StopSignal,
    Student,
    planned_registrations,
    run_live,
    surge_curve,
)
from workflow_core.catalog.loader import default_catalog

TONGBAN = str(Path(sys.executable).with_name("tongban"))
CLASSES = 10
PER_CLASS = 40


def roster(classes: int = CLASSES, per_class: int = PER_CLASS) -> Roster:
    students = tuple(
        Student(f"2024{c:02d}{n:03d}", "undergraduate" if c % 5 else "graduate", f"class-{c}")
        for c in range(classes)
        for n in range(per_class)
    )
    return Roster(
        students=students,
        monitors={f"class-{c}": f"2024{c:02d}000" for c in range(classes)},
        counsellors={f"class-{c}": f"S{c // 3:05d}" for c in range(classes)},
        organisers=("S09001",),
        applicants={
            "undergraduate": tuple(s.student_id for s in students if s.kind == "undergraduate"),
            "graduate": tuple(s.student_id for s in students if s.kind == "graduate"),
            "staff": ("S00100", "S00101", "S00102"),
            "alumni": ("A00001",),
            "visitor": ("V00001",),
        },
    )


def planner(
    rate: float = 20.0, campaign_seconds: float = 60.0, seed: int = 7, people: Roster | None = None
) -> LivePlanner:
    return LivePlanner(
        people or roster(),
        default_catalog(),
        rate=rate,
        campaign_seconds=campaign_seconds,
        started_at=datetime(2026, 1, 10, 2, 0, tzinfo=UTC),
        rng=random.Random(seed),
        label="live-test",
    )


def drive(live: LivePlanner, seconds: float) -> list[tuple[float, Action]]:
    """Run the planner over simulated time, every command accepted with an empty answer."""
    now = 0.0
    sent: list[tuple[float, Action]] = []
    while now < seconds:
        action = live.plan(now)
        if action is not None:
            sent.append((now, action))
            live.answered(action, now, {})
        now += live.next_gap()
    return sent


def test_the_surge_curve_rises_towards_the_deadline() -> None:
    assert surge_curve(0.0) == 0.0 and surge_curve(1.0) == pytest.approx(1.0)
    first, last = surge_curve(0.25), 1 - surge_curve(0.75)
    assert last > 5 * first
    assert surge_curve(-1) == 0.0 and surge_curve(2) == pytest.approx(1.0)
    # A rate too low for the whole roster caps the campaign, never the other way round.
    assert planned_registrations(400, 1000.0, 60) == 360
    assert planned_registrations(400, 1.0, 60) < 60


def test_registrations_surge_in_the_last_quarter_of_the_window() -> None:
    live = planner(rate=20.0, campaign_seconds=60.0)
    sent = drive(live, 60.0)
    registered = [t for t, a in sent if a.kind is Kind.REGISTER]
    quarters = Counter(min(int(t // 15), 3) for t in registered)
    assert quarters[3] > 3 * quarters[0], quarters
    assert quarters[3] > quarters[2] > quarters[0], quarters
    planned = planned_registrations(CLASSES * PER_CLASS, 20.0, 60.0)
    assert len(registered) >= 0.8 * planned
    assert len({a.subject for t, a in sent if a.kind is Kind.REGISTER}) == len(registered)


def test_the_rate_holds_on_average_over_simulated_time() -> None:
    for rate in (2.0, 20.0):
        live = planner(rate=rate, campaign_seconds=120.0, seed=3)
        sent = drive(live, 600.0)
        assert len(sent) / 600.0 == pytest.approx(rate, rel=0.08)
        kinds = Counter(a.kind for _, a in sent)
        assert kinds[Kind.OPEN_CAMPAIGN] == 5  # one per window of 120 s + 24 s late tail
        assert kinds[Kind.SUBMIT] > 0


def test_late_registrations_follow_the_deadline_and_then_the_next_campaign_opens() -> None:
    live = planner(rate=20.0, campaign_seconds=60.0)
    sent = drive(live, 80.0)
    late = [t for t, a in sent if a.kind is Kind.LATE_REGISTER]
    assert late and min(late) >= 60.0 and max(late) < 72.0
    opened = [(t, a.body) for t, a in sent if a.kind is Kind.OPEN_CAMPAIGN]
    assert [t for t, _ in opened] == [0.0, pytest.approx(72.0, abs=1.0)]
    first, second = (body for _, body in opened)
    assert first and second and first["campaign_id"] != second["campaign_id"]
    assert first["process_key"] == "holiday_whereabouts"
    assert first["deadline"] == "2026-01-10T02:01:00+00:00"
    first_campaign = [(t, a) for t, a in sent if t < 72.0]
    registrations = (Kind.REGISTER, Kind.LATE_REGISTER)
    registered_at = {a.subject: t for t, a in first_campaign if a.kind in registrations}
    changes = [(t, a.subject) for t, a in first_campaign if a.kind is Kind.CHANGE]
    assert changes and all(registered_at[student] < t for t, student in changes)


def test_reminded_students_register_sooner() -> None:
    # Many small classes, so that reminders reach the missing students class by class.
    live = planner(rate=20.0, campaign_seconds=120.0, seed=11, people=roster(60, 10))
    now, picked, expected, reminders = 0.0, 0, 0.0, []
    while now < 120.0:
        campaign = live.campaign
        action = live.plan(now)
        if action is not None:
            if action.kind is Kind.REGISTER and campaign is not None:
                share = len(campaign.reminded) / (len(campaign.reminded) + len(campaign.unreminded))
                if 0 < share <= 0.5:  # both kinds of student are still missing in numbers
                    expected += share  # how often a reminded one would be next, were it chance
                    picked += action.subject in campaign.reminded
            if action.kind is Kind.REMIND:
                reminders.append(action)
            live.answered(action, now, {})
        now += live.next_gap()
    assert reminders
    for reminder in reminders:  # a class's monitor or counsellor, naming that class's students
        assert reminder.actor in (
            live.roster.monitors[reminder.subject],
            live.roster.counsellors[reminder.subject],
        )
        ids = reminder.body["student_ids"] if reminder.body else []
        assert ids and all(live.class_of[s] == reminder.subject for s in ids)
    assert expected > 10
    assert picked > 1.5 * expected, (picked, expected)


def test_a_refused_campaign_is_opened_again_and_given_up_after_three_refusals() -> None:
    live = planner()
    first = live.plan(0.0)
    assert first is not None and first.kind is Kind.OPEN_CAMPAIGN
    live.refused(first, 0.1, 409)  # another run took the id this very second
    second = live.plan(0.2)
    assert second is not None and second.kind is Kind.OPEN_CAMPAIGN
    assert second.subject != first.subject
    live.refused(second, 0.3, 503)  # the store stayed down through the client's retries
    meanwhile = live.plan(1.0)  # not at once: ordinary traffic goes on
    assert meanwhile is None or meanwhile.kind is not Kind.OPEN_CAMPAIGN
    third = live.plan(5.5)
    assert third is not None and (third.kind, third.subject) == (Kind.OPEN_CAMPAIGN, second.subject)
    live.refused(third, 5.6, 403)
    assert all(a.kind is not Kind.OPEN_CAMPAIGN for a in (live.plan(t) for t in (10.0, 100.0)) if a)


def test_approvers_decide_what_their_inbox_shows() -> None:
    live = planner(rate=5.0)
    live.campaigns_enabled = False
    submit = next(a for a in iter(lambda: live.plan(0.0), None) if a.kind is Kind.SUBMIT)
    instance: dict[str, Any] = {
        "instance_id": "i-1",
        "applicant_id": submit.actor,
        "process_key": "enrollment_certificate",
        "status": "in_progress",
        "tasks": [{"task_id": "i-1-t1", "status": "open", "assignees": ["S00042"]}],
    }
    live.answered(submit, 0.0, {"instance": instance})
    inbox = next(a for a in iter(lambda: live.plan(1.0), None) if a.kind is Kind.INBOX)
    assert (inbox.actor, inbox.method, inbox.subject) == ("S00042", "GET", "i-1-t1")
    live.answered(inbox, 1.0, {"tasks": [{"task_id": "i-1-t1", "assignees": ["S00042"]}]})
    decision = next(
        a
        for a in iter(lambda: live.plan(2.0), None)
        if a.kind in (Kind.APPROVE, Kind.RETURN, Kind.REJECT)
    )
    assert decision.actor == "S00042"
    assert decision.path == f"/api/v1/tasks/i-1-t1/{decision.kind.value}"
    returned = dict(
        instance, status="returned", tasks=[dict(instance["tasks"][0], status="returned")]
    )
    live.answered(decision, 2.0, {"instance": returned})
    assert "i-1-t1" not in live.open_tasks and "i-1" in live.returned


class SimulatedTime(StopSignal):
    """A stop that comes at `end` seconds of a clock that waiting and requests advance."""

    def __init__(self, end: float) -> None:
        super().__init__()
        self.now, self.end = 0.0, end

    def is_set(self) -> bool:
        return self.now >= self.end

    def wait(self, seconds: float) -> bool:
        self.now += seconds
        return self.is_set()


class SlowServer:
    """Answers every request after `latency` seconds of simulated time, until it is gone."""

    def __init__(self, clock: SimulatedTime, latency: float, gone_after: int = -1) -> None:
        self.clock, self.latency, self.gone_after = clock, latency, gone_after
        self.keys: list[str | None] = []

    def request(self, method: str, path: str, user: str | None, body: Any, key: Any) -> Any:
        if len(self.keys) == self.gone_after:
            raise ApiUnreachableError("the API at http://x is not reachable")
        self.clock.now += self.latency
        self.keys.append(key)
        if path.endswith("/remind"):
            raise ApiRefusedError(403, "not_authorized", "not theirs")
        return {}

    def close(self) -> None:
        pass


@pytest.mark.parametrize("latency", [0.01, 0.04])
def test_the_run_paces_commands_at_the_rate_whatever_the_latency(latency: float) -> None:
    clock = SimulatedTime(end=300.0)
    server = SlowServer(clock, latency)
    stats = run_live(
        server,  # type: ignore[arg-type]
        planner(rate=20.0),
        clock,
        key_prefix="k",
        clock=lambda: clock.now,
    )
    assert stats.per_second == pytest.approx(20.0, rel=0.05)
    assert stats.sent["open_campaign"] == 5 and stats.campaigns == 5
    assert stats.refused["remind:403"] == stats.sent["remind"] > 0
    writes = [k for k in server.keys if k is not None]
    assert len(writes) == len(set(writes)) == stats.total - stats.sent["inbox"]
    assert "refused by the hall's rules (remind:403" in stats.summary()


def test_a_server_gone_mid_run_ends_the_run_with_its_counts() -> None:
    clock = SimulatedTime(end=60.0)
    server = SlowServer(clock, 0.01, gone_after=30)
    stats = run_live(server, planner(), clock, key_prefix="k", clock=lambda: clock.now)  # type: ignore[arg-type]
    assert stats.total == 31 and stats.errors == Counter({"unreachable": 1})
    assert stats.failure is not None and "not reachable" in stats.failure.message


def test_one_ctrl_c_arriving_twice_stops_and_a_later_one_abandons() -> None:
    stop = StopSignal()
    stop.handle(signal.SIGINT, None)
    stop.in_flight = True
    stop.handle(signal.SIGINT, None)  # the same Ctrl-C, forwarded by `uv run`
    assert stop.is_set() and stop.wait(5.0)
    stop._first = time.monotonic() - StopSignal.REPEAT_GRACE
    with pytest.raises(KeyboardInterrupt):
        stop.handle(signal.SIGTERM, None)
    stop.in_flight = False
    stop.handle(signal.SIGTERM, None)  # nothing in flight: nothing to abandon


# --- the HTTP client -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_closed_port_is_one_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ApiUnreachableError) as caught:
        HallClient(url).request("GET", "/healthz", None, retry=False)
    assert caught.value.message == (
        f"the API at {url} is not reachable: start it with `tongban api`"
    )


@pytest.fixture
def flaky_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Answers 503 twice, then 201; a second path always answers 422."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            seen.append(
                {
                    "key": self.headers["Idempotency-Key"],
                    "user": self.headers["X-Remote-User"],
                    "body": json.loads(self.rfile.read(length)),
                }
            )
            if self.path.endswith("/withdraw"):
                status, body = 422, {"error": {"code": "business_rule", "message": "done"}}
            elif len(seen) <= 2:
                status, body = 503, {"error": {"code": "database_unavailable", "message": ""}}
            else:
                status, body = 201, {"instance": {"instance_id": "i-1"}}
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_busy_store_is_retried_with_the_same_idempotency_key(
    flaky_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, seen = flaky_server
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return False

    client = HallClient(url, wait=wait)
    answer = client.request("POST", "/api/v1/instances", "U1", {"form": {"a": "去"}}, "k-1")
    assert answer == {"instance": {"instance_id": "i-1"}}
    assert [s["key"] for s in seen] == ["k-1"] * 3
    assert all(s["body"] == {"form": {"a": "去"}} and s["user"] == "U1" for s in seen)
    assert waits == [0.25, 0.5]  # backing off
    with pytest.raises(ApiRefusedError) as caught:
        client.request("POST", "/api/v1/instances/i-1/withdraw", "U1", {}, "k-2")
    assert (caught.value.status, caught.value.code) == (422, "business_rule")
    client.close()


# --- a real run ------------------------------------------------------------------------------


def tongban(home: Path, *args: str, **popen: Any) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    env["TONGBAN_HOME"] = str(home)
    return subprocess.Popen(
        [TONGBAN, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def test_a_live_run_against_the_api_opens_a_campaign_registers_and_approves(tmp_path: Path) -> None:
    init = tongban(tmp_path, "init", "--size", "small")
    _out, err = init.communicate(timeout=120)
    assert init.returncode == 0, err
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    api = tongban(tmp_path, "api", "--port", str(port), "--workers", "1", start_new_session=True)
    live: subprocess.Popen[str] | None = None
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert api.poll() is None and time.monotonic() < deadline, "the API never came up"
                time.sleep(0.2)
        args = ("simulate", "--live", "--rate", "20", "--campaign-minutes", "1", "--api-url", url)
        live = tongban(tmp_path, *args)
        time.sleep(7)
        assert live.poll() is None, live.communicate()
        live.send_signal(signal.SIGINT)
        _out, err = live.communicate(timeout=20)
    finally:
        if live is not None and live.poll() is None:  # it did not stop: fail, but leave nothing
            live.kill()
            live.communicate()
        os.killpg(api.pid, signal.SIGTERM)
        api.communicate(timeout=20)
    assert live.returncode == 0, err
    assert "live traffic stopped after" in err and "Traceback" not in err
    summary = err[err.index("live traffic stopped after") :]
    assert "open_campaign 1" in summary and "approve" in summary

    with closing(sqlite3.connect(tmp_path / "events.db")) as db:
        opened = db.execute(
            "select stream_id, actor_id from events where event_type = 'campaign_opened'"
        ).fetchall()
        registrations = db.execute(
            "select count(*) from events where event_type = 'submitted'"
            " and process_key = 'holiday_whereabouts'"
        ).fetchone()[0]
        approvals = db.execute(
            "select count(*) from events where event_type = 'approved'"
        ).fetchone()[0]
    with closing(sqlite3.connect(tmp_path / "business.db")) as db:
        organisers = {
            row[0]
            for row in db.execute(
                "select person_id from role_assignments where role = 'student_affairs'"
            )
        }
    assert len(opened) == 1 and opened[0][0].startswith("live-")
    assert opened[0][1] in organisers
    assert registrations >= 1
    assert approvals >= 1  # the store was empty: every approval is a live approver's
