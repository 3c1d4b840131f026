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
from extractors.figures import KINDS, describe
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
    figures: dict[str, list[dict[str, Any]]] = field(
        default_factory=dict
    )  # topic → reported figures


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
        window = datetime.combine(days[0], datetime.min.time(), UTC)
        figures = {t: wh.reported_figures(t, window) for t in ([topic] if topic else daily)}
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
        figures={t: rows for t, rows in figures.items() if rows},
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


@dataclass(frozen=True)
class Point:
    """One story's figure: a dot at its number, a bar over the range it gives."""

    x: float
    y: float | None  # the dot; None for a range alone ("dozens", "10,000–12,000")
    y_low: float | None  # the bar, where there is a range
    y_high: float | None
    opens: str  # "up" (more than, at least), "down" (up to, fewer than) or ""
    label: str  # what the hover says: the day, the figure, what is counted, who says so
    link: str


@dataclass(frozen=True)
class FigureChart:
    """The figures of one kind a topic's stories reported, over the chart's days."""

    topic: str
    kind: str
    colour: str
    points: tuple[Point, ...]
    top: float
    stories: int
    sources: tuple[str, ...]
    days: tuple[date, ...]
    width: int = 900
    height: int = 150
    left: int = 70
    bottom: int = 22

    @property
    def plot_height(self) -> int:
        return self.height - self.bottom - 8

    @property
    def day_width(self) -> float:
        return (self.width - self.left - 24) / len(self.days)

    @property
    def top_label(self) -> str:
        return describe(self.top, self.top, self.top, "exact")

    @property
    def ticks(self) -> list[tuple[float, date]]:
        n = len(self.days)
        return [
            (self.left + (i + 0.5) * self.day_width, d)
            for i, d in enumerate(self.days)
            if (n - 1 - i) % 7 == 0
        ]


def make_figure_charts(
    topic: str, colour: str, rows: list[dict[str, Any]], days: list[date]
) -> list[FigureChart]:
    """A chart per kind of figure: a point per story, placed at its date and number."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if days[0] <= r["reported_at"].astimezone(UTC).date() <= days[-1]:
            by_kind.setdefault(r["kind"], []).append(r)
    charts = []
    for kind in [k for k in KINDS if k in by_kind]:
        group = by_kind[kind]
        highest = max(
            (x for r in group for x in (r["value"], r["low"], r["high"]) if x is not None),
            default=1,
        )
        top = _nice(highest)
        frame = FigureChart(
            topic, kind, colour, (), top, len({r["story"] for r in group}),
            tuple(dict.fromkeys(r["source"] for r in group if r["source"])), tuple(days),
        )  # fmt: skip

        def y(v: float | None, frame: FigureChart = frame) -> float | None:
            return None if v is None else 8 + frame.plot_height * (1 - v / frame.top)

        points = []
        for r in group:
            when = r["reported_at"].astimezone(UTC)
            offset = (when.date() - days[0]).days + (when.hour * 60 + when.minute) / 1440
            bounded = r["low"] is not None and r["high"] is not None and r["low"] != r["high"]
            opens = (
                "up" if r["hedge"] in ("more than", "at least")
                else "down" if r["hedge"] in ("up to", "as many as", "fewer than")
                else ""
            )  # fmt: skip
            figure = describe(r["value"], r["low"], r["high"], r["hedge"])
            source = r["source"] or "no source named"
            points.append(
                Point(
                    x=frame.left + offset * frame.day_width,
                    y=y(r["value"]),
                    y_low=y(r["low"]) if bounded else None,
                    y_high=y(r["high"]) if bounded else None,
                    opens=opens if r["value"] is not None else "",
                    label=f"{when:%d %b}: {figure} {r['counted']} · {source} · {r['outlet'] or ''}",
                    link=redact_url(r["link"] or ""),
                )
            )
        charts.append(replace(frame, points=tuple(points)))
    return charts


def _nice(n: float) -> float:
    """The axis' top: n rounded up to 1, 2 or 5 times a power of ten."""
    power = 10 ** max(len(str(int(n))) - 1, 0)
    for step in (1, 2, 5, 10):
        if n <= step * power:
            return float(step * power)
    return float(n)


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
    figure_charts = {
        topic: make_figure_charts(topic, colours.get(topic, PALETTE[0]), rows, days)
        for topic, rows in sorted(d.figures.items())
    }
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
            figure_charts={t: c for t, c in figure_charts.items() if c},
            colours=colours,
            by_topic=by_topic,
            counts=counts,
        )
    )
