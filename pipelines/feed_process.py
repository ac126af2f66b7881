"""A SQLite store's events read in a child process through ADBC and streamed back as Arrow.

ADBC's SQLite driver fills Arrow columns in C, 3.6× faster than building a Python tuple per row
(on a year of events: 11 s where the driver cursor and its frames took 50). But the driver links
its own copy of SQLite, and two copies in one process break each other's POSIX locks
(sqlite.org/howtocorrupt.html, 2.2.1): beside this process's own connections to the store it
read a stale store in a test. In a child process it is one more reader of the store, as each of
the API server's workers is. The child also parses the times, on the other core while this
process stores the batch before.

`python -m pipelines.feed_process STORE AFTER BATCH` writes one Arrow IPC stream to stdout: a
record batch of at most BATCH raw_events rows per query, the ids after AFTER in order, until a
query returns fewer than BATCH.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any, Final

import polars as pl

from warehouse.raw import RAW_EVENTS_SCHEMA

_QUERY: Final = (
    f"select {', '.join(RAW_EVENTS_SCHEMA)} from events"
    " where event_id > ? order by event_id limit ?"
)
# SQLite keeps times in a fixed naive-UTC text form (see workflow_core.store.schema.UtcDateTime).
SQLITE_TIME: Final = "%Y-%m-%d %H:%M:%S%.f"
_TIMES: Final = frozenset(
    name for name, kind in RAW_EVENTS_SCHEMA.items() if kind == pl.Datetime("us")
)


def typed(frame: pl.DataFrame) -> pl.DataFrame:
    """A batch as SQLite hands it over (times as text; a column with no value, whatever type a
    driver guessed) as a raw_events frame."""
    return frame.select(
        pl.col(name).str.to_datetime(SQLITE_TIME, time_unit="us")
        if name in _TIMES and frame.schema[name] == pl.String
        else pl.col(name).cast(kind)
        for name, kind in RAW_EVENTS_SCHEMA.items()
    )


def stream_events(store: Path, after: int, batch: int) -> Iterator[pl.DataFrame]:
    """The store's events after `after`, in batches of at most `batch`, read by a child process.

    Closing the iterator early stops the child. A child that fails raises here, with its last
    line of error, after the batches it did send."""
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(
            [sys.executable, "-m", "pipelines.feed_process", str(store), str(after), str(batch)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        try:
            import pyarrow as pa

            assert child.stdout is not None
            try:
                reader = pa.ipc.open_stream(child.stdout)
                for record_batch in reader:
                    frame = pl.from_arrow(record_batch)
                    assert isinstance(frame, pl.DataFrame)
                    yield frame
            except pa.ArrowInvalid:
                if child.wait() == 0:
                    raise
            if child.wait() != 0:
                errors.seek(0)
                lines = errors.read().decode(errors="replace").strip().splitlines()
                raise RuntimeError(
                    f"reading the event store {store} after event {after} failed: "
                    + (lines[-1] if lines else f"the reader exited with {child.returncode}")
                )
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
            if child.stdout is not None:
                child.stdout.close()


def _write(store: str, after: int, batch: int, out: Any) -> None:
    import adbc_driver_sqlite.dbapi
    import pyarrow as pa

    schema = pl.DataFrame(schema=RAW_EVENTS_SCHEMA).to_arrow().schema
    # Autocommit: each query its own read transaction, so a long rebuild never pins the WAL.
    with (
        closing(adbc_driver_sqlite.dbapi.connect(store, autocommit=True)) as conn,
        pa.ipc.new_stream(out, schema) as writer,
    ):
        cursor_id = after
        while True:
            with closing(conn.cursor()) as cursor:
                # The driver guesses each column's type from its first batch of rows: one batch
                # for the whole result, so a column that is NULL in the first rows is never
                # guessed as a number and then refused when text follows.
                cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch)})
                cursor.execute(_QUERY, (cursor_id, batch))
                table = cursor.fetch_arrow_table()
            if table.num_rows == 0:
                return
            frame = pl.from_arrow(table)
            assert isinstance(frame, pl.DataFrame)
            for record_batch in typed(frame).to_arrow().to_batches(max_chunksize=batch):
                writer.write_batch(record_batch)
            if table.num_rows < batch:
                return
            cursor_id = int(frame["event_id"][-1])


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m pipelines.feed_process STORE AFTER BATCH", file=sys.stderr)
        return 2
    store, after, batch = argv[0], int(argv[1]), int(argv[2])
    if not Path(store).is_file():
        print(f"no event store at {store}", file=sys.stderr)
        return 1
    try:
        _write(store, after, batch, sys.stdout.buffer)
    except BrokenPipeError:
        return 0  # the reader stopped early: nothing more is wanted
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
