"""Driver SQL on the driver's own cursor: the connection's transaction and SQLAlchemy's errors."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from workflow_core.store.db import driver_execute, driver_executemany


def _mark(engine: Engine) -> str:
    return "?" if engine.dialect.name == "sqlite" else "%s"


def _rows(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql("select a, b from driver_t order by a")]


@pytest.fixture
def table(store_engine: Engine) -> Engine:
    with store_engine.begin() as conn:
        conn.exec_driver_sql("create table driver_t (a varchar(8) primary key, b varchar(8))")
    return store_engine


def test_statements_join_the_connections_transaction(table: Engine) -> None:
    mark = _mark(table)
    with table.connect() as conn:
        driver_executemany(
            conn, f"insert into driver_t (a, b) values ({mark}, {mark})", [("x", "1"), ("y", "2")]
        )
        assert conn.in_transaction()  # begun as the first statement would begin it
        row = driver_execute(conn, f"select b from driver_t where a = {mark}", ("y",)).fetchone()
        assert tuple(row) == ("2",)
        conn.rollback()
    assert _rows(table) == []
    with table.begin() as conn:
        driver_execute(conn, f"insert into driver_t (a, b) values ({mark}, {mark})", ("z", "3"))
    assert _rows(table) == [("z", "3")]


def test_errors_are_sqlalchemys(table: Engine) -> None:
    mark = _mark(table)
    insert = f"insert into driver_t (a, b) values ({mark}, {mark})"
    with table.connect() as conn:
        driver_execute(conn, insert, ("x", "1"))
        with pytest.raises(IntegrityError) as caught:
            driver_executemany(conn, insert, [("x", "2")])
        assert not caught.value.connection_invalidated
        conn.rollback()
    with table.connect() as conn, pytest.raises((OperationalError, ProgrammingError)):
        driver_execute(conn, "select nothing from no_such_table")
