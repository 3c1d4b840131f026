"""Topic detection: a boolean query language, one automaton for all terms, explained matches."""

from extractors.topics.document import Document
from extractors.topics.matcher import CompiledTopic, TopicSet, compile_topic, match_topics
from extractors.topics.query import parse_query, terms_of

__all__ = [
    "CompiledTopic",
    "Document",
    "TopicSet",
    "compile_topic",
    "match_topics",
    "parse_query",
    "terms_of",
]
