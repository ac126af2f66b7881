"""Serve the workflow HTTP API with gunicorn (threaded workers), never Flask's dev server."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from tongban.settings import Settings
from tongban.wiring import build_service
from workflow_core.api.app import create_app


class ApiServer(BaseApplication):  # type: ignore[misc]
    """gunicorn with its configuration given in code; each worker builds its own service."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_app(build_service(self.settings))


def serve_api(settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    # Fail here, with one line, before gunicorn forks workers that would each fail alike.
    build_service(settings).engine.dispose()
    ApiServer(
        settings,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": "info",
            "timeout": 60,
            "graceful_timeout": 10,
            "preload_app": False,
            "proc_name": "tongban-api",
        },
    ).run()
