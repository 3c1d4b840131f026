"""The warehouse: schema, migrations, and the `Warehouse` interface (api.py) the flows
use, implemented by the DuckDB file (store.py). `open_warehouse` picks the backend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from warehouse._duckdb import check_path
from warehouse.api import Warehouse
from warehouse.lake import is_lake

__all__ = ["Warehouse", "check_path", "may_exist", "open_warehouse"]


def may_exist(db: str | Path) -> bool:
    """Whether there may be a warehouse at `db` to read: a file that exists, or any
    lake (whether it was made yet is known only by opening it)."""
    return is_lake(db) or Path(db).exists()


@contextmanager
def open_warehouse(
    db: str | Path, *, read_only: bool = False, data_path: str | None = None
) -> Iterator[Warehouse]:
    """A short session on the warehouse `db`: a DuckDB file, or a DuckLake
    (`ducklake:postgres:<conninfo>`, `ducklake:sqlite:<path>`; its Parquet files
    under data_path or FEEDWATCH_DATA_PATH). read_only never takes the file's
    write lock, and is what every reading command uses."""
    from warehouse.store import DuckDBWarehouse

    if is_lake(db):
        with DuckDBWarehouse.open_lake(str(db), data_path=data_path, read_only=read_only) as wh:
            yield wh
        return
    with DuckDBWarehouse.open(db, read_only=read_only) as wh:
        yield wh
