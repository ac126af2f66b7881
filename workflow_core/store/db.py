"""Database engines for the event store and the business systems (SQLite or PostgreSQL).

SQLite runs in WAL mode and takes its write lock at BEGIN (`BEGIN IMMEDIATE`), so a command's
read-decide-append cycle is serialised instead of failing on a lock upgrade halfway through.

Writers queue for that lock in the kernel, not in SQLite. SQLite's own wait for a busy database
is a retry loop sleeping 1, 2, 5 … up to 100 ms between tries: under the API's load a waiting
command kept losing the lock to others that came later, and p99 reached a second. So a
transaction on a store first takes the process's `WriteLock` for that file (a thread lock, then
an exclusive `flock` on a file beside the database, which queues the writers of other processes
too) and holds it until it commits or rolls back: SQLite's retries then only run against
processes that open the store without this module (a tool with the sqlite3 shell, say).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from workflow_core.errors import DatabaseUnavailableError

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_LOCK_SUFFIX = "-writelock"  # beside `-wal` and `-shm`; SQLite itself never opens it
_DIALECT = "sqlite.tongban"


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


# Driver SQL and its parameters, to run later (e.g. with an append: `event_store.append`).
Statement = tuple[str, Sequence[Any]]


def driver_execute(conn: Connection, statement: str, params: Sequence[Any] = ()) -> Any:
    """Run driver SQL (`?` marks on SQLite, `%s` on PostgreSQL) on the driver's own cursor of
    `conn`, in its transaction (begun as `exec_driver_sql` would begin it), and return that
    cursor to fetch from.

    `exec_driver_sql` built an execution context and a result around each statement, 30 µs
    where SQLite's own work took 2: a command runs ten statements. Errors are SQLAlchemy's
    all the same (`IntegrityError`, `OperationalError`, a lost connection invalidated),
    wrapped by the connection as `exec_driver_sql` wraps them.
    """
    cursor = _driver_cursor(conn)
    try:
        cursor.execute(statement, params)
    except Exception as exc:
        # The connection's own handler (what `exec_driver_sql` calls): it wraps the driver's
        # error and invalidates the connection on a disconnect. Private, but public has none.
        conn._handle_dbapi_exception(exc, statement, params, cursor, None)
    return cursor


def driver_executemany(conn: Connection, statement: str, rows: Sequence[Sequence[Any]]) -> None:
    """`driver_execute` of `statement` once per row of `rows`, as one executemany (psycopg
    pipelines it)."""
    if len(rows) == 1:  # psycopg's executemany enters and leaves a pipeline of its own
        driver_execute(conn, statement, rows[0])
        return
    cursor = _driver_cursor(conn)
    try:
        cursor.executemany(statement, rows)
    except Exception as exc:
        conn._handle_dbapi_exception(exc, statement, rows, cursor, None)
    finally:
        cursor.close()


@contextlib.contextmanager
def driver_pipeline(conn: Connection) -> Iterator[None]:
    """Send the driver statements run within to PostgreSQL together, in one round trip (a
    psycopg pipeline): they run in order as if sent one by one, but their results, and their
    errors, arrive when the block ends or when a result is fetched (which sends what is queued
    so far). Errors are SQLAlchemy's, as `driver_execute` raises them. Elsewhere (SQLite, in
    process) a statement runs when it is issued and this does nothing.

    A command on PostgreSQL waited for a dozen round trips, each a wake-up of the server and of
    the worker on a busy machine; the append lock is held across the last ones.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    if not conn.in_transaction():
        conn.begin()
    raw = conn.connection.driver_connection
    assert raw is not None
    try:
        with raw.pipeline():
            yield
    except conn.dialect.loaded_dbapi.Error as exc:  # raised by a fetch or the block's end
        conn._handle_dbapi_exception(exc, None, None, None, None)


def _driver_cursor(conn: Connection) -> Any:
    if not conn.in_transaction():
        conn.begin()  # as the first statement on a connection would (autobegin)
    return conn.connection.driver_connection.cursor()  # type: ignore[union-attr]


def reader_of(engine: Engine) -> Engine:
    """An engine for the read-only queries of `engine`'s store. On a SQLite file its
    transactions begin deferred and take no write lock: in WAL mode a reader never waits for
    the writer, so a health check or an inbox need not queue behind commands. Elsewhere (a
    PostgreSQL server, a private in-memory database) it is `engine` itself."""
    dialect = engine.dialect
    if not isinstance(dialect, SerialisedSQLiteDialect) or dialect.write_lock is None:
        return engine
    url = engine.url.render_as_string(hide_password=False)
    return make_engine(url, check=False, write_lock_at_begin=False)


