"""Topic detection: a boolean query language, a matcher and its explanations."""

from extractors.topics.matcher import (
    CompiledTopic,
    Document,
    compile_topic,
    match_document,
    match_topics,
)
from extractors.topics.query import parse_query, terms_of

__all__ = [
    "CompiledTopic",
    "Document",
    "compile_topic",
    "match_document",
    "match_topics",
    "parse_query",
    "terms_of",
]
