"""One round of lemon24/reader over the benchmark's feeds, run in reader's own venv.

    python benchmarks/_reader_poll.py DB FEEDS_JSON

Adds the feeds when DB is new, updates them all at once as its documentation
suggests for a one-off update (`update_feeds_iter(scheduled=False, workers=16)`),
and prints one JSON line: the update's own time and what it found.
"""

import json
import sys
import time
from pathlib import Path

from reader import make_reader  # type: ignore[import-not-found]  # reader's own venv


def main() -> None:
    db, feeds = sys.argv[1], json.loads(Path(sys.argv[2]).read_text())
    r = make_reader(db)
    if not list(r.get_feeds(limit=1)):
        for url in feeds:
            r.add_feed(url)
    t0 = time.perf_counter()
    new = unchanged = errors = 0
    for result in r.update_feeds_iter(scheduled=False, workers=16):
        value = result.value
        if isinstance(value, Exception):
            errors += 1
        elif value is None or (value.new == 0 and value.modified == 0):
            unchanged += 1
        else:
            new += value.new
    seconds = time.perf_counter() - t0
    r.close()
    print(json.dumps({"seconds": seconds, "new": new, "unchanged": unchanged, "errors": errors}))


if __name__ == "__main__":
    main()
