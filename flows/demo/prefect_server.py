"""A throwaway Prefect server (SQLite, its own home) for the tests and benchmarks.

Operators run theirs with `make serve`; this one starts on a free loopback
port, with the scheduler off (the deployments' schedules would start polls of
the real feeds.yaml), and is gone with its state when the block ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from flows.runtime.prefect_api import asyncpg_url

__all__ = ["prefect_server"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def prefect_server(
    home: Path, *, start_timeout: float = 120, database: str | None = None
) -> Iterator[dict[str, str]]:
    """Start `prefect server` with `home` as PREFECT_HOME (and its database in
    PostgreSQL when `database` is a postgresql:// URL); yield the environment that
    reaches it (PREFECT_API_URL set, telemetry off, private networks allowed)."""
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api,
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "FEEDWATCH_ALLOW_PRIVATE_NETWORKS": "1",
    }
    log_path = home / "server.log"
    prefect = Path(sys.executable).parent / "prefect"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env={
                **env,
                "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
                **(
                    {"PREFECT_API_DATABASE_CONNECTION_URL": asyncpg_url(database)}
                    if database
                    else {}
                ),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + start_timeout
            while True:
                try:
                    if httpx.get(f"{api}/health", timeout=2).json() is True:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"prefect server did not start: {log_path.read_text()[-2000:]}"
                    )
                time.sleep(0.5)
            yield env
        finally:
            if "prefect.logging.handlers" in sys.modules:
                # Send this process's pending log lines while the server still listens.
                from prefect.logging.handlers import APILogHandler

                APILogHandler().flush()
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
