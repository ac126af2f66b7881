"""The dashboards' Dash app: `create_app(config) -> dash.Dash`, the only place one is made.

`use_pages=True` over `dashboards/pages/`; `suppress_callback_exceptions=True` (pages bring
their components with them); every script and style served by the app itself
(`serve_locally=True`, `dashboards/assets/`), never from a CDN. `app.server` is the Flask app
(a WSGI app for gunicorn) with the session secret set, the authentication of
`dashboards.auth` in front of every request, and the shell's frame (`dashboards.shell.frame`)
as the layout. Nothing is read at import; the warehouse is opened on the first request that
needs it (`dashboards.session.warehouse()`).
"""

from __future__ import annotations

import dash

# plotly imports numpy lazily, from whichever callback first needs it; under the threaded server
# two callbacks can race into that import and one sees a half-initialised module ("partially
# initialized module 'numpy' has no attribute 'ndarray'": a 500 on the first page). Imported
# here, it is complete before any request. pandas is not: no page needs it (the figures are
# built from Polars frames), and it would cost every worker about 40 MB.
import numpy  # noqa: F401
import plotly.express  # noqa: F401

from dashboards import auth, session, shell
from dashboards.config import DashboardConfig, DashboardConfigError

__all__ = ["DashboardConfig", "DashboardConfigError", "create_app"]

# Dash's default page, with the document's language declared (fonts and screen readers pick
# Chinese glyphs and voices from it).
INDEX = """<!DOCTYPE html>
<html lang="zh-CN">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""


def create_app(config: DashboardConfig) -> dash.Dash:
    """A Dash app serving the pages to signed-in users; raises DashboardConfigError first."""
    config.check()
    app = dash.Dash(
        "dashboards",
        use_pages=True,
        pages_folder="pages",
        assets_folder="assets",
        serve_locally=True,
        suppress_callback_exceptions=True,
        title="通办 · 服务大厅数据",
        update_title="",
        index_string=INDEX,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    server = app.server
    server.secret_key = config.secret_key
    server.config.update(
        SESSION_COOKIE_NAME="tongban_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    session.install(server, config)
    auth.install(server)
    app.layout = shell.frame
    shell.register_callbacks(app)
    # Dash moves the callbacks that page modules declare with `dash.callback` (a process-wide
    # list) into an app on its first request. Making that request now binds this app's pages
    # to this app, so another app created in the same process (tests) cannot collect them.
    server.test_client().get("/_dash-dependencies")
    return app
