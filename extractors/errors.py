"""The one exception tree of feedwatch.

    FeedwatchError
    ├── ConfigError            bad feeds.yaml / topics.yaml / option (exit 2); file, line, problem
    │   └── TopicSyntaxError   a topic query that does not parse; topic and position
    ├── FetchError             a feed or page could not be fetched; url, reason
    │   ├── TransientFetchError   worth retrying later: timeouts, resets, 429, 5xx
    │   └── PermanentFetchError   not worth retrying soon: 4xx, refused address, too large
    ├── ParseError             bytes that are not a feed
    └── WarehouseError         the DuckDB file cannot be used
        ├── WarehouseLockedError   another process holds the file
        └── ReadOnlyError          a write statement on a read-only session

Retry decisions read the type, never the message.
"""

from __future__ import annotations


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


class FetchError(FeedwatchError):
    """A URL could not be fetched."""

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
        super().__init__(f"{url}: {reason}")


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


class ReadOnlyError(WarehouseError):
    """A statement tried to change a warehouse opened read-only."""
