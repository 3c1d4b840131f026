"""Configuration loaded once, at the edge, into frozen objects.

feeds.yaml and topics.yaml are read through PyYAML's node tree so that every
error can name the file and the line; lower layers take plain arguments.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import Field, dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from extractors.errors import ConfigError, TopicSyntaxError
from extractors.http import HttpSettings
from extractors.models import FeedSpec, Topic
from extractors.topics import CompiledTopic, TopicSet, compile_topic
from extractors.topics.scoring import SCORING_RULES
from extractors.topics.shared import resolve_aliases
from flows.units import parse_duration, parse_size

__all__ = [
    "FeedsConfig",
    "check_topic",
    "load_feeds",
    "load_feeds_config",
    "load_topics",
    "parse_duration",
    "parse_interval",
    "parse_size",
    "slugify",
    "topic_version",
    "use_data_path",
]

DEFAULT_INTERVAL = 15 * 60
# The keys a file may use come from the objects they fill: a new field is a new
# key. Where the file's word differs from the field's, it is named here.
_YAML_NAME = {
    "interval_seconds": "interval",
    "max_feed_bytes": "max_feed_size",
    "max_page_bytes": "max_page_size",
    "max_concurrency": "concurrency",
}
_TOP_KEYS = {"feeds", "fetch"}
_FEED_KEYS = {_YAML_NAME.get(f.name, f.name) for f in fields(FeedSpec)}


def _kind(f: Field[Any]) -> str:
    if f.name.endswith("_bytes"):
        return "size"
    return "duration" if f.type == "float" else "count"


# fetch: key → (HttpSettings field, kind); the User-Agent is feedwatch's own.
_FETCH_KEYS = {
    _YAML_NAME.get(f.name, f.name): (f.name, _kind(f))
    for f in fields(HttpSettings)
    if f.name != "user_agent"
}
# A topic's own settings; every other field of Topic is a scoring weight.
_TOPIC_OWN = {"name", "query", "version", "min_score", "min_sentences", "description"}
# Scoring settings a topic may change: key → (kind, Topic's default).
_WEIGHTS = {
    f.name: ("count" if f.type == "int" else "number", f.default)
    for f in fields(Topic)
    if f.name not in _TOPIC_OWN
}
_TOPIC_KEYS = (_TOPIC_OWN - {"version"}) | set(_WEIGHTS) | {"aliases"}


def use_data_path(path: str | None) -> None:
    """Where a lake keeps its Parquet files, for this process: the --data-path flag or a
    deployment's data_path parameter; FEEDWATCH_DATA_PATH when neither is given."""
    if path:
        os.environ["FEEDWATCH_DATA_PATH"] = path


def check_topic(topic: str | None, known: Sequence[str]) -> None:
    """A topic asked for by name (--topic) must be one of these."""
    if topic is not None and topic not in known:
        raise ConfigError(f"--topic {topic!r}: no such topic (known: {', '.join(known) or 'none'})")


def parse_interval(value: str | int) -> int:
    """How often a feed is due, in whole seconds: '15m' → 900. Plain numbers are seconds."""
    seconds = int(parse_duration(value))
    if seconds < 60:
        raise ValueError(
            f"interval {str(value)!r} is under a minute; feeds are polled at most once a minute"
        )
    return seconds


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "feed"


