"""A run that dies leaves nothing behind, and Prefect hears of it (flows.runtime.lifeline,
flows.runtime.liveness), as operators meet it: `feedwatch run` and `feedwatch watch` as
commands, each SIGKILLed in the middle of its poll, on Prefect's temporary server.

The processes of a run are found by their PREFECT_HOME (every process feedwatch
starts inherits it), not by their names.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from conftest import write_feeds
from flows.demo import RSS_PATH, SiteServer, demo_server
from flows.runtime import lifeline

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
GONE_WITHIN = 10.0  # seconds: what the issue asks of every process a run started


def processes_of(home: Path) -> list[psutil.Process]:
    """The live processes whose PREFECT_HOME is `home` (zombies are dead already)."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.status() != psutil.STATUS_ZOMBIE and p.environ().get("PREFECT_HOME") == str(home):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.05)


def left_after_kill(proc: subprocess.Popen[bytes], home: Path) -> list[str]:
    """SIGKILL `proc`; what is still running with its PREFECT_HOME GONE_WITHIN s later."""
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + GONE_WITHIN
    while (left := processes_of(home)) and time.monotonic() < deadline:
        time.sleep(0.1)
    names = []
    for p in left:
        with_name = " ".join(p.cmdline())[:160] if p.is_running() else "?"
        names.append(f"{p.pid}: {with_name}")
        p.kill()  # not left behind by the test either
    return names


