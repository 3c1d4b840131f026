"""A throw-away PostgreSQL cluster for the tests and benchmarks: Debian's postgresql, a temporary
data folder, a free port on 127.0.0.1, trust authentication. The server refuses to
run as root, so as root it runs as the `postgres` user."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["create_database", "postgres_bin", "throwaway_postgres", "url_of"]


def postgres_bin() -> Path | None:
    """The folder of initdb and pg_ctl, or None when PostgreSQL is not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def throwaway_postgres(bin_dir: Path) -> Iterator[str]:
    """A running cluster; yields the libpq conninfo of its `postgres` database."""
    root = Path(tempfile.mkdtemp(prefix="feedwatch-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, timeout=120)

    run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c max_connections=100"
    run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(root / "log"),
        "-w",
        "start",
    )
    try:
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


def create_database(conninfo: str, name: str) -> str:
    """A new database in the cluster; its conninfo. (psql: no Python driver needed.)"""
    bin_dir = postgres_bin()
    assert bin_dir is not None
    params = dict(part.split("=", 1) for part in conninfo.split())
    subprocess.run(
        [
            str(bin_dir / "createdb"),
            "-h",
            params["host"],
            "-p",
            params["port"],
            "-U",
            params["user"],
            name,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return conninfo.replace(f"dbname={params['dbname']}", f"dbname={name}")


def url_of(conninfo: str) -> str:
    """The postgresql:// URL of a conninfo."""
    p = dict(part.split("=", 1) for part in conninfo.split())
    return f"postgresql://{p['user']}@{p['host']}:{p['port']}/{p['dbname']}"