def _name_from_url(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    return slugify(f"{host} {parts.path}")


# libyaml's parser when PyYAML has it (it usually does): a feeds.yaml of 500 feeds is
# composed in a tenth of the time.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Yaml:
    """A YAML file as a node tree, so values keep their line numbers."""

    root: yaml.Node

    def __init__(self, path: Path):
        self.path = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as e:
            raise ConfigError("file not found", path=self.path) from e
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read: {e}", path=self.path) from e
        try:
            root = yaml.compose(text, Loader=_LOADER)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark else None
            raise ConfigError(
                f"not valid YAML: {e.problem or e.context}", path=self.path, line=line
            ) from e
        if root is None:
            raise ConfigError("the file is empty", path=self.path, line=1)
        self.root = root

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
        # The value as yaml.safe_load reads it (the tag was resolved when composing).
        return yaml.constructor.SafeConstructor().construct_object(node)


@dataclass(frozen=True)
class FeedsConfig:
    feeds: list[FeedSpec]
    http: HttpSettings


def load_feeds(path: str | Path) -> list[FeedSpec]:
    """The feeds of feeds.yaml."""
    return load_feeds_config(path).feeds


def load_feeds_config(path: str | Path) -> FeedsConfig:
    """Read feeds.yaml: a `feeds:` list of {url, name?, interval?, tags?, fetch_pages?}
    and an optional `fetch:` mapping of limits (timeouts, sizes, politeness)."""
    doc = _Yaml(Path(path))
    if isinstance(doc.root, yaml.MappingNode):
        for k, _ in doc.root.value:
            if k.value not in _TOP_KEYS:
                raise doc.error(
                    k, f"unknown top-level key {k.value!r} (expected {sorted(_TOP_KEYS)})"
                )
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
        fetch_pages = True
        if "fetch_pages" in fields:
            node = fields["fetch_pages"][1]
            fetch_pages = doc.scalar(node, f"{what}: fetch_pages")
            if not isinstance(fetch_pages, bool):
                raise doc.error(node, f"{what}: fetch_pages must be true or false")
        feeds.append(
            FeedSpec(
                name=name, url=url, interval_seconds=interval, tags=tags, fetch_pages=fetch_pages
            )
        )
    return FeedsConfig(feeds=feeds, http=_fetch_settings(doc))


def _fetch_settings(doc: _Yaml) -> HttpSettings:
    node = next((v for k, v in doc.root.value if k.value == "fetch"), None)
    if node is None:
        return HttpSettings()
    values: dict[str, Any] = {}
    for key, (knode, vnode) in doc.mapping(node, "fetch").items():
        if key not in _FETCH_KEYS:
            raise doc.error(
                knode, f"fetch: unknown key {key!r} (expected one of {sorted(_FETCH_KEYS)})"
            )
        target, kind = _FETCH_KEYS[key]
        raw = doc.scalar(vnode, f"fetch: {key}")
        try:
            if kind == "duration":
                values[target] = parse_duration(raw)
            elif kind == "size":
                values[target] = parse_size(raw)
            else:
                if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
                    raise ValueError(f"{raw!r} is not a whole number of at least 1")
                values[target] = raw
        except ValueError as e:
            raise doc.error(vnode, f"fetch: {key}: {e}") from e
    return HttpSettings(**values)


def topic_version(
    query: str,
    min_score: float,
    min_sentences: int = 1,
    aliases: dict[str, list[str]] | None = None,
    weights: dict[str, float] | None = None,
) -> str:
    """A topic's version: a hash of what decides its matches (not its description),
    the scoring rules of this feedwatch included, so that a new rule means a rescore.

    Only the aliases the query uses count, so editing another topic's list
    leaves this topic's version alone.
    """
    used = set(re.findall(r"@([\w:-]+)", query))
    definition = {
        "query": " ".join(query.split()),
        "min_score": min_score,
        "min_sentences": min_sentences,
        "aliases": {k: v for k, v in sorted((aliases or {}).items()) if k in used},
        "weights": dict(sorted((weights or {}).items())),
        "scoring": SCORING_RULES,
    }
    canonical = json.dumps(definition, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _aliases(doc: _Yaml, node: yaml.Node, what: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, (_, value) in doc.mapping(node, what).items():
        if not isinstance(value, yaml.SequenceNode):
            raise doc.error(value, f"{what}: {name} must be a list of terms")
        out[name] = [str(doc.scalar(v, f"{what}: {name}")) for v in value.value]
    return out


def load_topics(path: str | Path) -> TopicSet:
    """Read topics.yaml: a `topics:` mapping (name → definition) or list, and
    optional `aliases:` (name → list of terms) that queries use as @name."""
    doc = _Yaml(Path(path))
    if isinstance(doc.root, yaml.MappingNode):
        for k, _ in doc.root.value:
            if k.value not in {"topics", "aliases"}:
                raise doc.error(k, f"unknown top-level key {k.value!r} (expected aliases, topics)")
    shared: dict[str, list[str]] = {}
    alias_node = next((v for k, v in doc.root.value if k.value == "aliases"), None)
    if alias_node is not None:
        shared = _aliases(doc, alias_node, "aliases")
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
        min_sentences = 1
        if "min_sentences" in fields:
            vnode = fields["min_sentences"][1]
            min_sentences = doc.scalar(vnode, f"{what}: min_sentences")
            if (
                not isinstance(min_sentences, int)
                or isinstance(min_sentences, bool)
                or min_sentences < 1
            ):
                raise doc.error(vnode, f"{what}: min_sentences must be a whole number ≥ 1")
        weights: dict[str, float] = {}
        for key, (kind, _) in _WEIGHTS.items():
            if key in fields:
                vnode = fields[key][1]
                value = doc.scalar(vnode, f"{what}: {key}")
                if kind == "count":
                    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                        raise doc.error(vnode, f"{what}: {key} must be a whole number ≥ 0")
                elif not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                    raise doc.error(vnode, f"{what}: {key} must be a number ≥ 0")
                weights[key] = value
        description = ""
        if "description" in fields:
            description = str(doc.scalar(fields["description"][1], f"{what}: description"))
        aliases = dict(shared)
        if "aliases" in fields:
            aliases.update(_aliases(doc, fields["aliases"][1], f"{what}: aliases"))
        try:
            # Lists naming other lists flattened, built-in lists the query names added:
            # the version hashes what the query really matches.
            aliases = resolve_aliases(aliases, query, name)
        except TopicSyntaxError as e:
            e.path, e.line = doc.path, qnode.start_mark.line + 1
            raise
        topic = Topic(
            name=name,
            query=query,
            version=topic_version(query, min_score, min_sentences, aliases, weights),
            min_score=min_score,
            min_sentences=min_sentences,
            description=description,
            **weights,  # type: ignore[arg-type]
        )
        try:
            topics.append(compile_topic(topic, aliases=aliases))
        except TopicSyntaxError as e:
            # Block scalars (query: |) start on the line after the key.
            line = qnode.start_mark.line + 1
            if getattr(qnode, "style", None) in {"|", ">"}:
                line += 1 + query[: e.position].count("\n")
            e.path, e.line = doc.path, line
            raise
    return TopicSet(topics)
