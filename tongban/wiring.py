"""Assemble the workflow service from settings: engines, catalog, directory."""

from __future__ import annotations

from tongban.settings import Settings
from workflow_core.catalog.loader import Catalog, default_catalog, load_catalog
from workflow_core.directory.sql_directory import SqlDirectory
from workflow_core.errors import DatabaseUnavailableError
from workflow_core.service import WorkflowService
from workflow_core.store.db import make_engine
from workflow_core.store.migrate import is_current


def catalog_for(settings: Settings) -> Catalog:
    return load_catalog(settings.catalog_dir) if settings.catalog_dir else default_catalog()


def build_service(settings: Settings) -> WorkflowService:
    """The service over the configured databases; refuses an uninitialised event store."""
    engine = make_engine(settings.db_url)
    if not is_current(engine):
        raise DatabaseUnavailableError(
            "the event store is not initialised or not migrated: run `tongban init` first"
        )
    business = make_engine(settings.business_db_url, write_lock_at_begin=False)
    return WorkflowService(engine, catalog_for(settings), SqlDirectory(business))
