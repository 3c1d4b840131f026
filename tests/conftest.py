"""Shared fixtures: a real loopback site, a temporary warehouse, Prefect's test harness.

Nothing of feedwatch's own is mocked: the site is the bundled demo site
served over real HTTP on 127.0.0.1, plus a few broken routes.
"""

from __future__ import annotations

import dataclasses
import multiprocessing.process
import os
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

# Before Prefect is imported anywhere: no telemetry, a throwaway home.
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="feedwatch-prefect-")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ["FEEDWATCH_ALLOW_PRIVATE_NETWORKS"] = "1"

from extractors.decide import feed_updates, register_feed
from extractors.models import ArticleRecord, EntryData, FeedPoll, FeedSpec, PollBatch
from flows.demo import ATOM_PATH, RSS_PATH, Route, SiteServer, demo_server
from flows.demo.site import render_site
from warehouse.staging import StagedBatch, stage

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

# `make test-fast`: the tier without Prefect's server and without processes.
# Anything that starts one (Prefect's temporary server is a process too) fails
# there, asking for the test to be marked slow.
FAST_TIER = os.environ.get("FEEDWATCH_TEST_TIER") == "fast"


def _no_processes(*args: object, **kwargs: object) -> None:
    raise RuntimeError("the fast tier starts no processes: mark the test slow")


if FAST_TIER:
    subprocess.Popen.__init__ = _no_processes  # type: ignore[method-assign]
    multiprocessing.process.BaseProcess.start = _no_processes  # type: ignore[method-assign]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Whatever needs Prefect's harness is slow, marked or not."""
    for item in items:
        if "prefect_harness" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


BROKEN_ROUTES = {
    "/broken/500.xml": Route(500, "text/html", b"<h1>Internal Server Error</h1>"),
    "/broken/garbage.xml": Route(
        200, "application/rss+xml", bytes(range(256)) * 8 + b"\x00not a feed at all"
    ),
    "/broken/html.xml": Route(
        200, "text/html", b"<html><body><p>Moved to our app!</p></body></html>"
    ),
}


@pytest.fixture(scope="session")
def site() -> Iterator[SiteServer]:
    with demo_server(BROKEN_ROUTES) as server:
        yield server


@pytest.fixture(scope="module")
def slow_site() -> Iterator[SiteServer]:
    """The demo site with article pages that take seconds each: a poll that lasts."""

    def routes(base: str) -> dict[str, Route]:
        return {
            path: dataclasses.replace(r, drip=0.004) if path.startswith("/news/") else r
            for path, r in render_site(base, None).items()
        }

    with SiteServer(routes) as server:
        yield server


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "warehouse" / "feedwatch.duckdb"


@pytest.fixture
def demo_feeds(tmp_path: Path, site: SiteServer) -> Path:
    return write_feeds(
        tmp_path / "feeds.yaml",
        {"demo-latest": site.url(RSS_PATH), "demo-world": site.url(ATOM_PATH)},
    )


def write_feeds(
    path: Path, feeds: dict[str, str], *, host_delay: str = "0s", extra: str = ""
) -> Path:
    """A feeds.yaml for these feeds (no politeness delay: the test server is ours)."""
    lines = ["fetch:", f"  host_delay: {host_delay}", "feeds:"]
    for name, url in feeds.items():
        lines += [f"  - name: {name}", f"    url: {url}"]
        if extra:
            lines += [f"    {extra}"]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def topics_file() -> Path:
    return ROOT / "flows" / "defaults" / "topics.yaml"


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


def batch_of(
    run_id: str,
    spec: FeedSpec,
    polls: tuple[FeedPoll, ...],
    records: tuple[ArticleRecord, ...],
    entries: tuple[tuple[str, EntryData], ...] | None = None,
) -> StagedBatch:
    """A poll's batch made by hand, with the intents the flow would decide, staged."""
    if entries is None:
        entries = tuple(pair for r in records for pair in r.entries)
    return stage(
        PollBatch(
            run_id=run_id,
            started_at=datetime.now(UTC),
            feeds=(register_feed(spec, None),),
            feed_source="test",
            polls=polls,
            updates=tuple(feed_updates(polls, {}, entries)),
            new_entries=entries,
            articles=records,
        )
    )


def read_rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """A query's rows, read from the warehouse file as an analyst would (read-only)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def chromium() -> str:
    """Debian's chromium for the browser tests: CI installs it (.ci/run), so there a
    missing one fails; elsewhere the test is skipped, saying how to get it."""
    from flows.demo.browser import find_chromium

    found = find_chromium()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI installs Debian's chromium (.ci/run): it must be on PATH")
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    return found


def corpora() -> Path:
    """The shared real-world corpora; skipped (with the reason) when not configured.

    Under CI=true a missing corpus is a failure, not a skip.
    """
    value = os.environ.get("FEEDWATCH_CORPORA")
    if not value:
        if os.environ.get("CI") == "true":
            pytest.fail("FEEDWATCH_CORPORA is not set, and CI=true forbids skipping corpus tests")
        pytest.skip(
            "FEEDWATCH_CORPORA is not set: the real-world corpus tests need ../shared/corpora"
        )
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"FEEDWATCH_CORPORA={value} is not a folder")
    return path
