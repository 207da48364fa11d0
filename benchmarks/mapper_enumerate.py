"""Enumerating mappers: time to build the pruned top-N space and to score it, per layer.

For a few ResNet-50, BERT-base and Transformer layers on ``explainable_default``:
pruned-space enumeration time (NumPy, host), scoring time (exact model, fixed
chunks; compiled once before timing), candidates, thresholds reached and the
best latency. Also the exhaustive mapper on a small layer (whole space) with
the pruned mapper's best on it for comparison.

    python benchmarks/mapper_enumerate.py
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np

import costmodels as cm
import workloads as w
from jaxdse.mapper import enumerate as en


def _best_of(fn, reps: int = 3):
    out, best = None, float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def main() -> None:
    arch = cm.preset("explainable_default")
    resnet, bert = w.get("resnet50").layers, w.get("bert_base").layers
    layers = [resnet[i] for i in (0, 2, 12, 19, 20, 23)] + [bert[i] for i in (0, 1, 3, 4)]
    layers.append(w.get("transformer").layers[5])
    en.pruned(layers[0], arch, "latency", None, None)  # compile the scorer once
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores; explainable_default")
    print(
        f"{'layer':28s} {'enum ms':>8s} {'score ms':>9s} {'cands':>6s} {'rounds':>6s}  thresholds        best latency"
    )
    for layer in layers:
        sp, t_enum = _best_of(lambda layer=layer: en.pruned_space(layer, arch))
        cand, t_all = _best_of(lambda layer=layer: en.pruned(layer, arch, "latency", None, None))
        thr = "/".join(f"{v:.2g}" for v in sp.thresholds)
        print(
            f"{layer.name:28s} {t_enum * 1e3:8.1f} {(t_all - t_enum) * 1e3:9.1f} {sp.n_candidates:6d} "
            f"{sp.rounds:6d}  {thr:16s}  {np.min(cand.objective):12.0f}"
        )
    small = w.raw("small", dict(K=4, C=4, P=4, Q=2, R=3))
    for name in ("tiny", "explainable_default"):
        a = cm.preset(name)
        ex, t_ex = _best_of(lambda a=a: en.exhaustive(small, a, "latency", None, None), reps=2)
        pr = en.pruned(small, a, "latency", None, None)
        print(
            f"small layer on {name}: exhaustive best {np.min(ex.objective):.0f} cycles "
            f"({ex.exact_evaluations:,} scored, {t_ex:.2f} s); pruned best {np.min(pr.objective):.0f} "
            f"({pr.exact_evaluations} scored)"
        )


if __name__ == "__main__":
    main()