class WriteLock:
    """One transaction at a time on one SQLite file: threads of this process queue on a thread
    lock, processes on an exclusive `flock` of `path` (taken by the thread holding the first).

    The thread lock gives up after `timeout_s` as SQLite's busy timeout does ("database is
    locked", a 503 from the API): a thread that opens a second transaction on the store inside
    its first fails instead of waiting forever. The `flock` cannot time out: a writer waits as
    long as the transaction of another process ahead of it lasts, where SQLite alone gave up
    after `timeout_s`. The kernel drops the lock of a process that dies.
    """

    def __init__(self, path: Path, timeout_s: float) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        _LIVE_LOCKS.add(self)

    def acquire(self) -> None:
        if not self._thread_lock.acquire(timeout=self.timeout_s):
            raise sqlite3.OperationalError("database is locked")
        try:
            fd = self._file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def release(self) -> None:
        try:
            if self._fd is not None:
                # Before the thread lock: a writer of another process, already queued in the
                # kernel, goes next instead of racing this process's next thread for the file.
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def _file(self) -> int | None:
        """This process's descriptor of the lock file; None where it cannot be made (a
        read-only directory): the thread lock alone still spares this process's threads."""
        if self._fd is None:
            with contextlib.suppress(OSError):
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        return self._fd

    def _after_fork_in_child(self) -> None:
        # A flock belongs to the open file, which a fork shares: the child must open its own,
        # or parent and child would hold "the" lock at once. A thread lock held by some other
        # thread at the fork would never be released in the child.
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = None
        self._thread_lock = threading.Lock()


_LIVE_LOCKS: weakref.WeakSet[WriteLock] = weakref.WeakSet()
_LOCKS: dict[str, WriteLock] = {}
_LOCKS_GUARD = threading.Lock()


def _reset_locks_after_fork() -> None:
    global _LOCKS_GUARD
    _LOCKS_GUARD = threading.Lock()
    for lock in list(_LIVE_LOCKS):
        lock._after_fork_in_child()


os.register_at_fork(after_in_child=_reset_locks_after_fork)


def write_lock(database: Path) -> WriteLock:
    """The process's one lock for the SQLite file `database` (shared by all its engines)."""
    key = os.path.realpath(database)
    with _LOCKS_GUARD:
        lock = _LOCKS.get(key)
        if lock is None:
            lock = _LOCKS[key] = WriteLock(
                Path(key + WRITE_LOCK_SUFFIX), SQLITE_BUSY_TIMEOUT_MS / 1000
            )
        return lock


class SerialisedSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite whose transactions begin with `begin_statement` (pysqlite's own transaction
    control is off) and, given a `write_lock`, hold it from BEGIN until COMMIT or ROLLBACK.

    BEGIN runs here, on the driver's connection, rather than in a `begin` event through
    SQLAlchemy's statement machinery: that cost 8 % of a command's CPU.
    """

    supports_statement_cache = True
    # None: pysqlite's behaviour, for engines made from this one's URL by others (a reader in
    # autocommit mode); `_sqlite_engine` sets both on the engines it makes.
    begin_statement: str | None = None
    write_lock: WriteLock | None = None

    def do_begin(self, dbapi_connection: Any) -> None:
        if self.begin_statement is None:
            return
        lock = self.write_lock
        if lock is None:
            dbapi_connection.execute(self.begin_statement)
            return
        lock.acquire()
        try:
            dbapi_connection.execute(self.begin_statement)
        except BaseException:
            lock.release()
            raise
        _holders[id(_driver_connection(dbapi_connection))] = lock

    def do_commit(self, dbapi_connection: Any) -> None:
        try:
            dbapi_connection.commit()
        finally:
            self._release(dbapi_connection)

    def do_rollback(self, dbapi_connection: Any) -> None:
        try:
            dbapi_connection.rollback()
        finally:
            self._release(dbapi_connection)

    def do_close(self, dbapi_connection: Any) -> None:
        try:
            dbapi_connection.close()
        finally:
            self._release(dbapi_connection, force=True)

    @staticmethod
    def _release(connection: Any, force: bool = False) -> None:
        raw = _driver_connection(connection)
        if id(raw) not in _holders:
            return
        # A failed COMMIT leaves the transaction open: the lock stays until its ROLLBACK.
        if not force and raw.in_transaction:
            return
        lock = _holders.pop(id(raw), None)
        if lock is not None:
            lock.release()


def _driver_connection(connection: Any) -> Any:
    """The sqlite3 connection itself: SQLAlchemy hands the dialect its pool's proxy of it on
    BEGIN, COMMIT and the rollback on return to the pool, and the bare connection on close."""
    return getattr(connection, "dbapi_connection", connection)


_holders: dict[int, WriteLock] = {}  # the sqlite3 connections (by id) in a transaction
registry.register(_DIALECT, __name__, SerialisedSQLiteDialect.__name__)


def _sqlite_engine(url: str, database: str | None, write_lock_at_begin: bool) -> Engine:
    on_disk = bool(database) and database != ":memory:" and not str(database).startswith("file:")
    if on_disk:
        Path(str(database)).parent.mkdir(parents=True, exist_ok=True)
    parsed = make_url(url).set(drivername=_DIALECT.replace(".", "+"))
    engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    dialect = engine.dialect
    assert isinstance(dialect, SerialisedSQLiteDialect)
    dialect.begin_statement = "BEGIN IMMEDIATE" if write_lock_at_begin else "BEGIN"
    if write_lock_at_begin and on_disk:
        dialect.write_lock = write_lock(Path(str(database)))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let the dialect's BEGIN be the only transaction control (pysqlite's own is off).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("pragma journal_mode=wal")
        cur.execute("pragma synchronous=normal")
        cur.execute("pragma foreign_keys=on")
        cur.execute(f"pragma busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    return engine


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
