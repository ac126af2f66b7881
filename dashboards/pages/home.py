"""首页 (home): whom the figures are for, and a way into each page the user's roles open."""

from __future__ import annotations

import dash
from dash import dcc, html

from dashboards.formatting import count
from dashboards.i18n import t
from dashboards.session import current_language, current_scope, warehouse
from dashboards.shell import allowed_sections, no_access_content
from warehouse.read_api.status import reader_name
from warehouse.scope import Scope

dash.register_page(__name__, path="/", title="通办 · 服务大厅数据", name="home")


def _scope_summary(scope: Scope, lang: str) -> list[str]:
    parts = []
    if scope.university:
        parts.append(t("home.scope.university", lang))
    if scope.class_ids and not scope.university:
        parts.append(t("home.scope.classes", lang, count=count(len(scope.class_ids))))
    if scope.unit_ids and not scope.university:
        parts.append(t("home.scope.units", lang, count=count(len(scope.unit_ids))))
    return parts


def layout(**_: object) -> html.Div:
    lang = current_language()
    scope = current_scope()
    if scope.is_empty:
        return no_access_content(lang, scope.user_id)
    with warehouse().cursor() as cursor:
        name = reader_name(cursor, scope) or scope.user_id
    sections = allowed_sections(scope)
    cards = [
        dcc.Link(
            [
                html.H2(t(f"nav.{section.key}", lang)),
                html.P(t(f"home.describe.{section.key}", lang)),
            ],
            href=section.path,
            className="tb-card",
        )
        for section in sections
    ]
    return html.Div(
        [
            html.H1(t("home.title", lang, name=name)),
            html.P(" · ".join(_scope_summary(scope, lang)), className="tb-note"),
            html.P(t("home.pick", lang) if cards else t("home.none_yet", lang)),
            html.Div(cards, className="tb-cards"),
        ],
        className="tb-home",
    )
