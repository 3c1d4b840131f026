"""Pure extractors (feeds, articles, topics, dedup) and the one network module, `http`."""
