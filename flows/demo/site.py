"""The demo site's pages and feeds, rendered from site/articles.yaml.

One fictional outlet with a Latest feed (RSS 2.0) and a World desk feed
(Atom). Pages carry the clutter of a real news site (navigation, ads, a
cookie notice, related links, a newsletter box) around the article body,
so extraction is exercised as it would be on a real page.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import format_datetime
from importlib import resources
from typing import Any

import yaml

__all__ = ["DemoArticle", "Route", "load_articles", "render_site"]


@dataclass(frozen=True)
class DemoArticle:
    slug: str
    section: str
    date: datetime
    author: str
    feeds: tuple[str, ...]
    label: str
    title: str
    dek: str
    body: tuple[str, ...]
    alias: str | None = None
    page: str = "article"
    summary: str | None = None
    filed: datetime | None = None  # the story's own date, when it is redated

    @property
    def path(self) -> str:
        if self.filed:  # redated: an address without a date, the same on any day
            return f"/{self.section}/{self.slug}.html"
        return f"/{self.section}/{self.date:%Y/%m/%d}/{self.slug}.html"


@dataclass(frozen=True)
class Route:
    status: int
    content_type: str | None
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    drip: float = 0.0  # seconds between bytes of the body: a slow server


def _data() -> dict[str, Any]:
    text = resources.files("flows.demo").joinpath("site/articles.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def load_articles(recent_to: datetime | None = None) -> tuple[str, str, list[DemoArticle]]:
    """(outlet name, public host, articles).

    recent_to: date the stories afresh, in their order, over the four weeks before
    that moment (the digest's 30-day chart then has something to show).
    """
    data = _data()
    articles = []
    for a in data["articles"]:
        date = a["date"] if isinstance(a["date"], datetime) else datetime.fromisoformat(a["date"])
        articles.append(
            DemoArticle(
                slug=a["slug"],
                section=a["section"],
                date=date,
                author=a["author"],
                feeds=tuple(a["feeds"]),
                label=a["label"],
                title=a["title"],
                dek=a["dek"],
                body=tuple(a.get("body", ())),
                alias=a.get("alias"),
                page=a.get("page", "article"),
                summary=a.get("summary"),
            )
        )
    if recent_to is not None:
        articles = _redated(articles, recent_to)
    return data["outlet"]["name"], data["outlet"]["host"], articles


def _redated(articles: list[DemoArticle], until: datetime, days: int = 27) -> list[DemoArticle]:
    order = sorted(range(len(articles)), key=lambda i: articles[i].date)
    out = list(articles)
    for rank, i in enumerate(order):
        a = articles[i]
        back = round((len(order) - 1 - rank) * days / max(len(order) - 1, 1))
        # Hours off the story's own hour keep the times varied, and none in the future.
        when = until.replace(second=0, microsecond=0) - timedelta(days=back, hours=a.date.hour % 12)
        # Addresses and ids stay those of the story's own date: a demo run on another
        # day finds the same stories (and adds nothing), only their dates are recent.
        out[i] = replace(a, date=when, filed=a.date)
    return out


RSS_PATH = "/feeds/latest.rss"
ATOM_PATH = "/feeds/world.atom"
ATOM_UTM = "?utm_source=atom&utm_medium=feed&utm_campaign=world-desk"


def render_site(base_url: str, recent_to: datetime | None = None) -> dict[str, Route]:
    """Every route of the site, with links pointing at base_url (the live server)."""
    outlet, host, articles = load_articles(recent_to)
    public = f"https://{host}"
    routes: dict[str, Route] = {}
    for i, a in enumerate(articles):
        related = [b for b in articles if b.slug != a.slug][i % 5 :: 7][:4]
        page = _page(outlet, public, a, related).encode("utf-8")
        routes[a.path] = Route(200, "text/html; charset=utf-8", page)
        if a.alias:
            routes[a.alias] = routes[a.path]
    routes["/"] = Route(200, "text/html; charset=utf-8", _home(outlet, articles).encode())
    routes[RSS_PATH] = Route(
        200, "application/rss+xml; charset=utf-8", _rss(outlet, public, base_url, articles)
    )
    routes[ATOM_PATH] = Route(
        200, "application/atom+xml; charset=utf-8", _atom(outlet, public, base_url, articles)
    )
    return routes


def _e(text: str) -> str:
    return html.escape(text, quote=True)


_NAV = """
<header class="masthead">
  <div class="top-bar"><a href="/subscribe">Subscribe</a> · <a href="/login">Sign in</a> ·
    <a href="/newsletters">Newsletters</a> · <span class="date">Edition: International</span></div>
  <a class="logo" href="/">{outlet}</a>
  <nav class="main-nav" aria-label="Sections">
    <ul><li><a href="/">Home</a></li><li><a href="/news/">News</a></li>
    <li><a href="/world/">World</a></li><li><a href="/korea/">Korea</a></li>
    <li><a href="/russia/">Russia &amp; Eurasia</a></li><li><a href="/business/">Business</a></li>
    <li><a href="/opinion/">Opinion</a></li><li><a href="/video/">Video</a></li></ul>
  </nav>
  <div class="ticker">Breaking: Markets in Asia open mixed · Typhoon warning lifted in Okinawa ·
    Live: parliament debates budget</div>
</header>
<div class="ad ad-leaderboard" id="div-gpt-ad-top">Advertisement
  <a href="https://ads.example/click?id=991"><img src="/ads/banner-970x90.png" alt="Travel deals"></a>
</div>
"""

_FOOTER = """
<aside class="newsletter">
  <h3>Get the Morning Briefing</h3>
  <p>The day's most important stories from Asia, in your inbox before breakfast.</p>
  <form action="/newsletters/signup"><input type="email" placeholder="Your email">
  <button>Sign up</button></form>
</aside>
<footer class="site-footer">
  <ul><li><a href="/about">About us</a></li><li><a href="/contact">Contact</a></li>
  <li><a href="/privacy">Privacy policy</a></li><li><a href="/terms">Terms of use</a></li>
  <li><a href="/advertise">Advertise</a></li></ul>
  <p>© 2025 {outlet}. All rights reserved. Reproduction without permission is prohibited.</p>
</footer>
<div class="cookie-banner" role="dialog">We use cookies to improve your experience and to show
  you relevant advertising. <button>Accept all</button> <button>Manage preferences</button></div>
"""


def _page(outlet: str, public: str, a: DemoArticle, related: list[DemoArticle]) -> str:
    canonical = f"{public}{a.path}"
    if a.page == "video":
        body = (
            '<div class="video-player" data-src="/media/stream.m3u8">'
            "<noscript>Enable JavaScript to watch this video.</noscript></div>"
        )
    else:
        paragraphs = []
        for n, p in enumerate(a.body):
            paragraphs.append(f"<p>{_e(p)}</p>")
            if n == 1:
                paragraphs.append(
                    '<div class="ad ad-inline">Advertisement<div class="ad-slot"></div></div>'
                )
        body = "\n".join(paragraphs)
    rel = "\n".join(f'<li><a href="{r.path}">{_e(r.title)}</a></li>' for r in related)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{_e(a.title)} | {_e(outlet)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{_e(a.dek)}">
<meta name="author" content="{_e(a.author)}">
<meta property="og:type" content="article">
<meta property="og:title" content="{_e(a.title)}">
<meta property="og:site_name" content="{_e(outlet)}">
<meta property="og:url" content="{canonical}">
<meta property="article:published_time" content="{a.date.isoformat()}">
<link rel="canonical" href="{canonical}">
<link rel="alternate" type="application/rss+xml" title="{_e(outlet)} — Latest" href="{RSS_PATH}">
<link rel="alternate" type="application/atom+xml" title="{_e(outlet)} — World" href="{ATOM_PATH}">
<script>window.dataLayer = window.dataLayer || []; dataLayer.push({{"section": "{a.section}"}});</script>
</head>
<body class="article-page">
{_NAV.format(outlet=_e(outlet))}
<main id="content">
<article class="story">
  <div class="kicker"><a href="/{a.section}/">{a.section.title()}</a></div>
  <h1 class="headline">{_e(a.title)}</h1>
  <p class="standfirst">{_e(a.dek)}</p>
  <div class="byline">By <a rel="author" href="/authors/{a.author.lower().replace(" ", "-")}">{_e(a.author)}</a>
    · <time datetime="{a.date.isoformat()}">{a.date:%d %B %Y}</time></div>
  <div class="share"><a href="/share?to=x">Share on X</a> <a href="/share?to=fb">Facebook</a>
    <a href="/share?to=mail">Email</a></div>
  <div class="story-body">
{body}
  </div>
  <div class="tags">Topics: <a href="/tags/asia">Asia</a> <a href="/tags/security">Security</a></div>
</article>
<aside class="related">
  <h2>Related stories</h2>
  <ul>{rel}</ul>
</aside>
<aside class="most-read"><h2>Most read</h2><ol>
  <li><a href="/business/markets">Asian stocks slip as investors await inflation data</a></li>
  <li><a href="/world/weather">Record heat in the Philippines closes schools</a></li>
  <li><a href="/opinion/columns">Opinion: the quiet power of regional trade pacts</a></li>
</ol></aside>
<div class="ad ad-sidebar">Advertisement<div class="ad-slot" id="div-gpt-ad-side"></div></div>
</main>
{_FOOTER.format(outlet=_e(outlet))}
</body>
</html>
"""


def _home(outlet: str, articles: list[DemoArticle]) -> str:
    items = "\n".join(f'<li><a href="{a.path}">{_e(a.title)}</a></li>' for a in articles)
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{_e(outlet)}</title>
<link rel="alternate" type="application/rss+xml" title="Latest" href="{RSS_PATH}">
<link rel="alternate" type="application/atom+xml" title="World" href="{ATOM_PATH}">
</head><body>{_NAV.format(outlet=_e(outlet))}<main><ul>{items}</ul></main></body></html>"""


def _teaser(a: DemoArticle) -> str:
    return a.summary or (a.body[0] if a.body else a.dek)


def _rss(outlet: str, public: str, base: str, articles: list[DemoArticle]) -> bytes:
    items = []
    for a in sorted(articles, key=lambda x: x.date, reverse=True):
        if "rss" not in a.feeds:
            continue
        items.append(
            f"""  <item>
    <title>{_e(a.title)}</title>
    <link>{base}{a.path}</link>
    <guid isPermaLink="false">{public}/story/{a.slug}</guid>
    <pubDate>{format_datetime(a.date)}</pubDate>
    <dc:creator>{_e(a.author)}</dc:creator>
    <category>{_e(a.section)}</category>
    <description>{_e(_teaser(a))}</description>
  </item>"""
        )
    latest = max(a.date for a in articles)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
  <title>{_e(outlet)} — Latest</title>
  <link>{public}/</link>
  <atom:link href="{base}{RSS_PATH}" rel="self" type="application/rss+xml"/>
  <description>The latest stories from {_e(outlet)}</description>
  <language>en</language>
  <lastBuildDate>{format_datetime(latest)}</lastBuildDate>
  <ttl>15</ttl>
{chr(10).join(items)}
</channel>
</rss>
""".encode()


def _atom(outlet: str, public: str, base: str, articles: list[DemoArticle]) -> bytes:
    entries = []
    for a in sorted(articles, key=lambda x: x.date, reverse=True):
        if "atom" not in a.feeds:
            continue
        link = f"{base}{a.alias}{ATOM_UTM}" if a.alias else f"{base}{a.path}"
        entries.append(
            f"""  <entry>
    <title>{_e(a.title)}</title>
    <link rel="alternate" type="text/html" href="{_e(link)}"/>
    <id>tag:{public.removeprefix("https://")},{a.filed or a.date:%Y-%m-%d}:world/{a.slug}</id>
    <published>{a.date.isoformat()}</published>
    <updated>{a.date.isoformat()}</updated>
    <author><name>{_e(a.author)}</name></author>
    <summary type="html">{_e("<p>" + _e(_teaser(a)) + "</p>")}</summary>
  </entry>"""
        )
    latest = max(a.date for a in articles)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>{_e(outlet)} — World desk</title>
  <link rel="alternate" type="text/html" href="{public}/world/"/>
  <link rel="self" type="application/atom+xml" href="{base}{ATOM_PATH}"/>
  <id>tag:{public.removeprefix("https://")},2024:world</id>
  <updated>{latest.isoformat()}</updated>
{chr(10).join(entries)}
</feed>
""".encode()
