"""Authentication: who the session belongs to, decided before any layout or callback runs.

Two modes (DESIGN.md "Permissions"):

- `header`: the university's SSO proxy authenticates and sets `X-Remote-User`; every request
  puts that user in the session, and a request without it is nobody's (401). Only a proxy may
  reach the server: `tongban serve` binds to 127.0.0.1 by default.
- `dev`: the login page lists the personas of the generated university (personas.json); a
  POST to `/auth/login` with one of their ids signs in. Demo mode only: `create_app` refuses
  dev mode without demo, and the login route refuses it again.

Nobody reaches a callback (`/_dash-update-component`) unsigned (401) or without a role that
reads the warehouse (403), so no figure is ever computed for them. `/auth/logout` clears the
session; `/auth/language/<zh|en>` stores the UI language in it.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

import flask
from dash import html
from dash.development.base_component import Component
from markupsafe import escape
from werkzeug.wrappers import Response

from dashboards.i18n import LANGUAGES, t
from dashboards.session import (
    SESSION_LANGUAGE,
    SESSION_USER,
    AppState,
    app_state,
    current_language,
    signed_in_user,
)
from warehouse.reader import NoSnapshotError

REMOTE_USER_HEADER: Final = "X-Remote-User"
LOGIN_PATH: Final = "/login"
CALLBACK_PATH: Final = "/_dash-update-component"
# What a browser needs before signing in: the page shell, its scripts and styles, the login
# routes. `/_dash-layout` is safe: the frame renders the login page for nobody's session.
_PUBLIC_PATHS: Final = frozenset(
    {LOGIN_PATH, "/_dash-layout", "/_dash-dependencies", "/_favicon.ico", "/_reload-hash"}
)
_PUBLIC_PREFIXES: Final = ("/assets/", "/_dash-component-suites/", "/auth/")
# Ids of the hall's directory: letters, digits and a few separators, nothing a header could
# smuggle markup or a second value in.
_USER_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


def install(server: flask.Flask) -> None:
    """Guard every request of `server` and add the login, logout and language routes."""
    server.before_request(_authenticate)
    server.add_url_rule("/auth/login", "tongban_login", _login, methods=["POST"])
    server.add_url_rule("/auth/logout", "tongban_logout", _logout, methods=["GET", "POST"])
    server.add_url_rule("/auth/language/<lang>", "tongban_language", _language)


def _authenticate() -> Response | None:
    state = app_state()
    if state.config.auth == "header":
        remote = flask.request.headers.get(REMOTE_USER_HEADER, "").strip()
        if _USER_ID.fullmatch(remote):
            if flask.session.get(SESSION_USER) != remote:
                flask.session.clear()
                flask.session[SESSION_USER] = remote
        else:
            # The proxy sets the header on every request; a request without it did not pass
            # the proxy, so an earlier session must not carry it.
            flask.session.pop(SESSION_USER, None)
    path = flask.request.path
    user = signed_in_user()
    if user is None:
        if path in _PUBLIC_PATHS or path.startswith(_PUBLIC_PREFIXES):
            return None
        return _refuse_anonymous(state, path)
    if path == CALLBACK_PATH:
        return _refuse_without_role(state, user)
    return None


def _refuse_anonymous(state: AppState, path: str) -> Response:
    lang = current_language()
    if path == CALLBACK_PATH or flask.request.method != "GET":
        return _json_error(401, t("error.not_signed_in", lang))
    if state.config.auth == "dev":
        return flask.redirect(LOGIN_PATH)
    return _html_page(401, t("login.title", lang), t("login.sso", lang))


def _refuse_without_role(state: AppState, user: str) -> Response | None:
    try:
        scope = state.scope(user)
    except NoSnapshotError:
        return _json_error(503, t("status.no_snapshot", current_language()))
    if scope.is_empty:
        return _json_error(403, t("no_access.page", current_language()))
    return None


def _login() -> Response:
    state = app_state()
    lang = current_language()
    if state.config.auth != "dev" or not state.config.demo:
        return _html_page(403, t("login.title", lang), t("login.dev_refused", lang))
    wanted = flask.request.form.get("user_id", "")
    if wanted not in {persona.user_id for persona in state.personas()}:
        return _html_page(403, t("login.title", lang), t("login.unknown_persona", lang))
    flask.session.clear()
    flask.session[SESSION_USER] = wanted
    flask.session[SESSION_LANGUAGE] = lang
    return flask.redirect("/")


def _logout() -> Response:
    state = app_state()
    lang = current_language()
    flask.session.clear()
    if state.config.auth == "dev":
        return flask.redirect(LOGIN_PATH)
    return _html_page(200, t("nav.logout", lang), t("login.sso_signed_out", lang))


def _language(lang: str) -> Response:
    if lang in LANGUAGES:
        flask.session[SESSION_LANGUAGE] = lang
    return flask.redirect(_back(flask.request.args.get("next") or flask.request.referrer))


def _back(target: str | None) -> str:
    """A path on this site to return to; anything else (another host, `//x`) goes home."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.netloc and parts.netloc != flask.request.host:
        return "/"
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path + (f"?{parts.query}" if parts.query else "")


def _json_error(status: int, message: str) -> Response:
    return flask.make_response(flask.jsonify({"error": message}), status)


def _html_page(status: int, title: str, message: str) -> Response:
    lang = current_language()
    body = (
        f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
        f'<meta charset="utf-8"><title>{escape(title)} · 通办</title>'
        '<link rel="stylesheet" href="/assets/tongban.css"></head>'
        f'<body><main class="tb-main tb-message"><h1>{escape(title)}</h1>'
        f"<p>{escape(message)}</p></main></body></html>"
    )
    return flask.make_response(body, status, {"Content-Type": "text/html; charset=utf-8"})


def login_content(lang: str) -> html.Div:
    """The sign-in page: the personas to pick from (dev) or where to sign in (header)."""
    state = app_state()
    user = signed_in_user()
    children: list[Component] = [html.H1(t("login.title", lang))]
    if user is not None:
        children.append(html.P(t("login.signed_in_as", lang, name=user), className="tb-note"))
    if state.config.auth != "dev":
        children.append(html.P(t("login.sso", lang)))
        return html.Div(children, className="tb-login")
    personas = state.personas()
    if not personas:
        children.append(html.P(t("login.no_personas", lang), className="tb-warning"))
        return html.Div(children, className="tb-login")
    children.append(html.P(t("login.pick_persona", lang)))
    by_role: dict[str, list[Component]] = {}
    for persona in personas:
        by_role.setdefault(persona.role, []).append(
            html.Li(
                html.Button(
                    [
                        html.Span(persona.name, className="tb-persona-name"),
                        html.Span(persona.description, className="tb-persona-description"),
                    ],
                    type="submit",
                    name="user_id",
                    value=persona.user_id,
                    className="tb-persona",
                    title=persona.user_id,
                )
            )
        )
    sections = [
        html.Section(
            [html.H2(_role_label(role, lang)), html.Ul(items, className="tb-personas")],
            className="tb-role",
        )
        for role, items in by_role.items()
    ]
    children.append(html.Form(sections, action="/auth/login", method="POST"))
    return html.Div(children, className="tb-login")


def _role_label(role: str, lang: str) -> str:
    try:
        return t(f"login.role.{role}", lang)
    except KeyError:
        return role
