"""Merge the hierarchy search-quality CSVs into one table (issue 15, section 2).

The explorer rows come from the newest run of the explainable and gradient
explorers (``--new``, e.g. ``*_warmstart.csv``); the baselines' rows, whose
code did not change, from earlier runs (``--old``, any number of files, or none); the
earlier explainable row is kept as ``explainable (before)``. Prints a
Markdown table, best latency in ms and, in brackets, its ratio to the new
explainable run (> 1: the explorer is better), and writes the merged rows.

    python benchmarks/hierarchy_merge.py --new results/..._warmstart.csv --old results/a.csv results/b.csv
        --csv results/..._merged_warmstart.csv
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from common import write_csv

ORDER = ("explainable", "gradient", "explainable (before)", "random", "grid", "annealing", "genetic",
         "bayesian_tpe", "cmaes")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--new", type=Path, nargs="+", required=True)
    ap.add_argument("--old", type=Path, nargs="*", default=[], help="earlier runs (none: a table of --new alone)")
    ap.add_argument("--csv", type=Path, default=None)
    args = ap.parse_args()
    rows: dict[tuple, dict] = {}
    for path in args.old:
        for r in csv.DictReader(path.open()):
            method = "explainable (before)" if r["method"] == "explainable" else r["method"]
            rows[(r["preset"], r["network"], r["seed"], method)] = {**r, "method": method}
    for path in args.new:
        for r in csv.DictReader(path.open()):
            rows[(r["preset"], r["network"], r["seed"], r["method"])] = r
    runs = sorted({k[:3] for k in rows})
    methods = [m for m in ORDER if any(k[3] == m for k in rows)]
    print("| preset, network, seed | " + " | ".join(methods) + " |")
    print("|---" * (len(methods) + 1) + "|")
    out = []
    for run in runs:
        ref = float(rows[(*run, "explainable")]["best_latency_ms"]) if (*run, "explainable") in rows else None
        best = min(float(rows[(*run, m)]["best_latency_ms"]) for m in methods if (*run, m) in rows)
        cells = []
        for m in methods:
            r = rows.get((*run, m))
            if r is None:
                cells.append("-")
                continue
            lat = float(r["best_latency_ms"])
            ratio = lat / ref if ref else float("nan")
            text = f"{lat:.4g} ({r['evaluations']})" if m.startswith(("explainable", "gradient")) else f"{lat:.4g}"
            text += "" if m == "explainable" else f" ({ratio:.3f}x)"
            cells.append(f"**{text}**" if lat == best else text)
            out.append({**{k: r[k] for k in ("preset", "network", "seed", "method", "budget", "evaluations")},
                        "best_latency_ms": lat, "over_explainable": round(ratio, 4)})  # fmt: skip
        print(f"| {run[0]}, {run[1]}, {run[2]} | " + " | ".join(cells) + " |")
    if args.csv:
        write_csv(args.csv, out)


if __name__ == "__main__":
    main()
