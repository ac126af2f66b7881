"""API fixtures: a Flask test client over the shared service (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from workflow_core.api.app import create_app
from workflow_core.service import WorkflowService


@pytest.fixture
def app(service: WorkflowService) -> Flask:
    app = create_app(service, max_body_bytes=64 * 1024)
    app.testing = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
