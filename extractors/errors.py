"""The one exception tree of feedwatch.

    FeedwatchError
    ├── ConfigError            bad feeds.yaml / topics.yaml / option (exit 2); file, line, problem
    │   └── TopicSyntaxError   a topic query that does not parse; topic and position
    ├── FetchError             a feed or page could not be fetched; url, reason
    │   ├── TransientFetchError   worth retrying later: timeouts, resets, 429, 5xx
    │   └── PermanentFetchError   not worth retrying soon: 4xx, refused address, too large
    ├── ParseError             bytes that are not a feed
    ├── WarehouseError         the DuckDB file cannot be used
    │   ├── WarehouseLockedError   another process holds the file
    │   ├── WarehouseOutdatedError an older schema, opened read-only (a read-write open upgrades it)
    │   └── ReadOnlyError          a write statement on a read-only session
    └── OrchestratorError      Prefect's API cannot be reached or started (exit 1)

Retry decisions read the type, never the message.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit


class FeedwatchError(Exception):
    """Base of every error feedwatch raises on purpose."""


class ConfigError(FeedwatchError):
    """A configuration file or option is wrong. Names the file, the line and the problem."""

    def __init__(self, problem: str, *, path: str | None = None, line: int | None = None):
        self.problem = problem
        self.path = path
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.path is None and self.line is None:
            return self.problem
        where = self.path or "<config>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.problem}"


class TopicSyntaxError(ConfigError):
    """A topic query does not parse."""

    def __init__(
        self,
        problem: str,
        *,
        topic: str,
        position: int,
        query: str,
        path: str | None = None,
        line: int | None = None,
    ):
        self.topic = topic
        self.position = position
        self.query = query
        # Show the line of the query that holds the position, with a caret under it.
        line_start = query.rfind("\n", 0, position) + 1
        line_end = query.find("\n", position)
        shown = query[line_start : line_end if line_end != -1 else len(query)]
        pointer = f"\n    {shown}\n    {' ' * (position - line_start)}^"
        super().__init__(
            f"topic {topic!r}: {problem} at position {position}{pointer}", path=path, line=line
        )


# Query parameters whose values are secrets (matched on part of the name).
_SECRET_PARAMS = ("token", "key", "secret", "pass", "pwd", "auth", "sig", "session", "code")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def redact_url(url: str) -> str:
    """The URL as logs and artifacts may show it: no user:password@, and *** for the
    values of query parameters that look like credentials (token, api_key, sig, …)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rsplit("@", 1)[1]
        query = "&".join(
            f"{name}=***"
            if any(s in name.lower() for s in _SECRET_PARAMS) and value
            else (f"{name}={value}" if sep else name)
            for pair in parts.query.split("&")
            if pair
            for name, sep, value in [pair.partition("=")]
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:  # not a URL after all
        return url


def redact(text: str) -> str:
    """`text` with every URL in it redacted (error messages quote URLs)."""

    def one(m: re.Match[str]) -> str:
        url = m.group(0).rstrip(".,;:)")  # the sentence's punctuation, not the URL's
        return redact_url(url) + m.group(0)[len(url) :]

    return _URL.sub(one, text)


class FetchError(FeedwatchError):
    """A URL could not be fetched. Its message shows the URL redacted (redact_url):
    it ends up in logs, artifacts and the warehouse's error columns."""

    transient = False

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ):
        self.url = url
        self.reason = reason
        self.status = status
        self.retry_after = retry_after  # seconds the server asked us to wait (429/503)
        super().__init__(f"{redact_url(url)}: {redact(reason)}")


class TransientFetchError(FetchError):
    """Worth trying again later (timeouts, connection errors, 429, 5xx)."""

    transient = True


class PermanentFetchError(FetchError):
    """Not worth trying again soon (4xx, a refused address, a body over the size cap)."""


class ParseError(FeedwatchError):
    """Bytes that are not a feed feedwatch can read."""


class WarehouseError(FeedwatchError):
    """The DuckDB warehouse cannot be opened or written."""


class WarehouseLockedError(WarehouseError):
    """Another process holds the DuckDB file."""


class WarehouseMissingError(WarehouseError):
    """There is no warehouse where a read was asked for."""


class ForeignFileError(WarehouseError):
    """The file holds tables but is not a feedwatch warehouse: it is left alone."""


class WarehouseOutdatedError(WarehouseError):
    """The file has an older schema version and was opened read-only, where it cannot
    be upgraded."""


class ReadOnlyError(WarehouseError):
    """A statement tried to change a warehouse opened read-only."""


class OutsideReachError(ReadOnlyError):
    """A read tried to reach files, other databases or extensions."""


class OrchestratorError(FeedwatchError):
    """Prefect's API cannot be reached (PREFECT_API_URL) or its temporary server did not
    start. The message says what failed and what to do."""
