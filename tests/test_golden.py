"""Golden files: each feed in tests/data/feeds and each page in tests/data/pages
beside what feedwatch reads from it.

A change in what a feed or a page yields (a title, a date, a GUID, an entry more
or less, the text) shows as a diff of the .json. After a deliberate change, rewrite them with
`python tests/test_golden.py` and review the diff before committing.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from extractors.articles import extract_article
from extractors.errors import ParseError
from extractors.feeds import parse_feed
from extractors.models import EntryData

DATA = Path(__file__).resolve().parent / "data"
FEEDS, PAGES = DATA / "feeds", DATA / "pages"
# The feed entry every page is extracted with: its text is the fallback.
ENTRY = EntryData(
    guid="entry-1",
    link=None,
    title="The entry's title",
    published=None,
    author=None,
    summary="The feed's own summary of the story, used when the page has no text of its own.",
    content=None,
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def read(path: Path) -> dict[str, Any]:
    """What feedwatch reads from the feed or page at `path`, as plain JSON data."""
    url = f"https://golden.example/{path.name}"
    if path.suffix == ".html":
        article = extract_article(path.read_bytes(), url=url, entry=ENTRY)
        found = dataclasses.asdict(article)
        found["signature"] = len(article.signature)  # MinHash bytes: their presence
        return dict(_plain(found))
    try:
        feed = parse_feed(path.read_bytes(), {}, url)
    except ParseError as e:
        return {"error": str(e)}
    return dict(_plain(dataclasses.asdict(feed)))


def _golden() -> list[Path]:
    return sorted([*FEEDS.glob("*.xml"), *PAGES.glob("*.html")])


@pytest.mark.parametrize("path", _golden(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_reads_as_its_golden_file(path: Path) -> None:
    expected = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert read(path) == expected


def test_every_feed_and_page_has_its_golden_file() -> None:
    for folder, kind in ((FEEDS, "*.xml"), (PAGES, "*.html")):
        inputs = {p.stem for p in folder.glob(kind)}
        assert inputs and inputs == {p.stem for p in folder.glob("*.json")}, folder


if __name__ == "__main__":
    for path in _golden():
        text = json.dumps(read(path), indent=2, ensure_ascii=False) + "\n"
        path.with_suffix(".json").write_text(text, encoding="utf-8")
        print(f"wrote {path.with_suffix('.json').name}", file=sys.stderr)