def env_for(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    return {**env, "PREFECT_HOME": str(home), "FEEDWATCH_ALLOW_PRIVATE_NETWORKS": "1", **extra}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PREFECT_HOME for the module's runs: Prefect sets its database up once."""
    return tmp_path_factory.mktemp("prefect-home")


def flow_runs(home: Path) -> dict[str, str]:
    """The state of every flow run the temporary servers of `home` recorded, by id."""
    con = sqlite3.connect(home / "prefect.db")
    try:
        return dict(con.execute("SELECT id, state_type FROM flow_run").fetchall())
    finally:
        con.close()


def page_requested(site: SiteServer) -> bool:
    return any(path.startswith("/news/") for path, _, _ in site.requests)


@pytest.mark.parametrize(
    "extract, started",
    [
        # Pages extracted by worker processes (a fork server and its workers).
        (["--extract-workers", "2"], lambda n, site: n >= 4 and page_requested(site)),
        # Pages extracted on a Dask cluster of this machine, as they are fetched.
        (["--dask", "local"], lambda n, site: n >= 4),
    ],
    ids=["extraction-workers", "dask-local"],
)
def test_a_killed_run_leaves_no_process_and_the_next_run_marks_it_crashed(
    slow_site: SiteServer,
    home: Path,
    tmp_path: Path,
    topics_file: Path,
    extract: list[str],
    started: Callable[[int, SiteServer], bool],
) -> None:
    # The demo site's quick pages: a Dask cluster takes longer to start than they do.
    site = demo_server().start() if "--dask" in extract else slow_site
    try:
        feeds = write_feeds(tmp_path / "feeds.yaml", {"demo": site.url(RSS_PATH)})
        before = set(flow_runs(home)) if (home / "prefect.db").exists() else set()
        args = ["run", "--all", "--feeds", str(feeds), "--topics", str(topics_file)]
        run = subprocess.Popen(
            [str(BIN / "feedwatch"), *args, "--db", str(tmp_path / "w.duckdb"), *extract],
            env=env_for(home),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for("the poll and its processes", lambda: started(len(processes_of(home)), site))
        assert len(processes_of(home)) >= 4  # feedwatch, its server, extraction's processes
        assert left_after_kill(run, home) == []
    finally:
        if site is not slow_site:
            site.stop()
    (killed,) = set(flow_runs(home)) - before
    assert flow_runs(home)[killed] == "RUNNING"  # nobody told the server

    # The next run on this PREFECT_HOME tells it.
    with demo_server() as quick:
        feeds = write_feeds(tmp_path / "quick.yaml", {"demo": quick.url(RSS_PATH)})
        again = subprocess.run(
            [str(BIN / "feedwatch"), *args[:3], str(feeds), "--db", str(tmp_path / "w2.duckdb")],
            env=env_for(home),
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "had been left running by a killed process: marked crashed" in again.stderr
    states = flow_runs(home)
    assert states[killed] == "CRASHED"
    (new,) = set(states) - before - {killed}
    assert states[new] == "COMPLETED"
    assert list((home / "feedwatch-runs").iterdir()) == []  # every record settled


def test_a_killed_watch_leaves_no_process(
    slow_site: SiteServer, home: Path, tmp_path: Path, topics_file: Path
) -> None:
    feeds = write_feeds(tmp_path / "feeds.yaml", {"demo": slow_site.url(RSS_PATH)})
    requested = len(slow_site.requests)
    watch = subprocess.Popen(
        [
            str(BIN / "feedwatch"),
            "watch",
            "--feeds",
            str(feeds),
            "--topics",
            str(topics_file),
            "--db",
            str(tmp_path / "w.duckdb"),
            "--extract-workers",
            "2",
        ],
        env=env_for(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(
        "the watch's first poll",
        lambda: (
            len(processes_of(home)) >= 4
            and any(p.startswith("/news/") for p, _, _ in slow_site.requests[requested:])
        ),
    )
    assert left_after_kill(watch, home) == []


@pytest.mark.parametrize("command", [["run", "--all"], ["watch"]], ids=["run", "watch"])
def test_a_second_ctrl_c_stops_at_once_and_leaves_nothing(
    slow_site: SiteServer, home: Path, tmp_path: Path, topics_file: Path, command: list[str]
) -> None:
    """Ctrl-C twice (as a terminal sends it, to the whole process group) in the middle
    of a poll whose pages take minutes: the command ends with 130, not when the pages
    it was fetching are in, and leaves no process behind."""
    feeds = write_feeds(tmp_path / "feeds.yaml", {"demo": slow_site.url(RSS_PATH)})
    requested = len(slow_site.requests)
    options = ["--feeds", str(feeds), "--topics", str(topics_file), "--extract-workers", "2"]
    proc = subprocess.Popen(
        [str(BIN / "feedwatch"), *command, *options, "--db", str(tmp_path / "w.duckdb")],
        env=env_for(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal's job
    )
    wait_for(
        "the poll's pages",
        lambda: (
            len(processes_of(home)) >= 4
            and any(p.startswith("/news/") for p, _, _ in slow_site.requests[requested:])
        ),
    )
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    # The pages being fetched take well over a minute each (0.004 s a byte).
    out, _ = proc.communicate(timeout=45)
    assert proc.returncode == 130, out
    assert "can't register atexit" not in out  # nothing ran on after the exit began
    wait_for("its processes to end", lambda: processes_of(home) == [], timeout=GONE_WITHIN)


def test_runs_started_together_on_a_new_prefect_home_all_complete(
    tmp_path: Path, topics_file: Path
) -> None:
    """Cron on a new machine, or several pollers: 3 runs at once, 5 times over, each time
    on a new PREFECT_HOME whose database Prefect has yet to set up. Two trials at a time
    (on homes of their own): a trial's first start leaves a core idle while it sets
    the database up."""
    with demo_server() as site:
        feeds = write_feeds(tmp_path / "feeds.yaml", {"demo": site.url(RSS_PATH)})
        run_args = ["run", "--feeds", str(feeds), "--topics", str(topics_file)]
        for trials in ((0, 1), (2, 3), (4,)):
            runs = {
                (trial, i): subprocess.Popen(
                    [str(BIN / "feedwatch"), *run_args, "--db", str(tmp_path / f"w{trial}-{i}.db")],
                    env=env_for(tmp_path / f"home-{trial}"),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for trial in trials
                for i in range(3)
            }
            for (trial, i), run in runs.items():
                out, err = run.communicate(timeout=600)
                assert run.returncode == 0, f"trial {trial}, run {i}:\n{out}{err}"
                assert "Polled 1 feed" in out
            for trial in trials:
                assert processes_of(tmp_path / f"home-{trial}") == []


# The lifeline on its own, without Prefect.


def _parent(code: str) -> subprocess.Popen[str]:
    """A Python process running `code`, which prints its children's pids, one a line."""
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )


def _kill_and_wait(parent: subprocess.Popen[str], children: list[int]) -> list[int]:
    """SIGKILL the parent; the children still alive GONE_WITHIN s later."""
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + GONE_WITHIN
    alive = children
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [pid for pid in alive if psutil.pid_exists(pid) and _running(pid)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    return alive


def _running(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def test_a_program_on_a_lifeline_ends_with_the_process_that_started_it() -> None:
    parent = _parent(
        "import subprocess, sys, time\n"
        "from flows.runtime import lifeline\n"
        "child = subprocess.Popen([sys.executable, '-m', 'flows.runtime.lifeline', 'http.server',"
        " '--bind', '127.0.0.1', '0'], stdin=lifeline.read_end(), stdout=subprocess.DEVNULL,"
        " stderr=subprocess.DEVNULL, start_new_session=True)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    time.sleep(0.5)
    assert _running(child)  # it runs for as long as its parent does
    assert _kill_and_wait(parent, [child]) == []


def test_extraction_workers_end_with_the_process_that_started_them() -> None:
    parent = _parent(
        "import time, psutil\n"
        "from flows.extract import PageExtractor\n"
        "pool = PageExtractor(expected=200, workers=2)\n"
        "me = psutil.Process()\n"
        "while len(me.children(recursive=True)) < 4:  # fork server, 2 workers, tracker\n"
        "    time.sleep(0.05)\n"
        "for p in me.children(recursive=True):\n"
        "    print(p.pid, flush=True)\n"
        "print('', flush=True)\n"
        "time.sleep(600)\n"
    )
    assert parent.stdout is not None
    started = [int(line) for line in iter(parent.stdout.readline, "\n")]
    assert len(started) >= 4 and all(_running(pid) for pid in started)
    assert _kill_and_wait(parent, started) == []


def test_the_lifeline_is_never_handed_down_by_accident() -> None:
    # Only the read end is handed over, and only on purpose: both ends are close-on-exec.
    ends = os.pipe() if lifeline._pipe is None else lifeline._pipe
    lifeline.read_end()
    assert lifeline._pipe is not None
    assert not any(os.get_inheritable(fd) for fd in lifeline._pipe)
    del ends
