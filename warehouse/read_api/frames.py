"""One way to run a read: bound parameters in, a Polars frame out."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl


def query(
    cursor: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()
) -> pl.DataFrame:
    frame: pl.DataFrame = cursor.sql(sql, params=list(params)).pl()
    return frame
