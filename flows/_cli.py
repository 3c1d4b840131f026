"""What the feedwatch commands share: consoles, defaults, options, errors → exit codes.

Exit codes: 0 done (also when single feeds failed: they are recorded),
1 the warehouse or a run could not be used, 2 bad command line, configuration
or query (the message names the file, the line and the problem).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from extractors.errors import ConfigError, FeedwatchError, ReadOnlyError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DEFAULT_DB = Path("data/feedwatch.duckdb")
DEMO_DB = Path("data/demo.duckdb")


def prepare_prefect() -> None:
    """Environment for Prefect, set before it is imported; the user's own settings win."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "feedwatch")


def fail(error: Exception, code: int) -> typer.Exit:
    err.print(f"feedwatch: {error}", markup=False)
    return typer.Exit(code)


def check_format(fmt: str, allowed: tuple[str, ...]) -> None:
    if fmt not in allowed:
        raise fail(ConfigError(f"--format must be {' or '.join(allowed)}, not {fmt!r}"), 2)


@contextmanager
def exit_codes() -> Iterator[None]:
    """feedwatch's errors as messages and exit codes: 2 for what the user gave
    (configuration, queries, refused writes), 1 for what went wrong underneath."""
    try:
        yield
    except (ConfigError, ReadOnlyError) as e:
        raise fail(e, 2) from e
    except FeedwatchError as e:
        raise fail(e, 1) from e


def default_topics() -> Path:
    """./topics.yaml when present, else the topics shipped with feedwatch."""
    local = Path("topics.yaml")
    if local.exists():
        return local
    return Path(str(resources.files("flows.defaults").joinpath("topics.yaml")))


FeedsOpt = Annotated[Path, typer.Option("--feeds", help="Feeds file (YAML).")]
TopicsOpt = Annotated[
    Path | None, typer.Option("--topics", help="Topics file (YAML). [default: ./topics.yaml]")
]
DbOpt = Annotated[Path, typer.Option("--db", help="The DuckDB warehouse file.")]


FeedsFileOpt = Annotated[
    Path, typer.Option("--feeds", help="feeds.yaml, for feeds configured there.")
]
