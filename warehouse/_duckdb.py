"""Thin DuckDB helpers: connecting, transactions, error wrapping. No business logic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from extractors.errors import (
    ConfigError,
    ReadOnlyError,
    WarehouseError,
    WarehouseLockedError,
    WarehouseMissingError,
)
from warehouse.lake import is_lake

__all__ = ["READABLE_FROM", "check_path", "connect", "transaction"]

READABLE_FROM = "v1.5.0"  # the oldest DuckDB that can open the warehouse files feedwatch makes


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file; a lock held elsewhere becomes WarehouseLockedError."""
    path = Path(path)
    check_path(path)
    if read_only and not path.exists():
        raise WarehouseMissingError(f"{path}: no warehouse here yet")
    config: dict[str, str | bool | int | float | list[str]] = {}
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"{path}: cannot make its folder: {e.strerror or e}") from e
        if not path.exists() and int(duckdb.__version__.split(".")[0]) >= 2:
            # A new warehouse in DuckDB 1.5's format: DuckDB 2 would otherwise write one
            # no 1.x release can open (the duckdb CLI, and the tools analysts have).
            config["storage_compatibility_version"] = READABLE_FROM
    try:
        return duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise WarehouseLockedError(
                f"{path}: held by another process (an open duckdb session?): {e}"
            ) from e
        raise WarehouseError(f"{path}: cannot open: {e}") from e
    except duckdb.Error as e:
        raise WarehouseError(f"{path}: cannot open: {e}") from e


def check_path(path: Path) -> None:
    """A path that cannot be a warehouse file is refused before anything is opened
    (a lake, ducklake:…, is no path: nothing to check)."""
    if is_lake(path):
        return
    if path.is_dir():
        raise ConfigError(
            f"{path}: is a folder; the warehouse is a file, such as {path / 'feedwatch.duckdb'}"
        )
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ConfigError(f"{path}: {parent} is a file, not a folder")


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN … COMMIT, rolled back on any error; DuckDB errors become WarehouseError."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException as e:
        con.execute("ROLLBACK")
        if isinstance(e, duckdb.Error):
            raise WarehouseError(f"transaction rolled back: {e}") from e
        raise
    else:
        con.execute("COMMIT")


def is_read_only_violation(error: duckdb.Error) -> bool:
    message = str(error).lower()
    return "read-only" in message or "read only" in message


def wrap_read_only(error: duckdb.Error) -> ReadOnlyError:
    return ReadOnlyError(
        "the warehouse is opened read-only here; statements that change it are refused "
        f"({str(error).splitlines()[0]})"
    )
