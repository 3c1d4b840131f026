"""OPML subscription lists ↔ feeds (pure).

Nested outlines are folders in feed readers; feedwatch keeps their titles
as tags. Parsing never resolves entities or reaches the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from lxml import etree

from extractors.errors import ParseError

__all__ = ["OpmlFeed", "parse_opml", "write_opml"]


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    title: str | None
    tags: tuple[str, ...]


def parse_opml(content: bytes, source: str = "OPML") -> list[OpmlFeed]:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False
    )
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as e:
        raise ParseError(f"{source}: not valid XML: {e}") from e
    if root is None or root.tag != "opml":
        raise ParseError(f"{source}: not an OPML document (root element is not <opml>)")
    body = root.find("body")
    if body is None:
        raise ParseError(f"{source}: no <body> in the OPML document")
    feeds: list[OpmlFeed] = []
    seen: set[str] = set()

    def walk(node: etree._Element, folders: tuple[str, ...]) -> None:
        for outline in node.findall("outline"):
            url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
            title = outline.get("title") or outline.get("text")
            if url:
                if url not in seen:
                    seen.add(url)
                    categories = tuple(
                        c.strip().strip("/")
                        for c in (outline.get("category") or "").split(",")
                        if c.strip().strip("/")
                    )
                    feeds.append(OpmlFeed(url, title, folders + categories))
            else:  # a folder
                walk(outline, folders + ((title,) if title else ()))

    walk(body, ())
    return feeds


def write_opml(feeds: list[OpmlFeed], title: str = "feedwatch feeds") -> bytes:
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC))
    body = etree.SubElement(root, "body")
    for f in feeds:
        attrs = {"type": "rss", "text": f.title or f.url, "xmlUrl": f.url}
        if f.title:
            attrs["title"] = f.title
        if f.tags:
            attrs["category"] = ",".join(f.tags)
        etree.SubElement(body, "outline", attrs)
    result: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return result
