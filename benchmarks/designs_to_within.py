"""Designs each run needed to come within 2% of the best its network reached, from curves.csv files.

Issue 15, section 4: "median designs to within 2% <= 15". ``search_quality.py`` prints that
median per network; this prints it per run and over all runs of one or more output folders
(``curves.csv``: network, method, seed, budget, evaluation, best_feasible_ms), the best of
each network taken over every run given (all folders together, so an A/B shares one
reference). A run that never gets there counts as never (it sorts last in the median).

    python benchmarks/designs_to_within.py DIR [DIR ...] [--within 0.02] [--zoo resnet18,mobilenet_v2,vgg16,bert_base]
"""

from __future__ import annotations

import argparse
import csv
import statistics
from collections import defaultdict
from pathlib import Path

NEVER = float("inf")


def load(folder: Path) -> dict[tuple[str, str, str], list[tuple[int, float]]]:
    """(network, method, seed) -> [(evaluation, best feasible ms so far)] of one folder."""
    runs: dict[tuple[str, str, str], list[tuple[int, float]]] = defaultdict(list)
    with open(folder / "curves.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            runs[(r["network"], r["method"], r["seed"])].append((int(r["evaluation"]), float(r["best_feasible_ms"])))
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--within", type=float, default=0.02)
    ap.add_argument("--zoo", default="resnet18,mobilenet_v2,vgg16,bert_base", help="networks reported as the zoo")
    args = ap.parse_args()
    data = {f: load(f) for f in args.folders}
    best: dict[str, float] = {}
    for runs in data.values():
        for (net, _, _), curve in runs.items():
            best[net] = min(best.get(net, NEVER), min(v for _, v in curve))
    zoo = set(args.zoo.split(","))
    folders = ", ".join(map(str, args.folders))
    print(f"designs to within {args.within:.0%} of the best any run given reached ({folders})")
    print("best: " + ", ".join(f"{n} {v:.4g} ms" for n, v in best.items()))
    for folder, runs in data.items():
        hits = {}
        for (net, method, seed), curve in runs.items():
            hits[(net, method, seed)] = next((e for e, v in sorted(curve) if v <= best[net] * (1 + args.within)), NEVER)
        print(f"\n{folder}")
        for (net, method, seed), h in hits.items():
            final = min(v for _, v in runs[(net, method, seed)])
            print(f"  {net:24} {method:12} seed {seed}: {'never' if h == NEVER else h:>5}  (best {final:.4g} ms, "
                  f"{final / best[net] - 1:+.1%})")  # fmt: skip
        groups = (("all", lambda n: True), ("zoo", lambda n: n in zoo), ("held-apart", lambda n: n not in zoo))
        for name, keep in groups:
            vals = [h for (n, _, _), h in hits.items() if keep(n)]
            if vals:
                med = statistics.median(vals)
                never = sum(v == NEVER for v in vals)
                print(f"  {name}: median {'never' if med == NEVER else med} over {len(vals)} runs, never {never}")


if __name__ == "__main__":
    main()
