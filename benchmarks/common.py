"""Helpers shared by the benchmark scripts (run as ``python benchmarks/NAME.py``,
so this folder is on ``sys.path``)."""

from __future__ import annotations

import csv
from pathlib import Path

import workloads as w

ROOT = Path(__file__).resolve().parents[1]


def network(name: str):
    """A zoo network, a workload file's path, or ``tiny_cnn`` (the example workload file, for quick runs)."""
    if name == "tiny_cnn":
        return w.load(ROOT / "workloads/examples/tiny_cnn.yaml")
    return w.load(name) if Path(name).is_file() else w.get(name)


def write_csv(path: Path, rows: list[dict]) -> None:
    """Rows (dicts with the same keys) as a CSV file with a header; nothing when there are none."""
    if not rows:
        return
    with open(path, "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
