"""A flow run the Prefect UI shows as Running is one that is running.

A feedwatch process that is killed (SIGKILL, the OOM killer, a second Ctrl-C, a
power cut) cannot tell Prefect that its run ended; Prefect would show the run as
Running for ever. Two things put that right, each where the other cannot:

- **Heartbeats, and an automation on the server.** While a flow's body runs it
  emits a `feedwatch.flow-run.heartbeat` event every HEARTBEAT seconds (30 s;
  FEEDWATCH_HEARTBEAT, 0 for none). The automation "feedwatch: crashed runs" marks
  a run Crashed when no heartbeat and no final state follows one within three
  heartbeats: on a long-lived server, a killed run shows Crashed within about
  95 s. feedwatch's own thread sends them and stops at once when the body ends, so
  a run pays nothing for them at its end (Prefect's own heartbeats cost a run
  about a second there, and would have an automation crash other flows' runs too).
  `make serve`, `feedwatch serve` and any run against a long-lived server make the
  automation when the server has none.
- **Run records, read by the next run.** A temporary server dies with the run,
  heartbeats and all. So each run also leaves a record in PREFECT_HOME
  (feedwatch-runs/), locked for as long as its process lives. The next run that
  starts Prefect on that home takes every record whose lock is free: its process
  is gone, and if its run is not in a final state, it is marked Crashed then.
  This needs no server of its own, and works for long-lived servers too.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import functools
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, ParamSpec, TypeVar
from uuid import UUID

from flows.units import parse_duration

__all__ = [
    "AUTOMATION",
    "HEARTBEAT",
    "HEARTBEAT_EVENT",
    "crash_dead_runs",
    "ensure_automation",
    "heartbeat_seconds",
    "signs_of_life",
    "use_server",
    "with_signs_of_life",
]

logger = logging.getLogger("feedwatch")
P = ParamSpec("P")
R = TypeVar("R")

HEARTBEAT = 30.0  # seconds between two heartbeats of a run
HEARTBEAT_EVENT = "feedwatch.flow-run.heartbeat"
AUTOMATION = "feedwatch: crashed runs"
MISSED = 3  # heartbeats missed before the automation calls a run crashed
TEMPORARY = "temporary"  # the server a record names when it was a temporary one

# The events that end the wait for the next heartbeat: another, or a final state.
_FINAL_EVENTS = frozenset(
    f"prefect.flow-run.{state}" for state in ("Completed", "Failed", "Cancelled", "Crashed")
)

_server: str | None = None  # the server this process's runs report to, when feedwatch chose it


def heartbeat_seconds() -> float:
    """FEEDWATCH_HEARTBEAT (a duration such as 30s; 0 for none), else HEARTBEAT."""
    value = os.environ.get("FEEDWATCH_HEARTBEAT")
    if not value:
        return HEARTBEAT
    try:
        return parse_duration(value)
    except ValueError:
        logger.warning("FEEDWATCH_HEARTBEAT=%r is not a duration: %g s used", value, HEARTBEAT)
        return HEARTBEAT


def use_server(key: str | None) -> None:
    """Which server this process's runs report to: TEMPORARY, or the API URL (None:
    the one Prefect's settings name)."""
    global _server
    _server = key


def _server_key() -> str:
    if _server is not None:
        return _server
    from prefect.settings import get_current_settings

    return str(get_current_settings().api.url or "")


def _records() -> Path:
    from flows.runtime.prefect_api import prefect_home

    return prefect_home() / "feedwatch-runs"


# A flow run's side -----------------------------------------------------------------


def with_signs_of_life(fn: Callable[P, R]) -> Callable[P, R]:
    """A flow's body, run inside signs_of_life(). (A plain function, not the context
    manager used as a decorator: that one holds a generator, and Prefect pickles the
    flow, this function included, for the tasks it sends to Dask.)"""

    @functools.wraps(fn)
    def body(*args: P.args, **kwargs: P.kwargs) -> R:
        with signs_of_life():
            return fn(*args, **kwargs)

    return body


