"""Article HTML → Article (pure; trafilatura does the extraction).

When the page yields no text (a paywall, a script-only page, a failed fetch),
the feed's own content or summary stands in, and `text_source` says which, so
an analyst can tell extracted text from a teaser.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime

import trafilatura
import trafilatura.core
from htmldate import find_date
from lxml.etree import ParserError as LxmlParserError
from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura.metadata import (
    META_URL,
    Document,
    examine_meta,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import set_date_params
from trafilatura.utils import load_html

from extractors.byline import find_byline
from extractors.dedup import content_hash, pick_canonical, signature
from extractors.models import Article, EntryData, TextSource

__all__ = ["detect_language", "extract_article", "extract_text", "page_metadata", "prepare"]

# Below this many characters an extraction is a fragment (a cookie notice, a caption).
MIN_TEXT_CHARS = 80
_HTML_LANG = re.compile(rb"<html[^>]*\slang=[\"']?([A-Za-z]{2,3})", re.IGNORECASE)


def extract_article(
    html: bytes | None, *, url: str, final_url: str | None = None, entry: EntryData | None = None
) -> Article:
    """Extract text and metadata from a page; fall back to the feed entry's text."""
    final_url = final_url or url
    meta, text = None, ""
    if html:
        try:
            tree = load_html(html)  # parsed once, for the metadata and the text
            if tree is not None:
                meta = page_metadata(tree, final_url, byline=not (entry and entry.author))
                text = extract_text(tree, final_url, lead=_lead(meta))
        except (ValueError, TypeError, LxmlParserError):  # markup too broken to read
            text = ""
    text, source = _choose_text(text, entry)

    canonical = pick_canonical(final_url, meta.url if meta else None)
    title = _first(meta.title if meta else None, entry.title if entry else None)
    author = _first(meta.author if meta else None, entry.author if entry else None)
    published = _published(meta.date if meta else None, entry)
    return Article(
        url=url,
        final_url=final_url,
        canonical_url=canonical,
        title=title,
        author=author,
        published=published,
        language=detect_language(text, html),
        site_name=_first(meta.sitename if meta else None),
        text=text,
        text_source=source,
        content_hash=content_hash(text) if text else "",
        signature=signature(text),
    )


def extract_text(tree: HtmlElement, url: str | None = None, *, lead: str | None = None) -> str:
    """The main text of a parsed page: trafilatura in fast mode, and its full default
    extraction where the fast text looks incomplete for the page; then the page's
    standfirst in front when extraction dropped it.

    Fast mode alone loses text on pages unlike an article (its recall retry and the
    readability/justext comparison are what recover it), and the default mode pays
    for that comparison on every page. The signals are trafilatura's own: text that
    covers little of the page's visible text, or a body without a paragraph.
    `lead` is the page's declared description (docs/design.md, "Text extraction").
    """
    body = tree.find("body")
    shown = str(_STRING(body)) if body is not None else ""
    doc = _bare_extraction(tree, url, fast=True)
    if _looks_incomplete(doc, _visible_chars(body, shown)):
        doc = _bare_extraction(tree, url, fast=False)
    text = (getattr(doc, "text", None) or "").strip() if doc is not None else ""
    # NFC as trafilatura.extract gives it (bare_extraction does not): a decomposed
    # letter would not match the same word typed in a topic
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return _with_lead(text, lead, tree, shown)


# The fast text looks incomplete below this share of the page's visible characters
# (trafilatura retries in recall mode below 0.2 of its own, stricter page measure).
# On trafilatura's evaluation pages, the full mode changed no score from 0.1 to 0.15.
INCOMPLETE_SHARE = 0.1


def _bare_extraction(tree: HtmlElement, url: str | None, *, fast: bool) -> Document | None:
    with _recall_retry(not fast):
        doc = trafilatura.bare_extraction(
            tree, url=url, with_metadata=False, include_comments=False, fast=fast
        )
    return doc if isinstance(doc, Document) else None


def _looks_incomplete(doc: Document | None, page_chars: int) -> bool:
    if doc is None or doc.body is None:
        return True
    chars = _chars(doc.text or "")
    if chars < INCOMPLETE_SHARE * page_chars:
        return True
    return not any((p.text or "").strip() or len(p) for p in doc.body.iter("p"))


def _chars(text: str) -> int:
    return len(text) - sum(map(text.count, " \n\t\r\xa0"))


