"""SQLite writers queue on the store's write lock (threads and processes), never in SQLite's
busy-retry loop.

Each test turns SQLite's own busy wait off (`busy_timeout = 0`), so a writer that finds the
database locked fails at once with "database is locked" instead of retrying: without the write
lock every one of these races fails. Each transaction sleeps while it holds the database, so the
writers overlap whatever the machine's speed.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError

from workflow_core.store.db import make_engine, reader_of, write_lock

THREADS = 12
TRANSACTIONS = 15
HOLD_S = 0.002  # inside each transaction: long enough for every other writer to try meanwhile


def _engine_without_busy_wait(path: Path, check: bool = True) -> Engine:
    engine = make_engine(f"sqlite:///{path}", check=check)
    engine.dispose()  # the connection `make_engine` checked with keeps SQLite's busy wait

    @event.listens_for(engine, "connect")
    def _no_busy_wait(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.execute("pragma busy_timeout = 0")

    if check:
        with engine.begin() as conn:
            conn.execute(text("create table if not exists writes (writer text, n integer)"))
    return engine


def _write(engine: Engine, writer: str, count: int) -> list[str]:
    """`count` transactions that each read, hold the database a moment, and insert; the errors."""
    errors: list[str] = []
    for n in range(count):
        try:
            with engine.begin() as conn:
                conn.execute(text("select count(*) from writes")).scalar_one()
                time.sleep(HOLD_S)
                conn.execute(text("insert into writes values (:w, :n)"), {"w": writer, "n": n})
        except OperationalError as exc:
            errors.append(str(exc.orig))
    return errors


def _write_on_threads(path: str, name: str) -> list[str]:
    """THREADS threads of this process writing at once; their errors (a spawned process's
    entry point too, hence the plain argument)."""
    engine = _engine_without_busy_wait(Path(path))
    errors: list[str] = []
    barrier = threading.Barrier(THREADS)

    def run(index: int) -> None:
        barrier.wait()
        errors.extend(_write(engine, f"{name}-{index}", TRANSACTIONS))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    engine.dispose()
    return errors


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("select count(*) from writes").fetchone()[0])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "events.db"
    _engine_without_busy_wait(path).dispose()
    yield path


def test_threads_of_one_process_queue_instead_of_finding_the_database_locked(
    store: Path,
) -> None:
    errors = _write_on_threads(str(store), "thread")

    assert errors == []
    assert _rows(store) == THREADS * TRANSACTIONS


def test_writers_of_two_processes_queue_instead_of_finding_the_database_locked(
    store: Path,
) -> None:
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(2) as pool:
        results = pool.starmap(_write_on_threads, [(str(store), "a"), (str(store), "b")])

    assert results == [[], []]
    assert _rows(store) == 2 * THREADS * TRANSACTIONS


def test_a_forked_child_takes_the_lock_of_its_own(store: Path) -> None:
    """As gunicorn's workers do: the process that forks used the store, so its lock (and the
    lock file's descriptor) exist before the fork. The child must queue behind the parent's
    transaction, not share the parent's lock.

    The parent holds the lock across the fork and writes with a connection of its own opened
    after it (SQLite connections must not cross a fork); the child writes only once the
    parent's transaction is open, so without a lock of its own it meets SQLite's busy error.
    """
    lock = write_lock(store)
    lock.acquire()
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        status = 1
        try:
            os.close(ready_write)
            child = _engine_without_busy_wait(store, check=False)
            os.read(ready_read, 1)
            status = 0 if _write(child, "child", 1) == [] else 2
        finally:
            os._exit(status)
    os.close(ready_read)
    finished_early = False
    try:
        with sqlite3.connect(store, isolation_level=None) as raw:
            raw.execute("begin immediate")
            raw.execute("insert into writes values ('parent', 0)")
            os.write(ready_write, b"x")
            # The child must still be waiting when the parent commits.
            for _ in range(50):
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    finished_early = True
                    break
                time.sleep(0.01)
            raw.execute("commit")
    finally:
        lock.release()
        os.close(ready_write)
    status = 0 if finished_early else os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    assert not finished_early, "the child wrote while the parent held the lock"
    assert status == 0
    assert _rows(store) == 2


def test_a_transaction_opened_inside_another_fails_as_locked_and_releases_nothing(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock is not re-entrant, as SQLite's is not: the inner transaction gives up after the
    timeout (here shortened) with SQLite's own error, the API's 503, instead of hanging."""
    engine = make_engine(f"sqlite:///{store}")
    monkeypatch.setattr(write_lock(store), "timeout_s", 0.05)

    with pytest.raises(OperationalError, match="database is locked"), engine.begin() as outer:
        outer.execute(text("insert into writes values ('outer', 0)"))
        with engine.begin() as inner:
            inner.execute(text("insert into writes values ('inner', 0)"))

    # Both rolled back, and the lock is free again: another thread writes at once.
    other = threading.Thread(target=lambda: _write(engine, "after", 1))
    other.start()
    other.join(timeout=30)
    engine.dispose()
    assert not other.is_alive()
    assert _rows(store) == 1


def test_queries_read_beside_a_writer_without_waiting_for_its_lock(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's reader (health check, inbox, instance views) takes neither the write lock
    nor SQLite's: it reads the last committed state while a command holds both."""
    engine = make_engine(f"sqlite:///{store}")
    reader = reader_of(engine)
    monkeypatch.setattr(write_lock(store), "timeout_s", 0.05)  # a reader that queued fails fast
    with engine.begin() as writer:
        writer.execute(text("insert into writes values ('writer', 0)"))
        with reader.connect() as conn:
            seen = conn.execute(text("select count(*) from writes")).scalar_one()
    with reader.connect() as conn:
        after = conn.execute(text("select count(*) from writes")).scalar_one()
    reader.dispose()
    engine.dispose()

    assert (seen, after) == (0, 1)
