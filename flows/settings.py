"""Configuration loaded once, at the edge, into frozen objects.

feeds.yaml and topics.yaml are read through PyYAML's node tree so that every
error can name the file and the line; lower layers take plain arguments.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from extractors.errors import ConfigError, TopicSyntaxError
from extractors.models import FeedSpec, Topic
from extractors.topics import CompiledTopic, compile_topic

__all__ = ["load_feeds", "load_topics", "parse_interval", "slugify", "topic_version"]

DEFAULT_INTERVAL = 15 * 60
_INTERVAL = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_FEED_KEYS = {"url", "name", "interval", "tags"}
_TOPIC_KEYS = {"name", "query", "description", "min_score"}


def parse_interval(value: str | int) -> int:
    """'15m' → 900. Plain numbers are seconds."""
    m = _INTERVAL.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not an interval such as 90s, 15m, 2h or 1d")
    seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if seconds < 60:
        raise ValueError(
            f"interval {value!r} is under a minute; feeds are polled at most once a minute"
        )
    return seconds


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "feed"


def _name_from_url(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    return slugify(f"{host} {parts.path}")


class _Yaml:
    """A YAML file as a node tree, so values keep their line numbers."""

    def __init__(self, path: Path):
        self.path = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as e:
            raise ConfigError("file not found", path=self.path) from e
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read: {e}", path=self.path) from e
        try:
            self.root = yaml.compose(text)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark else None
            raise ConfigError(
                f"not valid YAML: {e.problem or e.context}", path=self.path, line=line
            ) from e

    def error(self, node: yaml.Node | None, problem: str) -> ConfigError:
        line = node.start_mark.line + 1 if node is not None else None
        return ConfigError(problem, path=self.path, line=line)

    def top(self, key: str) -> yaml.Node:
        if not isinstance(self.root, yaml.MappingNode):
            raise self.error(self.root, f"expected a mapping with a top-level '{key}:' key")
        for k, v in self.root.value:
            if k.value == key:
                node: yaml.Node = v
                return node
        raise self.error(self.root, f"no top-level '{key}:' key")

    def mapping(self, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping of keys to values")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for k, v in node.value:
            if k.value in out:
                raise self.error(k, f"{what}: key {k.value!r} appears twice")
            out[str(k.value)] = (k, v)
        return out

    def scalar(self, node: yaml.Node, what: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(node, f"{what} must be a single value")
        return yaml.safe_load(yaml.serialize(node))


def load_feeds(path: str | Path) -> list[FeedSpec]:
    """Read feeds.yaml: a top-level `feeds:` list of {url, name?, interval?, tags?}."""
    doc = _Yaml(Path(path))
    items = doc.top("feeds")
    if not isinstance(items, yaml.SequenceNode):
        raise doc.error(
            items, "'feeds:' must be a list of feeds (items starting with '- url: ...')"
        )
    feeds: list[FeedSpec] = []
    names: dict[str, int] = {}
    for n, item in enumerate(items.value, start=1):
        what = f"feed {n}"
        fields = doc.mapping(item, what)
        for key, (knode, _) in fields.items():
            if key not in _FEED_KEYS:
                raise doc.error(
                    knode, f"{what}: unknown key {key!r} (expected one of {sorted(_FEED_KEYS)})"
                )
        if "url" not in fields:
            raise doc.error(item, f"{what}: 'url' is missing")
        url = str(doc.scalar(fields["url"][1], f"{what}: url")).strip()
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise doc.error(fields["url"][1], f"{what}: {url!r} is not an http(s) URL")
        name = _name_from_url(url)
        if "name" in fields:
            name = str(doc.scalar(fields["name"][1], f"{what}: name")).strip()
            if not name:
                raise doc.error(fields["name"][1], f"{what}: name is empty")
        if name in names:
            raise doc.error(item, f"{what}: name {name!r} is already used by feed {names[name]}")
        names[name] = n
        interval = DEFAULT_INTERVAL
        if "interval" in fields:
            node = fields["interval"][1]
            try:
                interval = parse_interval(doc.scalar(node, f"{what}: interval"))
            except ValueError as e:
                raise doc.error(node, f"{what}: {e}") from e
        tags: tuple[str, ...] = ()
        if "tags" in fields:
            node = fields["tags"][1]
            if not isinstance(node, yaml.SequenceNode):
                raise doc.error(node, f"{what}: tags must be a list, as in [korea, russia]")
            tags = tuple(str(doc.scalar(t, f"{what}: tag")) for t in node.value)
        feeds.append(FeedSpec(name=name, url=url, interval_seconds=interval, tags=tags))
    return feeds


def topic_version(query: str, min_score: float) -> str:
    """A topic's version: a hash of what decides its matches (not its description)."""
    canonical = json.dumps({"query": " ".join(query.split()), "min_score": min_score})
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def load_topics(path: str | Path) -> list[CompiledTopic]:
    """Read topics.yaml: a top-level `topics:` mapping (name → definition) or list."""
    doc = _Yaml(Path(path))
    node = doc.top("topics")
    entries: list[tuple[str, yaml.Node, yaml.Node]] = []
    if isinstance(node, yaml.MappingNode):
        for name, (knode, body) in doc.mapping(node, "topics").items():
            entries.append((name, knode, body))
    elif isinstance(node, yaml.SequenceNode):
        for n, body in enumerate(node.value, start=1):
            fields = doc.mapping(body, f"topic {n}")
            if "name" not in fields:
                raise doc.error(body, f"topic {n}: 'name' is missing")
            entries.append((str(doc.scalar(fields["name"][1], "name")), body, body))
    else:
        raise doc.error(
            node, "'topics:' must be a mapping of topic names to definitions, or a list"
        )
    if not entries:
        raise doc.error(node, "no topics defined")
    topics: list[CompiledTopic] = []
    seen: set[str] = set()
    for name, knode, body in entries:
        what = f"topic {name!r}"
        if name in seen:
            raise doc.error(knode, f"{what} is defined twice")
        seen.add(name)
        if isinstance(body, yaml.ScalarNode):  # name: "query" shorthand
            fields = {"query": (knode, body)}
        else:
            fields = doc.mapping(body, what)
        for key, (kn, _) in fields.items():
            if key not in _TOPIC_KEYS:
                raise doc.error(
                    kn, f"{what}: unknown key {key!r} (expected one of {sorted(_TOPIC_KEYS)})"
                )
        if "query" not in fields:
            raise doc.error(knode, f"{what}: 'query' is missing")
        qnode = fields["query"][1]
        query = str(doc.scalar(qnode, f"{what}: query"))
        min_score = 1.0
        if "min_score" in fields:
            value = doc.scalar(fields["min_score"][1], f"{what}: min_score")
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise doc.error(fields["min_score"][1], f"{what}: min_score must be a number ≥ 0")
            min_score = float(value)
        description = ""
        if "description" in fields:
            description = str(doc.scalar(fields["description"][1], f"{what}: description"))
        topic = Topic(
            name=name,
            query=query,
            version=topic_version(query, min_score),
            min_score=min_score,
            description=description,
        )
        try:
            topics.append(compile_topic(topic))
        except TopicSyntaxError as e:
            # Block scalars (query: |) start on the line after the key.
            line = qnode.start_mark.line + 1
            if getattr(qnode, "style", None) in {"|", ">"}:
                line += 1 + query[: e.position].count("\n")
            e.path, e.line = doc.path, line
            raise
    return topics


@dataclass(frozen=True)
class Paths:
    feeds: Path = Path("feeds.yaml")
    topics: Path = Path("topics.yaml")
    db: Path = Path("data/feedwatch.duckdb")
