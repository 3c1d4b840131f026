"""Identity of articles: canonical URLs and content hashes (pure)."""

from __future__ import annotations

import hashlib
import unicodedata
from urllib.parse import urlsplit, urlunsplit

from courlan import normalize_url

__all__ = ["article_id", "canonical_url", "content_hash", "pick_canonical"]


def canonical_url(url: str) -> str:
    """The form of a URL two copies of one page share.

    Lower-case scheme and host, no default port, no fragment, tracking
    parameters (utm_*, fbclid, gclid, mc_cid, …) removed, the others sorted.
    Parameters that select content (?id=42) stay. courlan does the cleaning.
    """
    url = url.strip()
    try:
        cleaned = normalize_url(url, strict=False)
    except (ValueError, AttributeError):
        cleaned = url
    parts = urlsplit(cleaned)
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, "")
    )


def pick_canonical(fetched_url: str, declared: str | None) -> str:
    """Prefer the page's own rel=canonical / og:url, unless it is clearly wrong.

    Sites often declare their home page as canonical for every article (a
    template bug); such a declaration would merge unrelated articles, so it is
    ignored, as are non-http(s) values.
    """
    fetched = canonical_url(fetched_url)
    if not declared:
        return fetched
    parts = urlsplit(declared.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return fetched
    if parts.path in {"", "/"} and not parts.query:
        return fetched
    return canonical_url(declared)


def article_id(canonical: str) -> str:
    """A short stable key for an article, derived from its canonical URL."""
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def content_hash(text: str) -> str:
    """Hash of the text with case, width and spacing differences folded away."""
    folded = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return hashlib.sha256(folded.encode()).hexdigest()[:32]
