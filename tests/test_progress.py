"""Progress on long commands: bars on a terminal, plain lines when piped or logged."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from flows.runtime.progress import Lines
from warehouse.reads import exported
from warehouse.store import DuckDBWarehouse as Warehouse


def _empty_warehouse(tmp_path: Path) -> Path:
    db = tmp_path / "w.duckdb"
    with Warehouse.open(db):
        pass
    return db


def test_plain_lines_say_each_step_at_its_start_and_end_only() -> None:
    stream = io.StringIO()
    lines = Lines(stream, every=3600)
    lines.start("pages", 10)
    for _ in range(10):
        lines.advance("pages")
    lines.advance("unknown")  # a step never started is ignored
    assert stream.getvalue().splitlines() == [
        "feedwatch: pages: 0/10",
        "feedwatch: pages: 10/10 done",
    ]


def test_a_command_writes_plain_lines_when_not_on_a_terminal(tmp_path: Path) -> None:
    db = _empty_warehouse(tmp_path)
    result = CliRunner().invoke(app, ["export", "--db", str(db), "--out", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    assert f"feedwatch: export: {len(exported())}/{len(exported())} done" in result.output
    assert "━" not in result.output


@pytest.mark.slow  # a terminal in a subprocess
def test_a_command_draws_bars_on_a_terminal(tmp_path: Path) -> None:
    db = _empty_warehouse(tmp_path)
    leader, follower = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="100")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.app",
            "export",
            "--db",
            str(db),
            "--out",
            str(tmp_path / "x"),
        ],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the command ended and closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert proc.wait(timeout=30) == 0
    text = output.decode("utf-8", "replace")
    assert "export" in text and "━" in text  # a rich bar
    assert f"{len(exported())}/{len(exported())}" in text
    assert "feedwatch: export:" not in text  # no plain lines on a terminal
