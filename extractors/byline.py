"""A page's byline: trafilatura's `extract_author`, in one pass over the tree.

trafilatura finds the byline with five XPath expressions whose regular
expressions lxml calls back into Python for at every element: 5–8 ms a page on
the benchmark's real pages, a third of extracting the text. The same tests on
each element's attributes in one walk cost ~2 ms. The answer is trafilatura's
own: the same candidates in the same order, the same pruning of comments,
dates and figures, the same trimming and normalising; where a candidate holds
something the pruning would cut out of it (its text would change), trafilatura's
function answers instead. A property test holds the two equal on generated
pages, the corpus test on the real ones.

The tests are trafilatura 2.3's (`xpaths.AUTHOR_XPATHS`, `AUTHOR_DISCARD_XPATHS`),
written out: with a trafilatura whose expressions differ, trafilatura's function
answers every time.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from lxml.html import HtmlElement
from trafilatura.json_metadata import normalize_authors
from trafilatura.metadata import extract_author
from trafilatura.utils import trim
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS, AUTHOR_XPATHS

_WRITTEN_FOR = "bd5f280624916a83"  # the digest of the expressions below, as trafilatura has them
_SAME = (
    hashlib.sha256(
        "\n".join(x.path for x in AUTHOR_XPATHS + AUTHOR_DISCARD_XPATHS).encode()
    ).hexdigest()[:16]
    == _WRITTEN_FOR
)

# AUTHOR_XPATHS[0]: specific and almost specific (or an <author> element)
_TAGS_0 = frozenset({"a", "address", "div", "link", "p", "span", "strong"})
_CLASS_0 = re.compile("author-?name|AuthorName|authorName")
# AUTHOR_XPATHS[1]: almost generic and generic
_TAGS_1 = frozenset({"a", "div", "h3", "h4", "p", "span"})
_CLASSES_1 = frozenset({"byline", "username", "byl", "BBL"})
_ID_1 = re.compile("author|zuozhe|bianji|xiaobian")
_CLASS_1 = re.compile(
    "author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name"
)
# AUTHOR_XPATHS[2]: last resort, any element
_ID_2 = re.compile("[Aa]uthor")
_CLASS_2 = re.compile("[Aa]uthor|screenname|writer|[Bb]yline")
# AUTHOR_DISCARD_XPATHS: what is cut out before the search
_TAGS_D = frozenset({"a", "div", "section", "span"})
_SPECIAL_TAGS = frozenset({"author", "time", "figure", "rel"})
_ID_D = re.compile("^comments|comment-?list|ProductReviews")
_CLASS_D = re.compile(
    "^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram|"
    "article-(?:share|support)|print|category|meta-date|meta-reviewer"
)
LEN_LIMIT = 120  # extract_author's
# What each expression asks of a class or id, as bits: attribute values repeat
# across a page and across pages, so each is tested once.
_IN_0, _IN_1, _IN_2, _DISCARD = 1, 2, 4, 8


@lru_cache(maxsize=16384)
def _class_bits(cls: str) -> int:
    return (
        (_IN_0 if cls == "author" or _CLASS_0.search(cls) else 0)
        | (_IN_1 if cls in _CLASSES_1 or _CLASS_1.search(cls) else 0)
        | (_IN_2 if _CLASS_2.search(cls) else 0)
        | (_DISCARD if cls in ("comments", "title", "date") or _CLASS_D.search(cls) else 0)
    )


@lru_cache(maxsize=16384)
def _id_bits(id_: str) -> int:
    return (
        (_IN_0 if id_ == "author" else 0)
        | (_IN_1 if _ID_1.search(id_) else 0)
        | (_IN_2 if _ID_2.search(id_) else 0)
        | (_DISCARD if id_ == "comments" or _ID_D.search(id_) else 0)
    )


def find_byline(tree: HtmlElement) -> str | None:
    """The author trafilatura's extract_author(tree) finds, found faster."""
    if not _SAME:
        return extract_author(tree)
    found: tuple[list[HtmlElement], list[HtmlElement], list[HtmlElement]] = ([], [], [])
    discarded: set[HtmlElement] = set()
    for elem in tree.iter():
        tag = elem.tag
        if tag in _SPECIAL_TAGS:
            if tag == "rel":  # XPath's `rel='me'` (a child <rel>), which pruning can change
                return extract_author(tree)
            if tag == "author":
                found[0].append(elem)
            elif elem is not tree:  # <time>, <figure>
                discarded.add(elem)
        keys = elem.keys()
        if not keys or not isinstance(tag, str):  # comments and processing instructions too
            continue
        get = elem.get
        bits = 0
        if (cls := get("class")) is not None:
            bits = _class_bits(cls)
        if (id_ := get("id")) is not None:
            bits |= _id_bits(id_)
        if len(keys) > 1 or (cls is None and id_ is None):
            if (itemprop := get("itemprop")) is not None:
                if itemprop == "author name":
                    bits |= _IN_0
                if "author" in itemprop:
                    bits |= _IN_1 | _IN_2
            if (component := get("data-component")) is not None:
                if "Byline" in component:
                    bits |= _IN_2
                if "Figure" in component:
                    bits |= _DISCARD
            if get("rel") == "author" or get("data-testid") in ("AuthorCard", "AuthorURL"):
                bits |= _IN_0
        if not bits:
            continue
        if bits & _IN_0 and tag in _TAGS_0:
            found[0].append(elem)
        if bits & _IN_1 and tag in _TAGS_1:
            found[1].append(elem)
        if bits & _IN_2:
            found[2].append(elem)
        if bits & _DISCARD and tag in _TAGS_D and elem is not tree:
            discarded.add(elem)
    for candidates in found:
        for elem in candidates:
            if elem in discarded or any(a in discarded for a in elem.iterancestors()):
                continue  # pruned away with what holds it
            if discarded and any(d in discarded for d in elem.iterdescendants()):
                return extract_author(tree)  # pruning changes its text: trafilatura's own way
            content = trim(" ".join(elem.itertext()))
            if content and 2 < len(content) < LEN_LIMIT:
                return normalize_authors(None, content)
    return None
