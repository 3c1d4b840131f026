"""Creating and upgrading the warehouse schema.

schema.sql is the schema of the current version. A new file gets it whole;
the version reached is recorded in `schema_migrations`. A file written by a
newer feedwatch is refused rather than guessed at.
"""

from __future__ import annotations

import re
from importlib import resources

import duckdb

from extractors.errors import WarehouseError
from warehouse._duckdb import transaction

__all__ = ["SCHEMA_VERSION", "column_comments", "ensure_schema", "schema_sql"]

SCHEMA_VERSION = 1

_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", re.DOTALL)
_COLUMN = re.compile(r"^\s+(\w+)\s+[A-Z].*?--\s*(.+?)\s*$")


def schema_sql() -> str:
    return resources.files("warehouse").joinpath("schema.sql").read_text(encoding="utf-8")


def column_comments(sql: str | None = None) -> dict[tuple[str, str], str]:
    """(table, column) → the comment written beside the column in schema.sql."""
    comments: dict[tuple[str, str], str] = {}
    for table, body in _TABLE.findall(sql or schema_sql()):
        for line in body.splitlines():
            m = _COLUMN.match(line)
            if m and m.group(1) != "PRIMARY":
                comments[(table, m.group(1))] = m.group(2)
    return comments


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    # Always fetchall(): DuckDB 2 refuses new work on a connection with an unfinished result.
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    ).fetchall()[0][0]
    if not exists:
        return 0
    version = con.execute("SELECT max(version) FROM schema_migrations").fetchall()[0][0]
    return int(version) if version is not None else 0


def ensure_schema(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the warehouse to SCHEMA_VERSION; return the version it had before."""
    before = current_version(con)
    if before > SCHEMA_VERSION:
        raise WarehouseError(
            f"the warehouse is at schema version {before}, newer than this feedwatch "
            f"understands ({SCHEMA_VERSION}): upgrade feedwatch before opening it"
        )
    if before == SCHEMA_VERSION:
        return before
    sql = schema_sql()
    with transaction(con):
        con.execute(sql)
        for (table, column), comment in column_comments(sql).items():
            con.execute(f"COMMENT ON COLUMN {table}.{column} IS {_quote(comment)}")
        con.execute("INSERT INTO schema_migrations VALUES (?, now())", [SCHEMA_VERSION])
    return before


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
