"""What the feedwatch commands share: consoles, defaults, options, errors → exit codes.

Exit codes: 0 done (also when single feeds failed: they are recorded),
1 the warehouse or a run could not be used, 2 bad command line, configuration
or query (the message names the file, the line and the problem).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import IO, Annotated, Any

import typer
import typer.main
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

from extractors.errors import (
    ConfigError,
    FeedwatchError,
    ForeignFileError,
    OutsideReachError,
    ReadOnlyError,
    WarehouseMissingError,
    WarehouseOutdatedError,
)
from flows.units import DURATIONS, duration_option

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DEFAULT_DB = Path("data/feedwatch.duckdb")
DEMO_DB = Path("data/demo.duckdb")


class Command(TyperCommand):
    """Every feedwatch command's help: usage names arguments plainly (SQL, not {SQL}),
    argument rows show no Python type, and command lists show whole sentences."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # --data-path belongs with --db: every command that takes one takes the other.
        if any("--db" in getattr(p, "opts", ()) for p in self.params):
            self.params.append(data_path_option())

    # typer's own click is not public; these are its Context and HelpFormatter.
    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        return [p.strip("{}") for p in super().collect_usage_pieces(ctx)]

    def get_short_help_str(self, limit: int = 45) -> str:
        return super().get_short_help_str(limit=10_000)

    def format_options(self, ctx: typer.Context, formatter: Any) -> None:  # type: ignore[override]
        args, opts = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                args.append((record[0].split(" <")[0], record[1]))
            else:
                opts.append(record)
        for title, rows in (("Arguments", args), ("Options", opts)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


# What the user can do about an error, in the CLI's words (the layers below
# say what is wrong, not which command or flag fixes it).
_ADVICE: tuple[tuple[type[Exception], str], ...] = (
    (WarehouseMissingError, "run 'feedwatch run' or 'feedwatch demo' first"),
    (WarehouseOutdatedError, "run 'feedwatch run'"),
    (ForeignFileError, "give --db another file"),
    (OutsideReachError, "feedwatch sql only reads the warehouse; 'feedwatch export' writes files"),
)


def describe(error: Exception) -> str:
    """An error as the CLI says it: what is wrong, then what to do about it."""
    advice = next((a for kind, a in _ADVICE if isinstance(error, kind)), None)
    return f"{error} ({advice})" if advice else str(error)


def fail(error: Exception, code: int) -> typer.Exit:
    err.print(f"feedwatch: {describe(error)}", markup=False)
    return typer.Exit(code)


def notice(text: str) -> None:
    err.print(f"feedwatch: {text}", markup=False)


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


def since(value: str, option: str = "--since") -> datetime:
    """The moment a --since duration ago."""
    with exit_codes():
        return datetime.now(UTC) - duration_option(value, option)


def open_input(path: Path) -> IO[str]:
    """A file to read, or standard input for '-'."""
    if str(path) == "-":
        return sys.stdin
    try:
        return path.open(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror or e}", path=str(path)) from e


DATA_PATH_HELP = (
    "Where a DuckLake warehouse (--db ducklake:...) keeps its Parquet files;"
    " else FEEDWATCH_DATA_PATH."
)


def use_data_path_option(value: str | None) -> None:
    if value:
        from flows.settings import use_data_path  # settings load lazily: --help stays quick

        use_data_path(value)


class Group(TyperGroup):
    """A command with subcommands and options of its own (feedwatch figures): the same
    --data-path beside --db, and whole sentences in command lists, as Command."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if any("--db" in getattr(p, "opts", ()) for p in self.params):
            self.params.append(data_path_option())

    def get_short_help_str(self, limit: int = 45) -> str:
        return super().get_short_help_str(limit=10_000)


def data_path_option() -> Any:
    """--data-path, for a command that has --db (also accepted before the command): the
    option as typer makes it, taken from a command made for the purpose."""
    probe = typer.Typer()

    @probe.command()
    def command(
        data_path: Annotated[
            str | None,
            typer.Option(
                "--data-path",
                metavar="DIR",
                help=DATA_PATH_HELP,
                callback=use_data_path_option,
                expose_value=False,
            ),
        ] = None,
    ) -> None:
        pass

    return typer.main.get_command(probe).params[0]


FeedsOpt = Annotated[Path, typer.Option("--feeds", metavar="FILE", help="Feeds file (YAML).")]
TopicsOpt = Annotated[
    Path | None,
    typer.Option(
        "--topics",
        metavar="FILE",
        help="Topics file (YAML). [default: ./topics.yaml if there is one, else feedwatch's own]",
        show_default=False,
    ),
]
DbOpt = Annotated[Path, typer.Option("--db", metavar="FILE", help="The DuckDB warehouse file.")]
ExtractWorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--extract-workers",
        metavar="N",
        min=1,
        help="Processes extracting pages [default: every core once a poll has ~100 pages].",
    ),
]
DaskOpt = Annotated[
    str | None,
    typer.Option(
        "--dask",
        metavar="ADDRESS",
        help="Extract on a Dask cluster: its scheduler (tcp://host:8786), or 'local'.",
    ),
]
FeedsFileOpt = Annotated[
    Path, typer.Option("--feeds", metavar="FILE", help="feeds.yaml, for feeds configured there.")
]
SinceOpt = Annotated[
    str,
    typer.Option(
        "--since",
        metavar="DURATION",
        help=f"New stories first seen this long ago or later: {DURATIONS}.",
    ),
]
TopicOpt = Annotated[str | None, typer.Option("--topic", metavar="NAME", help="Only this topic.")]


def format_opt(*choices: str) -> object:
    return typer.Option("--format", metavar="FORMAT", help=f"Output format: {', '.join(choices)}.")
