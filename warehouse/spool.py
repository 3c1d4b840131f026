"""The spool: poll batches waiting for the warehouse, so that nothing fetched is lost.

While another process holds the DuckDB file (an analyst's open session),
the writer cannot open it. The batch is then written here, atomically (a
temporary file renamed into place), and the next run loads spooled batches
first. Loading is idempotent, so a batch loaded twice, after a crash between
its commit and its removal, adds nothing the second time.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

from extractors.errors import WarehouseError
from extractors.models import PollBatch
from warehouse.lake import is_lake

__all__ = ["pending", "read", "remove", "spool_dir", "write"]

_MAGIC = b"feedwatch-spool-2\n"  # 2: batches carry their feed intents


def spool_dir(db: str | Path) -> Path:
    """Beside the warehouse file; for a lake, on this machine (data/), named after it."""
    if is_lake(db):
        digest = hashlib.sha1(str(db).encode()).hexdigest()[:12]
        return Path("data") / f"lake-{digest}.spool"
    return Path(f"{db}.spool")


def write(db: str | Path, batch: PollBatch) -> Path:
    folder = spool_dir(db)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{batch.started_at:%Y%m%dT%H%M%S}-{batch.run_id}-{batch.seq:05d}.batch"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".writing-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC)
            pickle.dump(batch, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)  # atomic: a reader sees the whole batch or none of it
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return final


def pending(db: str | Path) -> list[Path]:
    """Spooled batches, oldest first (half-written temporary files are not batches)."""
    folder = spool_dir(db)
    return sorted(folder.glob("*.batch")) if folder.is_dir() else []


def read(path: Path) -> PollBatch:
    data = path.read_bytes()
    if not data.startswith(_MAGIC):
        raise WarehouseError(f"{path}: not a feedwatch spool file (or from another version)")
    batch = pickle.loads(data[len(_MAGIC) :])  # written by feedwatch itself, never by others
    if not isinstance(batch, PollBatch):
        raise WarehouseError(f"{path}: does not hold a poll batch")
    return batch


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    for stale in path.parent.glob(".writing-*.tmp"):  # left by a writer that was killed
        stale.unlink(missing_ok=True)
