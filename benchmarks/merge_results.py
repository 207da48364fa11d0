"""Merge ``search_quality.py`` result folders into one set of tables.

Long runs are split over several invocations (one network per process,
2,500-design runs apart, a method re-run after it changed); each writes
``runs.csv`` and ``curves.csv``. This script reads the folders in the order
given (a later folder's run of the same network, method, seed and budget
replaces an earlier one), takes each network's best-known design over all
of them, recomputes every run's designs-to-2% from its curve, and prints per
network a markdown table (best feasible objective and share of feasible
designs per method and budget; the README's "Performance" tables), then the
same text table and ``summary.csv`` / ``convergence_<network>.png`` as
``search_quality.py`` in ``--out``.

    python benchmarks/merge_results.py benchmarks/results/full/vgg16 benchmarks/results/full/vgg16_v2 \\
        --out runs/merged
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_quality import METHODS, Run, _fmt, mark_to_within, plot, print_table, summarise  # noqa: E402

SCALES = {"ms": 1e3, "mJ": 1e3, "mJ*ms": 1e6}


class MergeError(ValueError):
    """A folder without the files or columns ``search_quality.py`` writes."""


def _unit(header: list[str], prefix: str, path: Path) -> str:
    cols = [c for c in header if c.startswith(prefix)]
    if len(cols) != 1 or cols[0][len(prefix) :] not in SCALES:
        raise MergeError(f"{path}: expected one column '{prefix}<unit>' (unit one of {sorted(SCALES)}), found {header}")
    return cols[0][len(prefix) :]


def read_folder(folder: Path) -> tuple[dict[tuple, Run], str]:
    """Runs of one ``search_quality.py`` output folder, keyed (network, method, seed, budget)."""
    runs_csv, curves_csv = folder / "runs.csv", folder / "curves.csv"
    if not runs_csv.is_file():
        raise MergeError(f"{folder}: expected runs.csv (written by search_quality.py), found none")
    with open(runs_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
        header = list(rows[0]) if rows else []
    if not rows:
        return {}, "ms"
    unit = _unit(header, "best_", runs_csv)
    scale = SCALES[unit]
    runs: dict[tuple, Run] = {}
    for row in rows:
        try:
            r = Run(row["network"], row["method"], int(row["seed"]), int(row["budget"]))
            r.evaluations = int(row["evaluations"])
            r.best = float(row[f"best_{unit}"]) / scale
            r.feasible_share = float(row["feasible_share"])
            r.wall_s = float(row["wall_s"])
        except (KeyError, ValueError) as e:
            raise MergeError(f"{runs_csv}: malformed row {row}: {e}") from None
        r.error = row.get("error") or ""
        runs[(r.network, r.method, r.seed, r.budget)] = r
    if curves_csv.is_file():  # a stopped invocation has runs.csv only; its runs get no designs-to-2%
        with open(curves_csv, newline="") as fh:
            rd = csv.DictReader(fh)
            col = f"best_feasible_{_unit(rd.fieldnames or [], 'best_feasible_', curves_csv)}"
            for row in rd:
                r = runs.get((row["network"], row["method"], int(row["seed"]), int(row["budget"])))
                if r is not None:
                    r.curve.append(float(row[col]) / scale)
    return runs, unit


def merge(folders: list[Path]) -> tuple[dict[tuple, Run], set[str]]:
    """Runs of every folder (a later folder's run replaces an earlier one); the units (objectives) found."""
    merged: dict[tuple, Run] = {}
    units = set()
    for folder in folders:
        runs, unit = read_folder(folder)
        for k, r in runs.items():
            old = merged.get(k)
            if not r.curve and old is not None and (old.evaluations, old.best) == (r.evaluations, r.best):
                r.curve = old.curve  # the same deterministic run, re-run in a stopped invocation
            merged[k] = r
        if runs:
            units.add(unit)
    return merged, units


def _cell(rs: list[Run], scale: float) -> str:
    """One table cell: best feasible objective per seed (``-``: none feasible) with ``@N`` when the run came
    within 2% of the best known after N designs, then the mean share of feasible designs."""
    share = float(np.mean([r.feasible_share for r in rs]))
    pct = f"{share:.0%}" if share >= 0.01 or share == 0 else "<1%"
    if len(rs) == 1 and not np.isfinite(rs[0].best):
        return f"none feasible ({pct})"
    vals = []
    for r in rs:
        v = f"{r.best * scale:.2f}" if np.isfinite(r.best) else "-"
        vals.append(v + (f" @{r.to_within:.0f}" if np.isfinite(r.to_within) else ""))
    return " / ".join(vals) + f" ({pct})"


def markdown(runs: list[Run], best_known: dict, scale: float, unit: str, methods: list[str]) -> str:
    """Per network: best known, designs to 2% per method at its largest budget, and the
    method x budget table (best feasible objective per seed, @designs to 2%, mean share of feasible designs)."""
    out = []
    for net in dict.fromkeys(r.network for r in runs):
        mine: dict[tuple, list[Run]] = {}
        for r in sorted((r for r in runs if r.network == net and not r.error), key=lambda r: r.seed):
            mine.setdefault((r.method, r.budget), []).append(r)
        budgets = sorted({b for _, b in mine})
        present = [m for m in methods if any(k[0] == m for k in mine)]
        best = best_known.get(net, math.inf)
        who = [r for rs in mine.values() for r in rs if r.best == best]
        where = ""
        if who and np.isfinite(best):
            r = min(who, key=lambda r: r.curve.index(best) if best in r.curve else r.budget)
            at = r.curve.index(best) + 1 if best in r.curve else r.evaluations
            where = f", found by {r.method} (seed {r.seed}) at its design {at}"
        to2 = []
        for m in present:
            top = mine[(m, max(b for mm, b in mine if mm == m))]
            ns = ["unknown" if not r.curve else "never" if not np.isfinite(r.to_within) else f"{r.to_within:.0f}"
                  for r in top]  # fmt: skip
            to2.append(f"{m} {' / '.join(ns)} (of {top[0].budget})")
        seeds = sorted({r.seed for rs in mine.values() for r in rs})
        out.append(f"{net} (best known {_fmt(best * scale, '.2f')} {unit}{where}; designs to within 2%, per seed: "
                   + ", ".join(to2) + ")\n")  # fmt: skip
        if len(seeds) > 1:
            out.append(f"Cells with several values: one per seed, in the order {seeds} (of those run).\n")
        out.append("| method | " + " | ".join(f"{b:,}" for b in budgets) + " |")
        out.append("|---|" + "---:|" * len(budgets))
        for m in present:
            cells = [_cell(mine[(m, b)], scale) if (m, b) in mine else "not run" for b in budgets]
            out.append(f"| {m} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path, help="search_quality.py output folders, oldest first")
    ap.add_argument("--out", type=Path, help="write summary.csv, tables.md and convergence PNGs here")
    args = ap.parse_args(argv)
    try:
        merged, units = merge(args.folders)
    except MergeError as e:
        print(f"merge_results: {e}", file=sys.stderr)
        return 2
    if len(units) > 1:
        print(f"merge_results: folders mix objectives (units {sorted(units)}); merge one objective", file=sys.stderr)
        return 2
    if not merged:
        print("merge_results: no runs found in " + ", ".join(map(str, args.folders)), file=sys.stderr)
        return 2
    unit = units.pop()
    scale = SCALES[unit]
    runs = sorted(merged.values(), key=lambda r: (r.network, r.seed, r.budget))
    methods = [m for m in METHODS if any(r.method == m for r in runs)]
    methods += sorted({r.method for r in runs} - set(methods))
    best_known = mark_to_within(runs)
    text = markdown(runs, best_known, scale, unit, methods)
    print(text)
    rows = summarise(runs, methods, scale)
    print_table(rows, unit)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "tables.md").write_text(text)
        with open(args.out / "summary.csv", "w", newline="") as fh:
            wr = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["network"])
            wr.writeheader()
            wr.writerows(rows)
        figs = plot([r for r in runs if r.curve], best_known, args.out, scale, unit, methods)
        print(f"wrote {args.out / 'tables.md'}, {args.out / 'summary.csv'}, " + ", ".join(map(str, figs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
