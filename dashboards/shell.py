"""The frame around every page: navigation, the signed-in user, the language switch and the
status line ("数据截至 T", how many data-quality checks fail and whether a blocking one has
paused publication), and the live refresh.

Component ids pages may use (ids are global in Dash):

- `SNAPSHOT_STORE` = "shell-snapshot": `dcc.Store` holding the published snapshot's number. It
  changes only when a new snapshot lands; `Input(SNAPSHOT_STORE, "data")` in a page callback
  redraws that page then, and only then.
- `QUALITY_STORE` = "shell-quality": `dcc.Store` holding the published quality report's number
  (None while none is published). The report is published on its own (a blocked build publishes
  no warehouse snapshot, yet a report), so it changes without `SNAPSHOT_STORE`; the data-quality
  page redraws on it, the status line follows both.
- `LANGUAGE_STORE` = "shell-language": `dcc.Store` with "zh" or "en" (read-only for pages; in
  callbacks `dashboards.session.current_language()` says the same).
- `POLL` = "shell-poll": the `dcc.Interval` (every `POLL_MS`) that checks for a new snapshot
  or report.
- `STATUS` = "shell-status", `NAV` = "shell-nav": the status line and the navigation.

Which pages a user sees is data: `SECTIONS` lists each page's path, label and the scopes it
serves; the navigation and the home page show the sections whose page is registered and whose
rule admits the user's scope. A page's layout starts with `denied = guard("<key>")` and returns
`denied` when it is not None, so a typed-in URL is refused the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import dash
from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboards import auth
from dashboards.formatting import shanghai
from dashboards.i18n import LANGUAGE_NAMES, LANGUAGES, t
from dashboards.session import (
    current_language,
    current_scope,
    quality_cursor,
    signed_in_user,
    warehouse,
)
from warehouse.read_api.status import DataStatus, data_status, reader_name
from warehouse.reader import NoSnapshotError
from warehouse.scope import Scope

SNAPSHOT_STORE: Final = "shell-snapshot"
QUALITY_STORE: Final = "shell-quality"
LANGUAGE_STORE: Final = "shell-language"
POLL: Final = "shell-poll"
STATUS: Final = "shell-status"
NAV: Final = "shell-nav"
POLL_MS: Final = 5_000


def _registration(scope: Scope) -> bool:
    return scope.university or bool(scope.class_ids)


def _departments(scope: Scope) -> bool:
    return scope.university or bool(scope.unit_ids)


def _data_staff(scope: Scope) -> bool:
    return "data_staff" in scope.roles


@dataclass(frozen=True)
class Section:
    """One page in the navigation: its key (i18n `nav.<key>`), its path and who it serves."""

    key: str
    path: str
    admits: Callable[[Scope], bool]


SECTIONS: Final[tuple[Section, ...]] = (
    Section("registration", "/registration", _registration),  # 去向登记
    Section("turnaround", "/turnaround", _departments),  # 办理效能
    Section("process", "/process", _departments),  # 流程视图
    Section("quality", "/quality", _data_staff),  # 数据质量
)


def _registered_paths() -> set[str]:
    return {str(page.get("path")) for page in dash.page_registry.values()}


def allowed_sections(scope: Scope) -> list[Section]:
    """The sections this scope may open, among the pages the app has."""
    registered = _registered_paths()
    return [s for s in SECTIONS if s.path in registered and s.admits(scope)]


def section_allowed(key: str, scope: Scope) -> bool:
    return any(s.key == key and s.admits(scope) for s in SECTIONS)


def guard(key: str) -> html.Div | None:
    """None when the signed-in user may open section `key`; else the page to show instead."""
    scope = current_scope()
    if section_allowed(key, scope):
        return None
    return no_access_content(current_language(), scope.user_id, page=True)


def no_access_content(lang: str, user: str, *, page: bool = False) -> html.Div:
    """Why there is nothing to see: no role at all, or (`page`) no role for this page."""
    return html.Div(
        [
            html.H1(t("no_access.title", lang)),
            html.P(t("no_access.page", lang) if page else t("no_access.body", lang, user=user)),
            dcc.Link(t("nav.home", lang), href="/") if page else None,
        ],
        className="tb-no-access",
    )


def status_line(status: DataStatus, lang: str, *, link: bool = False) -> list[Any]:
    """ "数据截至 T · N 项数据质量检查未通过 · 发布已暂停：M 项阻断检查未通过" (or that none
    have run yet). With `link` (data staff), the checks link to the data-quality page."""
    if not status.checks_run:
        quality, tone = t("status.not_checked", lang), "tb-quality-unknown"
    elif status.failing_checks:
        quality = t("status.failing", lang, count=status.failing_checks)
        tone = "tb-quality-failing"
    else:
        quality, tone = t("status.all_passing", lang), "tb-quality-passing"
    parts: list[Any] = [
        html.Span(
            t("status.as_of", lang, moment=shanghai(status.as_of, lang)), className="tb-as-of"
        ),
        (
            dcc.Link(quality, href="/quality", className=f"tb-quality {tone}")
            if link
            else html.Span(quality, className=f"tb-quality {tone}")
        ),
    ]
    if status.publication_blocked:
        parts.append(
            html.Span(
                t("status.blocked", lang, count=status.blocking_failures),
                className="tb-quality tb-quality-blocked",
                role="alert",
            )
        )
    parts.append(
        html.Span(
            t("status.snapshot", lang, number=status.snapshot_number), className="tb-snapshot"
        )
    )
    return parts


def read_status(scope: Scope) -> DataStatus:
    """The status of the snapshot and of the quality report the app reads now."""
    with warehouse().cursor() as cursor, quality_cursor() as quality:
        return data_status(cursor, scope, quality)


def _language_links(lang: str) -> html.Div:
    return html.Div(
        [
            html.A(
                LANGUAGE_NAMES[code],
                href=f"/auth/language/{code}",
                className="tb-language tb-current" if code == lang else "tb-language",
                lang="zh-CN" if code == "zh" else "en",
            )
            for code in LANGUAGES
        ],
        className="tb-languages",
        title=t("nav.language", lang),
    )


def _header(lang: str, nav: list[Any], user_label: str | None) -> html.Header:
    account = (
        [
            html.Span(user_label, className="tb-user"),
            html.A(t("nav.logout", lang), href="/auth/logout", className="tb-logout"),
        ]
        if user_label is not None
        else []
    )
    return html.Header(
        [
            dcc.Link("通办", href="/", className="tb-brand", title=t("app.title", lang)),
            html.Nav(nav, id=NAV, className="tb-nav"),
            html.Div([*account, _language_links(lang)], className="tb-account"),
        ],
        className="tb-header",
    )


def frame() -> html.Div:
    """The app's layout, per request: the sign-in page for nobody, "no access" for a user
    without a role, else the navigation, the status line and the routed page."""
    lang = current_language()
    user = signed_in_user()
    if user is None:
        return html.Div(
            [_header(lang, [], None), html.Main(auth.login_content(lang), className="tb-main")],
            className="tb-app",
        )
    try:
        scope = current_scope()
        with warehouse().cursor() as cursor:
            name = reader_name(cursor, scope) if not scope.is_empty else None
        status = read_status(scope) if not scope.is_empty else None
    except NoSnapshotError:
        return html.Div(
            [
                _header(lang, [], user),
                html.Main(html.P(t("status.no_snapshot", lang)), className="tb-main"),
            ],
            className="tb-app",
        )
    label = f"{name}（{user}）" if name else user
    if status is None:
        return html.Div(
            [
                _header(lang, [], label),
                html.Main(no_access_content(lang, user), className="tb-main"),
            ],
            className="tb-app",
        )
    nav = [
        dcc.Link(t(f"nav.{section.key}", lang), href=section.path, className="tb-nav-link")
        for section in allowed_sections(scope)
    ]
    return html.Div(
        [
            _header(lang, nav, label),
            html.Div(
                status_line(status, lang, link=section_allowed("quality", scope)),
                id=STATUS,
                className="tb-status",
            ),
            html.Main(dash.page_container, className="tb-main"),
            dcc.Interval(id=POLL, interval=POLL_MS),
            dcc.Store(id=SNAPSHOT_STORE, data=status.snapshot_number),
            dcc.Store(id=QUALITY_STORE, data=status.quality_report),
            dcc.Store(id=LANGUAGE_STORE, data=lang),
        ],
        className="tb-app",
        lang="zh-CN" if lang == "zh" else "en",
    )


def poll(_: int | None, known: int | None, known_report: int | None) -> tuple[Any, Any, list[Any]]:
    """A new snapshot's number, a new quality report's number and the status line; a store
    that did not change is left alone (its pages are not redrawn), and nothing at all while
    neither changed."""
    scope = current_scope()
    status = read_status(scope)
    snapshot_changed = status.snapshot_number != known
    report_changed = status.quality_report != known_report
    if not snapshot_changed and not report_changed:
        raise PreventUpdate
    return (
        status.snapshot_number if snapshot_changed else dash.no_update,
        status.quality_report if report_changed else dash.no_update,
        status_line(status, current_language(), link=section_allowed("quality", scope)),
    )


def register_callbacks(app: dash.Dash) -> None:
    """The shell's own callbacks, on `app` itself (a module imported once cannot re-declare
    global callbacks for a second app in the same process)."""
    app.callback(
        Output(SNAPSHOT_STORE, "data"),
        Output(QUALITY_STORE, "data"),
        Output(STATUS, "children"),
        Input(POLL, "n_intervals"),
        State(SNAPSHOT_STORE, "data"),
        State(QUALITY_STORE, "data"),
        prevent_initial_call=True,
    )(poll)
