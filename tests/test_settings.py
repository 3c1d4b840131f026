"""feeds.yaml and topics.yaml: loading, and errors that name file, line and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from extractors.errors import ConfigError, TopicSyntaxError
from flows.settings import load_feeds, load_feeds_config, load_topics, parse_interval
from flows.units import parse_duration, parse_size

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_feeds_and_topics_load() -> None:
    feeds = load_feeds(ROOT / "feeds.yaml")
    assert len(feeds) >= 10
    assert len({f.name for f in feeds}) == len(feeds)
    assert all(f.url.startswith("https://") for f in feeds)
    topics = load_topics(ROOT / "topics.yaml")
    assert "dprk-russia" in {t.topic.name for t in topics}


def test_feed_defaults(tmp_path: Path) -> None:
    f = tmp_path / "feeds.yaml"
    f.write_text(
        "feeds:\n  - url: https://www.example.com/world/rss.xml\n    interval: 2h\n    tags: [a, b]\n"
    )
    (feed,) = load_feeds(f)
    assert feed.name == "example-com-world-rss-xml"
    assert feed.interval_seconds == 7200 and feed.tags == ("a", "b")


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("feeds:\n  - url: https://a.example/rss\n  - name: b\n", 3, "feed 2: 'url' is missing"),
        ("feeds:\n  - url: ftp://a.example/rss\n", 2, "is not an http(s) URL"),
        ("feeds:\n  - url: https://a.example/rss\n    interval: soon\n", 3, "is not a duration"),
        ("feeds:\n  - url: https://a.example/rss\n    interval: 10s\n", 3, "under a minute"),
        ("feeds:\n  - url: https://a.example/rss\n    colour: red\n", 3, "unknown key 'colour'"),
        (
            "feeds:\n  - url: https://a.example/1\n    name: x\n  - url: https://a.example/2\n    name: x\n",
            4,
            "name 'x' is already used by feed 1",
        ),
        ("feeds:\n  - url: https://a.example/rss\n  bad indent: [\n", 3, "not valid YAML"),
        ("feeds: https://a.example/rss\n", 1, "must be a list"),
        ("fetch:\n  per_host: 1\n", 1, "no top-level 'feeds:' key"),
        ("feeds: []\nother: 1\n", 2, "unknown top-level key 'other'"),
        (
            "feeds: []\nfetch:\n  host_delay: soon\n",
            3,
            "fetch: host_delay: 'soon' is not a duration",
        ),
        ("feeds: []\nfetch:\n  per_host: 0\n", 3, "fetch: per_host: 0 is not a whole number"),
        ("feeds: []\nfetch:\n  speed: 3\n", 3, "fetch: unknown key 'speed'"),
        (
            "feeds:\n  - url: https://a.example/rss\n    fetch_pages: maybe\n",
            3,
            "fetch_pages must be true or false",
        ),
        ("", 1, "the file is empty"),
    ],
)
def test_bad_feeds_yaml(tmp_path: Path, text: str, line: int, problem: str) -> None:
    f = tmp_path / "feeds.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_feeds(f)
    assert info.value.line == line
    assert problem in str(info.value)
    assert str(info.value).startswith(f"{f}:{line}: ")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_feeds(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("topics:\n  t:\n    query: a AND\n", 3, "topic 't': query ends where a term"),
        ("topics:\n  t:\n    query: |\n      a OR b\n      AND (c\n", 5, "missing ')'"),
        ("topics:\n  t:\n    description: x\n", 2, "'query' is missing"),
        ("topics:\n  t:\n    query: a\n    min_score: -1\n", 4, "min_score must be a number"),
        ("topics:\n  t:\n    query: a\n    weight: 2\n", 4, "unknown key 'weight'"),
        ("topics: {}\n", 1, "no topics defined"),
        ("topics:\n  - query: a\n", 2, "'name' is missing"),
    ],
)
def test_bad_topics_yaml(tmp_path: Path, text: str, line: int, problem: str) -> None:
    f = tmp_path / "topics.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_topics(f)
    assert info.value.line == line, str(info.value)
    assert problem in str(info.value)


def test_topic_syntax_error_points_at_the_position(tmp_path: Path) -> None:
    f = tmp_path / "topics.yaml"
    f.write_text("topics:\n  t: '\"north korea\" NEAR russia'\n")
    with pytest.raises(TopicSyntaxError) as info:
        load_topics(f)
    assert info.value.position == 14
    assert "\n    " + " " * 14 + "^" in str(info.value)


def test_topics_as_a_list(tmp_path: Path) -> None:
    f = tmp_path / "topics.yaml"
    f.write_text("topics:\n  - name: a\n    query: x\n  - name: b\n    query: y OR z\n")
    assert [t.topic.name for t in load_topics(f)] == ["a", "b"]


def test_fetch_settings(tmp_path: Path) -> None:
    f = tmp_path / "feeds.yaml"
    f.write_text(
        "fetch:\n  host_delay: 250ms\n  max_page_size: 2MB\n  per_host: 3\n  deadline: 1m\n"
        "feeds:\n  - url: https://a.example/rss\n    fetch_pages: false\n"
    )
    config = load_feeds_config(f)
    assert config.http.host_delay == 0.25
    assert config.http.max_page_bytes == 2 * 1024 * 1024
    assert config.http.per_host == 3 and config.http.deadline == 60
    assert config.http.max_feed_bytes == 10 * 1024 * 1024  # untouched defaults stay
    assert config.feeds[0].fetch_pages is False


def test_parse_interval() -> None:
    assert parse_interval("15m") == 900
    assert parse_interval("1d") == 86400
    assert parse_interval(120) == 120
    assert parse_interval("2w") == 14 * 86400
    with pytest.raises(ValueError, match="under a minute"):
        parse_interval("30s")


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("500ms", 0.5),
        ("90s", 90),
        ("90", 90),
        (90, 90),
        ("1.5h", 5400),
        ("15m", 900),
        ("7d", 7 * 86400),
        ("2w", 14 * 86400),
        ("1y", 365 * 86400),
        (" 2 H ", 7200),
        ("0s", 0),
    ],
)
def test_one_duration_reader(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-5m", "5 minutes", "1h30m", "", True, "m"])
def test_what_is_not_a_duration_gets_one_wording(text: str) -> None:
    with pytest.raises(ValueError) as e:
        parse_duration(text)
    assert (
        str(e.value) == f"{str(text)!r} is not a duration such as 500ms, 90s, 15m, 2h, 7d, 2w or 1y"
    )


def test_sizes() -> None:
    assert parse_size("10MB") == 10 * 1024**2
    assert parse_size("500kb") == 500 * 1024
    assert parse_size(2048) == 2048
    with pytest.raises(ValueError, match="is not a size such as 500KB, 10MB or 1GB"):
        parse_size("big")
