"""docs/cli.md, generated from the commands themselves: every command's own --help.

    python -m cli.reference > docs/cli.md

tests/test_docs.py fails when the file differs from what this writes, so the
reference cannot go stale.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import typer.main
from typer.testing import CliRunner

from cli.app import app

__all__ = ["commands", "reference"]

WIDTH = 88

INTRO = """# Command reference

Every `feedwatch` command with its options, as `--help` prints them. This file is
generated from the commands (`python -m cli.reference > docs/cli.md`); a
test fails when it falls behind them. Exit codes: 0 done (single feeds may have
failed: they are recorded), 1 the warehouse or Prefect could not be used, 2 a bad
command line, configuration or query.
"""


def commands(group: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and group, depth first, in the order `--help` lists them."""
    group = group or typer.main.get_command(app)
    for name, command in group.commands.items():
        yield (*path, name)
        if hasattr(command, "commands"):
            yield from commands(command, (*path, name))


def reference() -> str:
    runner = CliRunner()
    parts = [INTRO]
    for path in [(), *commands()]:
        result = runner.invoke(app, [*path, "--help"], prog_name="feedwatch", terminal_width=WIDTH)
        if result.exit_code != 0:
            raise RuntimeError(f"feedwatch {' '.join(path)} --help failed: {result.output}")
        title = " ".join(("feedwatch", *path))
        parts.append(f"## `{title}`\n\n```text\n{result.output.rstrip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    sys.stdout.write(reference())
