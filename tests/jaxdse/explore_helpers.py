"""Shared by the explorer, report and resume tests: a small design space, the tiny
example network, and a result dict with its timings removed."""

from pathlib import Path

import workloads as w
from jaxdse.codesign import DesignSpace, table1_space

ROOT = Path(__file__).resolve().parents[2]
TINY_NET = w.load(ROOT / "workloads/examples/tiny_cnn.yaml")


def small_space() -> DesignSpace:
    """Table 1 cut down to 1,152 designs (small enough to enumerate)."""
    v = dict(table1_space().values)
    v.update(
        num_pes=(64.0, 128.0, 256.0),
        l1_bytes=(16.0, 64.0),
        l2_kib=(64.0, 256.0),
        dram_mb_per_s=(1024.0, 4096.0, 12800.0),
        noc_width_bits=(32.0, 64.0),
        **{f"links_{k}": (4.0, 16.0) for k in ("inputs", "weights", "psum", "writes")},
        **{f"virtual_{k}": (8.0,) for k in ("inputs", "weights", "psum", "writes")},
    )
    return DesignSpace(values=v)


PROVENANCE = ("date_utc", "command_line")
"""Keys of result.json's ``run`` that differ between runs of the same settings (when, and how started)."""


def without_timings(d):
    """``d`` (result.json or plan JSON) without its timings (``wall_s``, ``search_wall_s``) and
    provenance (``PROVENANCE``), at any depth."""
    if isinstance(d, dict):
        return {k: without_timings(v) for k, v in d.items() if not k.endswith("wall_s") and k not in PROVENANCE}
    if isinstance(d, list):
        return [without_timings(x) for x in d]
    return d
