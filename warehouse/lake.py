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

import fcntl
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from extractors.errors import (
    ConfigError,
    WarehouseError,
    WarehouseLockedError,
    WarehouseMissingError,
)

__all__ = ["LAKE", "connect_lake", "for_lake", "is_lake", "writer_lock"]

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


def _extension(con: duckdb.DuckDBPyConnection, name: str) -> str:
    try:
        import duckdb_ext  # the duckdb-ext-* packages: feedwatch[lake]
    except ImportError as e:
        raise ConfigError(
            "a DuckLake warehouse needs DuckDB's lake extensions: pip install 'feedwatch[lake]'"
        ) from e
    # This connection's, not duckdb.execute's: the module's default connection is shared
    # by every thread, and two threads opening lakes at once mixed up its results.
    platform = con.execute("PRAGMA platform").fetchall()[0][0]
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
            con.execute(f"LOAD {_quote(_extension(con, name))}")
        options = [f"DATA_PATH {_quote(data_path)}"] if data_path else []
        if read_only:
            options.append("READ_ONLY")
        attach = f"ATTACH {_quote(db)} AS lake" + (f" ({', '.join(options)})" if options else "")
        con.execute(attach)
        con.execute("USE lake")
    except duckdb.Error as e:
        con.close()
        if read_only and "does not exist" in str(e):
            raise WarehouseMissingError(f"{_redacted(db)}: no warehouse here yet") from e
        raise WarehouseError(f"{_redacted(db)}: cannot open the lake: {e}") from e
    return con


# One writer at a time per lake (docs/design.md): DuckLake has no unique constraints,
# so two loads of the same story at once would both insert it. Readers never wait.
_LOCK_KEY = 0x6665656477617463  # "feedwatc": the advisory lock every feedwatch writer takes
LOCK_TIMEOUT = 30.0


@contextmanager
def writer_lock(db: str, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the lake's writer lock: a PostgreSQL advisory lock in the catalog's own
    database, or an flock beside a SQLite catalog. Either goes with the process that
    holds it, killed or not. WarehouseLockedError after `timeout` seconds of waiting."""
    kind, target = db[len(LAKE) :].split(":", 1)
    if kind == "postgres":
        yield from _pg_lock(db, target, timeout)
    else:
        yield from _file_lock(db, Path(f"{target}.writer-lock"), timeout)


def _pg_lock(db: str, conninfo: str, timeout: float) -> Iterator[None]:
    import psycopg

    try:
        conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
    except psycopg.Error as e:
        raise WarehouseError(f"{_redacted(db)}: cannot reach the catalog: {e}") from e
    try:
        conn.execute(f"SET lock_timeout = '{int(timeout * 1000)}ms'")
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", [_LOCK_KEY])
        except psycopg.errors.LockNotAvailable as e:
            raise WarehouseLockedError(
                f"{_redacted(db)}: another writer held the lake for {timeout:g} s"
            ) from e
        yield
    finally:
        conn.close()  # the session ends, and its lock with it


def _file_lock(db: str, path: Path, timeout: float) -> Iterator[None]:
    deadline = time.monotonic() + timeout
    with path.open("a") as f:
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WarehouseLockedError(
                        f"{db}: another writer held the lake for {timeout:g} s"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _redacted(db: str) -> str:
    """The lake's address without a password in its conninfo."""
    return re.sub(r"(password=)\S+", r"\1***", db)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
