"""The poll's summary as Prefect sees it: a flow's return value is walked for futures."""

from __future__ import annotations

from typing import Any

from prefect.utilities.collections import visit_collection

from flows.summary import Rows, RunSummary
from warehouse.api import FeedHealth


def _health(i: int) -> FeedHealth:
    return FeedHealth(
        f"feed-{i}",
        f"https://example.org/{i}.xml",
        "config",
        "stale",
        0,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )


def test_prefect_does_not_walk_the_rows_of_a_summary() -> None:
    s = RunSummary(run_id="r")
    s.unhealthy = Rows(_health(i) for i in range(500))
    s.failed = Rows((f"feed-{i}", "HTTP 500") for i in range(500))
    visited: list[Any] = []

    def visit(x: Any) -> Any:
        visited.append(x)
        return x

    visit_collection(s, visit, return_data=False)
    # The summary, its fields and the few small containers; none of the 1,000 rows.
    assert len(visited) < 60, len(visited)
    assert not any(isinstance(x, FeedHealth) for x in visited)


def test_rows_read_as_the_lists_they_were() -> None:
    rows = Rows([("a", "HTTP 500"), ("b", "timeout")])
    assert len(rows) == 2 and rows and not Rows()
    assert rows[0] == ("a", "HTTP 500") and list(rows[:1]) == [("a", "HTTP 500")]
    assert dict(rows) == {"a": "HTTP 500", "b": "timeout"}
    assert rows == [("a", "HTTP 500"), ("b", "timeout")] and rows == Rows(list(rows))
    (first, _) = rows
    assert first == ("a", "HTTP 500")
