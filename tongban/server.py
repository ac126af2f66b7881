"""Serve the workflow HTTP API with gunicorn (threaded workers), never Flask's dev server."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from flask import Flask
from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from tongban.settings import Settings
from tongban.wiring import build_service
from workflow_core.api.app import create_app


class AccessLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger with an access line written straight to its stream, one per request:

        127.0.0.1 T0001 [29/Nov/2026:14:50:01 +0000] "POST /api/v1/tasks/…/approve HTTP/1.1"
        200 1234 2.3ms "portal/2.1"

    (one line): the client, the caller (`X-Remote-User`, which the single sign-on proxy sets;
    gunicorn's own `%(u)s` knows only HTTP basic auth), the time, the request, the status, the
    bytes sent, the time taken and the user agent (which front end called). gunicorn's own
    `access` builds a dictionary of every request and response header and environ variable and
    a log record per request: 50 µs a line, a fiftieth of a command's CPU. With a log
    configuration of gunicorn's own (`--log-config` and friends) its own line is kept.
    """

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self._second = -1
        self._stamp = ""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        streams = self._access_streams()
        if streams is None:
            super().access(resp, req, environ, request_time)
            return
        if not streams:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        sent = resp.sent if getattr(resp, "sent", None) is not None else "-"
        line = (
            f"{environ.get('REMOTE_ADDR', '-')} {environ.get('HTTP_X_REMOTE_USER') or '-'} "
            f'{self._now()} "{environ["REQUEST_METHOD"]} {environ["RAW_URI"]} '
            f'{environ["SERVER_PROTOCOL"]}" {status} {sent} '
            f"{request_time.total_seconds() * 1000:.1f}ms "
            f'"{environ.get("HTTP_USER_AGENT", "-")}"\n'
        )
        for handler in streams:
            handler.acquire()
            try:
                handler.stream.write(line)
                handler.flush()
            except Exception:
                self.error("access log: cannot write a line", exc_info=True)
            finally:
                handler.release()

    def _access_streams(self) -> list[logging.StreamHandler[Any]] | None:
        """The access log's stream handlers ([] when there is no access log); None when it is
        configured otherwise (syslog, a log configuration): gunicorn's line then."""
        cfg = self.cfg
        if cfg.logconfig or cfg.logconfig_dict or cfg.logconfig_json or cfg.syslog:
            return None
        if not cfg.accesslog:
            return []
        handlers = self.access_log.handlers
        if not all(type(h) in (logging.StreamHandler, logging.FileHandler) for h in handlers):
            return None
        return list(handlers)

    def _now(self) -> str:
        """The Common Log Format time, formatted once a second."""
        second = int(time.time())
        if second != self._second:
            self._stamp = time.strftime("[%d/%b/%Y:%H:%M:%S %z]", time.localtime(second))
            self._second = second
        return self._stamp


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
            "logger_class": AccessLogger,
            "loglevel": "info",
            "timeout": 60,
            "graceful_timeout": 10,
            "preload_app": False,
            "proc_name": "tongban-api",
        },
    ).run()
