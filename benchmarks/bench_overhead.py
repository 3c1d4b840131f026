"""What a `feedwatch run` costs on top of its work, as users run it (one command each).

    python benchmarks/bench_overhead.py [--repeat 5]

One feed of the demo site on loopback, its warehouse polled once. Then, each
`--repeat` times, in one run of this script:

- `feedwatch feeds status`: the baseline, a command that only reads the warehouse;
- `feedwatch run` with nothing due (goal: ≤ 2× the baseline's wall time);
- `feedwatch run --all` with Prefect's temporary server (a PREFECT_HOME used before);
- `feedwatch run --all` against a long-lived `prefect server` started beforehand;

and once, `feedwatch run --all` on a brand-new PREFECT_HOME (Prefect migrates its
database). Wall time, and CPU of the command with every process it waited for
(the temporary server included; the long-lived server's CPU is read apart).
The work itself is the poll's own time, as the run prints it.

What a run pays so that a killed one is shown Crashed (flows.runtime.liveness), against the
same long-lived server, in this process: an empty flow run with and without its
signs of life (record and heartbeats), alternated; and the look at earlier runs
each command makes before its flow (dead records, the automation), on its own.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from flows.demo import RSS_PATH, demo_server
from flows.demo.prefect_server import prefect_server

ROOT = Path(__file__).resolve().parent.parent
FEEDWATCH = str(Path(sys.executable).parent / "feedwatch")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _tree_cpu(pid: int) -> float:
    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def _server_pid(api_url: str) -> int:
    """The `prefect server start` process serving this URL (started with its port)."""
    port = api_url.rsplit(":", 1)[1].split("/")[0]
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if "server" in cmd and port in cmd:
            return int(p.pid)
    raise SystemExit(f"no prefect server process for {api_url}")


def timed(env: dict[str, str], *args: str, server_pid: int | None = None) -> dict[str, float]:
    cpu0, wall0 = _children_cpu(), time.perf_counter()
    server0 = _tree_cpu(server_pid) if server_pid else 0.0
    result = subprocess.run([FEEDWATCH, *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - wall0
    if result.returncode != 0:
        raise SystemExit(f"feedwatch {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    poll = re.search(r"\) in ([\d.]+) s", result.stdout)
    return {
        "wall": wall,
        "cpu": _children_cpu() - cpu0,
        "server_cpu": (_tree_cpu(server_pid) - server0) if server_pid else 0.0,
        "work": float(poll.group(1)) if poll else 0.0,
    }


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; medians of {args.repeat} runs")

    with tempfile.TemporaryDirectory() as tmp, demo_server() as site:
        tmpdir = Path(tmp)
        feeds = tmpdir / "feeds.yaml"
        feeds.write_text(
            f"fetch:\n  host_delay: 0s\nfeeds:\n  - name: one\n    url: {site.url(RSS_PATH)}\n"
        )
        db = tmpdir / "w.duckdb"
        base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
        base |= {"FEEDWATCH_ALLOW_PRIVATE_NETWORKS": "1", "DO_NOT_TRACK": "1"}
        base |= {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        temporary = base | {"PREFECT_HOME": str(tmpdir / "home")}
        common = ("--feeds", str(feeds), "--topics", str(ROOT / "topics.yaml"), "--db", str(db))

        first = timed(base | {"PREFECT_HOME": str(tmpdir / "new-home")}, "run", "--all", *common)
        timed(temporary, "run", "--all", *common)  # migrates this home once
        status = [timed(temporary, "feeds", "status", "--db", str(db)) for _ in range(args.repeat)]
        idle = [timed(temporary, "run", *common) for _ in range(args.repeat)]
        temp = [timed(temporary, "run", "--all", *common) for _ in range(args.repeat)]
        (tmpdir / "server-home").mkdir()
        with prefect_server(tmpdir / "server-home") as env:
            pid = _server_pid(env["PREFECT_API_URL"])
            served = base | {"PREFECT_API_URL": env["PREFECT_API_URL"]}
            served |= {"PREFECT_HOME": str(tmpdir / "client-home")}
            timed(served, "run", "--all", *common)  # the first run registers the flow
            long = [
                timed(served, "run", "--all", *common, server_pid=pid) for _ in range(args.repeat)
            ]
            liveness = _liveness_cost(env["PREFECT_API_URL"], tmpdir / "bench-home", args.repeat)

    print(
        f"feeds status (baseline)        {median(status, 'wall'):6.2f} s wall {median(status, 'cpu'):6.2f} s CPU"
    )
    ratio = median(idle, "wall") / median(status, "wall")
    print(
        f"run, nothing due               {median(idle, 'wall'):6.2f} s wall {median(idle, 'cpu'):6.2f} s CPU"
        f"   = {ratio:.2f}× the baseline (goal ≤ 2×)"
    )
    for name, runs in (
        ("run --all, temporary server", temp),
        ("run --all, long-lived server", long),
    ):
        wall, work = median(runs, "wall"), median(runs, "work")
        cpu, server = median(runs, "cpu"), median(runs, "server_cpu")
        print(
            f"{name:<30} {wall:6.2f} s wall {cpu:6.2f} s CPU"
            + (f" (+ server {server:.2f} s)" if server else "")
            + f"; the poll {work:.2f} s; on top of it {wall - work:.2f} s"
        )
    print(
        f"run --all, new PREFECT_HOME    {first['wall']:6.2f} s wall {first['cpu']:6.2f} s CPU;"
        f" the poll {first['work']:.2f} s"
    )
    bare, alive, look = liveness
    print(
        f"an empty flow run              {bare * 1000:6.1f} ms wall; with its signs of life"
        f" {alive * 1000:.1f} ms ({alive / bare:.2f}×, {(alive - bare) * 1000:+.1f} ms a run)"
    )
    print(f"the look at earlier runs       {look * 1000:6.1f} ms wall, once a command")


def _liveness_cost(api: str, home: Path, repeat: int) -> tuple[float, float, float]:
    """Median seconds: an empty flow run without and with flows.runtime.liveness.signs_of_life,
    alternated; the look at earlier runs (prefect_api._look_after_runs) on its own."""
    os.environ |= {"PREFECT_API_URL": api, "PREFECT_HOME": str(home)}
    from prefect import flow

    from flows.runtime import liveness
    from flows.runtime.prefect_api import _look_after_runs, without_heartbeats

    @flow
    def bare() -> None:
        pass

    @flow
    @liveness.with_signs_of_life
    def alive() -> None:
        pass

    def seconds(fn: Callable[[], object]) -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    times: dict[str, list[float]] = {"bare": [], "alive": [], "look": []}
    with without_heartbeats():  # Prefect's own, as feedwatch runs its flows
        bare(), alive()  # the flows registered, the clients warm
        for _ in range(max(repeat, 10)):
            times["bare"].append(seconds(bare))
            times["alive"].append(seconds(alive))
            times["look"].append(seconds(lambda: _look_after_runs(api)))
    return tuple(statistics.median(times[k]) for k in ("bare", "alive", "look"))  # type: ignore[return-value]


if __name__ == "__main__":
    main()
