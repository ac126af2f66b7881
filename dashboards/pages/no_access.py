"""无访问权限 (no access): a user without any warehouse role, or sent here from a page their
roles do not include."""

from __future__ import annotations

import dash
from dash import html

from dashboards.session import current_language, current_scope
from dashboards.shell import no_access_content

dash.register_page(__name__, path="/no-access", title="无访问权限 · 通办", name="no access")


def layout(**_: object) -> html.Div:
    scope = current_scope()
    return no_access_content(current_language(), scope.user_id, page=not scope.is_empty)
