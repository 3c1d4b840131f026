"""Many writers at once on one lake with a PostgreSQL catalog: three poll processes,
each standing for a machine with its own Prefect worker, over overlapping feeds,
started together; once with one of them killed in the middle of its load. After
each round every entry is there once, every story once, and the counts are those
of the same feeds polled one after the other into a DuckDB file. A reader queries
the lake throughout and is never refused or made to wait for the writers.

Real PostgreSQL (Debian's postgresql; a throw-away cluster on a free port). Runs in
.venv-lake: `make test` runs it there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from _postgres import create_database, postgres_or_skip

from conftest import read_rows, write_feeds
from flows.demo import ATOM_PATH, RSS_PATH, SiteServer
from flows.poll import poll_feeds
from warehouse import open_warehouse

pytestmark = [pytest.mark.lake, pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

# A poller as an operator runs it: `feedwatch run`, whose progress lines on stderr
# say when its load starts.
FEEDWATCH = str(Path(sys.executable).parent / "feedwatch")


def _poller(feeds: Path, topics: Path, db: str) -> list[str]:
    return [FEEDWATCH, "run", "--feeds", str(feeds), "--topics", str(topics), "--db", db, "--all"]


CHECKS = {
    "entries": "SELECT count(*) FROM entries",
    "entries twice": "SELECT count(*) - count(DISTINCT (feed_id, guid)) FROM entries",
    "articles": "SELECT count(*) FROM articles",
    "articles twice": "SELECT count(*) - count(DISTINCT canonical_url) FROM articles",
    "matches twice": (
        "SELECT count(*) - count(DISTINCT (article_id, topic, topic_version)) FROM topic_matches"
    ),
    "stories": "SELECT count(*) FROM topic_stories",
    "hits": "SELECT count(*) FROM topic_hits",
    "clusters": "SELECT count(DISTINCT cluster_id) FROM articles",
    "entries without article": (
        "SELECT count(*) FROM entries WHERE article_id IS NOT NULL"
        " AND article_id NOT IN (SELECT article_id FROM articles)"
    ),
    "feeds": "SELECT count(*) FROM feeds",
}
_lakes = count()


@pytest.fixture(scope="module")
def catalog() -> Iterator[str]:
    pytest.importorskip("duckdb_ext", reason="the lake's extensions: pip install 'feedwatch[lake]'")
    yield from postgres_or_skip()


@pytest.fixture
def lake(catalog: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new, empty lake: its own database in the cluster, its own data folder."""
    monkeypatch.setenv("FEEDWATCH_DATA_PATH", str(tmp_path / "lake-data") + "/")
    return "ducklake:postgres:" + create_database(catalog, f"lake{next(_lakes)}")


def _feeds(tmp: Path, site: SiteServer) -> list[Path]:
    """Three pollers' feeds.yaml, each sharing a feed with each of the others."""
    a, b = site.url(RSS_PATH), site.url(ATOM_PATH)
    feeds = {"latest": a, "world": b, "latest-mirror": a + "?mirror=1"}
    names = list(feeds)
    return [
        write_feeds(tmp / f"feeds{i}.yaml", {n: feeds[n] for n in (names[i], names[(i + 1) % 3])})
        for i in range(3)
    ]


def _checks(db: str) -> dict[str, Any]:
    with open_warehouse(db, read_only=True) as wh:  # one query: a session takes one
        ((_, (row,)),) = wh.query("SELECT " + ", ".join(f"({sql})" for sql in CHECKS.values()))
    return dict(zip(CHECKS, row, strict=True))


class Reader(threading.Thread):
    """An analyst's query, again and again, while the writers run."""

    def __init__(self, db: str):
        super().__init__(daemon=True)
        self.db, self.stop = db, threading.Event()
        self.seconds: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                with open_warehouse(self.db, read_only=True) as wh:
                    wh.query("SELECT count(*) FROM entries, (SELECT count(*) FROM topic_hits)")
                self.seconds.append(time.monotonic() - t0)
            except Exception as e:
                if "no warehouse here yet" not in str(e):  # before the first schema
                    self.errors.append(repr(e))
            time.sleep(0.1)


