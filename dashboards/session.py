"""Who is asking, and what they may see: the only source of a callback's user and scope.

The browser never sends a scope or a user id. Callbacks and layouts call:

- `current_user() -> str`: the user id in the server-side session (signed cookie), set by the
  login (dev mode) or by the SSO header on every request (header mode). Raises
  `NotSignedInError` (HTTP 401) when nobody is signed in.
- `current_scope() -> Scope`: `warehouse.scope.resolve_scope` for that user on today's campus
  day (Asia/Shanghai), cached per (user, snapshot number, day), so a new snapshot or a new day
  re-resolves it. Pass it to every `warehouse.read_api` call.
- `warehouse() -> Warehouse`: the app's one reader of the published snapshots (created on first
  use, shared by the worker's threads); `with warehouse().cursor() as cursor: …`.
- `quality_report() -> Warehouse`: the same for the data-quality report, published as snapshots
  of its own beside the warehouse (`WarehousePaths.quality`); `with quality_cursor() as cursor`
  gives a cursor on it, or None while no report is published.
- `current_language() -> "zh" | "en"`: the language the user picked (Chinese by default).
- `config() -> DashboardConfig`: the app's configuration (e.g. `api_url` for 催办).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Final

import duckdb
import flask
from werkzeug.exceptions import Unauthorized

from dashboards.config import DashboardConfig
from dashboards.i18n import Language, language
from warehouse.reader import NoSnapshotError, Warehouse
from warehouse.scope import Scope, resolve_scope

SESSION_USER: Final = "user_id"
SESSION_LANGUAGE: Final = "lang"
_EXTENSION: Final = "tongban_dashboards"


class NotSignedInError(Unauthorized):
    """A layout or callback ran without a signed-in user (HTTP 401, never data)."""

    description = "Sign in first: this request carries no signed-in user."


@dataclass(frozen=True)
class Persona:
    """A person of the generated university offered by the demo's login (personas.json)."""

    user_id: str
    name: str
    role: str
    description: str


@dataclass
class AppState:
    """Per app: its configuration, its lazily opened readers (the warehouse and the quality
    report) and the scope cache."""

    config: DashboardConfig
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _warehouse: Warehouse | None = None
    _quality: Warehouse | None = None
    # Scopes of one (snapshot, day) at a time: a new snapshot drops every older scope at once.
    _scopes_key: tuple[int, date] | None = None
    _scopes: dict[str, Scope] = field(default_factory=dict)

    def warehouse(self) -> Warehouse:
        with self._lock:
            if self._warehouse is None:
                self._warehouse = Warehouse(self.config.warehouse)
            return self._warehouse

    def quality_report(self) -> Warehouse:
        with self._lock:
            if self._quality is None:
                self._quality = Warehouse(self.config.warehouse.quality)
            return self._quality

    def scope(self, user_id: str) -> Scope:
        reader = self.warehouse()
        day = self.config.campus_day()
        key = (reader.snapshot().number, day)
        with self._lock:
            if self._scopes_key == key and user_id in self._scopes:
                return self._scopes[user_id]
        with reader.cursor() as cursor:
            scope = resolve_scope(cursor, user_id, day)
        with self._lock:
            if self._scopes_key != key:
                self._scopes_key, self._scopes = key, {}
            self._scopes[user_id] = scope
        return scope

    def personas(self) -> list[Persona]:
        """The demo personas, in the file's role order; none when the file is missing."""
        path = self.config.personas_path
        if path is None or not path.exists():
            return []
        document = json.loads(path.read_text(encoding="utf-8"))
        return [
            Persona(
                user_id=str(person["user_id"]),
                name=str(person["name"]),
                role=str(person.get("role", role)),
                description=str(person.get("description", "")),
            )
            for role, people in document.get("personas", {}).items()
            for person in people
        ]

    def close(self) -> None:
        with self._lock:
            for reader in (self._warehouse, self._quality):
                if reader is not None:
                    reader.close()
            self._warehouse = self._quality = None


def install(server: flask.Flask, config: DashboardConfig) -> AppState:
    state = AppState(config)
    server.extensions[_EXTENSION] = state
    return state


def app_state(server: flask.Flask | None = None) -> AppState:
    app = server if server is not None else flask.current_app
    state: AppState = app.extensions[_EXTENSION]
    return state


def config() -> DashboardConfig:
    return app_state().config


def signed_in_user() -> str | None:
    """The session's user id, or None (for layouts that show a sign-in page instead)."""
    user = flask.session.get(SESSION_USER)
    return user if isinstance(user, str) and user else None


def current_user() -> str:
    user = signed_in_user()
    if user is None:
        raise NotSignedInError()
    return user


def current_scope() -> Scope:
    return app_state().scope(current_user())


def warehouse() -> Warehouse:
    return app_state().warehouse()


def quality_report() -> Warehouse:
    return app_state().quality_report()


@contextmanager
def quality_cursor() -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A cursor on the published quality report, or None while none is published."""
    with ExitStack() as stack:
        try:
            cursor: duckdb.DuckDBPyConnection | None = stack.enter_context(
                quality_report().cursor()
            )
        except NoSnapshotError:
            cursor = None
        yield cursor


def current_language() -> Language:
    chosen = flask.session.get(SESSION_LANGUAGE)
    return language(chosen) if chosen else app_state().config.default_language
