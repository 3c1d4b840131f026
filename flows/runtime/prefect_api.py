"""Prefect's API for one command that runs a flow: the operator's server, or a
temporary one started for the command and stopped after it.

- PREFECT_API_URL set (the environment or a Prefect profile): that server is
  used. One that does not answer fails the command at once, in one line.
- Otherwise a temporary server (SQLite in PREFECT_HOME) is started, as Prefect
  itself would, with two differences:
  * it starts before Prefect is imported here, so that the server's own start
    (~5 s of CPU) overlaps this process's imports on a second core, and this
    process never imports Prefect's server package (3.4 s of CPU spent only to
    start a subprocess);
  * its start-up limit fits a slow or busy machine: a new PREFECT_HOME migrates
    Prefect's database first, which takes longer than Prefect's own 20 s limit.
  Its output goes to a log file in PREFECT_HOME, named in any error.

Nothing here is imported by commands that do not run a flow.
"""

from __future__ import annotations

import fcntl
import importlib
import importlib.metadata
import logging
import os
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

import httpx

from extractors.errors import OrchestratorError
from flows.runtime import lifeline, liveness

__all__ = [
    "DEFAULT_STARTUP_TIMEOUT",
    "TemporaryServer",
    "asyncpg_url",
    "check_reachable",
    "prefect_api",
    "prepare_prefect",
    "require_server",
]

DEFAULT_STARTUP_TIMEOUT = 180.0  # seconds; a new PREFECT_HOME on a busy 2-core machine: ~40 s
REMEDY = (
    "run a long-lived server ('make serve', or 'prefect server start') and point"
    " PREFECT_API_URL at it"
)


