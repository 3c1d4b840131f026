"""The session the DuckDB warehouse's parts share: one connection and its helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from warehouse.staging import table_schema

__all__ = ["Session"]


class Session:
    """One connection to the warehouse file (read-write, or read-only beside readers)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        *,
        read_only: bool,
        data_path: str | None = None,
    ):
        self.con = con
        self.path = path
        self.read_only = read_only
        self.data_path = data_path  # a lake's Parquet files (None: a DuckDB file)

    def _stage(self, name: str, table: str, rows: list[dict[str, Any]]) -> None:
        """Register rows as an Arrow table typed like `table` (schema.sql stays the one source)."""
        self.con.register(name, pa.Table.from_pylist(rows, schema=table_schema(table)))

    def _count(self, table: str) -> int:
        return int(self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])

    def _dicts(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, params or [])
        columns = [d[0] for d in cursor.description or []]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
