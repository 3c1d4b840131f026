"""What an extraction worker runs, importable without Prefect.

Workers are forked from a server that has imported it (flows/_preload.py), so
they start without importing Prefect, which they do not use.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import signal
from multiprocessing.connection import Connection

from extractors.articles import extract_article
from extractors.models import Article, EntryData, TopicMatch
from extractors.topics import TopicSet
from flows.runtime import lifeline

__all__ = [
    "PRELOAD",
    "Extraction",
    "Job",
    "extract_and_match",
    "extract_job",
    "start_fork_server",
    "start_worker",
    "warm_up",
]

PRELOAD = ["flows._preload"]  # what the fork server imports (not Prefect)

Job = tuple[bytes | None, str, str | None, EntryData]
# An article, and its topic matches where a worker matched them (None: not yet).
Extraction = tuple[Article, tuple[TopicMatch, ...] | None]

_topics: TopicSet | None = None  # the run's topics, once a worker has them
_parent: Connection | None = None  # the lifeline to the process that started the pool


def start_worker(topics: TopicSet | None, parent: Connection | None = None) -> None:
    """A worker's initializer: the run's topics, sent once to each worker, and the
    lifeline of the process that started the pool, which the worker ends with."""
    global _topics, _parent
    _topics = topics
    # A Ctrl-C in the terminal reaches the workers too: the process that started them
    # decides (the watch finishes its poll), and the lifeline ends them if it ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent is not None:
        _parent = parent  # kept: the Connection closes its descriptor when collected
        lifeline.hold(parent.fileno())


def extract_job(job: Job) -> Article:
    html, url, final_url, entry = job
    return extract_article(html, url=url, final_url=final_url, entry=entry)


def extract_and_match(job: Job) -> Extraction:
    """In a worker: the article, matched against the run's topics there too, on the
    worker's core rather than in the flow's process, which is busy fetching."""
    article = extract_job(job)
    if _topics is None:
        return article, None
    return article, tuple(_topics.match(article.title, article.text))


def warm_up(_: object) -> None:
    """Started on each worker while the pages are on their way."""
    return None


def start_fork_server() -> None:
    """Start extraction's fork server now: its imports (trafilatura, the language model)
    then run on another core while the command imports Prefect and polls the feeds,
    and the run's workers start warm. For a run that will surely need them."""
    multiprocessing.get_context("forkserver").set_forkserver_preload(PRELOAD)
    multiprocessing.forkserver.ensure_running()
