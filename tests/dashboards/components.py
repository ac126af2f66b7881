"""Helpers for the page tests: a signed-in request, and looking into the components a page
callback returns."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dash
import flask
from plotly.utils import PlotlyJSONEncoder

from dashboards.session import SESSION_USER, current_scope
from warehouse.scope import Scope

CALLBACK = "/_dash-update-component"


@contextmanager
def signed_in(app: dash.Dash, user: str) -> Iterator[None]:
    """A request of `user`'s server-side session, as the callbacks see it."""
    with app.server.test_request_context("/"):
        flask.session[SESSION_USER] = user
        yield


def find(node: Any, component_id: str) -> Any:
    """The component with `component_id` under `node` (a component or a list), or None."""
    if isinstance(node, list | tuple):
        for child in node:
            found = find(child, component_id)
            if found is not None:
                return found
        return None
    if getattr(node, "id", None) == component_id:
        return node
    children = getattr(node, "children", None)
    return find(children, component_id) if children is not None else None


def text_of(node: Any) -> str:
    """The text a component (or a list of them) shows, children flattened."""
    if node is None:
        return ""
    if isinstance(node, str | int | float):
        return str(node)
    if isinstance(node, list | tuple):
        return "".join(text_of(child) for child in node)
    return text_of(getattr(node, "children", None))


def dumped(node: Any) -> str:
    """A callback's answer as the browser receives it."""
    return json.dumps(node, cls=PlotlyJSONEncoder, ensure_ascii=False)


def department_head(app: dash.Dash, persona_ids: dict[str, list[str]]) -> tuple[str, Scope]:
    """A department approver persona whose scope is its own units only."""
    for user in persona_ids["department_approver"]:
        with signed_in(app, user):
            scope = current_scope()
        if not scope.university and scope.unit_ids:
            return user, scope
    raise AssertionError("the small university has no department-only approver persona")
