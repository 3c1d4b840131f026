"""Creating, checking and upgrading the warehouse schema.

schema.sql is the schema of the current version, the one source of every table's
definition: a new warehouse gets it whole, and an older one is brought to it in
one transaction. Each table whose columns differ from schema.sql's is rebuilt
from schema.sql's own CREATE TABLE, its rows copied by column name; a column new
to it gets its default, or the value its version's step says (FILLS below: an
expression over the old table's columns). So a step is only what a version
changed in the data, never a second copy of the DDL. The versions reached are
recorded in `schema_migrations`; a failure rolls everything back.

Every open checks the version: a warehouse written by a newer feedwatch, or a
file with tables but no recorded version (not a feedwatch warehouse, or one we
cannot vouch for), is refused rather than guessed at; an older one is upgraded
by a read-write open and refused by a read-only one (it cannot be upgraded there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources

import duckdb

from extractors.errors import (
    ForeignFileError,
    WarehouseError,
    WarehouseMissingError,
    WarehouseOutdatedError,
)
from warehouse._duckdb import transaction
from warehouse.lake import for_lake

__all__ = [
    "SCHEMA_VERSION",
    "check_version",
    "column_comments",
    "current_version",
    "ensure_schema",
    "schema_sql",
    "table_definitions",
]

_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", re.DOTALL)
_COLUMN = re.compile(r"^\s+(\w+)\s+[A-Z].*?--\s*(.+?)\s*$")
_VIEW = re.compile(r"CREATE OR REPLACE VIEW (\w+) .*?;", re.DOTALL)

# feedwatch's ids and hashes are hex; anything else (edited by hand) gets a hash.
_KEY = "coalesce(TRY_CAST('0x' || left({0}, 16) AS UBIGINT), hash({0}))"


@dataclass(frozen=True)
class Step:
    """What one version changed: its description, and the values of its new columns
    that are not their defaults ((table, column) → SQL over the old table's columns)."""

    description: str
    fills: dict[tuple[str, str], str] = field(default_factory=dict)


# Step n takes a warehouse from version n - 1 to version n.
STEPS: dict[int, Step] = {
    2: Step(
        "Conditional GET, moves and per-feed page fetching (feeds), final URLs (feed_fetches)",
        {("feeds", "config_url"): "url"},
    ),
    3: Step("Topic versions, for re-scoring stored articles when a topic changes"),
    4: Step("MinHash signatures and LSH bands for clustering near-duplicate articles"),
    5: Step(
        "64-bit integer lookup keys for entries, articles and bands; no indexes on the"
        " large tables (the writer's own checks keep their keys unique)",
        {
            ("articles", "url_key"): _KEY.format("article_id"),
            ("articles", "text_key"): (
                f"CASE WHEN content_hash <> '' THEN {_KEY.format('content_hash')} END"
            ),
            ("entries", "entry_key"): _KEY.format("sha256(feed_id || chr(0) || guid)"),
            ("article_bands", "url_key"): _KEY.format("article_id"),
        },
    ),
    6: Step("Tables unchanged; feed_health's stale rule fixed (views are remade)"),
    7: Step("The parts of every topic score, each topic version's weights, analysts' labels"),
    8: Step("A run loads in batches: run_batches records each (runs sums them)"),
    9: Step(
        "The figures topic hits report (topic_figures) and the reported_figures view;"
        " hits stored before get theirs when rescored (`feedwatch rescore --all`)"
    ),
}
SCHEMA_VERSION = max(STEPS)


def schema_sql(version: int | None = None) -> str:
    name = "schema_v1.sql" if version == 1 else "schema.sql"
    return resources.files("warehouse").joinpath(name).read_text(encoding="utf-8")


def table_definitions(sql: str | None = None) -> dict[str, str]:
    """table → its CREATE TABLE statement in schema.sql, in the file's order."""
    return {
        m.group(1): m.group(0).replace(" IF NOT EXISTS", "", 1)
        for m in _TABLE.finditer(sql or schema_sql())
    }


def column_comments(sql: str | None = None) -> dict[tuple[str, str], str]:
    """(table, column) → the comment written beside the column in schema.sql."""
    comments: dict[tuple[str, str], str] = {}
    for table, body in _TABLE.findall(sql or schema_sql()):
        for line in body.splitlines():
            m = _COLUMN.match(line)
            if m and m.group(1) != "PRIMARY":
                comments[(table, m.group(1))] = m.group(2)
    return comments


def current_version(con: duckdb.DuckDBPyConnection, tables: set[str] | None = None) -> int:
    """The version recorded in the file; 0 when none is."""
    # Always fetchall(): DuckDB 2 refuses new work on a connection with an unfinished result.
    if "schema_migrations" not in (_tables(con) if tables is None else tables):
        return 0
    version = con.execute("SELECT max(version) FROM schema_migrations").fetchall()[0][0]
    return int(version) if version is not None else 0


def check_version(con: duckdb.DuckDBPyConnection, where: str, *, read_only: bool) -> int:
    """The file's version, once it is one feedwatch may use as it is (or upgrade)."""
    # The tables are listed once: on a lake another process may create the schema
    # between two statements, and a second look would see tables the first had not.
    tables = _tables(con)
    version = current_version(con, tables)
    if version > SCHEMA_VERSION:
        raise WarehouseError(
            f"{where}: the warehouse is at schema version {version}, newer than this feedwatch "
            f"understands ({SCHEMA_VERSION}): upgrade feedwatch before opening it"
        )
    if version == 0 and tables:
        raise ForeignFileError(
            f"{where}: holds tables but no feedwatch schema version: not a feedwatch"
            " warehouse, and feedwatch leaves it alone"
        )
    if read_only and version == 0:
        raise WarehouseMissingError(f"{where}: no warehouse here yet")
    if read_only and version < SCHEMA_VERSION:
        raise WarehouseOutdatedError(
            f"{where}: written by an older feedwatch (schema version {version}, this one"
            f" uses {SCHEMA_VERSION}); a read-write open upgrades it"
        )
    return version


def ensure_schema(
    con: duckdb.DuckDBPyConnection, where: str = "the warehouse", *, lake: bool = False
) -> int:
    """Bring the warehouse to SCHEMA_VERSION; return the version it had before. On a
    lake, schema.sql less what DuckLake has not got (lake.for_lake)."""
    before = check_version(con, where, read_only=False)
    if before == SCHEMA_VERSION:
        return before
    with transaction(con):
        sql = for_lake(schema_sql()) if lake else schema_sql()
        if before == 0:
            for statement in con.extract_statements(sql):  # one by one: a lake needs it
                con.execute(statement)
        else:
            _upgrade(con, before, sql)
            _views(con)
        _comments(con)
        # A new warehouse starts at the current version; an upgraded one records each step.
        reached = [SCHEMA_VERSION] if before == 0 else range(before + 1, SCHEMA_VERSION + 1)
        con.executemany("INSERT INTO schema_migrations VALUES (?, now())", [[v] for v in reached])
    return before


def _upgrade(con: duckdb.DuckDBPyConnection, before: int, sql: str) -> None:
    """Rebuild every table whose columns or constraints differ from schema.sql's; create
    the new ones."""
    fills = {key: sql for v, step in STEPS.items() if v > before for key, sql in step.fills.items()}
    for (view,) in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'"
    ).fetchall():
        con.execute(f"DROP VIEW {view}")  # remade from schema.sql by _views
    existing = _tables(con)
    for table, ddl in table_definitions(sql).items():
        if table not in existing:
            con.execute(ddl)
            continue
        old = _columns(con, table)
        con.execute(ddl.replace(f"CREATE TABLE {table} ", f"CREATE TABLE {table}__new ", 1))
        new = _columns(con, f"{table}__new")
        if new == old and _shape(con, table) == _shape(con, f"{table}__new"):
            con.execute(f"DROP TABLE {table}__new")
            continue
        copied = [c for c in new if c in old or (table, c) in fills]
        select = ", ".join(fills.get((table, c), c) if c not in old else c for c in copied)
        con.execute(f"INSERT INTO {table}__new ({', '.join(copied)}) SELECT {select} FROM {table}")
        con.execute(f"DROP TABLE {table}")
        con.execute(f"ALTER TABLE {table}__new RENAME TO {table}")


