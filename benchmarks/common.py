"""Helpers shared by the benchmark scripts (run as ``python benchmarks/NAME.py``,
so this folder is on ``sys.path``)."""

from __future__ import annotations

from pathlib import Path

import workloads as w

ROOT = Path(__file__).resolve().parents[1]


def network(name: str):
    """A zoo network, or ``tiny_cnn`` (the example workload file, for quick runs)."""
    return w.load(ROOT / "workloads/examples/tiny_cnn.yaml") if name == "tiny_cnn" else w.get(name)
