"""News outlets on loopback for the benchmarks: each on its own address
(127.0.0.2, 127.0.0.3, …) with a feed of its pages.

    python benchmarks/_outlets.py --pages 905 --hosts 150 [--feeds-per-host N]

Run as a separate process (its CPU and memory are not the poll's): prints the
outlets' feed URLs as a JSON list on one line, then serves until killed.
The corpus's pages are taken in turn until there are `--pages` (the k-th
round under /wire<k>/); page j goes to outlet j % hosts, and an outlet's
pages are shared out over its feeds.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pages import article_pages, eval_pages

from flows.demo import Route, SiteServer


def rss(base: str, paths: list[str]) -> bytes:
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    entries = "".join(
        f"<item><title>Story {escape(path)}</title><link>{base}{path}</link>"
        f"<guid>{base}{path}</guid>"
        f"<pubDate>{format_datetime(now - timedelta(minutes=n))}</pubDate></item>"
        for n, path in enumerate(paths)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Outlet {escape(base)}</title><link>{base}/</link>{entries}</channel></rss>"
    ).encode()


def serve(
    bodies: list[bytes], pages: int, hosts: int, feeds_per_host: int, busiest: int = 0
) -> list[SiteServer]:
    """`busiest`: the first outlet's feeds, when it has more than the others (a big
    outlet's section feeds, all on one host)."""
    placed: list[list[tuple[str, bytes]]] = [[] for _ in range(hosts)]
    for j in range(pages):
        k, i = divmod(j, len(bodies))
        placed[j % hosts].append((f"/wire{k}/{i}.html", bodies[i]))
    servers = []
    for h, items in enumerate(placed):

        def routes(
            base: str, items: list[tuple[str, bytes]] = items, feeds: int = feeds_per_host
        ) -> dict[str, Route]:
            table = {path: Route(200, "text/html; charset=utf-8", body) for path, body in items}
            for f in range(feeds):  # the pages shared out over the host's feeds
                paths = [path for path, _ in items[f::feeds]]
                table[f"/feed{f}.xml"] = Route(200, "application/rss+xml", rss(base, paths))
            return table

        if h == 0 and busiest:
            routes = functools.partial(routes, feeds=busiest)
        servers.append(SiteServer(routes, host=f"127.0.{h // 250}.{h % 250 + 2}"))
    return [s.start() for s in servers]


def feeds_of(servers: list[SiteServer], feeds_per_host: int, busiest: int = 0) -> list[str]:
    return [
        s.url(f"/feed{f}.xml")
        for h, s in enumerate(servers)
        for f in range(busiest if h == 0 and busiest else feeds_per_host)
    ]


TOPICS = Path(__file__).resolve().parent.parent / "flows" / "defaults" / "topics.yaml"


def client_env(server: dict[str, str], folder: Path) -> dict[str, str]:
    """The environment of a feedwatch command that talks to the long-lived Prefect
    server `server` (prefect_server's environment): its own PREFECT_HOME in `folder`,
    loopback outlets allowed."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return base | {
        "PREFECT_API_URL": server["PREFECT_API_URL"],
        "PREFECT_HOME": str(folder / "client-home"),
        "FEEDWATCH_ALLOW_PRIVATE_NETWORKS": "1",
        "DO_NOT_TRACK": "1",
    }


def write_feeds_yaml(path: Path, urls: list[str]) -> Path:
    """A feeds.yaml listing `urls` (politeness as configured by default)."""
    path.write_text(
        "feeds:\n" + "".join(f"  - name: feed-{i}\n    url: {u}\n" for i, u in enumerate(urls))
    )
    return path


class Outlets:
    """The outlets in their own process, for a `with` block: `.feeds` are their URLs."""

    def __init__(
        self,
        pages: int,
        hosts: int,
        feeds_per_host: int = 1,
        *,
        busiest: int = 0,
        corpus: str = "aeb",
    ):
        self.args = [f"--pages={pages}", f"--hosts={hosts}", f"--feeds-per-host={feeds_per_host}"]
        self.args += [f"--busiest={busiest}", f"--corpus={corpus}"]

    def __enter__(self) -> Outlets:
        self.process = subprocess.Popen(
            [sys.executable, __file__, *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,  # not counted in the poll's memory
        )
        assert self.process.stdout is not None
        self.feeds: list[str] = json.loads(self.process.stdout.readline())
        return self

    def _ask(self, line: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def mark(self) -> None:
        """Forget the requests served so far."""
        self._ask("mark")

    def first_answer(self) -> float | None:
        """When the first answer since the mark was sent (time.monotonic, which every
        process of this machine shares), or None."""
        value = self._ask("first")
        return float(value) if value else None

    def requests(self) -> list[tuple[float, str]]:
        """(time.monotonic(), path) of every request since the mark, in order."""
        return [(t, p) for t, p in json.loads(self._ask("requests"))]

    def __exit__(self, *exc: object) -> None:
        self.process.kill()  # stopping 150 servers one by one takes a minute
        self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=905)
    parser.add_argument("--hosts", type=int, default=150)
    parser.add_argument("--feeds-per-host", type=int, default=1)
    parser.add_argument("--busiest", type=int, default=0)
    parser.add_argument("--corpus", choices=("aeb", "eval"), default="aeb")
    args = parser.parse_args()
    bodies = eval_pages() if args.corpus == "eval" else article_pages()[1]
    servers = serve(bodies, args.pages, args.hosts, args.feeds_per_host, args.busiest)
    print(json.dumps(feeds_of(servers, args.feeds_per_host, args.busiest)), flush=True)
    # Questions on standard input, until killed: "mark" forgets what was served,
    # "first" answers when the first response since then was sent, "requests" lists them.
    for line in sys.stdin:
        if line.strip() == "mark":
            for s in servers:
                s.spans.clear()
                s.requests.clear()
            print("ok", flush=True)
        elif line.strip() == "first":
            ends = [b for s in servers for _, b in list(s.spans)]
            print(min(ends) if ends else "", flush=True)
        elif line.strip() == "requests":  # since the mark: [[time, path], …]
            starts = sorted((t, path) for s in servers for path, _, t in list(s.requests))
            print(json.dumps(starts), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
