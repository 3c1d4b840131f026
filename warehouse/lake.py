"""The warehouse on DuckLake: the catalog in PostgreSQL (pollers on many machines)
or SQLite (several processes on one machine), the data as Parquet files under a
data path (a local or shared folder, or object storage).

`--db ducklake:postgres:<libpq conninfo>` or `--db ducklake:sqlite:<path>`, with
`--data-path DIR` (or FEEDWATCH_DATA_PATH). The same schema.sql applies, less what
DuckLake has not got (docs/scaling.md): primary keys, which the writer never
relied on for the large tables and no longer relies on anywhere (upserts are
MERGE). The extensions are loaded from the installed duckdb-ext-* packages,
never downloaded.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from extractors.errors import ConfigError, WarehouseError

__all__ = ["LAKE", "connect_lake", "for_lake", "is_lake"]

LAKE = "ducklake:"
_CATALOGS = {"postgres": "postgres_scanner", "sqlite": "sqlite_scanner"}
_PRIMARY_KEY = re.compile(r",\s*PRIMARY KEY \([^)]*\)|\s+PRIMARY KEY\b")
_BOOLEAN_DEFAULT = re.compile(r"DEFAULT (true|false)\b")


def is_lake(db: str | Path) -> bool:
    return str(db).startswith(LAKE)


def for_lake(sql: str) -> str:
    """schema.sql as DuckLake takes it: no primary keys (it has no unique constraints),
    and boolean defaults written as literals it accepts ('true')."""
    return _BOOLEAN_DEFAULT.sub(r"DEFAULT '\1'", _PRIMARY_KEY.sub("", sql))


def _extension(name: str) -> str:
    try:
        import duckdb_ext  # the duckdb-ext-* packages: feedwatch[lake]
    except ImportError as e:
        raise ConfigError(
            "a DuckLake warehouse needs DuckDB's lake extensions: pip install 'feedwatch[lake]'"
        ) from e
    platform = duckdb.execute("PRAGMA platform").fetchall()[0][0]
    base = Path(next(iter(duckdb_ext.__path__))) / "extensions" / f"v{duckdb.__version__}"
    path = base / platform / f"{name}.duckdb_extension"
    if not path.exists():
        raise ConfigError(
            f"no {name} extension for DuckDB {duckdb.__version__} on {platform} in {base}:"
            " install the duckdb-ext-* packages of this DuckDB's version"
        )
    return str(path)


def connect_lake(
    db: str, data_path: str | None = None, *, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached as `lake` and in use."""
    kind = db[len(LAKE) :].split(":", 1)[0]
    if kind not in _CATALOGS:
        raise ConfigError(
            f"{db}: the lake's catalog must be ducklake:postgres:<conninfo> or"
            " ducklake:sqlite:<path>"
        )
    con = duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    try:
        for name in ("ducklake", _CATALOGS[kind]):
            con.execute(f"LOAD {_quote(_extension(name))}")
        options = [f"DATA_PATH {_quote(data_path)}"] if data_path else []
        if read_only:
            options.append("READ_ONLY")
        attach = f"ATTACH {_quote(db)} AS lake" + (f" ({', '.join(options)})" if options else "")
        con.execute(attach)
        con.execute("USE lake")
    except duckdb.Error as e:
        con.close()
        raise WarehouseError(f"{_redacted(db)}: cannot open the lake: {e}") from e
    return con


def _redacted(db: str) -> str:
    """The lake's address without a password in its conninfo."""
    return re.sub(r"(password=)\S+", r"\1***", db)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
