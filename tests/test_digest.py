"""The digest page: what it shows, that it needs nothing from the network, and how a real
browser renders it.

The demo site is served with its stories dated over the last four weeks and
polled through the real flow, so the 30-day chart has bars to draw.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cli.app import app
from conftest import chromium, read_rows, write_feeds
from flows.demo import ATOM_PATH, RSS_PATH, demo_server
from flows.demo.browser import Browser
from flows.report import highlight

runner = CliRunner()


@pytest.fixture(scope="module")
def recent_db(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[Path]:
    from flows.poll import poll_feeds

    tmp = tmp_path_factory.mktemp("digest")
    with demo_server(recent_to=datetime.now(UTC) - timedelta(hours=1)) as site:
        feeds = write_feeds(
            tmp / "feeds.yaml",
            {
                "demo-latest": site.url(RSS_PATH),
                "demo-world": site.url(ATOM_PATH),
                "gone-quiet": site.url("/no-such-feed.xml"),
            },
        )
        db = tmp / "w.duckdb"
        topics = Path(__file__).resolve().parent.parent / "flows" / "defaults" / "topics.yaml"
        poll_feeds(feeds_path=str(feeds), topics_path=str(topics), db=str(db), poll_all=True)
    yield db


def _write(db: Path, out: Path, *args: str) -> str:
    result = runner.invoke(app, ["digest", "--db", str(db), "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


def test_the_page_shows_each_days_hits_each_new_story_and_feed_health(
    recent_db: Path, tmp_path: Path
) -> None:
    page = _write(recent_db, tmp_path / "report.html", "--since", "24h")

    # The chart: one bar per topic and day with hits, its height the day's count.
    expected = {
        (t, d.isoformat()): n
        for t, d, n in read_rows(
            recent_db,
            "SELECT topic, day, articles FROM daily_topic_counts"
            " WHERE day > current_date - 30 AND day <= current_date",
        )
    }
    assert len(expected) >= 10  # the stories were dated over four weeks
    bars = {}
    for figure in re.findall(
        r'<figure class="chart" data-topic="([^"]+)">(.*?)</figure>', page, re.S
    ):
        topic, svg = figure
        for day, count in re.findall(r'data-day="([\d-]+)" data-count="(\d+)"', svg):
            bars[(topic, day)] = int(count)
    assert bars == expected

    # The new stories: one per topic and story, each with its matched words marked.
    stories = read_rows(recent_db, "SELECT count(DISTINCT (topic, cluster_id)) FROM topic_hits")[0][
        0
    ]
    assert page.count('<li class="hit">') == stories
    hits = re.findall(r'<li class="hit">(.*?)</li>', page, re.S)
    assert all("<mark>" in h for h in hits if 'class="snippet"' in h)
    assert "<mark>North Korean</mark>" in page  # the longer word, whole

    # Feed health: the broken feed is named, with its problem.
    health = page[page.index('id="health"') :]
    assert "gone-quiet" in health and "HTTP 404" in health and "failing" in health


def test_the_page_needs_nothing_from_the_network(recent_db: Path, tmp_path: Path) -> None:
    page = _write(recent_db, tmp_path / "report.html")
    assert "<script" not in page
    assert not re.search(r"<link\b|@import|url\(", page)
    # Every src= and href= is a story's own link: nothing to load when the page opens.
    links = {u for (u,) in read_rows(recent_db, "SELECT link FROM topic_hits")}
    assert not re.findall(r'\bsrc="', page)
    assert set(re.findall(r'href="([^"]+)"', page)) <= links


def test_one_topic_only(recent_db: Path, tmp_path: Path) -> None:
    page = _write(recent_db, tmp_path / "r.html", "--topic", "dprk-missiles")
    assert 'data-topic="dprk-missiles"' in page and 'data-topic="dprk-russia"' not in page
    assert (
        page.count('<li class="hit">')
        == read_rows(
            recent_db,
            "SELECT count(DISTINCT cluster_id) FROM topic_hits WHERE topic = 'dprk-missiles'",
        )[0][0]
    )


def test_an_empty_window_says_so_and_names_the_latest_hit() -> None:
    from flows.report import Digest, digest_html

    now = datetime.now(UTC)
    page = digest_html(
        Digest(
            since=now - timedelta(days=1),
            until=now,
            daily={"dprk-russia": {}},
            latest={"dprk-russia": date(2025, 6, 4)},
        )
    )
    assert "No matched articles published in these 30 days (the latest: 04 Jun 2025)." in page
    assert "No new stories since" in page and 'class="bar"' not in page
    assert "0 feeds: 0 ok" in page


def test_the_command_names_bad_arguments_and_exits_2(recent_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    cases = {
        ("--since", "soon"): "--since",
        ("--topic", "weather"): "--topic 'weather': no such topic",
    }
    for args, says in cases.items():
        result = runner.invoke(app, ["digest", "--db", str(recent_db), "--out", str(out), *args])
        assert result.exit_code == 2, result.output
        assert says in result.output
        assert not out.exists()
    missing = runner.invoke(
        app, ["digest", "--db", str(tmp_path / "none.duckdb"), "--out", str(out)]
    )
    assert missing.exit_code == 1 and "no warehouse here yet" in missing.output


def test_hits_lists_new_stories_as_json(recent_db: Path) -> None:
    result = runner.invoke(app, ["hits", "--db", str(recent_db), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert (
        len(rows)
        == read_rows(recent_db, "SELECT count(DISTINCT (topic, cluster_id)) FROM topic_hits")[0][0]
    )
    assert {"topic", "title", "link", "outlet", "published_at", "copies"} <= set(rows[0])
    only = runner.invoke(
        app, ["hits", "--db", str(recent_db), "--topic", "dprk-missiles", "--format", "json"]
    )
    assert {json.loads(line)["topic"] for line in only.output.splitlines()} == {"dprk-missiles"}
    bad = runner.invoke(app, ["hits", "--db", str(recent_db), "--format", "xml"])
    assert bad.exit_code == 2 and "--format must be table or json" in bad.output


def test_highlight_escapes_text_and_marks_whole_words_only() -> None:
    marked = highlight(
        "<b>Russian</b> and Russia's <i>North Korean</i> troops",
        ["Russia", "North Korean", "North"],
    )
    assert str(marked) == (
        "&lt;b&gt;Russian&lt;/b&gt; and <mark>Russia</mark>&#39;s &lt;i&gt;<mark>North Korean</mark>"
        "&lt;/i&gt; troops"
    )
    assert str(highlight("a <b>", [])) == "a &lt;b&gt;"


def test_a_real_browser_shows_the_chart_and_the_hits(recent_db: Path, tmp_path: Path) -> None:
    executable = chromium()
    page = tmp_path / "report.html"
    _write(recent_db, page, "--since", "24h")
    with Browser(executable, width=1100, height=900) as browser:
        browser.open(page.as_uri())
        seen = browser.evaluate(
            """(() => {
              const shown = el => { const r = el.getBoundingClientRect(), s = getComputedStyle(el);
                return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'
                  && r.left >= 0 && r.right <= document.documentElement.scrollWidth; };
              const all = sel => [...document.querySelectorAll(sel)];
              return {
                charts: all('figure.chart svg').filter(shown).length,
                bars: all('rect.bar').filter(shown).length,
                allBars: all('rect.bar').length,
                hits: all('li.hit').filter(shown).length,
                marks: all('li.hit mark').filter(shown).length,
                firstBarColour: getComputedStyle(all('rect.bar')[0]).fill,
                chartWidth: all('figure.chart svg')[0].getBoundingClientRect().width,
                overflow: document.documentElement.scrollWidth > window.innerWidth,
              };
            })()"""
        )
        shot = browser.screenshot(tmp_path / "digest.png")
    assert browser.requests == [page.as_uri()]  # nothing fetched but the page itself
    assert seen["charts"] == 2 and seen["chartWidth"] > 600
    assert seen["bars"] == seen["allBars"] >= 10
    assert seen["firstBarColour"] not in ("", "none", "rgb(0, 0, 0)")
    stories = read_rows(recent_db, "SELECT count(DISTINCT (topic, cluster_id)) FROM topic_hits")[0][
        0
    ]
    assert seen["hits"] == stories and seen["marks"] >= stories
    assert not seen["overflow"]  # nothing sticks out sideways
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000


def test_the_digest_window_is_thirty_days_to_today(recent_db: Path, tmp_path: Path) -> None:
    page = _write(recent_db, tmp_path / "r.html")
    today = date.today()
    days = sorted(set(re.findall(r'data-day="([\d-]+)"', page)))
    assert days and days[-1] <= today.isoformat()
    assert days[0] > (today - timedelta(days=30)).isoformat()


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def test_the_queries_of_the_guide_run_and_answer(recent_db: Path) -> None:
    guide = (Path(__file__).resolve().parent.parent / "docs" / "queries.md").read_text()
    questions = guide[guide.index("## Questions analysts ask") :]
    queries = _blocks(questions, "sql")
    assert len(queries) >= 10
    answers = {}
    con = duckdb.connect(str(recent_db), read_only=True)
    try:
        for query in queries:
            answers[query] = con.execute(query).fetchall()
    finally:
        con.close()
    empty = [q for q, rows in answers.items() if not rows]
    # The demo's stories answer all but three: none is carried by two outlets (its one
    # repeat is the same page under two addresses: one article), none names Belousov.
    assert len(empty) == 3, empty
    assert all("copies > 1" in q or "elousov" in q for q in empty), empty


def test_the_guides_python_example_runs_with_pandas_and_polars(recent_db: Path) -> None:
    guide = (Path(__file__).resolve().parent.parent / "docs" / "queries.md").read_text()
    (example,) = [b for b in _blocks(guide, "python") if ".df()" in b]
    scope: dict[str, object] = {}
    exec(example.replace("data/feedwatch.duckdb", str(recent_db)), scope)
    hits, per_topic, per_outlet = scope["hits"], scope["per_topic"], scope["per_outlet"]
    assert len(hits) == read_rows(recent_db, "SELECT count(*) FROM topic_hits")[0][0]  # type: ignore[arg-type]
    # The frames hold the numbers SQL gives, not only the right names.
    assert per_topic.rows() == read_rows(  # type: ignore[attr-defined]
        recent_db,
        "SELECT topic, sum(articles) FROM daily_topic_counts GROUP BY topic ORDER BY topic",
    )
    assert per_topic.columns == ["topic", "articles"]  # type: ignore[attr-defined]
    assert dict(per_outlet) == dict(  # type: ignore[call-overload]
        read_rows(recent_db, "SELECT outlet, count(*) FROM topic_hits GROUP BY outlet")
    )


def test_a_real_browser_shows_the_figures_the_stories_report(
    recent_db: Path, tmp_path: Path
) -> None:
    """A chart per topic and kind of figure: a point per story, the range as a bar, and
    a hover naming the figure, what is counted and who says so."""
    rows = read_rows(
        recent_db,
        "SELECT topic, kind, value IS NULL AND low IS NOT NULL AND high IS NOT NULL, source"
        " FROM reported_figures WHERE reported_at >= current_date - 29",
    )
    assert rows, "the demo's stories report figures"
    executable = chromium()
    page = tmp_path / "report.html"
    _write(recent_db, page, "--since", "24h")
    with Browser(executable, width=1100, height=900) as browser:
        browser.open(page.as_uri())
        seen = browser.evaluate(
            """(() => {
              const shown = el => { const r = el.getBoundingClientRect();
                return r.width > 0 && r.height > 0; };
              const charts = [...document.querySelectorAll('figure.figures')];
              return {
                charts: charts.filter(c => shown(c.querySelector('svg')))
                              .map(c => c.dataset.topic + '/' + c.dataset.kind),
                points: [...document.querySelectorAll('figure.figures g.point')].map(g => ({
                  title: g.querySelector('title').textContent,
                  dot: !!g.querySelector('circle.dot') && shown(g.querySelector('circle.dot')),
                  bar: !!g.querySelector('rect.range') && shown(g.querySelector('rect.range')),
                })),
              };
            })()"""
        )
        browser.evaluate("document.getElementById('figures').scrollIntoView()")
        shot = browser.screenshot(tmp_path / "figures.png")
    assert sorted(seen["charts"]) == sorted({f"{t}/{k}" for t, k, _, _ in rows})
    assert len(seen["points"]) == len(rows)
    assert sum(p["bar"] for p in seen["points"]) == sum(r[2] for r in rows)  # ranges as bars
    assert all(p["dot"] or p["bar"] for p in seen["points"])
    for _, _, _, source in rows:
        if source:
            assert any(source in p["title"] for p in seen["points"]), source
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_figures_per_kind_as_table_json_and_csv(recent_db: Path) -> None:
    stored = read_rows(
        recent_db,
        "SELECT kind, count(DISTINCT story), min(coalesce(low, value)), max(coalesce(high, value))"
        " FROM reported_figures WHERE topic = 'dprk-russia' GROUP BY kind",
    )
    result = runner.invoke(
        app, ["figures", "--topic", "dprk-russia", "--db", str(recent_db), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    kinds = {r["kind"]: r for r in map(json.loads, result.output.splitlines())}
    assert {k: (r["stories"], r["lowest"], r["highest"]) for k, r in kinds.items()} == {
        k: (n, lo, hi) for k, n, lo, hi in stored
    }
    assert all(r["figures"] and r["first"] <= r["last"] for r in kinds.values())
    one = next(iter(kinds))
    only = runner.invoke(
        app,
        [
            "figures",
            "--topic",
            "dprk-russia",
            "--db",
            str(recent_db),
            "--kind",
            one,
            "--format",
            "csv",
        ],
    )
    assert only.exit_code == 0 and only.output.splitlines()[0].startswith("kind,stories")
    assert [line.split(",")[0] for line in only.output.splitlines()[1:]] == [one]
    table = runner.invoke(app, ["figures", "--topic", "dprk-russia", "--db", str(recent_db)])
    assert table.exit_code == 0 and one in table.output
    for bad in (["--topic", "no-such-topic"], ["--topic", "dprk-russia", "--kind", "tanks"], []):
        wrong = runner.invoke(app, ["figures", "--db", str(recent_db), *bad])
        assert wrong.exit_code == 2, (bad, wrong.output)