def _pollers(
    db: str, feeds: list[Path], topics: Path, tmp: Path, *, kill_in_load: int | None = None
) -> list[int]:
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ, PREFECT_API_URL=str(PREFECT_API_URL.value()))
    procs = [
        subprocess.Popen(
            _poller(f, topics, db),
            env=env,
            cwd=tmp,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in feeds
    ]
    if kill_in_load is not None:
        victim = procs[kill_in_load]
        assert victim.stderr is not None
        for line in victim.stderr:  # its progress lines: kill it once its load starts
            if "load: 0/1" in line:
                time.sleep(0.2)
                victim.send_signal(signal.SIGKILL)
                break
    codes = [p.wait(timeout=300) for p in procs]
    for i, p in enumerate(procs):
        if i != kill_in_load:
            assert codes[i] == 0, p.stderr.read()[-3000:] if p.stderr else ""
    return codes


@pytest.fixture(scope="module")
def expected(
    site: SiteServer, topics_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The same feeds polled one after the other into a DuckDB file."""
    tmp = tmp_path_factory.mktemp("serial")
    db = str(tmp / "w.duckdb")
    for f in _feeds(tmp, site):
        poll_feeds(str(f), str(topics_file), db, poll_all=True)
    return {name: read_rows(Path(db), sql)[0][0] for name, sql in CHECKS.items()}


@pytest.mark.parametrize("round_", [1, 2])
def test_three_pollers_at_once_load_everything_once(
    lake: str,
    site: SiteServer,
    topics_file: Path,
    tmp_path: Path,
    expected: dict[str, Any],
    round_: int,
) -> None:
    db = lake
    reader = Reader(db)
    reader.start()
    feeds = _feeds(tmp_path, site)
    _pollers(db, feeds, topics_file, tmp_path)
    _pollers(db, feeds, topics_file, tmp_path)  # and again: nothing new, nothing twice
    reader.stop.set()
    reader.join()
    assert expected["articles"] > 0 and expected["stories"] > 0
    assert _checks(db) == expected
    assert not reader.errors and len(reader.seconds) >= 5, reader.errors
    print(f"round {round_}: {len(reader.seconds)} reads, slowest {max(reader.seconds):.2f} s")


def test_a_writer_killed_in_its_load_loses_nothing_and_doubles_nothing(
    lake: str,
    site: SiteServer,
    topics_file: Path,
    tmp_path: Path,
    expected: dict[str, Any],
) -> None:
    db = lake
    reader = Reader(db)
    reader.start()
    feeds = _feeds(tmp_path, site)
    codes = _pollers(db, feeds, topics_file, tmp_path, kill_in_load=1)
    assert codes[1] == -signal.SIGKILL
    # Its next run (the schedule's) polls its feeds again: what the killed load held
    # was never committed, so it is all still new.
    done = subprocess.run(
        _poller(feeds[1], topics_file, db),
        env=dict(os.environ, PREFECT_API_URL=_api_url()),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    reader.stop.set()
    reader.join()
    assert _checks(db) == expected
    assert not reader.errors, reader.errors


def _api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


def test_readers_without_pause_never_take_a_lake_being_created_for_a_foreign_one(
    catalog: str, tmp_path: Path
) -> None:
    """Two analysts' queries in a loop, with no pause, while new lakes get their schema:
    a reader that found no tables and then, a statement later, the new schema's tables
    took the lake for something not feedwatch's (ForeignFileError); the answer must be
    "no warehouse here yet" until the schema is committed, and the lake after it."""
    errors: list[str] = []
    reads: list[int] = []
    for i in range(12):
        db = "ducklake:postgres:" + create_database(catalog, f"fresh{i}")
        data = str(tmp_path / f"data{i}") + "/"
        stop = threading.Event()

        def query(db: str = db, data: str = data, stop: threading.Event = stop) -> None:
            while not stop.is_set():
                try:
                    with open_warehouse(db, data_path=data, read_only=True) as wh:
                        wh.query("SELECT count(*) FROM entries")
                    reads.append(1)
                except Exception as e:  # every failure but the empty lake's is the finding
                    if "no warehouse here yet" not in str(e):
                        errors.append(repr(e))

        readers = [threading.Thread(target=query, daemon=True) for _ in range(2)]
        for r in readers:
            r.start()
        try:
            time.sleep(0.1)
            with open_warehouse(db, data_path=data) as wh:
                wh.query("SELECT count(*) FROM feeds")
            time.sleep(0.1)
        finally:
            stop.set()
            for r in readers:
                r.join()
    assert not errors, errors[:3]
    assert reads, "no reader ever saw a schema"
