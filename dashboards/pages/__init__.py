"""The dashboards' pages: one module per page, found by Dash (`use_pages=True`).

Each module calls `dash.register_page(__name__, path=..., title=...)`, defines
`layout(**kwargs)` and its `@dash.callback`s with page-prefixed ids; it never imports
`dashboards.app`. Layouts and callbacks take the user and scope from `dashboards.session`, start
with `dashboards.shell.guard("<section>")`, and redraw on `Input(shell.SNAPSHOT_STORE, "data")`
(a page that reads the quality report on `Input(shell.QUALITY_STORE, "data")` as well).
Dash executes these modules afresh for every app it creates, so they hold no state.
"""
