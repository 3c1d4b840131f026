-- The whole feedwatch warehouse schema. Every column carries a comment; the
-- comments are also stored in DuckDB (see duckdb_columns().comment), so an
-- analyst can read them from any SQL client.
-- Times are TIMESTAMPTZ in UTC. Identifiers are short hex hashes (stable across runs).
-- The large tables (entries, articles, topic_matches) declare no primary key: their
-- keys are unique because the one writer checks them (warehouse/store.py), and an
-- index would make every load slower as they grow (docs/performance.md).

CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,         -- schema version reached by this step
    applied_at TIMESTAMPTZ NOT NULL      -- when the step ran
);

CREATE TABLE IF NOT EXISTS feeds (
    feed_id VARCHAR PRIMARY KEY,         -- the feed's name, from feeds.yaml or derived from its URL
    url VARCHAR NOT NULL,                -- where the feed is fetched from now (follows a permanent move)
    config_url VARCHAR NOT NULL,         -- the URL the feed was configured with (feeds.yaml, OPML or the CLI)
    source VARCHAR NOT NULL,             -- who added it: 'config' (feeds.yaml), 'demo', 'cli' or 'opml'
    tags VARCHAR[],                      -- free labels from feeds.yaml (e.g. korea, russia)
    interval_seconds INTEGER NOT NULL,   -- how often the feed is due, in seconds
    fetch_pages BOOLEAN NOT NULL DEFAULT true,  -- fetch and extract each entry's page (false: keep the feed's own text)
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
    disabled_reason VARCHAR,             -- why the feed is no longer polled (HTTP 410, or disabled by hand); NULL while enabled
    redirect_url VARCHAR,                -- where the last polls were permanently redirected (301/308), until the feed moves there
    redirect_count INTEGER NOT NULL DEFAULT 0,  -- consecutive polls redirected permanently to redirect_url
    created_at TIMESTAMPTZ NOT NULL      -- when feedwatch first saw the feed
);

CREATE TABLE IF NOT EXISTS feed_fetches (
    run_id VARCHAR NOT NULL,             -- the poll run that made the attempt (runs.run_id)
    feed_id VARCHAR NOT NULL,            -- the feed fetched (feeds.feed_id)
    fetched_at TIMESTAMPTZ NOT NULL,     -- when the attempt started
    url VARCHAR NOT NULL,                -- the URL requested
    final_url VARCHAR,                   -- where redirects led, when the fetch succeeded
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
    entry_key UBIGINT NOT NULL           -- first 64 bits of sha256(feed_id, NUL, guid): the writer looks entries up by this integer, not two strings
);

CREATE TABLE IF NOT EXISTS articles (
    article_id VARCHAR NOT NULL,         -- hash of canonical_url; unique
    url VARCHAR NOT NULL,                -- the link as first seen in a feed
    final_url VARCHAR NOT NULL,          -- where that link led after redirects
    canonical_url VARCHAR NOT NULL,      -- the page's rel=canonical, else final_url; tracking parameters and fragment removed (unique: article_id is its hash)
    content_hash VARCHAR NOT NULL,       -- hash of the case- and space-folded text ('' when there is no text)
    cluster_id VARCHAR NOT NULL,         -- the story: the article_id of the first stored copy of a near-duplicate text
    signature BLOB,                      -- shingle count and MinHash of the text's word 4-shingles, or character 5-shingles for Chinese, Japanese and Korean (65 × uint64), for near-duplicates
    feed_id VARCHAR NOT NULL,            -- the feed that first led to it (feeds.feed_id)
    title VARCHAR,                       -- the page's title (else the entry's)
    author VARCHAR,                      -- the page's author (else the entry's)
    published_at TIMESTAMPTZ,            -- when the story was published, with its time wherever the page or the entry gives one (else 00:00 of its day)
    language VARCHAR,                    -- ISO 639-1 code detected from the text
    site_name VARCHAR,                   -- the outlet's name, as the page declares it
    text VARCHAR NOT NULL,               -- the article's text ('' when none could be had)
    text_source VARCHAR NOT NULL,        -- where text came from: 'extracted', 'feed_content', 'feed_summary', 'none', or 'pruned' (text dropped by retention)
    text_chars INTEGER NOT NULL,         -- length of the text in characters when stored (kept after pruning)
    fetch_status INTEGER,                -- HTTP status of the page fetch; NULL when it failed before a response
    fetch_error VARCHAR,                 -- why the page could not be fetched, when it could not
    fetched_at TIMESTAMPTZ NOT NULL,     -- when the page was fetched
    run_id VARCHAR NOT NULL,             -- the poll run that stored it (runs.run_id)
    url_key UBIGINT NOT NULL,            -- article_id as an integer: the writer looks articles up by this, not by the URL string
    text_key UBIGINT                     -- first 64 bits of content_hash, likewise; NULL when there is no text
);

