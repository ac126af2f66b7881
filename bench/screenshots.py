"""Screenshots for the README: the persona login page and each dashboard page, as the persona
it is meant for sees it, taken with headless Debian chromium (Playwright) from a running server.

Run it beside a running dashboard server (demo mode, dev sign-in):

    TONGBAN_AUTH=dev TONGBAN_DEMO=1 .venv/bin/tongban serve --port 8050
    .venv/bin/python bench/screenshots.py \\
        --url http://127.0.0.1:8050 --out docs/screenshots

Writes `login.png` (signed out), `registration.png` (a counsellor), `turnaround.png` and
`process.png` (leadership), `quality.png` (data staff), 1440 px wide; palette PNGs through
`pngquant` when it is on PATH (`apt-get install pngquant`). A page is taken whole when it is at
most `--max-height` px tall, else down to the last section or table row that ends above that, so
that the PNGs stay small enough for a repository. `--campaign` picks the 去向登记 campaign shown
instead of the page's default (the current one), e.g. a finished campaign whose curve is complete;
`--service` the 流程视图 service (e.g. one with 会签, whose critical path has bars). The
personas default to the first counsellor, leader and data staff member of personas.json. Exits
non-zero when a page logs an error or a warning on the console.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tongban.settings import Settings

CHROMIUM: Final = "/usr/bin/chromium"
# Chromium must not reach for Google's services (the network is closed; it would keep trying).
CHROMIUM_ARGS: Final = ["--disable-background-networking", "--no-sandbox", "--disable-gpu"]
WIDTH: Final = 1440
VIEWPORT_HEIGHT: Final = 900
TIMEOUT_MS: Final = 30_000
# Graphs and tables keep growing the document after the callbacks return: the picture is taken
# once its height has held still for a few ticks.
SETTLED_JS: Final = """() => new Promise(done => {
    const height = () => document.documentElement.scrollHeight;
    let last = height(), still = 0;
    const tick = setInterval(() => {
        const now = height();
        still = now === last ? still + 1 : 0;
        last = now;
        if (still >= 4) { clearInterval(tick); done(true); }
    }, 200);
})"""
IDLE_JS: Final = "() => !document.querySelector('[data-dash-is-loading=\"true\"]')"


@dataclass(frozen=True)
class Shot:
    name: str
    path: str
    user_id: str | None  # None: signed out
    choice: tuple[str, str] | None = None  # a dropdown to set first: (component id, value)


def first_of(personas: dict[str, list[dict[str, str]]], role: str) -> str:
    people = personas.get(role) or []
    if not people:
        sys.exit(f"personas.json has no {role}")
    return str(people[0]["user_id"])


def wait_settled(page: Page) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_function(IDLE_JS, timeout=TIMEOUT_MS)
    page.wait_for_function(SETTLED_JS, timeout=TIMEOUT_MS)


def sign_in(page: Page, user_id: str) -> None:
    """Through the persona page, as a person would: the same session cookie as a browser."""
    page.goto("/login")
    page.locator(f'button.tb-persona[value="{user_id}"]').first.click()
    page.wait_for_url("**/")
    wait_settled(page)


def choose(page: Page, component_id: str, value: str) -> None:
    """Set a dropdown's value as picking it would (the renderer then runs the callbacks)."""
    found = page.evaluate(
        """([id, value]) => {
            if (!document.getElementById(id)) return false;
            window.dash_clientside.set_props(id, {value: value});
            return true;
        }""",
        [component_id, value],
    )
    if not found:
        sys.exit(f"the page has no #{component_id}")
    page.wait_for_timeout(300)
    wait_settled(page)


def picture_height(page: Page, limit: int) -> int:
    """The whole page when it fits in `limit` px, else down to the last section or table row
    that does (a picture cut through a row or a chart reads as a broken page)."""
    return int(
        page.evaluate(
            """(limit) => {
                const whole = document.documentElement.scrollHeight;
                if (whole <= limit) return whole;
                const bottoms = [...document.querySelectorAll('section, tr')]
                    .map(s => Math.ceil(s.getBoundingClientRect().bottom + window.scrollY) + 16)
                    .filter(b => b <= limit);
                return bottoms.length ? Math.max(...bottoms) : limit;
            }""",
            limit,
        )
    )


def shrink(path: Path) -> None:
    """Requantise to a 256-colour palette with pngquant when it is installed: the Sankey's
    translucent curves make a true-colour PNG several times larger than the page deserves."""
    pngquant = shutil.which("pngquant")
    if pngquant is None:
        return
    subprocess.run(
        [
            pngquant,
            "--force",
            "--skip-if-larger",
            "--quality",
            "70-95",
            "--output",
            str(path),
            str(path),
        ],
        check=False,
    )


def take(browser: Browser, url: str, shot: Shot, out: Path, args: argparse.Namespace) -> list[str]:
    """Save one page; return what its console said (errors and warnings)."""
    context = browser.new_context(
        base_url=url,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": WIDTH, "height": VIEWPORT_HEIGHT},
        device_scale_factor=1,
    )
    context.set_default_timeout(TIMEOUT_MS)
    noise: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            noise.append(f"{message.type}: {message.text}")

    context.on("console", on_console)
    page = context.new_page()
    page.on("pageerror", lambda error: noise.append(f"uncaught: {error}"))
    try:
        if shot.user_id is not None:
            sign_in(page, shot.user_id)
        page.goto(shot.path)
        wait_settled(page)
        if shot.choice is not None:
            choose(page, *shot.choice)
        height = int(page.evaluate("document.documentElement.scrollHeight"))
        kept = picture_height(page, args.max_height)
        target = out / f"{shot.name}.png"
        page.screenshot(
            path=str(target),
            full_page=True,
            clip={"x": 0, "y": 0, "width": WIDTH, "height": kept},
        )
        shrink(target)
        size = target.stat().st_size
        cut = f", top {kept} of {height} px" if kept < height else ""
        print(f"{target}: {size / 1024:.0f} KB{cut}", flush=True)
    finally:
        context.close()
    return noise


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8050")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--counsellor", help="user id for 去向登记 (default: the first one)")
    parser.add_argument("--leader", help="user id for 办理效能 and 流程视图 (default: the first)")
    parser.add_argument("--data-staff", help="user id for 数据质量 (default: the first)")
    parser.add_argument("--campaign", help="campaign id for 去向登记 (default: the page's own)")
    parser.add_argument("--service", help="process key for 流程视图 (default: the page's own)")
    parser.add_argument("--max-height", type=int, default=4200)
    args = parser.parse_args()
    url = args.url.rstrip("/")
    settings = Settings.from_env()
    personas = json.loads(settings.personas_path.read_text(encoding="utf-8"))["personas"]
    counsellor = args.counsellor or first_of(personas, "counsellor")
    leader = args.leader or first_of(personas, "leadership")
    data_staff = args.data_staff or first_of(personas, "data_staff")
    shots = (
        Shot("login", "/login", None),
        Shot(
            "registration",
            "/registration",
            counsellor,
            ("registration-campaign", args.campaign) if args.campaign else None,
        ),
        Shot("turnaround", "/turnaround", leader),
        Shot(
            "process",
            "/process",
            leader,
            ("process-service", args.service) if args.service else None,
        ),
        Shot("quality", "/quality", data_staff),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    noisy = False
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            for shot in shots:
                for line in take(browser, url, shot, args.out, args):
                    noisy = True
                    print(f"  console on {shot.path}: {line}", file=sys.stderr)
        finally:
            browser.close()
    if noisy:
        sys.exit("some pages were not clean on the console (see above)")


if __name__ == "__main__":
    main()
