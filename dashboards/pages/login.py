"""登录 (sign in): the demo's personas to pick from, or where the SSO sign-in happens."""

from __future__ import annotations

import dash
from dash import html

from dashboards.auth import LOGIN_PATH, login_content
from dashboards.session import current_language

dash.register_page(__name__, path=LOGIN_PATH, title="登录 · 通办", name="login")


def layout(**_: object) -> html.Div:
    return login_content(current_language())
