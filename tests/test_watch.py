"""`feedwatch watch`: one long-lived process polling each feed when it is due, through
real Prefect (the test harness's server), the loopback demo site and DuckDB."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from conftest import write_feeds
from extractors.errors import ConfigError
from flows.demo import ATOM_PATH, RSS_PATH, SiteServer
from flows.watch import Check, watch

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def _articles(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM articles").fetchall()[0][0])
    finally:
        con.close()


def test_each_check_polls_what_is_due_and_reads_edits_without_a_restart(
    tmp_path: Path, site: SiteServer, topics_file: Path, db: Path
) -> None:
    feeds = write_feeds(tmp_path / "feeds.yaml", {"demo-latest": site.url(RSS_PATH)})
    both = {"demo-latest": site.url(RSS_PATH), "demo-world": site.url(ATOM_PATH)}
    stop = threading.Event()
    checks: list[Check] = []

    def edit(c: Check) -> None:
        checks.append(c)
        step = len(checks)
        if step == 1:  # a feed added while the watch runs
            write_feeds(feeds, both)
        elif step == 2:  # an edit that cannot be read
            feeds.write_text(feeds.read_text() + "  - name: [unclosed\n")
        elif step == 3:  # fixed again
            write_feeds(feeds, both)
        elif step == 4:
            stop.set()

    made = watch(feeds, topics_file, db, every=0.1, stop=stop, on_check=edit)

    assert made == 4  # the stop set in the fourth check ended the watch
    first, added, broken, idle = checks
    assert first.summary is not None and first.summary.feeds_polled == 1
    assert first.summary.new_articles > 0
    # Only the new feed was due: the first one's next poll is its interval away.
    assert added.summary is not None and added.summary.feeds_polled == 1
    assert added.summary.feeds_skipped == 1
    assert isinstance(broken.error, ConfigError)
    assert broken.error.path == str(feeds) and broken.error.line is not None
    assert broken.plan is None and broken.summary is None
    assert idle.error is None and idle.summary is None and idle.plan is not None
    assert idle.plan.due == 0 and idle.plan.next_due is not None
    assert _articles(db) == first.summary.new_articles + added.summary.new_articles


def test_a_failing_poll_is_reported_and_the_watch_goes_on(
    tmp_path: Path, site: SiteServer, topics_file: Path
) -> None:
    feeds = write_feeds(tmp_path / "feeds.yaml", {"demo-latest": site.url(RSS_PATH)})
    db = tmp_path / "not-a-warehouse.duckdb"
    db.write_bytes(b"these bytes are no DuckDB file")
    checks: list[Check] = []
    watch(
        feeds, topics_file, db, every=0.1, stop=threading.Event(), on_check=checks.append, checks=2
    )
    assert len(checks) == 2
    assert all(c.error is not None and c.summary is None for c in checks)
    assert db.read_bytes() == b"these bytes are no DuckDB file"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_lets_the_poll_under_way_finish_then_the_process_exits_0(
    signum: int, tmp_path: Path, site: SiteServer, topics_file: Path, db: Path
) -> None:
    """Ctrl-C, or SIGTERM as a service manager stops a service: the poll it interrupts
    finishes and loads (Prefect would otherwise end a flow run at once on SIGTERM)."""
    from prefect.settings import PREFECT_API_URL

    # Half a second between two pages of the site: the poll takes ~6 s, long enough
    # to be interrupted in the middle.
    feeds = write_feeds(
        tmp_path / "feeds.yaml", {"demo-latest": site.url(RSS_PATH)}, host_delay="0.5s"
    )
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.app",
            "watch",
            "--every",
            "1s",
            "--feeds",
            str(feeds),
            "--topics",
            str(topics_file),
            "--db",
            str(db),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while not any("pages: " in line for line in lines):  # the poll is fetching pages
        assert process.poll() is None and time.monotonic() < deadline, "".join(lines)
        time.sleep(0.1)
    process.send_signal(signum)
    assert process.wait(timeout=120) == 0, "".join(lines)
    reader.join(timeout=10)
    output = "".join(lines)
    assert "Polled 1 feed" in output and output.rstrip().endswith("Stopped."), output
    assert "Traceback" not in output, output
    assert _articles(db) > 0  # the interrupted poll finished and loaded