def _visible_chars(body: HtmlElement | None, shown: str) -> int:
    """Non-space characters of the page's body (`shown`, its text), scripts and
    styles left out."""
    if body is None:
        return 0
    hidden = sum(_chars(e.text or "") for e in body.iter("script", "style", "noscript"))
    return _chars(shown) - hidden


_STRING = XPath("string()")
# A text node of the page's body that holds $start, outside scripts.
_SHOWN = XPath(
    "//body//text()[contains(normalize-space(.), $start)]"
    "[not(ancestor::script or ancestor::style or ancestor::noscript)]"
)
_INLINE = frozenset({"a", "b", "strong", "em", "i", "span", "font", "u", "small", "mark"})
MIN_LEAD_CHARS = 50


def _with_lead(text: str, lead: str | None, tree: HtmlElement, shown: str) -> str:
    """The text with the page's standfirst in front, where extraction dropped it.

    News pages set their lead paragraph apart from the body (a teaser block above
    the article), and trafilatura often leaves it out: on the development half of
    trafilatura's own evaluation pages, it held a fifth of the snippets of main text
    that its full mode misses. The page's description (og:description) is usually
    the same words. It is put back only when the page shows it in its body (a
    description kept for search engines alone is not the article's text), not where
    it stands beside the headline (a subtitle), and in the words the page shows
    (descriptions are often cut short with "…").
    """
    lead = unicodedata.normalize("NFC", " ".join((lead or "").split()))
    if len(lead) < MIN_LEAD_CHARS:
        return text
    start = lead[:40].rsplit(" ", 1)[0] if " " in lead[:40] else lead[:40]
    spaced = " ".join(text.split())
    if start in spaced or start.split(" ", 1)[0] not in shown:
        return text
    nodes = _SHOWN(tree, start=start)
    if not nodes:
        return text
    block = nodes[0].getparent()
    while block is not None and block.tag in _INLINE and block.getparent() is not None:
        block = block.getparent()
    if block is None or _beside_headline(block):
        return text
    words = unicodedata.normalize("NFC", " ".join(block.text_content().split()))
    if start not in words or len(words) > 2 * len(lead) + 200:
        words = lead.rstrip("…").rstrip(".").rstrip() if lead.endswith(("…", "...")) else lead
    if words in spaced:
        return text
    return f"{words}\n{text}" if text else words


def _beside_headline(block: HtmlElement) -> bool:
    """Whether the block stands with the page's headline (<h1> in the same parent): a
    subtitle of the headline, not the first paragraph of the article."""
    parent = block.getparent()
    return parent is not None and next(parent.iter("h1"), None) is not None


_RETRY_LOCK = threading.Lock()


@contextmanager
def _recall_retry(enabled: bool) -> Iterator[None]:
    """trafilatura with or without its recall-mode retry of short extractions (2.3's
    "escalation"). Deciding whether to retry renders the whole page as plain text on
    every page with under 3,000 characters of text; the fast pass skips it, since
    the full mode (which keeps it) runs wherever it could matter. trafilatura has no
    option for it, so its threshold is set for feedwatch's own calls only, under a
    lock (they may come from threads), and restored after; without the threshold
    (another trafilatura release) this does nothing.
    """
    if not hasattr(trafilatura.core, "ESCALATION_MAX_LENGTH"):
        yield
        return
    with _RETRY_LOCK:
        saved = trafilatura.core.ESCALATION_MAX_LENGTH
        trafilatura.core.ESCALATION_MAX_LENGTH = saved if enabled else 0
        try:
            yield
        finally:
            trafilatura.core.ESCALATION_MAX_LENGTH = saved


def prepare() -> None:
    """Load the language model now rather than on the first article: for processes
    forked afterwards (the extraction workers), which then share it."""
    detect_language("Load the language model before the first article needs it.")


