"""feedwatch against a real `prefect server` on a loopback port: deployed from
prefect.yaml and run by a worker; alert events reach a webhook through the
automation `feedwatch alerts create` makes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from _postgres import create_database, postgres_bin, postgres_or_skip, url_of

from conftest import write_feeds
from flows.demo import RSS_PATH, SiteServer, demo_server
from flows.demo.prefect_server import prefect_server as demo_prefect_server

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real Prefect server (SQLite, temporary home); yields the environment to reach it."""
    with demo_prefect_server(tmp_path_factory.mktemp("prefect-home")) as env:
        # The suite's default is WARNING; these tests look for feedwatch's INFO lines.
        yield {**env, "PREFECT_LOGGING_LEVEL": "INFO"}


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Hook", (_Hook,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()


def _feedwatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "feedwatch"), *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_every_new_story_reaches_the_webhook(
    prefect_server: dict[str, str],
    webhook: tuple[str, list[dict[str, Any]]],
    demo_feeds: Path,
    topics_file: Path,
    db: Path,
) -> None:
    url, received = webhook
    made = _feedwatch(prefect_server, "alerts", "create", "--webhook", url)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "feedwatch-hits" in made.stdout

    run = _feedwatch(
        prefect_server,
        "run",
        "--feeds",
        str(demo_feeds),
        "--topics",
        str(topics_file),
        "--db",
        str(db),
        "--all",
    )
    assert run.returncode == 0, run.stdout + run.stderr

    con = duckdb.connect(str(db), read_only=True)
    try:
        stories = con.execute(
            "SELECT DISTINCT m.topic, a.cluster_id, a.url FROM topic_matches m"
            " JOIN articles a USING (article_id) WHERE m.matched"
        ).fetchall()
    finally:
        con.close()
    expected = {(topic, cluster) for topic, cluster, _ in stories}
    assert len(expected) >= 10  # the demo's stories on both topics

    # The server's triggers service evaluates events a few seconds after they arrive.
    deadline = time.monotonic() + 90
    while len(received) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(2)  # and nothing more arrives than one POST per story and topic
    assert {(r["topic"], r["story"]) for r in received} == expected
    assert len(received) == len(expected)
    links = {u for _, _, u in stories}
    for r in received:
        assert r["link"] in links
        assert r["title"]
        assert float(r["score"]) >= 1  # every topic's min_score is at least 1

    # The events themselves are on the server, with their payload.
    found = httpx.post(
        f"{prefect_server['PREFECT_API_URL']}/events/filter",
        json={"filter": {"event": {"name": ["feedwatch.topic.hit"]}}, "limit": 50},
        timeout=10,
    ).json()
    events = found["events"]
    assert len(events) == len(expected)
    assert {e["payload"]["topic"] for e in events} == {t for t, _ in expected}


