"""The digest page: what it holds, read from the warehouse in one short read-only
session, and its HTML: one self-contained page, inline CSS and SVG, no script,
nothing fetched when it opens.

The chart is drawn here as SVG (a bar per day) rather than by a charting
library: a 30-bar chart is a few lines, and it keeps the page small, printable
and readable with no network and no JavaScript. No Prefect here: the command
renders the page without starting it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape
from markupsafe import Markup, escape

from extractors.errors import redact_url
from flows.settings import check_topic
from warehouse import open_warehouse
from warehouse.api import FeedHealth

__all__ = [
    "CHART_DAYS",
    "Chart",
    "Digest",
    "build_digest",
    "chart_days",
    "digest_html",
    "highlight",
    "write_digest",
]

CHART_DAYS = 30
# Colour-blind-safe (Okabe–Ito), one per topic in turn.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


@dataclass
class Digest:
    since: datetime
    stories: list[dict[str, Any]] = field(default_factory=list)
    unhealthy: list[FeedHealth] = field(default_factory=list)
    until: datetime = field(default_factory=lambda: datetime.now(UTC))
    health: list[FeedHealth] = field(default_factory=list)
    daily: dict[str, dict[date, int]] = field(default_factory=dict)  # topic → day → articles
    latest: dict[str, date] = field(default_factory=dict)  # topic → its last day with a hit


def build_digest(db: str | Path, since: datetime, topic: str | None = None) -> Digest:
    """Everything the digest shows, read in one short read-only session."""
    now = datetime.now(UTC)
    days = chart_days(now.date())
    with open_warehouse(db, read_only=True) as wh:
        check_topic(topic, wh.current_topics())
        health = wh.feed_health()
        daily = wh.daily_counts(days[0], days[-1])
        stories = wh.new_stories(since, topic)
        latest = wh.latest_hit_days()
    if topic is not None:
        daily = {topic: daily[topic]}
    return Digest(
        since=since,
        stories=stories,
        unhealthy=[h for h in health if h.needs_care],
        until=now,
        health=health,
        daily=daily,
        latest=latest,
    )


def write_digest(d: Digest, out: str | Path) -> Path:
    """Write the HTML page (atomically: a reader never sees half of it)."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(digest_html(d), encoding="utf-8")
    tmp.replace(path)
    return path


def chart_days(last_day: date, days: int = CHART_DAYS) -> list[date]:
    return [last_day - timedelta(days=days - 1 - i) for i in range(days)]


def highlight(text: str, words: Iterable[str]) -> Markup:
    """`text`, escaped, with each of `words` (any case) in <mark>; longer words first, so
    "North Korean" is marked whole rather than "North" inside it."""
    wanted = sorted({w for w in words if w.strip()}, key=len, reverse=True)
    if not wanted:
        return escape(text)
    pattern = re.compile(
        r"(?<!\w)(" + "|".join(re.escape(w) for w in wanted) + r")(?!\w)", re.IGNORECASE
    )
    out = Markup()
    last = 0
    for m in pattern.finditer(text):
        out += escape(text[last : m.start()]) + Markup("<mark>%s</mark>") % m.group(0)
        last = m.end()
    return out + escape(text[last:])


@dataclass(frozen=True)
class Bar:
    day: date
    count: int
    x: float
    y: float
    height: float


@dataclass(frozen=True)
class Chart:
    """One topic's bars, in SVG user units."""

    topic: str
    colour: str
    total: int
    bars: tuple[Bar, ...]
    top: int  # the y axis' highest value
    days: int = CHART_DAYS
    latest: date | None = None  # the last day with a hit, in the window or before it
    width: int = 900
    height: int = 160
    left: int = 34
    bottom: int = 22

    @property
    def plot_height(self) -> int:
        return self.height - self.bottom - 8

    @property
    def bar_width(self) -> float:
        return (self.width - self.left - 24) / self.days  # room for the last label

    @property
    def ticks(self) -> list[Bar]:
        """Bars whose day is labelled: every seventh from the last (today)."""
        n = len(self.bars)
        return [b for i, b in enumerate(self.bars) if (n - 1 - i) % 7 == 0]


def make_chart(
    topic: str, colour: str, counts: dict[date, int], days: list[date], latest: date | None
) -> Chart:
    top = max([counts.get(d, 0) for d in days] + [1])
    top = top if top <= 5 else -(-top // 5) * 5  # round the axis up to a multiple of 5
    total = sum(counts.get(d, 0) for d in days)
    frame = Chart(topic, colour, total, (), top, len(days), latest)
    bars = []
    for i, d in enumerate(days):
        n = counts.get(d, 0)
        h = frame.plot_height * n / top
        bars.append(Bar(d, n, frame.left + i * frame.bar_width, 8 + frame.plot_height - h, h))
    return replace(frame, bars=tuple(bars))


def _env() -> Environment:
    env = Environment(
        autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True
    )
    env.filters["highlight"] = highlight
    env.filters["redact_url"] = redact_url
    return env


def digest_html(d: Digest) -> str:
    template = resources.files("flows").joinpath("templates/digest.html").read_text("utf-8")
    days = chart_days(d.until.date())
    charts = [
        make_chart(topic, PALETTE[i % len(PALETTE)], counts, days, d.latest.get(topic))
        for i, (topic, counts) in enumerate(sorted(d.daily.items()))
    ]
    colours = {c.topic: c.colour for c in charts}
    by_topic: dict[str, list[dict[str, object]]] = {}
    for s in d.stories:
        by_topic.setdefault(str(s["topic"]), []).append(s)
    statuses = ("failing", "stale", "disabled", "new", "ok")
    counts = {s: sum(h.status == s for h in d.health) for s in statuses}
    return (
        _env()
        .from_string(template)
        .render(
            d=d,
            days=days,
            charts=charts,
            colours=colours,
            by_topic=by_topic,
            counts=counts,
        )
    )
