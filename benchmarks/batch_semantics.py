"""Issue 17: what the per-sample K/V reading of batched attention changes.

Before issue 17, ``workloads.matmul(..., batch=B)`` shared its second operand
over the batch (N = B, G = heads), so the attention score and context
matmuls of every zoo transformer at ``batch > 1`` read one sequence's K and V
for all B sequences. Now they are built with ``b_shared=False`` (G = heads x B,
N = 1). This script rebuilds each affected zoo network both ways (the old
reading is exactly ``b_shared=True``) and maps both on one design with the
gradient mapper, printing MACs and latency old -> new.

    python benchmarks/batch_semantics.py [--batch 8] [--arch explainable_default] [--models bert_base ...]

At batch 1 the two readings are the same loop nest: no batch-1 figure changes.
"""

from __future__ import annotations

import argparse
from unittest import mock

import jaxdse
import workloads
from workloads import layer as layer_mod
from workloads import zoo

AFFECTED = ("vit_b16", "bert_base", "transformer", "wav2vec2_base")
"""Zoo networks with attention matmuls (the only ``matmul`` layers of the zoo)."""


def old_reading(name: str, batch: int) -> workloads.Network:
    """The network as built before issue 17: attention K/V shared over the batch."""

    def shared(*args, **kw):
        kw["b_shared"] = True
        return layer_mod.matmul(*args, **kw)

    with mock.patch.object(zoo, "matmul", shared):
        return workloads.get(name, batch=batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--arch", default="explainable_default")
    ap.add_argument("--models", nargs="*", default=list(AFFECTED))
    ap.add_argument("--method", default="gradient", help="jaxdse.map_network method [gradient]")
    args = ap.parse_args()
    print(f"batch {args.batch}, arch {args.arch}, mapper {args.method}")
    print(f"{'network':<15} {'GMACs old':>10} {'GMACs new':>10} {'latency ms old':>15} {'new':>10} {'new/old':>8}")
    for name in args.models:
        old, new = old_reading(name, args.batch), workloads.get(name, batch=args.batch)
        lat = [jaxdse.map_network(n, args.arch, method=args.method).total()["latency_s"] * 1e3 for n in (old, new)]
        print(
            f"{name:<15} {old.macs / 1e9:>10.3f} {new.macs / 1e9:>10.3f} {lat[0]:>15.3f} {lat[1]:>10.3f} "
            f"{lat[1] / lat[0]:>7.2f}x"
        )


if __name__ == "__main__":
    main()
