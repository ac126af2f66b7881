"""The browser suite's fixtures: one `tongban serve` (dev sign-in, demo mode) over a copy of the
published small university, one headless Debian chromium driven by Playwright, and per test a
fresh browser context whose console is watched.

The server reads a copy so that the live test may add events and publish snapshots without
touching the university the other dashboards and warehouse tests share.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import duckdb
import pytest
import requests
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    WebError,
    sync_playwright,
)

from dashboards.config import shanghai_today
from tests.warehouse.university import BuiltUniversity
from warehouse.paths import WarehousePaths
from warehouse.read_api import registration
from warehouse.reader import Warehouse
from warehouse.scope import Scope, resolve_scope

ROOT: Final = Path(__file__).resolve().parents[3]
CHROMIUM: Final = Path("/usr/bin/chromium")
SCREENSHOTS: Final = ROOT / "var" / "screenshots"
TONGBAN: Final = str(Path(sys.executable).with_name("tongban"))
SECRET: Final = "the browser suite's session key"
# Chromium must not reach for Google's services (the network is closed; it would keep trying).
CHROMIUM_ARGS: Final = ["--disable-background-networking", "--no-sandbox", "--disable-gpu"]
# The shell polls for a new snapshot every 5 s; a page gets a few polls to show one.
PAGE_TIMEOUT_MS: Final = 20_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(home: Path) -> dict[str, str]:
    """This process's environment without any TONGBAN_/DAGSTER_ setting, homed at `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TONGBAN_", "DAGSTER_"))}
    env["TONGBAN_HOME"] = str(home)
    env["DAGSTER_HOME"] = str(home / "dagster")
    return env


@dataclass(frozen=True)
class Served:
    """The running dashboards: their URL, the home they read, and the API port reserved for
    the live test (the dashboards are configured to call it for 催办)."""

    base: str
    home: Path
    api_port: int
    personas: dict[str, list[dict[str, Any]]]

    @property
    def paths(self) -> WarehousePaths:
        return WarehousePaths(self.home / "warehouse")

    def name(self, user_id: str) -> str:
        return next(
            str(person["name"])
            for people in self.personas.values()
            for person in people
            if person["user_id"] == user_id
        )


