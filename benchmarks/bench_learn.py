"""`feedwatch topics learn` as a user runs it: a cold process, learning and its
5-fold cross-validation, on the real labelled sets and on 200 cases.

    FEEDWATCH_CORPORA=../shared/corpora python benchmarks/bench_learn.py [--repeat 3]

The sets: topics-china-russia (88 cases, its novice-topics.yaml), topics-real
(87 cases, tests/data/novice-dprk-russia.yaml), and 200 cases made of the
China–Russia set repeated under new ids: the learner's worst case, since every
word of a positive then counts two or three times and many more become
candidates. Prints the median wall time of each (goal: under 30 s at 200), and
beside it the time of `topics eval` on the same file, same process kind: what
a cold command costs before any learning.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEEDWATCH = str(Path(sys.executable).with_name("feedwatch"))


def _time(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    corpora = Path(os.environ.get("FEEDWATCH_CORPORA", ROOT.parent / "shared" / "corpora"))
    china = corpora / "topics-china-russia"
    with tempfile.TemporaryDirectory() as tmp:
        rows = [json.loads(line) for line in (china / "cases.jsonl").read_text().splitlines()]
        many = rows + [dict(r, id=f"{r['id']}#2") for r in rows]
        many += [dict(r, id=f"{r['id']}#3") for r in rows[: 200 - len(many)]]
        repeated = Path(tmp) / "200.jsonl"
        repeated.write_text("".join(json.dumps(r) + "\n" for r in many))
        sets = [
            ("topics-china-russia, 88 cases", china / "cases.jsonl", china / "novice-topics.yaml",
             "china-russia"),
            ("topics-real, 87 cases", corpora / "topics-real" / "cases.jsonl",
             ROOT / "tests" / "data" / "novice-dprk-russia.yaml", "dprk-russia"),
            ("China–Russia repeated, 200 cases", repeated, china / "novice-topics.yaml",
             "china-russia"),
        ]  # fmt: skip
        print(f"topics learn, a cold process, median of {args.repeat}:")
        for name, cases, topics, topic in sets:
            out = Path(tmp) / "out.yaml"
            learn = _time(
                [
                    FEEDWATCH,
                    "topics",
                    "learn",
                    str(cases),
                    "--topics",
                    str(topics),
                    "--topic",
                    topic,
                    "--out",
                    str(out),
                ],
                args.repeat,
            )
            evaluate = _time(
                [FEEDWATCH, "topics", "eval", str(cases), "--topics", str(topics)], args.repeat
            )
            print(f"  {name:34} learn {learn:5.1f} s   (eval of the same: {evaluate:4.1f} s)")


if __name__ == "__main__":
    main()
