-- The first warehouse schema (version 1), frozen: migrations start from it and the
-- tests check that migrating it gives the same warehouse as schema.sql. Do not edit.
-- The whole feedwatch warehouse schema. Every column carries a comment; the
-- comments are also stored in DuckDB (see duckdb_columns().comment), so an
-- analyst can read them from any SQL client.
-- Times are TIMESTAMPTZ in UTC. Identifiers are short hex hashes (stable across runs).

CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,         -- schema version reached by this step
    applied_at TIMESTAMPTZ NOT NULL      -- when the step ran
);

CREATE TABLE IF NOT EXISTS feeds (
    feed_id VARCHAR PRIMARY KEY,         -- the feed's name, from feeds.yaml or derived from its URL
    url VARCHAR NOT NULL,                -- where the feed is fetched from
    source VARCHAR NOT NULL,             -- who added it: 'config' (feeds.yaml), 'demo', 'cli' or 'opml'
    tags VARCHAR[],                      -- free labels from feeds.yaml (e.g. korea, russia)
    interval_seconds INTEGER NOT NULL,   -- how often the feed is due, in seconds
    title VARCHAR,                       -- the feed's own title, as last read
    site_url VARCHAR,                    -- the site the feed belongs to, as the feed says
    etag VARCHAR,                        -- ETag of the last 200 response, sent back as If-None-Match
    last_modified VARCHAR,               -- Last-Modified of the last 200 response, sent as If-Modified-Since
    last_polled_at TIMESTAMPTZ,          -- when the feed was last fetched, successfully or not
    last_success_at TIMESTAMPTZ,         -- when a fetch last succeeded (200 or 304)
    last_new_entry_at TIMESTAMPTZ,       -- when a poll last found an entry not seen before
    next_due_at TIMESTAMPTZ,             -- the earliest time a scheduled run polls it again
    error_count INTEGER NOT NULL DEFAULT 0,  -- consecutive failed polls (0 after a success)
    last_error VARCHAR,                  -- the error of the last failed poll, NULL after a success
    disabled_reason VARCHAR,             -- why the feed is no longer polled; NULL while enabled
    created_at TIMESTAMPTZ NOT NULL      -- when feedwatch first saw the feed
);

CREATE TABLE IF NOT EXISTS feed_fetches (
    run_id VARCHAR NOT NULL,             -- the poll run that made the attempt (runs.run_id)
    feed_id VARCHAR NOT NULL,            -- the feed fetched (feeds.feed_id)
    fetched_at TIMESTAMPTZ NOT NULL,     -- when the attempt started
    url VARCHAR NOT NULL,                -- the URL requested
    status INTEGER,                      -- the final HTTP status; NULL when no response came
    ok BOOLEAN NOT NULL,                 -- true when the feed was read (200) or unchanged (304)
    bytes BIGINT,                        -- size of the body received, decoded
    entries_seen INTEGER,                -- entries in the document
    new_entries INTEGER,                 -- entries not seen before in this feed
    duration_ms DOUBLE,                  -- time the request took
    error VARCHAR                        -- what went wrong, when ok is false (or a parse warning)
);

CREATE TABLE IF NOT EXISTS entries (
    feed_id VARCHAR NOT NULL,            -- the feed the entry came from (feeds.feed_id)
    guid VARCHAR NOT NULL,               -- the entry's id in its feed (guid / atom:id, else its link)
    link VARCHAR,                        -- the entry's link, as the feed gave it
    title VARCHAR,                       -- the entry's title, as plain text
    author VARCHAR,                      -- the entry's author, as the feed gave it
    published_at TIMESTAMPTZ,            -- the entry's published (or updated) time
    summary VARCHAR,                     -- the entry's summary, as plain text
    content VARCHAR,                     -- the entry's full content, as plain text, when the feed carries it
    article_id VARCHAR,                  -- the article the entry leads to (articles.article_id); shared by copies
    first_seen_at TIMESTAMPTZ NOT NULL,  -- when feedwatch first saw the entry
    run_id VARCHAR NOT NULL,             -- the poll run that first saw it (runs.run_id)
    PRIMARY KEY (feed_id, guid)
);

CREATE TABLE IF NOT EXISTS articles (
    article_id VARCHAR PRIMARY KEY,      -- hash of canonical_url
    url VARCHAR NOT NULL,                -- the link as first seen in a feed
    final_url VARCHAR NOT NULL,          -- where that link led after redirects
    canonical_url VARCHAR NOT NULL UNIQUE,  -- the page's rel=canonical, else final_url; tracking parameters and fragment removed
    content_hash VARCHAR NOT NULL,       -- hash of the case- and space-folded text ('' when there is no text)
    cluster_id VARCHAR NOT NULL,         -- the story this article belongs to; its own article_id until copies are clustered
    feed_id VARCHAR NOT NULL,            -- the feed that first led to it (feeds.feed_id)
    title VARCHAR,                       -- the page's title (else the entry's)
    author VARCHAR,                      -- the page's author (else the entry's)
    published_at TIMESTAMPTZ,            -- the page's publication date (else the entry's)
    language VARCHAR,                    -- ISO 639-1 code detected from the text
    site_name VARCHAR,                   -- the outlet's name, as the page declares it
    text VARCHAR NOT NULL,               -- the article's text ('' when none could be had)
    text_source VARCHAR NOT NULL,        -- where text came from: 'extracted', 'feed_content', 'feed_summary' or 'none'
    text_chars INTEGER NOT NULL,         -- length of text in characters
    fetch_status INTEGER,                -- HTTP status of the page fetch; NULL when it failed before a response
    fetch_error VARCHAR,                 -- why the page could not be fetched, when it could not
    fetched_at TIMESTAMPTZ NOT NULL,     -- when the page was fetched
    run_id VARCHAR NOT NULL              -- the poll run that stored it (runs.run_id)
);

CREATE TABLE IF NOT EXISTS topic_matches (
    article_id VARCHAR NOT NULL,         -- the article matched (articles.article_id)
    topic VARCHAR NOT NULL,              -- the topic's name in topics.yaml
    topic_version VARCHAR NOT NULL,      -- hash of the topic's definition when it matched
    score DOUBLE NOT NULL,               -- how strongly the query held (term occurrences; headline counts double)
    matched BOOLEAN NOT NULL,            -- true when score reached the topic's min_score: a hit
    terms VARCHAR[] NOT NULL,            -- the distinct query terms found where the query held
    snippet VARCHAR,                     -- the sentence(s) where the whole query first held
    mentions STRUCT(term VARCHAR, field VARCHAR, start_offset INTEGER, end_offset INTEGER, snippet VARCHAR)[] NOT NULL,  -- each term occurrence: field ('title'/'text'), character offsets into it, its sentence
    matched_at TIMESTAMPTZ NOT NULL,     -- when the match was computed
    PRIMARY KEY (article_id, topic, topic_version)
);

CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,          -- feedwatch's id for one poll cycle
    flow_run_id VARCHAR,                 -- the Prefect flow run, when run under Prefect
    started_at TIMESTAMPTZ NOT NULL,     -- when the run started
    finished_at TIMESTAMPTZ NOT NULL,    -- when its batch was loaded
    feeds_polled INTEGER NOT NULL,       -- feeds fetched in this run
    feeds_failed INTEGER NOT NULL,       -- feeds whose fetch or parse failed
    feeds_not_modified INTEGER NOT NULL, -- feeds that answered 304 Not Modified
    new_entries INTEGER NOT NULL,        -- entries stored for the first time
    new_articles INTEGER NOT NULL,       -- articles stored for the first time
    hits INTEGER NOT NULL                -- new topic matches with matched = true
);
