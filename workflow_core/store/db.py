"""Database engines for the event store and the business systems (SQLite or PostgreSQL).

SQLite runs in WAL mode and takes its write lock at BEGIN (`BEGIN IMMEDIATE`), so a command's
read-decide-append cycle is serialised instead of failing on a lock upgrade halfway through.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from workflow_core.errors import DatabaseUnavailableError

SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(
    url: str, *, pool_size: int = 10, check: bool = True, write_lock_at_begin: bool = True
) -> Engine:
    """An engine for `url`; with `check`, connect once and fail with one clear line if unusable.

    `write_lock_at_begin=False` suits databases this process only reads (the business systems
    behind the directory): SQLite readers then never queue behind each other.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUnavailableError(f"not a database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseUnavailableError(
            f"unsupported database {backend!r} in {_redact(url)}: use sqlite:/// or postgresql://"
        )
    try:
        if backend == "sqlite":
            engine = _sqlite_engine(url, parsed.database, write_lock_at_begin)
        else:
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            engine = create_engine(
                parsed, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
    except (NoSuchModuleError, ArgumentError) as exc:
        raise DatabaseUnavailableError(f"cannot use {_redact(url)}: {exc}") from exc
    if check:
        try:
            with engine.connect() as conn:
                conn.execute(text("select 1"))
        except DBAPIError as exc:
            engine.dispose()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise DatabaseUnavailableError(f"cannot connect to {_redact(url)}: {reason}") from exc
    return engine


def _sqlite_engine(url: str, database: str | None, write_lock_at_begin: bool) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy's BEGIN below be the only transaction control (pysqlite's own is off).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("pragma journal_mode=wal")
        cur.execute("pragma synchronous=normal")
        cur.execute("pragma foreign_keys=on")
        cur.execute(f"pragma busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_lock_at_begin else "BEGIN")

    return engine


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