def prepare_prefect() -> None:
    """Environment for Prefect, set before it is imported; the user's own settings win."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "feedwatch")


def prefect_home() -> Path:
    return Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()


def startup_timeout() -> float:
    """Prefect's own setting when the user gave it, else one that fits a slow machine."""
    value = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS")
    try:
        return float(value) if value else DEFAULT_STARTUP_TIMEOUT
    except ValueError:
        return DEFAULT_STARTUP_TIMEOUT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TemporaryServer:
    """Prefect's API server in a subprocess on a free loopback port: no UI, and only
    the services Prefect runs in its own temporary server.

    It ends with the process that started it, however that ends (flows.runtime.lifeline).
    Servers of one PREFECT_HOME started at once (cron on a new machine, several
    pollers) would all set up its database together, and all but one fail: the first
    start on a home (or with a new Prefect) is made by one process at a time, holding
    a lock in PREFECT_HOME until its server answers; the others wait for it, then start.
    """

    def __init__(self, home: Path):
        self.home = home
        self.port = _free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        home.mkdir(parents=True, exist_ok=True)
        self.log_path = home / "feedwatch-temporary-server.log"
        # The server's database when the operator named one; else SQLite in PREFECT_HOME.
        self._database = os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL") or os.environ.get(
            "PREFECT_SERVER_DATABASE_CONNECTION_URL", ""
        )
        self.first_start = not self._database and not (home / "prefect.db").exists()
        self._log: IO[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._setup: IO[bytes] | None = None  # the setup lock, held until the server answers
        self.started = time.monotonic()
        if self._set_up():
            self._start()
        else:
            self._setup = (home / "feedwatch-server-setup.lock").open("ab")
            if _try_lock(self._setup):
                self._start()  # this process sets the database up; the others wait
            # else: another process is setting it up; wait_ready waits for it first

    def _marker(self) -> Path:
        """Written once a server of this Prefect version answered on this home's database."""
        key = f"{_prefect_version()} {self._database}".encode()
        return self.home / f"feedwatch-server-ready-{zlib.crc32(key):08x}"

    def _set_up(self) -> bool:
        """Whether the database is ready: a server answered on it (and, for SQLite,
        the file is still there)."""
        return self._marker().exists() and bool(
            self._database or (self.home / "prefect.db").exists()
        )

    def _start(self) -> None:
        self._log = self.log_path.open("wb")
        # The command Prefect's SubprocessASGIServer runs, with its environment, on a
        # lifeline (its standard input) from this process.
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flows.runtime.lifeline",
                "uvicorn",
                "--factory",
                "prefect.server.api.server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ],
            env={
                **os.environ,
                "PREFECT_HOME": str(self.home),
                "PREFECT_UI_ENABLED": "0",
                "PREFECT__SERVER_EPHEMERAL": "1",
                "PREFECT__SERVER_FINAL": "1",
            },
            stdin=lifeline.read_end(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C reaches feedwatch, which stops the server
        )

    def wait_ready(self, timeout: float) -> float:
        """Block until the server answers; the seconds since this object was made."""
        deadline = self.started + timeout
        if self.process is None:
            self._wait_for_setup(deadline, timeout)
        assert self.process is not None
        with httpx.Client(timeout=2) as client:
            while True:
                with suppress(httpx.HTTPError):
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        break
                if self.process.poll() is not None:
                    raise OrchestratorError(
                        f"Prefect's temporary server exited (code {self.process.returncode})"
                        f" before it answered; its log: {self.log_path}{self._log_tail()}."
                        f" Or {REMEDY}."
                    )
                if time.monotonic() > deadline:
                    raise self._late(timeout)
                time.sleep(0.1)
        if self._setup is not None:
            self._marker().touch()
            self._setup.close()  # the lock goes with it: the servers waiting may start
            self._setup = None
        return time.monotonic() - self.started

    def _wait_for_setup(self, deadline: float, timeout: float) -> None:
        """Another process is setting this home's database up: start once it is done."""
        assert self._setup is not None
        while not _try_lock(self._setup):
            if time.monotonic() > deadline:
                raise self._late(timeout)
            time.sleep(0.2)
        if self._set_up():  # done by the other process: nothing to hold the lock for
            self._setup.close()
            self._setup = None
        self._start()  # else it gave up: this one sets it up, holding the lock

    def _late(self, timeout: float) -> OrchestratorError:
        return OrchestratorError(
            f"Prefect's temporary server did not answer within {timeout:.0f} s"
            f" (its log: {self.log_path}). On a slow machine raise"
            f" PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or {REMEDY}."
        )

    def _log_tail(self) -> str:
        if self._log is not None:
            self._log.flush()
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        return f" (last line: {lines[-1].strip()})" if lines else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for f in (self._log, self._setup):
            if f is not None:
                f.close()


def _try_lock(f: IO[bytes]) -> bool:
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _prefect_version() -> str:
    try:
        return importlib.metadata.version("prefect")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def check_reachable(url: str) -> None:
    """Any HTTP answer will do (Prefect Cloud asks for a key); no answer is an error."""
    try:
        httpx.get(f"{url.rstrip('/')}/health", timeout=httpx.Timeout(10, connect=5))
    except httpx.HTTPError as e:
        reason = str(e) or type(e).__name__
        raise OrchestratorError(
            f"cannot reach the Prefect server at {url} (PREFECT_API_URL): {reason}."
            " Start it ('make serve'), or unset PREFECT_API_URL to run on a temporary server."
        ) from e


def require_server(what: str) -> str:
    """The operator's Prefect server, for what lives on a server (deployments, automations):
    a temporary one would forget them when the command ends."""
    prepare_prefect()
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        raise OrchestratorError(
            f"{what} needs a long-lived Prefect server: start one ('make serve')"
            " and set PREFECT_API_URL to its API (http://127.0.0.1:4200/api)"
        )
    check_reachable(url)
    return url


def _flush_to_server() -> None:
    """Send this process's pending log lines and events while the server still listens."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with suppress(Exception):  # an unsent log line must not fail a finished run
            worker.drain_all(timeout=5)


@contextmanager
def without_heartbeats() -> Iterator[None]:
    """Flow runs started in this block send Prefect no heartbeats, unless the operator
    asked for them (PREFECT_FLOWS_HEARTBEAT_FREQUENCY, in the environment or a profile).

    A heartbeat is sent when a run starts and then every 180 s, and at its end the run
    waits for the heartbeat thread, which sleeps in 1 s steps: about 1 s of every run,
    most of what a run costs when nothing changed. feedwatch's flows send heartbeats
    of their own instead, which cost nothing at the end (flows.runtime.liveness).
    """
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        get_current_settings,
        temporary_settings,
    )

    if "heartbeat_frequency" in get_current_settings().flows.model_fields_set:
        yield
        return
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@contextmanager
def prefect_api(
    notice: Callable[[str], None] | None = None, preload: Sequence[str] = ()
) -> Iterator[str]:
    """Prefect, ready for flow runs in this process (without heartbeats, see
    without_heartbeats); yields the API URL in use.

    notice(text) is told about a first start, which takes a while. The modules of
    `preload` (the flow's) are imported while a temporary server starts.
    """
    prepare_prefect()
    server = None
    if not os.environ.get("PREFECT_API_URL") and "prefect" not in sys.modules:
        # Most likely needed: started now, it comes up while Prefect is imported below.
        server = TemporaryServer(prefect_home())
    try:
        # A Prefect profile (or prefect.toml) may name a server: that one is used then.
        from prefect.settings import get_current_settings

        configured = get_current_settings().api.url
        if configured:
            if server is not None:
                server.stop()
                server = None
            check_reachable(configured)
            _look_after_runs(configured)
            with without_heartbeats():
                yield configured
            return
        if server is None:
            server = TemporaryServer(prefect_home())
        if server.first_start and notice:
            notice(
                f"Prefect is setting up its database in {server.home} (the first run"
                " with this PREFECT_HOME; about half a minute)"
            )
        for module in preload:
            importlib.import_module(module)
        server.wait_ready(startup_timeout())
        with _global_api_url(server.api_url), without_heartbeats():
            _look_after_runs(liveness.TEMPORARY)
            try:
                yield server.api_url
            finally:
                _flush_to_server()
    finally:
        if server is not None:
            server.stop()


def _look_after_runs(server: str) -> None:
    """Runs that killed processes left Running, marked Crashed; on a long-lived server,
    the automation that does it within minutes (flows.runtime.liveness)."""
    liveness.use_server(server)
    liveness.crash_dead_runs()
    if server != liveness.TEMPORARY:
        try:
            liveness.ensure_automation()
        except Exception as e:  # e.g. a server that refuses automations: runs go on
            logging.getLogger("feedwatch").warning(
                "could not make the automation %r that marks killed runs crashed: %s",
                liveness.AUTOMATION,
                e,
            )


@contextmanager
def _global_api_url(url: str) -> Iterator[None]:
    """PREFECT_API_URL for everything Prefect does in this process, its background
    threads included (they read the global settings context, not the caller's)."""
    from prefect.context import refresh_global_settings_context

    # No UI runs with the temporary server: no "View at" links to pages that never exist.
    values = {"PREFECT_API_URL": url, "PREFECT_UI_URL": ""}
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    refresh_global_settings_context()
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        refresh_global_settings_context()


def asyncpg_url(database: str) -> str:
    """FEEDWATCH_PREFECT_DB (a postgresql:// URL) as Prefect's server takes it
    (PREFECT_API_DATABASE_CONNECTION_URL); make serve and the tests both use it."""
    if not database.startswith(("postgresql://", "postgres://")):
        raise ValueError(f"not a postgresql:// URL: {database!r}")
    return "postgresql+asyncpg://" + database.split("://", 1)[1]