CREATE TABLE IF NOT EXISTS article_bands (
    band TINYINT NOT NULL,               -- which of the 16 bands of the MinHash signature
    hash BIGINT NOT NULL,                -- hash of that band: articles sharing one are near-duplicate candidates
    url_key UBIGINT NOT NULL,            -- the article (articles.url_key)
    stored_on DATE NOT NULL              -- when it was stored: copies are looked for among the last 30 days
);

-- One row per article and topic version for every article with any of the topic's terms:
-- hits (matched) and the near-misses beside them, each with the parts of its score.
CREATE TABLE IF NOT EXISTS topic_matches (
    article_id VARCHAR NOT NULL,         -- the article matched (articles.article_id)
    topic VARCHAR NOT NULL,              -- the topic's name in topics.yaml
    topic_version VARCHAR NOT NULL,      -- hash of the topic's definition when it matched
    score DOUBLE NOT NULL,               -- headline_points + lead_points + share_points (docs/topics.md)
    matched BOOLEAN NOT NULL,            -- true when score reached the topic's min_score: a hit
    terms VARCHAR[] NOT NULL,            -- the distinct query terms found where the query held (a near-miss: found anywhere)
    snippet VARCHAR,                     -- the sentence(s) where the whole query first held; NULL when it held nowhere
    mentions STRUCT(term VARCHAR, field VARCHAR, start_offset INTEGER, end_offset INTEGER, snippet VARCHAR)[] NOT NULL,  -- each term occurrence: field ('title'/'text'), character offsets into it, its sentence
    matched_at TIMESTAMPTZ NOT NULL,     -- when the match was computed
    headline_points DOUBLE,              -- points from the headline: headline_weight when the query holds there
    lead_points DOUBLE,                  -- points from the lead: lead_weight for each of its first sentences where the query holds
    share_points DOUBLE,                 -- points from the share: share_weight × share, at most 5
    carrying_sentences INTEGER,          -- body sentences where the query holds
    total_sentences INTEGER,             -- body sentences; NULL where the query held in none (not counted)
    share DOUBLE,                        -- carrying_sentences / total_sentences (a body under 10 sentences counts as 10)
    verdict VARCHAR                      -- the rule that decided, in words: 'hit: headline 2 + share 1.3 (…) = 3.3 ≥ 2'
);

-- The figures each topic hit reports: one row per figure per article and topic version,
-- from the hit's headline and the sentences where the topic's query holds
-- (extractors/figures.py; docs/figures.md). Re-scoring a topic recomputes them.
CREATE TABLE IF NOT EXISTS topic_figures (
    article_id VARCHAR NOT NULL,         -- the article (articles.article_id)
    topic VARCHAR NOT NULL,              -- the topic hit (topic_matches.topic)
    topic_version VARCHAR NOT NULL,      -- the topic's version (topic_matches.topic_version)
    position INTEGER NOT NULL,           -- the figure's place in the article: 0 for the first, headline first
    value DOUBLE,                        -- the number stated; NULL where the text gives none (a range, "dozens")
    low DOUBLE,                          -- the lowest the text allows; NULL when open ("up to 8,000")
    high DOUBLE,                         -- the highest the text allows; NULL when open ("more than 8,000")
    hedge VARCHAR NOT NULL,              -- exact, about, more than, at least, up to, as many as, fewer than
    counted VARCHAR NOT NULL,            -- what is counted, as written ("North Korean troops", "포탄")
    kind VARCHAR NOT NULL,               -- troops, casualties, killed, wounded, captured, defectors, workers, shells, missiles, rockets, launchers, drones, aircraft, vehicles, money or other
    source VARCHAR,                      -- who says so, where the sentence names it ("South Korea's spy agency")
    sentence VARCHAR NOT NULL,           -- the sentence (or headline) that states it
    in_headline BOOLEAN NOT NULL         -- true when the headline states it
);

