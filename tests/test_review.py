"""`feedwatch review` in a real headless Chromium: a click or a key stores a verdict in
topic_labels, verdicts survive a restart, each topic has its page, and an empty
warehouse says so. The warehouse is the demo site polled through the real flow."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from cli.review import ReviewServer
from conftest import chromium, read_rows, write_feeds
from flows.demo import ATOM_PATH, RSS_PATH, demo_server
from flows.demo.browser import Browser
from flows.settings import load_topics
from warehouse import open_warehouse

runner = CliRunner()
TOPICS = ["dprk-russia", "dprk-missiles"]
DEFAULT_TOPICS = Path(__file__).resolve().parent.parent / "flows" / "defaults" / "topics.yaml"


@pytest.fixture(scope="module")
def polled_db(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[Path]:
    from flows.poll import poll_feeds

    tmp = tmp_path_factory.mktemp("review")
    with demo_server(recent_to=datetime.now(UTC) - timedelta(hours=1)) as site:
        feeds = write_feeds(
            tmp / "feeds.yaml", {"latest": site.url(RSS_PATH), "world": site.url(ATOM_PATH)}
        )
        db = tmp / "w.duckdb"
        poll_feeds(
            feeds_path=str(feeds), topics_path=str(DEFAULT_TOPICS), db=str(db), poll_all=True
        )
    yield db


SEEN = """(() => ({
  heading: document.querySelector('h1').textContent,
  hits: [...document.querySelectorAll('ol.hits li.item')].map(li => [li.dataset.article, li.dataset.label]),
  near: [...document.querySelectorAll('ol.near-misses li.item')].map(li => [li.dataset.article, li.dataset.label]),
  snippets: document.querySelectorAll('li.item .snippet').length,
  empty: [...document.querySelectorAll('.empty')].map(p => p.textContent),
}))()"""


def _labels(db: Path) -> dict[tuple[str, str], tuple[bool, str, str | None]]:
    rows = read_rows(db, "SELECT article_id, topic, label, labelled_by, note FROM topic_labels")
    return {(a, t): (label, by, note) for a, t, label, by, note in rows}


def test_a_click_and_a_key_store_verdicts_that_survive_a_restart(
    polled_db: Path, tmp_path: Path
) -> None:
    executable = chromium()
    with ReviewServer(polled_db, TOPICS, who="analyst") as server, Browser(executable) as browser:
        browser.open(server.url)
        seen = browser.evaluate(SEEN)
        assert seen["heading"] == "Review: dprk-russia"
        assert len(seen["hits"]) >= 3 and seen["snippets"] >= len(seen["hits"])
        assert all(label == "" for _, label in seen["hits"])  # nothing judged yet
        first, second = seen["hits"][0][0], seen["hits"][1][0]

        browser.click("ol.hits li.item button.yes")  # the mouse, on the first hit
        assert browser.wait_for(
            f"document.querySelector('li[data-article=\"{first}\"]').dataset.label == 'yes'"
        )
        browser.press("n")  # the focus moved on to the second: a key says no
        assert browser.wait_for(
            f"document.querySelector('li[data-article=\"{second}\"]').dataset.label == 'no'"
        )
        browser.screenshot(tmp_path / "review.png")

    stored = _labels(polled_db)
    assert stored[(first, "dprk-russia")] == (True, "analyst", "review")
    assert stored[(second, "dprk-russia")] == (False, "analyst", "review")

    # A new server, a new browser: the page shows the verdicts from topic_labels.
    with ReviewServer(polled_db, TOPICS, who="analyst") as server, Browser(executable) as browser:
        browser.open(server.url)
        seen = browser.evaluate(SEEN)
        pressed = browser.evaluate(
            f"document.querySelector('li[data-article=\"{first}\"] button.yes')"
            ".getAttribute('aria-pressed')"
        )
    labels = dict(seen["hits"])
    assert labels[first] == "yes" and labels[second] == "no" and pressed == "true"
    # The verdicts are the labels `topics eval` and `topics learn` read.
    result = runner.invoke(
        app,
        ["topics", "eval", "--labels-from-warehouse", "--db", str(polled_db), "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    assert '"topic": "dprk-russia"' in result.output and '"cases": 2' in result.output
    learned = tmp_path / "learned.yaml"
    result = runner.invoke(
        app,
        [
            "topics",
            "learn",
            "--labels-from-warehouse",
            "--db",
            str(polled_db),
            "--topics",
            str(DEFAULT_TOPICS),
            "--topic",
            "dprk-russia",
            "--out",
            str(learned),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 cases, 1 positive" in result.output
    assert [ct.topic.name for ct in load_topics(learned)] == TOPICS


def test_each_topic_has_its_page_and_its_own_verdicts(polled_db: Path) -> None:
    executable = chromium()
    with ReviewServer(polled_db, TOPICS, who="analyst") as server, Browser(executable) as browser:
        browser.open(server.url + "?topic=dprk-missiles")
        seen = browser.evaluate(SEEN)
        assert seen["heading"] == "Review: dprk-missiles"
        items = seen["hits"] + seen["near"]
        assert items, "the demo site has stories of North Korean missiles"
        article = items[0][0]
        browser.click(f"li[data-article='{article}'] button.no")
        assert browser.wait_for(
            f"document.querySelector('li[data-article=\"{article}\"]').dataset.label == 'no'"
        )
        # The other topic's page does not show this verdict as its own.
        browser.open(server.url + "?topic=dprk-russia")
        other = dict(browser.evaluate(SEEN)["hits"] + browser.evaluate(SEEN)["near"])
    assert _labels(polled_db)[(article, "dprk-missiles")][0] is False
    assert other.get(article, "") in ("", "yes", "no")
    if (article, "dprk-russia") not in _labels(polled_db):
        assert other.get(article, "") == ""


def test_an_empty_warehouse_says_so(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    with open_warehouse(db):
        pass
    executable = chromium()
    with ReviewServer(db, TOPICS, who="analyst") as server, Browser(executable) as browser:
        browser.open(server.url)
        seen = browser.evaluate(SEEN)
    assert seen["hits"] == [] and seen["near"] == []
    assert any("No hits of dprk-russia stored yet" in p for p in seen["empty"])


def test_bad_requests_are_refused_and_store_nothing(polled_db: Path) -> None:
    with ReviewServer(polled_db, TOPICS, who="analyst") as server:
        for body in (b'{"article_id": "x", "topic": "dprk-russia", "label": "yes"}', b"not json"):
            request = urllib.request.Request(server.url + "label", data=body, method="POST")
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(request, timeout=10)
            assert e.value.code == 400
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(server.url + "?topic=nope", timeout=10)
        assert e.value.code == 404


def test_the_command_names_bad_arguments_and_a_missing_warehouse(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["review", "--db", str(tmp_path / "none.duckdb")])
    # As every reading command: exit 1, naming the file and what to do.
    assert missing.exit_code == 1 and "no warehouse here yet" in missing.output
    db = tmp_path / "w.duckdb"
    with open_warehouse(db):
        pass
    unknown = runner.invoke(app, ["review", "--db", str(db), "--topic", "nope"])
    assert unknown.exit_code == 2 and "nope" in unknown.output


def test_near_misses_are_listed_under_the_hits_and_judged_the_same_way(
    polled_db: Path, tmp_path: Path
) -> None:
    """A strict copy of the default topic (min_score 9) turns most hits into
    near-misses: the query holds, the score is short. They are listed best first,
    with the sentence that matched, and a key stores a verdict on one."""
    import shutil

    import yaml

    from flows.rescore import rescore

    db = tmp_path / "w.duckdb"
    shutil.copy(polled_db, db)
    raw = yaml.safe_load(DEFAULT_TOPICS.read_text(encoding="utf-8"))
    raw["topics"] = {"strict": dict(raw["topics"]["dprk-russia"], min_score=9)}
    strict = tmp_path / "strict.yaml"
    strict.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    rescore(str(db), load_topics(strict))
    with ReviewServer(db, ["strict"], who="analyst") as server, Browser(chromium()) as browser:
        browser.open(server.url)
        seen = browser.evaluate(SEEN)
        scores = browser.evaluate(
            "[...document.querySelectorAll('ol.near-misses .meta')].map(m => m.textContent)"
        )
        near = [a for a, _ in seen["near"]]
        assert len(near) >= 3 and seen["snippets"] >= len(near) + len(seen["hits"])
        values = [float(s.rsplit("score ", 1)[1]) for s in scores]
        assert values == sorted(values, reverse=True) and all(v < 9 for v in values)
        browser.click(f"li[data-article='{near[0]}']")  # focus it, then a key
        browser.press("y")
        assert browser.wait_for(
            f"document.querySelector('li[data-article=\"{near[0]}\"]').dataset.label == 'yes'"
        )
    assert _labels(db)[(near[0], "strict")][0] is True
