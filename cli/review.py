"""`feedwatch review`: a local page where an analyst says yes or no to a topic's hits
and near-misses, one click or key each; verdicts go to topic_labels.

Served by the standard library's threading HTTP server on 127.0.0.1 only. Each
request opens the warehouse for its own short session, so a poll can load
between two verdicts (DuckDB lets one process write at a time, and `review` may
be open all afternoon).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from jinja2 import Environment, PackageLoader, select_autoescape

from extractors.errors import FeedwatchError

__all__ = ["ReviewServer"]

MAX_BODY = 4096


class ReviewServer:
    """The review page of `topics` over the warehouse `db`; `with ReviewServer(…) as s:`
    serves in a thread until the block ends (`serve_forever` for the command)."""

    def __init__(
        self,
        db: str | Path,
        topics: list[str],
        *,
        who: str,
        port: int = 0,
        limit: int = 50,
        data_path: str | None = None,
    ):
        self.db = db
        self.topics = topics
        self.who = who
        self.limit = limit
        self.data_path = data_path
        self._env = Environment(
            loader=PackageLoader("cli", "templates"), autoescape=select_autoescape()
        )
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def __enter__(self) -> ReviewServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def serve_forever(self) -> None:
        try:
            self.httpd.serve_forever()
        finally:
            self.httpd.server_close()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join()

    # --- what the page shows, and what a verdict does ---------------------------------

    def page(self, topic: str) -> str:
        from warehouse import open_warehouse

        with open_warehouse(self.db, read_only=True, data_path=self.data_path) as wh:
            items = wh.review_items(topic, self.limit)
        return self._env.get_template("review.html").render(
            topic=topic,
            topics=self.topics,
            hits=items["hits"],
            near_misses=items["near_misses"],
            who=self.who,
            day=_day,
        )

    def label(self, article_id: str, topic: str, verdict: bool) -> dict[str, Any]:
        from warehouse import open_warehouse

        if topic not in self.topics:
            raise ValueError(f"no topic {topic!r} (topics: {', '.join(self.topics)})")
        with open_warehouse(self.db, data_path=self.data_path) as wh:
            stored = wh.article(article_id)
            wh.set_label(stored["article_id"], topic, verdict, "review", self.who)
        return {"article_id": stored["article_id"], "topic": topic, "label": verdict}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        review = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass  # a request line per click says nothing the page does not

            def send(self, status: int, body: str, kind: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path != "/":
                    self.send(HTTPStatus.NOT_FOUND, "not found", "text/plain")
                    return
                topic = (parse_qs(url.query).get("topic") or [review.topics[0]])[0]
                if topic not in review.topics:
                    self.send(HTTPStatus.NOT_FOUND, f"no topic {topic!r}", "text/plain")
                    return
                try:
                    self.send(HTTPStatus.OK, review.page(topic), "text/html")
                except FeedwatchError as e:
                    self.send(HTTPStatus.SERVICE_UNAVAILABLE, str(e), "text/plain")

            def do_POST(self) -> None:
                if urlparse(self.path).path != "/label":
                    self.send(HTTPStatus.NOT_FOUND, "not found", "text/plain")
                    return
                try:
                    size = int(self.headers.get("Content-Length") or 0)
                    if size > MAX_BODY:
                        raise ValueError("request too large")
                    body = json.loads(self.rfile.read(size) or b"{}")
                    if not isinstance(body.get("label"), bool):
                        raise ValueError('"label" must be true or false')
                    done = review.label(str(body["article_id"]), str(body["topic"]), body["label"])
                except (ValueError, KeyError, FeedwatchError) as e:
                    self.send(
                        HTTPStatus.BAD_REQUEST, json.dumps({"error": str(e)}), "application/json"
                    )
                    return
                self.send(HTTPStatus.OK, json.dumps(done), "application/json")

        return Handler


def _day(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else ""
