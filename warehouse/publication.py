"""Publish the read models as an immutable, numbered snapshot and switch `CURRENT` to it.

The pipelines copy the named tables from their private work database into a file of their own,
close it (no `.wal` left), rename it into place and only then replace `CURRENT` atomically, so
a reader sees either the previous snapshot or the complete new one (DESIGN.md "Publication").

A new snapshot usually differs from the current one in a few tables, or in a few partitions of
a table (the open campaign's rows): it is then made from a copy of the current file (an
immutable file: copying it is safe while readers read it), in which only what differs is
rewritten — the differences found by comparing row hashes per table or per partition. A table
whose change token (given by the caller: see `warehouse.modeling.change_tokens`) equals the one
the current snapshot recorded for it is left as copied without hashing it; without a token, or
with another, the hashes decide. A copy that has grown past twice the size of the last snapshot
written from scratch is written from scratch again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Final

import duckdb

from warehouse.paths import WarehousePaths

SNAPSHOT_TABLE: Final = "_snapshot"
SNAPSHOT_TABLES_TABLE: Final = "_snapshot_tables"

_SNAPSHOT_NAME: Final = re.compile(r"wh-(\d+)\.duckdb")
_BUILDING_NAME: Final = re.compile(r"\.wh-(\d+)\.duckdb\.building(\.wal)?")
_LOCK_NAME: Final = ".publish.lock"
# A forward copy keeps the pages of rows it deleted until DuckDB reuses them.
GROWTH_LIMIT: Final = 2.0


class PublicationError(RuntimeError):
    """A publish failed; nothing was published and `CURRENT` is unchanged."""


@dataclass(frozen=True)
class Snapshot:
    number: int
    path: Path
    published_at: datetime  # naive UTC
    as_of: datetime  # naive UTC
    events_cursor: int
    tables: Mapping[str, int] = field(hash=False)
    # What the snapshot rewrote, when made from a copy of the previous one (None: all of it).
    rewritten: Mapping[str, int] | None = field(default=None, hash=False)


def snapshot_file_name(number: int) -> str:
    # Zero-padded so that `ls` order is publication order as well.
    return f"wh-{number:06d}.duckdb"


def snapshot_number(name: str) -> int | None:
    match = _SNAPSHOT_NAME.fullmatch(name)
    return int(match.group(1)) if match else None


def read_current_name(current: Path) -> str | None:
    """The file name the `CURRENT` file holds, or None when nothing was ever published."""
    try:
        text = current.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    # CURRENT is joined to published_dir: anything but a snapshot name (a path, "..") is refused.
    if snapshot_number(text) is None:
        raise PublicationError(f"{current} does not name a snapshot file: {text!r}")
    return text


def current_snapshot_path(paths: WarehousePaths) -> Path | None:
    """The snapshot `CURRENT` names (it may have been removed since), or None."""
    name = read_current_name(paths.current)
    return None if name is None else paths.published_dir / name


def publish(
    conn: duckdb.DuckDBPyConnection,
    tables: Sequence[str],
    paths: WarehousePaths,
    *,
    as_of: datetime,
    events_cursor: int,
    grace_seconds: float = 300.0,
    now: Callable[[], float] = time.time,
    partitions: Mapping[str, str] | None = None,
    forward: bool = True,
    tokens: Mapping[str, str] | None = None,
) -> Snapshot:
    """Copy `tables` (in `main` of `conn`'s current database) into a new snapshot and make it
    current; then remove snapshots superseded more than `grace_seconds` ago.

    With `forward`, the snapshot is made from a copy of the current one when that holds the
    same tables with the same columns, rewriting only the tables — or, for a table named in
    `partitions` (table → column), the partitions — whose rows differ; a table whose entry in
    `tokens` equals the token the current snapshot recorded is taken as it is. Each snapshot
    records the tokens it was given. A naive `as_of` is taken as UTC. Raises
    PublicationError, with CURRENT untouched, when anything before the switch fails.
    """
    names = _checked_tables(conn, tables)
    published = paths.published_dir
    published.mkdir(parents=True, exist_ok=True)
    with _publish_lock(published):
        current = read_current_name(paths.current)
        taken = [*_numbers_in(published), snapshot_number(current) if current else 0]
        number = 1 + max(n for n in taken if n is not None)
        final = published / snapshot_file_name(number)
        building = published / f".{final.name}.building"
        published_at = _utc_naive(datetime.fromtimestamp(now(), UTC))
        switched = False
        previous = published / current if current and forward else None
        rewritten: dict[str, int] | None = None
        try:
            forwarded = None
            stamp = _Stamp(
                number, published_at, _utc_naive(as_of), events_cursor, dict(tokens or {})
            )
            if previous is not None:
                forwarded = _build_forward(
                    conn, names, dict(partitions or {}), previous, building, stamp
                )
            if forwarded is not None:
                counts, rewritten = forwarded
            else:
                counts = _build(conn, names, building, stamp)
            _fsync(building)
            # The file's mtime records its publication on the injected clock: the grace period
            # is then decided from a stat, without opening older snapshots.
            mtime = published_at.replace(tzinfo=UTC).timestamp()
            os.utime(building, (mtime, mtime))
            os.replace(building, final)
            _fsync(published)
            switched = _switch_current(paths, final.name)
        except BaseException as exc:
            if not switched:
                for leftover in (building, _wal(building), final):
                    with contextlib.suppress(FileNotFoundError):
                        leftover.unlink()
            if isinstance(exc, PublicationError) or not isinstance(exc, Exception):
                raise
            raise PublicationError(f"publishing {final.name} failed: {exc}") from exc
        # Published already; a failed clean-up is retried by the next publish.
        with contextlib.suppress(OSError):
            _remove_expired(published, final.name, grace_seconds, now())
    return Snapshot(
        number=number,
        path=final,
        published_at=published_at,
        as_of=_utc_naive(as_of),
        events_cursor=events_cursor,
        tables=MappingProxyType(counts),
        rewritten=None if rewritten is None else MappingProxyType(rewritten),
    )


def _checked_tables(conn: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> list[str]:
    if isinstance(tables, str):
        raise PublicationError("tables must be a sequence of table names, not one string")
    names = list(tables)
    if not names:
        raise PublicationError("nothing to publish: no tables named")
    duplicates = sorted({t for t in names if names.count(t) > 1})
    if duplicates:
        raise PublicationError(f"tables named twice: {', '.join(duplicates)}")
    reserved = sorted({SNAPSHOT_TABLE, SNAPSHOT_TABLES_TABLE} & set(names))
    if reserved:
        raise PublicationError(f"reserved for the snapshot's own description: {reserved}")
    rows = conn.execute(
        # duckdb_tables()/duckdb_views() answer in ~1 ms where information_schema takes ~6 ms.
        "select table_name from duckdb_tables() "
        "where database_name = current_database() and schema_name = 'main' "
        "union all select view_name from duckdb_views() "
        "where database_name = current_database() and schema_name = 'main'"
    ).fetchall()
    present = {str(row[0]) for row in rows}
    unknown = [t for t in names if t not in present]
    if unknown:
        raise PublicationError(
            f"unknown tables (not in main of the work database): {', '.join(unknown)}"
        )
    return names


@dataclass(frozen=True)
class _Stamp:
    number: int
    published_at: datetime
    as_of: datetime  # naive UTC
    events_cursor: int
    tokens: dict[str, str] = field(default_factory=dict)


def _describe(
    conn: duckdb.DuckDBPyConnection,
    alias: str,
    stamp: _Stamp,
    counts: Mapping[str, int],
    base: int | None,
) -> None:
    """Write the snapshot's own description (replacing a copied one)."""
    conn.execute(f"delete from {alias}.main.{SNAPSHOT_TABLE}")
    conn.execute(
        f"insert into {alias}.main.{SNAPSHOT_TABLE} values (?, ?, ?, ?, ?)",
        [stamp.number, stamp.published_at, stamp.as_of, stamp.events_cursor, base],
    )
    conn.execute(f"delete from {alias}.main.{SNAPSHOT_TABLES_TABLE}")
    conn.execute(
        f"insert into {alias}.main.{SNAPSHOT_TABLES_TABLE}"
        " (table_name, row_count, change_token) values " + ", ".join(["(?, ?, ?)"] * len(counts)),
        [value for table, n in counts.items() for value in (table, n, stamp.tokens.get(table))],
    )


def _build(
    conn: duckdb.DuckDBPyConnection, tables: list[str], building: Path, stamp: _Stamp
) -> dict[str, int]:
    source = _ident(_scalar_str(conn, "select current_database()"))
    alias = f"_publish_{stamp.number}"
    _no_open_transaction(conn)
    # Attached outside the copy's transaction: a rollback would otherwise undo the ATTACH too.
    conn.execute(f"attach {_literal(str(building))} as {alias}")
    counts: dict[str, int] = {}
    try:
        conn.begin()
        # One transaction for the whole copy: one commit to the new file instead of one per
        # statement (~4 ms each here).
        for table in tables:
            target = f"{alias}.main.{_ident(table)}"
            try:
                # CREATE TABLE AS answers with the number of rows it wrote.
                row = conn.execute(
                    f"create table {target} as select * from {source}.main.{_ident(table)}"
                ).fetchone()
            except duckdb.Error as exc:
                raise PublicationError(
                    f"copying table {table!r} into {building.name}: {exc}"
                ) from exc
            counts[table] = int(row[0]) if row else 0
        conn.execute(
            f"create table {alias}.main.{SNAPSHOT_TABLE} (number bigint not null, "
            "published_at timestamp not null, as_of timestamp not null, "
            "events_cursor bigint not null, base_bytes bigint)"
        )
        conn.execute(
            f"create table {alias}.main.{SNAPSHOT_TABLES_TABLE} "
            "(table_name varchar not null primary key, row_count bigint not null,"
            " change_token varchar)"
        )
        # base_bytes null: written from scratch, the file is its own measure of growth.
        _describe(conn, alias, stamp, counts, base=None)
        conn.commit()
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            conn.rollback()
        # Closes the partial file so that it can be removed; the copy's error is the one to tell.
        with contextlib.suppress(duckdb.Error):
            conn.execute(f"detach {alias}")
        raise
    # DETACH checkpoints the file, so that no .wal is left beside it.
    conn.execute(f"detach {alias}")
    if _wal(building).exists():
        raise PublicationError(f"{building.name} still has a .wal after detach: not publishing it")
    return counts


def _build_forward(
    conn: duckdb.DuckDBPyConnection,
    tables: list[str],
    partitions: dict[str, str],
    previous: Path,
    building: Path,
    stamp: _Stamp,
) -> tuple[dict[str, int], dict[str, int]] | None:
    """The new snapshot as a copy of `previous` with what differs rewritten: (row counts,
    rows rewritten per table); None when the copy cannot serve (tables or columns changed,
    or the copy has grown too much) and nothing was left behind."""
    source = _ident(_scalar_str(conn, "select current_database()"))
    alias = f"_publish_{stamp.number}"
    _no_open_transaction(conn)
    try:
        shutil.copyfile(previous, building)
    except FileNotFoundError:
        return None  # removed since CURRENT was read: write from scratch
    conn.execute(f"attach {_literal(str(building))} as {alias}")
    try:
        base = _forward_base(conn, source, alias, tables, previous)
        if base is None:
            conn.execute(f"detach {alias}")
            building.unlink()
            return None
        recorded = {
            str(table): (int(count), token)
            for table, count, token in conn.execute(
                f"select table_name, row_count, change_token"
                f" from {alias}.main.{SNAPSHOT_TABLES_TABLE}"
            ).fetchall()
        }
        conn.begin()
        rewritten: dict[str, int] = {}
        counts: dict[str, int] = {}
        for table in tables:
            count, token = recorded[table]
            if token is not None and stamp.tokens.get(table) == token:
                rewritten[table], counts[table] = 0, count
                continue
            try:
                rewritten[table] = _rewrite(conn, source, alias, table, partitions.get(table))
                counts[table] = int(
                    conn.execute(f"select count(*) from {alias}.main.{_ident(table)}").fetchall()[
                        0
                    ][0]
                )
            except duckdb.Error as exc:
                raise PublicationError(
                    f"updating table {table!r} in {building.name}: {exc}"
                ) from exc
        _describe(conn, alias, stamp, counts, base)
        conn.commit()
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            conn.rollback()
        with contextlib.suppress(duckdb.Error):
            conn.execute(f"detach {alias}")
        raise
    conn.execute(f"detach {alias}")
    if _wal(building).exists():
        raise PublicationError(f"{building.name} still has a .wal after detach: not publishing it")
    return counts, rewritten


def _forward_base(
    conn: duckdb.DuckDBPyConnection, source: str, alias: str, tables: list[str], previous: Path
) -> int | None:
    """The size of the from-scratch snapshot this copy descends from, when the copy can be
    updated in place: same tables, same columns, not grown past GROWTH_LIMIT."""
    described = {
        str(row[0])
        for row in conn.execute(
            f"select table_name from {alias}.main.{SNAPSHOT_TABLES_TABLE}"
        ).fetchall()
    }
    if described != set(tables):
        return None
    columns = conn.execute(
        "select database_name, table_name, column_name, data_type from duckdb_columns()"
        " where database_name in (?, ?) and schema_name = 'main'"
        " and list_contains(?, table_name) order by table_name, column_index",
        [source.strip('"'), alias, tables],
    ).fetchall()
    mine = [row[1:] for row in columns if row[0] == alias]
    theirs = [row[1:] for row in columns if row[0] != alias]
    if mine != theirs:
        return None
    conn.execute(
        f"alter table {alias}.main.{SNAPSHOT_TABLE} add column if not exists base_bytes bigint"
    )
    conn.execute(
        f"alter table {alias}.main.{SNAPSHOT_TABLES_TABLE}"
        " add column if not exists change_token varchar"
    )
    rows = conn.execute(f"select base_bytes from {alias}.main.{SNAPSHOT_TABLE}").fetchall()
    size = previous.stat().st_size
    base = int(rows[0][0]) if rows and rows[0][0] is not None else size
    return None if size > GROWTH_LIMIT * base else base


def _rewrite(
    conn: duckdb.DuckDBPyConnection, source: str, alias: str, table: str, partition: str | None
) -> int:
    """Make the copy's `table` equal to the work database's; the rows written."""
    new, old = f"{source}.main.{_ident(table)}", f"{alias}.main.{_ident(table)}"
    if partition is None:
        # sum, not bit_xor: two equal rows would cancel out of a xor.
        digest = "select count(*), sum(hash(t)) from {} as t"
        if (
            conn.execute(digest.format(new)).fetchall()
            == conn.execute(digest.format(old)).fetchall()
        ):
            return 0
        conn.execute(f"delete from {old}")
        row = conn.execute(f"insert into {old} select * from {new}").fetchall()
        return int(row[0][0]) if row else 0
    column = _ident(partition)
    changed = conn.execute(
        f"with new as (select {column} as part, count(*) as n, sum(hash(t)) as h"
        f" from {new} as t group by all),"
        f" old as (select {column} as part, count(*) as n, sum(hash(t)) as h"
        f" from {old} as t group by all)"
        " select coalesce(new.part, old.part) from new full join old"
        " on new.part is not distinct from old.part"
        " where new.n is distinct from old.n or new.h is distinct from old.h"
    ).fetchall()
    if not changed:
        return 0
    keys = [row[0] for row in changed if row[0] is not None]
    with_null = any(row[0] is None for row in changed)
    where = f"list_contains(?, {column}) or ({column} is null and ?)"
    conn.execute(f"delete from {old} where {where}", [keys, with_null])
    row = conn.execute(
        f"insert into {old} select * from {new} where {where}", [keys, with_null]
    ).fetchall()
    return int(row[0][0]) if row else 0


def _no_open_transaction(conn: duckdb.DuckDBPyConnection) -> None:
    # A snapshot holds committed data only, and one transaction cannot write two databases.
    try:
        conn.begin()
    except duckdb.TransactionException as exc:
        raise PublicationError(
            "the work connection has an open transaction: commit it before publishing"
        ) from exc
    conn.commit()


def _switch_current(paths: WarehousePaths, name: str) -> bool:
    tmp = paths.current.with_name(paths.current.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, paths.current)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    # Switched: from here on a failure must not remove the file CURRENT names.
    with contextlib.suppress(OSError):
        _fsync(paths.current.parent)
    return True


def _remove_expired(published: Path, current: str, grace_seconds: float, now: float) -> None:
    snapshots: list[tuple[int, Path, float]] = []
    for entry in published.iterdir():
        number = snapshot_number(entry.name)
        if number is not None:
            with contextlib.suppress(FileNotFoundError):
                snapshots.append((number, entry, entry.stat().st_mtime))
        elif _BUILDING_NAME.fullmatch(entry.name):
            with contextlib.suppress(FileNotFoundError):
                if now - entry.stat().st_mtime > grace_seconds:
                    entry.unlink()
    snapshots.sort()
    # A snapshot stops being read once a newer one replaces it: the grace period runs from that
    # moment (the successor's publication), so a reader that has just read CURRENT still finds
    # the file it names, however old its own publication is.
    for index, (_number, path, mtime) in enumerate(snapshots):
        if path.name == current:
            continue
        superseded_at = min((m for _, _, m in snapshots[index + 1 :]), default=mtime)
        if now - superseded_at > grace_seconds:
            # A reader still attached keeps its open file (POSIX); elsewhere the file stays.
            with contextlib.suppress(FileNotFoundError, PermissionError):
                path.unlink()


def _numbers_in(published: Path) -> Iterator[int]:
    for entry in published.iterdir():
        match = _SNAPSHOT_NAME.fullmatch(entry.name) or _BUILDING_NAME.fullmatch(entry.name)
        if match:
            yield int(match.group(1))


@contextlib.contextmanager
def _publish_lock(published: Path) -> Iterator[None]:
    # Two publishers would pick the same number; the second one fails rather than waits, as a
    # blocked build must publish nothing.
    with open(published / _LOCK_NAME, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise PublicationError(f"another publish into {published} is in progress") from exc
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _scalar_str(conn: duckdb.DuckDBPyConnection, sql: str) -> str:
    row = conn.execute(sql).fetchone()
    if row is None:
        raise PublicationError(f"no result for {sql!r}")
    return str(row[0])


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
