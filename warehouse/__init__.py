"""The warehouse: schema, migrations, and the `Warehouse` interface (api.py) the flows
use, implemented by the DuckDB file (store.py). `open_warehouse` picks the backend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from warehouse._duckdb import check_path
from warehouse.api import Warehouse

__all__ = ["Warehouse", "check_path", "open_warehouse"]


@contextmanager
def open_warehouse(db: str | Path, *, read_only: bool = False) -> Iterator[Warehouse]:
    """A short session on the warehouse `db` (a DuckDB file); read_only never takes
    the write lock, and is what every reading command uses."""
    from warehouse.store import DuckDBWarehouse

    with DuckDBWarehouse.open(db, read_only=read_only) as wh:
        yield wh
