"""feedwatch's text extraction beside trafilatura's two modes, scored and timed in one run.

    python benchmarks/bench_extract_quality.py [FOLDER] [--pages N] [--diff]

FOLDER is a corpus folder in trafilatura's evaluation format (evaldata.json and
html/*.gz); by default the development half of trafilatura's corpus in
FEEDWATCH_CORPORA. Prints precision, recall, F1 and CPU seconds of feedwatch's
whole extract_article (text, metadata, language, signature) and of
trafilatura.extract on the text alone, fast and with its fallback extractors;
the last column is each CPU over the fallback's. --diff lists the pages where
feedwatch and the fallback score differently.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _extraction_eval import evaluate, load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("FEEDWATCH_CORPORA", "../shared/corpora"))
    parser.add_argument(
        "folder", nargs="?", type=Path, default=default / "articles" / "trafilatura-eval-dev"
    )
    parser.add_argument("--pages", type=int, default=None, help="the first N pages only")
    parser.add_argument("--diff", action="store_true")
    args = parser.parse_args()
    if not (args.folder / "evaldata.json").is_file():
        raise SystemExit(
            f"{args.folder}: no evaldata.json (set FEEDWATCH_CORPORA or name a folder)"
        )
    pages = load(args.folder)[: args.pages]
    scores = evaluate(pages)
    base = scores["trafilatura fallback"].cpu
    print(f"{args.folder.name}: {len(pages)} pages")
    print(f"{'':22s} {'P':>6s} {'R':>6s} {'F1':>7s} {'CPU s':>7s} {'/fallback':>9s}")
    for name, s in scores.items():
        print(
            f"{name:22s} {s.precision:6.4f} {s.recall:6.4f} {s.f1:7.4f} "
            f"{s.cpu:7.2f} {s.cpu / base:9.2f}"
        )
    if args.diff:
        mine, theirs = scores["feedwatch"].pages, scores["trafilatura fallback"].pages
        for url in mine:
            if mine[url] != theirs[url]:
                print(f"  {url[:80]}  feedwatch {mine[url]}  fallback {theirs[url]}")


if __name__ == "__main__":
    main()
