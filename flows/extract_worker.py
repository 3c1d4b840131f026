"""What an extraction worker runs, importable without Prefect.

Workers are forked from a server that has imported it (flows/_preload.py), so
they start without importing Prefect, which they do not use.
"""

from __future__ import annotations

from extractors.articles import extract_article
from extractors.models import Article, EntryData

__all__ = ["Job", "extract_job", "warm_up"]

Job = tuple[bytes | None, str, str | None, EntryData]


def extract_job(job: Job) -> Article:
    html, url, final_url, entry = job
    return extract_article(html, url=url, final_url=final_url, entry=entry)


def warm_up(_: object) -> None:
    """Started on each worker while the pages are on their way."""
    return None
