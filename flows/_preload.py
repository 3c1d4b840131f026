"""Imported by the extraction fork server only (flows.extract.PageExtractor): what
every worker needs, loaded once before the workers are forked from it, so that
none of them loads the language model or imports trafilatura on its own."""

from extractors import topics  # noqa: F401 -- to read the run's topics sent to each worker
from extractors.articles import prepare
from flows import extract_worker  # noqa: F401 -- the functions the workers run

prepare()