CREATE TABLE IF NOT EXISTS topics (
    topic VARCHAR NOT NULL,              -- the topic's name in topics.yaml
    version VARCHAR NOT NULL,            -- hash of its query, thresholds and the aliases it uses
    query VARCHAR NOT NULL,              -- the query as written
    min_score DOUBLE NOT NULL,           -- the score a match needs to be a hit
    min_sentences INTEGER NOT NULL,      -- the sentences a match needs to be a hit
    description VARCHAR,                 -- what the topic is about
    first_seen_at TIMESTAMPTZ NOT NULL,  -- when feedwatch first ran with this version
    current BOOLEAN NOT NULL,            -- true for the version topics.yaml held at the last poll or rescore
    rescored_at TIMESTAMPTZ,             -- when every stored article was matched against this version; NULL: not yet
    headline_weight DOUBLE,              -- the scoring of this version (docs/topics.md): points for the headline,
    lead_weight DOUBLE,                  -- for each lead sentence,
    share_weight DOUBLE,                 -- per unit of share,
    lead_sentences INTEGER,              -- and how many first sentences are the lead
    PRIMARY KEY (topic, version)
);

-- Analysts' verdicts: whether an article is about a topic, whatever feedwatch said.
-- `feedwatch label` writes them; `feedwatch topics eval --labels-from-warehouse` reads them.
CREATE TABLE IF NOT EXISTS topic_labels (
    article_id VARCHAR NOT NULL,         -- the article judged (articles.article_id)
    topic VARCHAR NOT NULL,              -- the topic's name in topics.yaml
    label BOOLEAN NOT NULL,              -- true: the article is about the topic; false: it is not
    note VARCHAR,                        -- why, in the analyst's words
    labelled_by VARCHAR NOT NULL,        -- who judged it (--by, else the user's login name)
    labelled_at TIMESTAMPTZ NOT NULL,    -- when; a new verdict on the same article and topic replaces the old
    PRIMARY KEY (article_id, topic)
);

CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,          -- feedwatch's id for one poll cycle
    flow_run_id VARCHAR,                 -- the Prefect flow run, when run under Prefect
    started_at TIMESTAMPTZ NOT NULL,     -- when the run started
    finished_at TIMESTAMPTZ NOT NULL,    -- when its last batch was loaded
    feeds_polled INTEGER NOT NULL,       -- feeds fetched in this run
    feeds_failed INTEGER NOT NULL,       -- feeds whose fetch or parse failed
    feeds_not_modified INTEGER NOT NULL, -- feeds that answered 304 Not Modified
    new_entries INTEGER NOT NULL,        -- entries stored for the first time
    new_articles INTEGER NOT NULL,       -- articles stored for the first time
    hits INTEGER NOT NULL                -- new topic matches with matched = true
);

CREATE TABLE IF NOT EXISTS run_batches (
    run_id VARCHAR NOT NULL,             -- the poll run (runs.run_id)
    batch INTEGER NOT NULL,              -- its place in the run: 0 for the first; a run loads as it goes
    loaded_at TIMESTAMPTZ NOT NULL,      -- when the batch was loaded (committed)
    feeds_polled INTEGER NOT NULL,       -- feeds whose polls this batch completed
    new_entries INTEGER NOT NULL,        -- entries it stored for the first time
    new_articles INTEGER NOT NULL,       -- articles it stored for the first time
    hits INTEGER NOT NULL                -- new topic matches with matched = true
);

-- Topic matches of the current version of each topic: what analysts usually want.
CREATE OR REPLACE VIEW current_topic_matches AS
SELECT m.*
FROM topic_matches m
JOIN topics t ON t.topic = m.topic AND t.version = m.topic_version AND t.current;

-- Topic hits, one row per matching article, with what an analyst reads first.
CREATE OR REPLACE VIEW topic_hits AS
SELECT m.topic,
       a.published_at,
       a.title,
       a.canonical_url AS link,
       coalesce(a.site_name, f.title, regexp_extract(a.canonical_url, '^https?://([^/]+)', 1)) AS outlet,
       m.snippet,
       m.score,
       m.terms,
       a.cluster_id,
       a.language,
       a.article_id,
       m.topic_version
FROM current_topic_matches m
JOIN articles a USING (article_id)
LEFT JOIN feeds f ON f.feed_id = a.feed_id
WHERE m.matched;

-- Stories per topic: the best-scoring copy of each cluster of copies a current topic hit,
-- how many copies it has, and when the first of them arrived. (One rule for "a story".)
CREATE OR REPLACE VIEW topic_stories AS
SELECT * EXCLUDE (rank)
FROM (
    SELECT h.*,
           count(*) OVER story AS copies,
           min(a.fetched_at) OVER story AS first_seen,
           row_number() OVER (story ORDER BY h.score DESC, a.fetched_at, h.article_id) AS rank
    FROM topic_hits h JOIN articles a USING (article_id)
    WINDOW story AS (PARTITION BY h.topic, h.cluster_id)
)
WHERE rank = 1;

