"""`tongban serve`: the dashboards, served by gunicorn (threaded workers), never Dash's dev
server. Registered on the `tongban` command group at the end of `tongban/cli.py`.

Configuration comes from `tongban.settings` (TONGBAN_AUTH, TONGBAN_DEMO, TONGBAN_SECRET_KEY,
TONGBAN_DASHBOARD_HOST/PORT, TONGBAN_API_URL, TONGBAN_DAGSTER_URL). Without TONGBAN_SECRET_KEY
the session key is kept in `$TONGBAN_HOME/dashboard-secret-key`, created once, so every worker
and every restart accept the same sessions.
"""

from __future__ import annotations

import gc
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask
from gunicorn.app.base import BaseApplication

from dashboards.config import DashboardConfig, DashboardConfigError
from tongban.settings import Settings
from warehouse.paths import WarehousePaths


def secret_key(settings: Settings) -> str:
    """TONGBAN_SECRET_KEY, else the key kept in the home directory (created on first use)."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.secret_key_path
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process made it first: use theirs.
        return _read_key(path)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secrets.token_hex(32) + "\n")
    return _read_key(path)


def _read_key(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


def dashboard_config(settings: Settings) -> DashboardConfig:
    """The DashboardConfig these settings describe, checked (DashboardConfigError if unusable)."""
    config = DashboardConfig(
        warehouse=WarehousePaths(settings.warehouse_dir),
        secret_key=secret_key(settings),
        auth=settings.auth,  # type: ignore[arg-type]
        demo=settings.demo,
        personas_path=settings.personas_path,
        api_url=settings.api_url,
        dagster_url=settings.dagster_url,
    )
    config.check()
    return config


class DashboardServer(BaseApplication):  # type: ignore[misc]
    """gunicorn with its configuration given in code; each worker builds its own app."""

    def __init__(self, config: DashboardConfig, options: dict[str, Any]) -> None:
        self.config = config
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        from dashboards.app import create_app

        server: Flask = create_app(self.config).server
        # Everything imported so far lives as long as the worker: out of the collector's sight,
        # a full collection in the middle of a callback no longer walks Dash's and Plotly's
        # objects (the slowest 5 % of callbacks were such pauses).
        gc.collect()
        gc.freeze()
        return server


@click.command()
@click.option("--host", default=None, help="Default: TONGBAN_DASHBOARD_HOST or 127.0.0.1.")
@click.option("--port", default=None, type=int, help="Default: TONGBAN_DASHBOARD_PORT or 8050.")
# One process by default: a worker holds 300-450 MB once every page has been used (Dash,
# Plotly, Polars, Arrow and DuckDB with its caches), and a page's time goes mostly to DuckDB,
# which releases the GIL, so threads serve concurrent people. Add workers for more cores.
@click.option("--workers", default=1, show_default=True, type=int, help="gunicorn processes")
@click.option("--threads", default=16, show_default=True, type=int, help="threads per process")
def serve(host: str | None, port: int | None, workers: int, threads: int) -> None:
    """Serve the dashboards (gunicorn, threaded workers)."""
    settings = Settings.from_env()
    # Fail here, with one line, before gunicorn forks workers that would each fail alike.
    try:
        config = dashboard_config(settings)
    except (DashboardConfigError, OSError) as exc:
        click.echo(f"tongban: {exc}", err=True)
        sys.exit(1)
    bind_host = host or settings.dashboard_host
    bind_port = settings.dashboard_port if port is None else port
    DashboardServer(
        config,
        {
            "bind": f"{bind_host}:{bind_port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": "info",
            "timeout": 60,
            "graceful_timeout": 10,
            "preload_app": False,
            "proc_name": "tongban-dashboards",
        },
    ).run()