@pytest.fixture(scope="session")
def served(
    small_university: BuiltUniversity, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("served-university")
    shutil.copytree(small_university.home, home, dirs_exist_ok=True)
    port, api_port = free_port(), free_port()
    env = clean_env(home)
    env.update(
        TONGBAN_AUTH="dev",
        TONGBAN_DEMO="1",
        TONGBAN_SECRET_KEY=SECRET,
        TONGBAN_API_URL=f"http://127.0.0.1:{api_port}",
    )
    log_path = home / "dashboards.log"
    log = log_path.open("w")
    # One worker: the suite is one user at a time, and the CPUs are shared.
    proc = subprocess.Popen(
        [TONGBAN, "serve", "--port", str(port), "--workers", "1", "--threads", "8"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"tongban serve exited:\n{log_path.read_text()[-3000:]}")
            # The worker builds the app on its first request, which may take a while.
            try:
                if requests.get(f"{base}/login", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"tongban serve never answered:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        personas = json.loads((home / "personas.json").read_text(encoding="utf-8"))["personas"]
        yield Served(base, home, api_port, personas)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()


def _cast(served: Served) -> dict[str, str]:
    """Role → the persona the suite signs in as: one holding that role alone where the file
    offers one (the first 部门审批人 may also run campaigns), and a monitor whose class has
    students still to register in the default campaign (the live test registers one)."""
    reader = Warehouse(served.paths)
    chosen: dict[str, str] = {}
    try:
        with reader.cursor() as cursor:
            for role, people in served.personas.items():
                ids = [str(person["user_id"]) for person in people]
                scopes = {i: resolve_scope(cursor, i, shanghai_today()) for i in ids}
                alone = [i for i in ids if scopes[i].roles == {role}] or ids
                if role == "class_monitor":
                    alone = [i for i in alone if _has_unregistered(cursor, scopes[i])]
                    assert alone, "no monitor's class has students left to register"
                chosen[role] = alone[0]
    finally:
        reader.close()
    return chosen


def _has_unregistered(cursor: duckdb.DuckDBPyConnection, scope: Scope) -> bool:
    campaign = registration.current_campaign(cursor, scope)
    if campaign is None:
        return False
    return registration.unregistered_students(cursor, scope, campaign).height > 0


@pytest.fixture(scope="session")
def cast(served: Served) -> dict[str, str]:
    return _cast(served)


@pytest.fixture
def api(served: Served) -> Iterator[str]:
    """The workflow API over the served copy's event store, on the port the dashboards call."""
    log_path = served.home / "api.log"
    log = log_path.open("a")
    proc = subprocess.Popen(
        [TONGBAN, "api", "--host", "127.0.0.1", "--port", str(served.api_port)],
        cwd=ROOT,
        env=clean_env(served.home),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{served.api_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"tongban api exited:\n{log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"tongban api never answered:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture
def served_warehouse(served: Served) -> Iterator[Warehouse]:
    """A reader of what the server reads (the copy, including snapshots the live test adds)."""
    reader = Warehouse(served.paths)
    try:
        yield reader
    finally:
        reader.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"the browser tests need Debian's chromium at {CHROMIUM}: run `make browser` "
            "(`make test` installs it)"
        )
    if not _has_chinese_font():
        pytest.fail(
            "no Chinese font: the pages and their screenshots would show empty boxes; "
            "run `make browser` (`make test` installs one)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


def _has_chinese_font() -> bool:
    try:
        found = subprocess.run(
            ["fc-list", ":lang=zh"], capture_output=True, text=True, check=False
        ).stdout
    except FileNotFoundError:
        return False
    return bool(found.strip())


@dataclass
class Console:
    """What the pages said on the console (errors and warnings) and any uncaught exception."""

    messages: list[str] = field(default_factory=list)

    def on_message(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            where = message.location.get("url", "")
            self.messages.append(f"{message.type}: {message.text} ({where})")

    def on_error(self, error: Exception) -> None:
        self.messages.append(f"uncaught: {error}")

    def assert_clean(self, where: str) -> None:
        found, self.messages = self.messages, []
        assert not found, f"the console on {where} is not clean:\n" + "\n".join(found)


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture(scope="session")
def shared_context(browser: Browser, served: Served) -> Iterator[BrowserContext]:
    """One browser context for the session, in Shanghai time: its HTTP cache keeps Dash's and
    plotly's scripts (megabytes) from being fetched and parsed afresh by every test."""
    made = browser.new_context(
        base_url=served.base,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 1366, "height": 900},
        accept_downloads=True,
    )
    made.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def context(shared_context: BrowserContext, console: Console) -> Iterator[BrowserContext]:
    """The shared context signed out (no cookies, so no session or language), watched for
    console noise; the test's pages are closed afterwards and the test fails on any noise."""
    shared_context.clear_cookies()

    def on_error(error: WebError) -> None:
        console.on_error(error.error)

    shared_context.on("console", console.on_message)
    shared_context.on("weberror", on_error)
    try:
        yield shared_context
        console.assert_clean("the last page")
    finally:
        for opened in shared_context.pages:
            opened.close()
        shared_context.remove_listener("console", console.on_message)
        shared_context.remove_listener("weberror", on_error)


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def screenshot(page: Page, persona: str, name: str) -> Path:
    """Save the whole page as `var/screenshots/<persona>-<name>.png`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{persona}-{name}.png"
    # Responsive graphs and tables keep growing the document after the callbacks return: take
    # the picture once its height has held still with no callback in flight (Dash shows
    # `._dash-loading-callback` meanwhile), or it is cut off mid-page or shows a spinner.
    page.wait_for_function(
        """() => new Promise(done => {
            const height = () => document.documentElement.scrollHeight;
            const busy = () => document.querySelector("._dash-loading-callback") !== null;
            let last = height(), still = 0;
            const tick = setInterval(() => {
                const now = height();
                still = now === last && !busy() ? still + 1 : 0;
                last = now;
                if (still >= 3) { clearInterval(tick); done(true); }
            }, 150);
        })""",
        timeout=PAGE_TIMEOUT_MS,
    )
    page.screenshot(path=str(path), full_page=True)
    return path


# Dash's renderer keeps its callbacks in its store by stage (requested, executing, …); it is idle
# when every stage is empty. The loading marker alone is not enough: right after an in-app
# navigation the new page's callbacks are queued but nothing is marked yet, and the old page's
# content is still on screen.
_DASH_IDLE: Final = """() => {
    const state = window.store && window.store.getState();
    if (!state) return false;
    const stages = Object.assign({}, state.callbacks);
    delete stages.stored;
    delete stages.completed;
    return Object.values(stages).every((queued) => queued.length === 0)
        && !state.isLoading
        && !document.querySelector('[data-dash-is-loading="true"]');
}"""


def wait_idle(page: Page) -> None:
    """Wait until Dash has no callback queued or in flight."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function(_DASH_IDLE, timeout=PAGE_TIMEOUT_MS)


def sign_in(page: Page, user_id: str) -> None:
    """Sign in through the dev persona page, as a person would: open it and click the name."""
    page.goto("/login")
    # A person with two roles is listed under each; either button signs the same person in.
    page.locator(f'button.tb-persona[value="{user_id}"]').first.click()
    page.wait_for_url("**/")
    page.locator(".tb-main > *").first.wait_for()
    wait_idle(page)


def open_section(page: Page, user_id: str, section: str) -> None:
    """Sign in and open a page from the navigation, as a person would."""
    sign_in(page, user_id)
    page.locator(f'#shell-nav a[href="/{section}"]').click()
    page.wait_for_url(f"**/{section}")
    wait_idle(page)


def table_rows(page: Page, container: str) -> list[dict[str, str]]:
    """The rows of the HTML table inside `container`, keyed by the column headings."""
    table = page.locator(f"{container} table")
    table.wait_for()
    headings = table.locator("thead th").all_inner_texts()
    rows = []
    for row in table.locator("tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        rows.append(dict(zip(headings, cells, strict=True)))
    return rows