-- Figures reported in the current topics' hits, each story once: where copies of one story
-- state the same figure, the first copy published speaks for them. With the story's date,
-- outlet and link.
CREATE OR REPLACE VIEW reported_figures AS
SELECT * EXCLUDE (copy)
FROM (
    SELECT x.topic,
           x.kind,
           x.value,
           x.low,
           x.high,
           x.hedge,
           x.counted,
           x.source,
           x.sentence,
           x.in_headline,
           a.cluster_id AS story,
           coalesce(a.published_at, a.fetched_at) AS reported_at,
           a.title,
           a.canonical_url AS link,
           coalesce(a.site_name, f.title, regexp_extract(a.canonical_url, '^https?://([^/]+)', 1)) AS outlet,
           a.article_id,
           row_number() OVER (
               PARTITION BY x.topic, a.cluster_id, x.kind, x.value, x.low, x.high
               ORDER BY coalesce(a.published_at, a.fetched_at), a.article_id, x.position
           ) AS copy
    FROM topic_figures x
    JOIN topics t ON t.topic = x.topic AND t.version = x.topic_version AND t.current
    JOIN articles a USING (article_id)
    LEFT JOIN feeds f ON f.feed_id = a.feed_id
)
WHERE copy = 1;

-- Hits per topic per day (by publication date, else fetch date): articles and distinct stories.
CREATE OR REPLACE VIEW daily_topic_counts AS
SELECT topic,
       CAST(coalesce(h.published_at, a.fetched_at) AS DATE) AS day,
       count(*) AS articles,
       count(DISTINCT h.cluster_id) AS stories
FROM topic_hits h JOIN articles a USING (article_id)
GROUP BY ALL;

-- Stories: each cluster of near-duplicate copies, who published first, and every copy.
CREATE OR REPLACE VIEW story_clusters AS
SELECT a.cluster_id,
       count(*) AS copies,
       min(a.published_at) AS first_published_at,
       arg_min(coalesce(a.site_name, f.title, regexp_extract(a.canonical_url, '^https?://([^/]+)', 1)),
               coalesce(a.published_at, a.fetched_at)) AS first_outlet,
       arg_min(a.title, coalesce(a.published_at, a.fetched_at)) AS first_title,
       list(struct_pack(title := a.title, link := a.canonical_url,
                        outlet := coalesce(a.site_name, f.title),
                        published_at := a.published_at)
            ORDER BY coalesce(a.published_at, a.fetched_at)) AS articles
FROM articles a LEFT JOIN feeds f ON f.feed_id = a.feed_id
GROUP BY a.cluster_id;

-- Feed health: failing (last poll failed), stale (quiet for five times its usual gap between
-- entries, and at least two days), disabled, new (never polled) or ok.
CREATE OR REPLACE VIEW feed_health AS
WITH recent AS (
    SELECT feed_id, coalesce(published_at, first_seen_at) AS t,
           row_number() OVER (PARTITION BY feed_id ORDER BY coalesce(published_at, first_seen_at) DESC) AS n
    FROM entries
),
gaps AS (
    SELECT feed_id, epoch(t) - epoch(lag(t) OVER (PARTITION BY feed_id ORDER BY t)) AS gap
    FROM recent WHERE n <= 30
),
usual AS (
    SELECT feed_id, median(gap) AS gap, count(*) AS n FROM gaps WHERE gap IS NOT NULL GROUP BY feed_id
),
newest AS (SELECT feed_id, max(t) AS newest_entry_at FROM recent GROUP BY feed_id)
SELECT f.feed_id,
       f.url,
       f.source,
       CASE WHEN f.disabled_reason IS NOT NULL THEN 'disabled'
            WHEN f.error_count > 0 THEN 'failing'
            WHEN f.last_polled_at IS NULL THEN 'new'
            -- In seconds: DuckDB's greatest() of two intervals compares their parts, not
            -- their lengths (2 days beat 10 days given in seconds).
            WHEN usual.n >= 3 AND epoch(now()) - epoch(newest.newest_entry_at)
                 > greatest(usual.gap * 5, 2 * 86400) THEN 'stale'
            ELSE 'ok' END AS status,
       f.error_count,
       f.last_error,
       f.disabled_reason,
       f.last_polled_at,
       f.last_success_at,
       newest.newest_entry_at,
       CASE WHEN usual.n >= 3 THEN round(usual.gap / 3600, 2) END AS usual_gap_hours,
       f.next_due_at
FROM feeds f LEFT JOIN usual USING (feed_id) LEFT JOIN newest USING (feed_id);
