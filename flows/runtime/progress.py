"""Progress of long work for whoever started it: bars on a terminal, plain lines otherwise.

The flows report steps (`progress().start("pages", 120)`, then `advance`) to
whatever reporter the command installed; under a scheduler nothing is
installed and the calls cost nothing. Tasks run in threads of the same
process, so one reporter, guarded by a lock, serves them all.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["Bars", "Lines", "Reporter", "for_console", "progress", "reporting"]


class Reporter:
    """Reports nothing: what flows see when no command is watching."""

    def start(self, step: str, total: int) -> None:
        pass

    def advance(self, step: str, n: int = 1) -> None:
        pass

    def grow(self, step: str, n: int) -> None:
        """`n` more to do in a step whose total is found as it goes."""

    def close(self) -> None:
        pass


class Lines(Reporter):
    """A line per step at its start, then at most one every `every` seconds, and at its end:
    for logs and pipes, where a redrawn bar would be noise."""

    def __init__(self, stream: IO[str], every: float = 5.0):
        self.stream = stream
        self.every = every
        self._lock = threading.Lock()
        self._steps: dict[str, list[float]] = {}  # step → [done, total, last printed]

    def start(self, step: str, total: int) -> None:
        with self._lock:
            self._steps[step] = [0, total, time.monotonic()]
            self._print(f"{step}: 0/{total}")

    def advance(self, step: str, n: int = 1) -> None:
        with self._lock:
            state = self._steps.get(step)
            if state is None:
                return
            state[0] += n
            done, total, last = state[:3]
            now = time.monotonic()
            # A step whose total grows as it goes (len(state) > 3) is not done when
            # it catches up: only the clock prints it.
            if (done >= total and len(state) == 3) or now - last >= self.every:
                state[2] = now
                self._print(f"{step}: {int(done)}/{int(total)}{' done' if done >= total else ''}")

    def grow(self, step: str, n: int) -> None:
        with self._lock:
            state = self._steps.get(step)
            if state is not None:
                state[1] += n
                state[3:] = [1]

    def _print(self, text: str) -> None:
        self.stream.write(f"feedwatch: {text}\n")
        self.stream.flush()


class Bars(Reporter):
    """Rich progress bars, one per step, redrawn in place."""

    def __init__(self, console: Console):
        self._progress = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()
        self._progress.start()
        # The bars say what Prefect's INFO lines would; its console handler keeps only
        # warnings meanwhile (the Prefect UI still gets every line), and prints them
        # through the bars' console, which puts them above the bars instead of across.
        self._swapped = [(h, h.level, h.console) for h in _console_handlers()]
        for h, level, _ in self._swapped:
            h.setLevel(max(level, logging.WARNING))
            h.console = console

    def close(self) -> None:
        self._progress.stop()
        for h, level, own in self._swapped:
            h.setLevel(level)
            h.console = own

    def start(self, step: str, total: int) -> None:
        with self._lock:
            if step in self._tasks:  # a step that comes again (each batch's load): one bar
                self._progress.reset(self._tasks[step], total=total)
            else:
                self._tasks[step] = self._progress.add_task(step, total=total)

    def advance(self, step: str, n: int = 1) -> None:
        task = self._tasks.get(step)
        if task is not None:
            self._progress.advance(task, n)

    def grow(self, step: str, n: int) -> None:
        with self._lock:
            task = self._tasks.get(step)
            if task is not None:
                total = self._progress.tasks[self._tasks_index(task)].total or 0
                self._progress.update(task, total=total + n)

    def _tasks_index(self, task: TaskID) -> int:
        return [t.id for t in self._progress.tasks].index(task)


def _console_handlers() -> list[Any]:
    """The logging handlers printing to the terminal through a rich console (Prefect's)."""
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    found: dict[int, Any] = {}
    for lg in loggers:
        for h in lg.handlers:
            if isinstance(getattr(h, "console", None), Console) and getattr(h, "stream", None) in (
                sys.__stderr__,
                sys.__stdout__,
            ):
                found[id(h)] = h
    return list(found.values())


_current: Reporter = Reporter()


def progress() -> Reporter:
    return _current


def for_console(console: Console) -> Reporter:
    """Bars when the console is a terminal, lines when it is a pipe or a file."""
    if console.is_terminal and not console.is_dumb_terminal:
        return Bars(console)
    return Lines(console.file)


@contextmanager
def reporting(reporter: Reporter) -> Iterator[Reporter]:
    global _current
    previous, _current = _current, reporter
    try:
        yield reporter
    finally:
        _current = previous
        reporter.close()
