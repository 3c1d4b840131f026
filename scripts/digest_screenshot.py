"""Make docs/digest.png (and docs/digest-figures.png, its figures): the demo site, its stories dated over the last four weeks, polled
through the real flow, its digest rendered by headless Chromium.

    make screenshot      (needs Debian's chromium: apt-get install chromium)
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(out: Path, figures: Path | None = None) -> None:
    os.environ["FEEDWATCH_ALLOW_PRIVATE_NETWORKS"] = "1"  # the demo site is on loopback
    from flows.demo import ATOM_PATH, RSS_PATH, demo_server
    from flows.demo.browser import Browser
    from flows.poll import poll_feeds
    from flows.report import build_digest, write_digest

    with (
        tempfile.TemporaryDirectory() as tmp,
        demo_server(recent_to=datetime.now(UTC) - timedelta(hours=1)) as site,
    ):
        feeds = Path(tmp) / "feeds.yaml"
        feeds.write_text(
            "fetch:\n  host_delay: 0s\nfeeds:\n"
            f"  - name: demo-latest\n    url: {site.url(RSS_PATH)}\n"
            f"  - name: demo-world\n    url: {site.url(ATOM_PATH)}\n"
            f"  - name: moved-away\n    url: {site.url('/feeds/old.rss')}\n"
        )
        db = Path(tmp) / "demo.duckdb"
        poll_feeds(
            feeds_path=str(feeds),
            topics_path=str(ROOT / "flows" / "defaults" / "topics.yaml"),
            db=str(db),
            poll_all=True,
        )
        page = write_digest(
            build_digest(db, datetime.now(UTC) - timedelta(days=1)), Path(tmp) / "d.html"
        )
        with Browser(width=1000, height=900) as browser:
            browser.open(page.as_uri())
            browser.screenshot(out)
            if figures is not None:  # the figures section alone
                browser.screenshot(figures, element="figures")
    print(f"wrote {out}" + (f" and {figures}" if figures is not None else ""))


if __name__ == "__main__":
    main(
        Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "digest.png",
        Path(sys.argv[2]) if len(sys.argv) > 2 else None,
    )
