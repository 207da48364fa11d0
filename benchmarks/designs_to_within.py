"""Designs each run needed to come within 2% of the best its network reached, from curves.csv files.

Issue 15, section 4: "median designs to within 2% <= 15". ``search_quality.py`` prints that
median per network; this prints it per run and over all runs of one or more output folders
(read by ``merge_results.read_folder``; ``search_quality.mark_to_within`` counts), the best
of each network taken over every run given (all folders together, so an A/B shares one
reference). A run that never gets there counts as never (it sorts last in the median).

    python benchmarks/designs_to_within.py DIR [DIR ...] [--within 0.02] [--zoo resnet18,mobilenet_v2,vgg16,bert_base]
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

from merge_results import read_folder
from search_quality import mark_to_within


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--within", type=float, default=0.02)
    ap.add_argument("--zoo", default="resnet18,mobilenet_v2,vgg16,bert_base", help="networks reported as the zoo")
    args = ap.parse_args()
    data = {}
    for f in args.folders:
        runs, unit = read_folder(f)
        if unit != "ms":
            ap.error(f"{f}: expected a latency run (best_ms in runs.csv), found best_{unit}")
        data[f] = list(runs.values())
    # one reference for every folder: the best of each network over all their runs
    best = mark_to_within([r for runs in data.values() for r in runs], args.within)
    zoo = set(args.zoo.split(","))
    folders = ", ".join(map(str, args.folders))
    print(f"designs to within {args.within:.0%} of the best any run given reached ({folders})")
    print("best: " + ", ".join(f"{n} {v * 1e3:.4g} ms" for n, v in best.items()))
    for folder, runs in data.items():
        print(f"\n{folder}")
        for r in runs:
            h = "never" if r.to_within == math.inf else int(r.to_within)
            print(f"  {r.network:24} {r.method:12} seed {r.seed}: {h:>5}  (best {r.best * 1e3:.4g} ms, "
                  f"{r.best / best[r.network] - 1:+.1%})")  # fmt: skip
        groups = (("all", lambda n: True), ("zoo", lambda n: n in zoo), ("held-apart", lambda n: n not in zoo))
        for name, keep in groups:
            vals = [r.to_within for r in runs if keep(r.network) and not math.isnan(r.to_within)]
            if vals:
                med = statistics.median(vals)
                never = sum(v == math.inf for v in vals)
                print(f"  {name}: median {'never' if med == math.inf else med} over {len(vals)} runs, never {never}")


if __name__ == "__main__":
    main()
