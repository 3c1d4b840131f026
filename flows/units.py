"""Durations, sizes and counts as people write them. Durations and sizes are read one
way everywhere: feeds.yaml's intervals and limits, and the command line's --since,
--older-than and --interval.

A duration is a number and a unit: ms, s, m, h, d, w or y (365 days), as in
500ms, 90s, 1.5h, 7d, 2w, 1y; a bare number is seconds. A size is a number and
B, KB, MB or GB (powers of 1024); a bare number is bytes.
"""

from __future__ import annotations

import re
from datetime import timedelta

from extractors.errors import ConfigError

__all__ = [
    "DURATIONS",
    "SIZES",
    "counted",
    "duration_option",
    "parse_duration",
    "parse_size",
]

DURATIONS = "500ms, 90s, 15m, 2h, 7d, 2w or 1y"  # examples, for messages and help
SIZES = "500KB, 10MB or 1GB"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)?\s*$", re.IGNORECASE)
_SECONDS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "y": 365 * 86400,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$", re.IGNORECASE)
_BYTES = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def parse_duration(value: str | float) -> float:
    """Seconds: '20s' → 20.0, '500ms' → 0.5, '2w' → 1209600.0; 120 → 120.0."""
    text = str(value)
    m = None if isinstance(value, bool) else _DURATION.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration such as {DURATIONS}")
    return float(m.group(1)) * _SECONDS[(m.group(2) or "s").lower()]


def parse_size(value: str | int) -> int:
    """Bytes: '10MB' → 10485760; 2048 → 2048."""
    text = str(value)
    m = None if isinstance(value, bool) else _SIZE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a size such as {SIZES}")
    return int(float(m.group(1)) * _BYTES[(m.group(2) or "b").lower()])


def duration_option(value: str, option: str) -> timedelta:
    """A duration given on the command line; a ConfigError naming the option otherwise."""
    try:
        return timedelta(seconds=parse_duration(value))
    except ValueError as e:
        raise ConfigError(f"{option}: {e}") from e


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """'1 feed', '2 feeds', '3 batches' (with plural='batches')."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"