@contextlib.contextmanager
def signs_of_life() -> Iterator[None]:
    """Around a flow's body: the run's record and its heartbeats, for as long as it runs.

    A body that returns removes its record (its final state follows at once); one that
    raises leaves it, and the next run checks that the run's state was reported."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:  # the body called as a function
        yield
        return
    run = context.flow_run
    try:
        record: _Record | None = _Record.create(str(run.id))
    except OSError as e:  # e.g. a read-only PREFECT_HOME: the run goes on without one
        logger.warning(
            "no record of this run in %s (%s): if it is killed,"
            " only a long-lived server's automation can tell",
            _records(),
            e,
        )
        record = None
    interval = heartbeat_seconds()
    beat = _Heartbeat(str(run.id), run.name, interval) if interval > 0 else None
    ok = False
    try:
        yield
        ok = True
    finally:
        if beat is not None:
            beat.stop()
        if record is not None:
            record.close(remove=ok)


class _Heartbeat:
    """A thread emitting HEARTBEAT_EVENT for a flow run: one at once, then one every
    `interval` seconds, until stopped (at once: it waits on an Event, not in steps)."""

    def __init__(self, run_id: str, name: str, interval: float):
        from prefect.events import emit_event

        self._stop = threading.Event()
        resource = {
            "prefect.resource.id": f"prefect.flow-run.{run_id}",
            "prefect.resource.name": name,
        }

        def beat() -> None:
            while True:
                try:
                    emit_event(event=HEARTBEAT_EVENT, resource=resource)
                except Exception:  # a lost heartbeat must not fail the run
                    logger.debug("heartbeat not sent", exc_info=True)
                if self._stop.wait(interval):
                    return

        # The thread sees this run's Prefect settings (its API URL) through the context.
        self._thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(beat,),
            name="feedwatch-heartbeat",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class _Record:
    """feedwatch-runs/<flow run id>.json in PREFECT_HOME, locked while its process lives."""

    path: Path
    file: IO[str]

    @classmethod
    def create(cls, run_id: str) -> _Record:
        folder = _records()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{run_id}.json"
        # Written and locked under another name, then renamed: a run looking at the
        # folder never sees this record unlocked while its process lives.
        partial = folder / f".{run_id}.{os.getpid()}"
        f = partial.open("w", encoding="utf-8")
        try:
            fcntl.flock(f, fcntl.LOCK_EX)
            json.dump(
                {
                    "flow_run_id": run_id,
                    "server": _server_key(),
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                },
                f,
            )
            f.flush()
            os.replace(partial, path)
        except BaseException:
            f.close()
            partial.unlink(missing_ok=True)
            raise
        return cls(path, f)

    def close(self, *, remove: bool) -> None:
        if remove:
            with contextlib.suppress(OSError):
                self.path.unlink()  # while locked: no run sees it free before it is gone
        self.file.close()


# The next run's side ---------------------------------------------------------------


def crash_dead_runs() -> int:
    """Mark Crashed every run of this server whose record is free (its process is
    gone) and whose state is not final; remove those records. How many were marked."""
    folder = _records()
    if not folder.is_dir():
        return 0
    server, marked = _server_key(), 0
    for path in sorted(folder.glob("*.json")):
        record = _dead(path)
        if record is None or record.get("server") != server:
            continue
        try:
            marked += _crash(record)
        except Exception as e:  # kept for the next run: the server may answer then
            logger.warning("could not check flow run %s: %s", record.get("flow_run_id"), e)
            continue
        with contextlib.suppress(OSError):
            path.unlink()
    return marked


def _dead(path: Path) -> dict[str, Any] | None:
    """The record at `path` if no process holds it, else None."""
    try:
        f = path.open(encoding="utf-8")
    except OSError:
        return None  # removed meanwhile: its run ended
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # its process lives
        try:
            if os.stat(path).st_ino != os.fstat(f.fileno()).st_ino:
                return None
        except OSError:
            return None  # removed by its run, which ended, after we opened it
        try:
            record: dict[str, Any] = json.load(f)
        except ValueError:
            record = {}
        return record


def _crash(record: dict[str, Any]) -> int:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Crashed

    run_id = str(record.get("flow_run_id"))
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(UUID(run_id))
        except ObjectNotFound:
            return 0  # the server no longer knows it
        if run.state is None or run.state.is_final():
            return 0
        client.set_flow_run_state(
            run_id,
            Crashed(
                message=f"feedwatch's process {record.get('pid')} on {record.get('host')} ended"
                " before its run did (killed?); marked crashed by the next run"
            ),
            force=True,
        )
    logger.warning(
        "flow run %s (%s) had been left running by a killed process: marked crashed",
        run.name,
        run_id,
    )
    return 1


# The server's side -----------------------------------------------------------------


def ensure_automation(heartbeat: float | None = None) -> bool:
    """Make the automation AUTOMATION on the server of PREFECT_API_URL, unless it has
    one for this heartbeat already; True if it was made (or remade)."""
    from prefect.automations import Automation
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    interval = heartbeat_seconds() if heartbeat is None else heartbeat
    if interval <= 0:
        return False
    within = timedelta(seconds=max(MISSED * interval, 10))  # Prefect's least for this trigger
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(AUTOMATION)
        if any(getattr(a.trigger, "within", None) == within for a in existing):
            return False
        for a in existing:
            client.delete_automation(a.id)
    Automation(
        name=AUTOMATION,
        description=(
            "feedwatch: a run whose heartbeats stopped before it reached a final state"
            " (its process was killed) is marked Crashed"
        ),
        trigger=EventTrigger(
            after={HEARTBEAT_EVENT},
            expect={HEARTBEAT_EVENT, *_FINAL_EVENTS},
            match=ResourceSpecification({"prefect.resource.id": "prefect.flow-run.*"}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=within,
        ),
        actions=[
            ChangeFlowRunState(
                name="Crashed",
                state=StateType.CRASHED,
                force=False,  # a run that reached a final state keeps it
                message=(
                    f"no heartbeat from feedwatch's process for {within.total_seconds():.0f} s"
                    " (killed?): marked crashed"
                ),
            )
        ],
    ).create()
    return True