def _views(con: duckdb.DuckDBPyConnection) -> None:
    """The views, remade from schema.sql after an upgrade so they always read as it does."""
    for view in _VIEW.finditer(schema_sql()):
        con.execute(view.group(0))


def _comments(con: duckdb.DuckDBPyConnection) -> None:
    """Column comments from schema.sql, where the columns are documented."""
    for (table, column), comment in column_comments(schema_sql()).items():
        con.execute(f"COMMENT ON COLUMN {table}.{column} IS {_quote(comment)}")


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'"
        " AND database_name = current_database()"
    ).fetchall()
    return {r[0] for r in rows}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND schema_name = 'main'"
        " AND database_name = current_database() ORDER BY column_index",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


def _shape(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[object, ...]]:
    """A table's column types, defaults and constraints: what a rebuild would change."""
    return con.execute(
        "SELECT column_name, data_type, is_nullable, column_default FROM duckdb_columns()"
        " WHERE table_name = ? AND schema_name = 'main' AND database_name = current_database()"
        " UNION ALL SELECT constraint_type, list_sort(constraint_column_names)::VARCHAR, NULL, NULL"
        " FROM duckdb_constraints() WHERE table_name = ? AND schema_name = 'main'"
        " AND database_name = current_database() ORDER BY ALL",
        [table, table],
    ).fetchall()


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