def _prefect(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(BIN / "prefect"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


def _deploy_and_run_a_poll(
    env: dict[str, str], demo_feeds: Path, topics_file: Path, db: Path
) -> str:
    """prefect.yaml's deployments on the server, a poll of the demo feeds started and
    run by a worker (--run-once); the flow run's id."""
    _prefect(env, "work-pool", "create", "feedwatch", "--type", "process", "--overwrite")
    deployed = _prefect(env, "--no-prompt", "deploy", "--all")
    for name in ("poll-feeds/poll-feeds", "rescore-topics/rescore-topics", "digest/digest"):
        assert name in deployed.stdout

    api = env["PREFECT_API_URL"]
    deployments = {
        d["name"]: d for d in httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
    }
    assert deployments["poll-feeds"]["schedules"][0]["schedule"]["interval"] == 900
    digest_schedule = deployments["digest"]["schedules"][0]["schedule"]
    assert digest_schedule["cron"] == "0 7 * * *" and digest_schedule["timezone"]
    # Runs must not overlap: a concurrency limit of 1 (as Prefect stores it).
    limit = deployments["poll-feeds"].get("global_concurrency_limit") or {}
    assert limit.get("limit") == 1, deployments["poll-feeds"]

    started = _prefect(
        env,
        "deployment",
        "run",
        "poll-feeds/poll-feeds",
        "--param",
        f"feeds_path={demo_feeds}",
        "--param",
        f"topics_path={topics_file}",
        "--param",
        f"db={db}",
        "--param",
        "poll_all=true",
    )
    match = re.search(r"UUID: ([0-9a-f-]{36})", started.stdout)
    assert match, started.stdout
    run_id = match.group(1)

    _prefect(env, "worker", "start", "--pool", "feedwatch", "--run-once")

    return run_id


def test_poll_feeds_deployed_from_prefect_yaml_runs_through_a_worker(
    prefect_server: dict[str, str], demo_feeds: Path, topics_file: Path, db: Path
) -> None:
    env = prefect_server
    run_id = _deploy_and_run_a_poll(env, demo_feeds, topics_file, db)
    api = env["PREFECT_API_URL"]
    run = httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert run["name"].startswith("poll ")  # says what ran and when
    artifacts = httpx.post(
        f"{api}/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [run_id]}}},
        timeout=10,
    ).json()
    by_key = {a["key"]: a for a in artifacts}
    assert by_key["poll-summary"]["type"] == "markdown"
    assert "dprk-russia" in by_key["poll-summary"]["data"]
    assert by_key["poll-hits"]["type"] == "table"
    tasks = httpx.post(
        f"{api}/task_runs/filter",
        json={"flow_runs": {"id": {"any_": [run_id]}}},
        timeout=10,
    ).json()
    assert any(t["name"].startswith("poll demo-") for t in tasks)  # named after the feeds
    # Run logs reach the server in batches, shortly after the lines are written.
    messages: list[str] = []
    deadline = time.monotonic() + 30
    while not any("new articles" in m for m in messages) and time.monotonic() < deadline:
        time.sleep(1)
        logs = httpx.post(
            f"{api}/logs/filter",
            json={"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200},
            timeout=10,
        ).json()
        messages = [log["message"] for log in logs]
    assert any("new articles" in m for m in messages), messages  # feedwatch's own lines

    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM articles").fetchall()[0][0] == 20
    finally:
        con.close()


def test_feedwatch_serve_serves_the_deployments_of_prefect_yaml(
    prefect_server: dict[str, str], tmp_path: Path
) -> None:
    api = prefect_server["PREFECT_API_URL"]
    log = tmp_path / "serve.log"
    served = subprocess.Popen(
        [str(BIN / "feedwatch"), "serve"],
        env=prefect_server,
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while "being served" not in log.read_text() and time.monotonic() < deadline:
            assert served.poll() is None, log.read_text()[-2000:]
            time.sleep(1)
        assert "being served" in log.read_text(), log.read_text()[-2000:]
        found = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
        mine = {d["name"]: d for d in found}
        assert {"poll-feeds", "rescore-topics", "digest"} <= set(mine)
        assert mine["poll-feeds"]["schedules"][0]["schedule"]["interval"] == 900
        assert mine["digest"]["schedules"][0]["schedule"]["cron"] == "0 7 * * *"
        assert mine["poll-feeds"]["parameters"]["db"] == "data/feedwatch.duckdb"
    finally:
        os.killpg(served.pid, signal.SIGINT)
        served.wait(timeout=30)


def test_the_prefect_server_on_postgresql_runs_a_deployed_poll(
    tmp_path: Path, demo_feeds: Path, topics_file: Path, db: Path
) -> None:
    """make serve with FEEDWATCH_PREFECT_DB: the server's state in PostgreSQL (asyncpg)."""
    for conninfo in postgres_or_skip():
        database = url_of(create_database(conninfo, "prefect"))
        home = tmp_path / "home"
        home.mkdir()
        with demo_prefect_server(home, database=database) as env:
            run_id = _deploy_and_run_a_poll(env, demo_feeds, topics_file, db)
            api = env["PREFECT_API_URL"]
            run = httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()
            assert run["state"]["type"] == "COMPLETED", run["state"]
        # The run is in PostgreSQL, and the server made no SQLite database of its own.
        assert not list(home.glob("*.db"))
        psql = str((postgres_bin() or Path("/usr/bin")) / "psql")
        found = subprocess.run(
            [psql, database, "-tAc", f"SELECT state_type FROM flow_run WHERE id = '{run_id}'"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert found.stdout.strip() == "COMPLETED", found.stdout + found.stderr
        con = duckdb.connect(str(db), read_only=True)
        try:
            assert con.execute("SELECT count(*) FROM articles").fetchall()[0][0] == 20
        finally:
            con.close()


def test_a_killed_run_shows_crashed_and_a_finished_one_completed(
    prefect_server: dict[str, str], slow_site: SiteServer, tmp_path: Path, topics_file: Path
) -> None:
    """The automation every run makes on a long-lived server marks a run Crashed once its
    heartbeats stop. Heartbeats every 2 s here: the automation's window is then Prefect's
    least, 10 s (three heartbeats of 30 s, 90 s, by default)."""
    env = {**prefect_server, "FEEDWATCH_HEARTBEAT": "2s"}
    api = env["PREFECT_API_URL"]

    def runs() -> dict[str, dict[str, Any]]:
        found = httpx.post(f"{api}/flow_runs/filter", json={}, timeout=10).json()
        return {r["id"]: r for r in found}

    before = set(runs())
    feeds = write_feeds(tmp_path / "feeds.yaml", {"demo": slow_site.url(RSS_PATH)})
    requested = len(slow_site.requests)
    args = ["run", "--all", "--topics", str(topics_file), "--extract-workers", "1"]
    killed = subprocess.Popen(
        [str(BIN / "feedwatch"), *args, "--feeds", str(feeds), "--db", str(tmp_path / "k.db")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not any(p.startswith("/news/") for p, _, _ in slow_site.requests[requested:]):
        assert time.monotonic() < deadline and killed.poll() is None
        time.sleep(0.05)
    killed.kill()
    killed.wait()
    (run_id,) = set(runs()) - before
    assert runs()[run_id]["state"]["type"] == "RUNNING"

    deadline = time.monotonic() + 90
    while (state := runs()[run_id]["state"])["type"] != "CRASHED":
        assert time.monotonic() < deadline, state
        time.sleep(1)
    assert "no heartbeat" in state["message"]
    automations = httpx.post(f"{api}/automations/filter", json={}, timeout=10).json()
    assert [a["name"] for a in automations].count("feedwatch: crashed runs") == 1

    # A run that ends is left Completed, past the window of its last heartbeat.
    with demo_server() as quick:
        feeds = write_feeds(tmp_path / "quick.yaml", {"demo": quick.url(RSS_PATH)})
        done = _feedwatch(env, *args, "--feeds", str(feeds), "--db", str(tmp_path / "d.db"))
    assert done.returncode == 0, done.stdout + done.stderr
    (finished,) = set(runs()) - before - {run_id}
    time.sleep(10 + 5)  # past the window of its last heartbeat, and a round of the triggers
    assert runs()[finished]["state"]["type"] == "COMPLETED"
    assert runs()[run_id]["state"]["type"] == "CRASHED"