def page_metadata(tree: HtmlElement, url: str, *, byline: bool = True) -> Document:
    """Title, author, date, site name and declared URL of a parsed page.

    trafilatura's extract_metadata, without what feedwatch does not use or
    takes from the feed first: categories, tags and licence are not searched;
    the page's date comes from its markup, not an extensive search of its
    text; its byline is searched for only when `byline` (the feed names no
    author) and the markup names none. 13 ms a page instead of 19 (text
    included) on the benchmark's 181 real pages.
    """
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:  # a handle, not a name
        meta.author = None
    with suppress(Exception):  # trafilatura's JSON-LD reader has bugs of its own
        meta = extract_meta_json(tree, meta)
    if not meta.title:
        meta.title = extract_title(tree)
    if not meta.author and byline:
        meta.author = find_byline(tree)
    if not meta.url:
        meta.url = extract_url(tree, url)
    meta.date = find_date(
        tree, **{**set_date_params(False), "url": meta.url, "outputformat": _WITH_TIME}
    )
    if not meta.sitename:
        meta.sitename = extract_sitename(tree)
    if meta.sitename:
        meta.sitename = meta.sitename.lstrip("@")
        if "." not in meta.sitename and meta.sitename and not meta.sitename[0].isupper():
            meta.sitename = meta.sitename.title()
    elif meta.url and (m := META_URL.match(meta.url)):
        meta.sitename = m[1]
    meta.clean_and_trim()
    return meta


def _lead(meta: Document) -> str | None:
    """The page's description, unless it is its title again."""
    lead, title = (meta.description or "").strip(), (meta.title or "").strip()
    if not lead or (title and (lead.startswith(title[:40]) or title.startswith(lead[:40]))):
        return None
    return lead


def _choose_text(extracted: str, entry: EntryData | None) -> tuple[str, TextSource]:
    """The page's text, unless the feed carries more.

    A feed's summary is a teaser, shorter than any real article; when it is
    longer than what the page gave, extraction has failed (a video page, a
    paywall, a script-rendered page) and the feed's words are the better text.
    """
    candidates: list[tuple[str, TextSource]] = [(extracted, "extracted")]
    if entry is not None:
        candidates += [(entry.content or "", "feed_content"), (entry.summary or "", "feed_summary")]
    usable = [c for c in candidates if c[0]]
    if not usable:
        return "", "none"
    if len(extracted) >= MIN_TEXT_CHARS and all(len(extracted) >= len(t) for t, _ in usable):
        return extracted, "extracted"
    return max(usable, key=lambda c: len(c[0]))


def _published(page_date: str | None, entry: EntryData | None) -> datetime | None:
    """When the story was published, in UTC, with its time wherever a source gives one.

    The page's own date and time where its markup has both (htmldate prefers the
    original publication to a later update); else the feed's timestamp when it is
    within a day of the page's date (a bare day is the page's local day, and the
    zones differ by up to a day); else the day alone, at 00:00 UTC.
    """
    feed_time = entry.published if entry else None
    page = _page_date(page_date)
    if page is None:
        return feed_time
    if _has_time(page_date or ""):
        return page
    if feed_time is not None and abs((feed_time.date() - page.date()).days) <= 1:
        return feed_time
    return page


def _first(*values: str | None) -> str | None:
    for v in values:
        if v and v.strip():
            return v.strip()
    return None


# htmldate's answer with the time of day and the offset, where the page gives them.
_WITH_TIME = "%Y-%m-%dT%H:%M:%S%z"


def _has_time(value: str) -> bool:
    """Whether htmldate found a time of day: a bare day comes as 00:00 without an offset."""
    return len(value) > 10 and not value.endswith("T00:00:00")


def _page_date(value: str | None) -> datetime | None:
    """The page's date in UTC. A time without an offset is taken as UTC (the page
    does not say which zone it means); a bare day comes as its 00:00 UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# Enough text to tell the language: on the 181 real pages of the article-extraction
# benchmark and the 99 labelled news texts, 300 characters already give the answer
# 2,000 do, for a fifth of the cost (the classifier walks the text byte by byte).
LANGUAGE_PREFIX = 600


_MODEL_LOCK = threading.Lock()
_model_loaded = False


def detect_language(text: str, html: bytes | None = None) -> str | None:
    """ISO 639-1 code of the text; the page's <html lang> when the text is too short."""
    if len(text) >= 40:
        import py3langid  # loads its model on first use (~0.7 s), so only when needed

        global _model_loaded
        if not _model_loaded:
            # py3langid loads its model lazily without a lock: threads extracting their
            # first pages at once each loaded their own (16 fetch threads: 15 s of CPU).
            with _MODEL_LOCK:
                py3langid.classify("Load the model once.")
                _model_loaded = True
        lang, _score = py3langid.classify(text[:LANGUAGE_PREFIX])
        return str(lang)
    if html:
        m = _HTML_LANG.search(html[:4096])
        if m:
            return m.group(1).decode().lower()
    return None
