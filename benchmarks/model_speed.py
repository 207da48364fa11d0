"""Cost-model throughput: exact evaluations/s and relaxed value+gradient/s.

Batches of random exact factorisations (with random loop orders) of one
ResNet-50 layer (conv3_x 3x3, 128 -> 128 channels, 28x28) on the
``explainable_default`` design, and on the five-level ``eyeriss_like``
hierarchy (general model, Timeloop-exact counts). An "exact evaluation" returns latency,
energy and the legality flag of one mapping (the numbers a search needs);
a "relaxed value+gradient" is log(latency) + log(energy) + penalty of the
relaxed model and its gradient w.r.t. the mapping's factors.

Also times the same evaluation one mapping at a time from Python (the way a
black-box search loop would call a model) as the in-process baseline, and
prints the ratio.

    python benchmarks/model_speed.py [--quick] [--csv FILE] [--cpu-devices N]

Batches are split over one JAX CPU device per core (``costmodels.sharding.use_cpu_cores``
and ``map_batch``): one XLA:CPU device keeps only 1.5-1.7 of 2 cores busy on this model.
At the largest batch the three target figures are also timed on one device (the default
of a process that does not ask for the split), with the split's gain.

Ends with the three figures at the largest batch against the targets of
issue 13 (section 6, on 2 CPU cores): ``explainable_default`` exact
>= 1e6/s, ``eyeriss_like`` exact >= 5e5/s, relaxed value+gradient
>= 2.5e5/s, and the load average while it ran (the machine may be shared).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

import costmodels as cm
import workloads as w
from costmodels import sharding
from costmodels.compile import jit
from costmodels.sharding import map_batch, place_batch, use_cpu_cores
from jaxdse.hierarchy_plan import random_nest_mappings
from jaxdse.mapspace import random_mappings

TARGETS = {
    "explainable_default exact evals/s": 1e6,
    "eyeriss_like exact evals/s": 5e5,
    "relaxed value+grad/s": 2.5e5,
}
"""Issue 13, section 6 ("Speed stays"): rates on 2 CPU cores at the largest batch."""


def _time(fn, *args, reps: int = 3) -> float:
    jax.block_until_ready(fn(*args))  # compile + warm up
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small batches only (CI smoke run)")
    ap.add_argument("--csv", help="also write the table as CSV")
    ap.add_argument(
        "--cpu-devices",
        type=int,
        default=None,
        help="JAX CPU devices to split batches over (default: one per core; 1 = one device, as before)",
    )
    args = ap.parse_args()
    devices = use_cpu_cores(args.cpu_devices)

    layer = w.conv2d("resnet50.conv3_x.conv2", 128, 128, 28, 3)
    arch = cm.preset("explainable_default")
    la = cm.layer_arrays(layer)
    rng = np.random.default_rng(0)
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000]

    def exact_one(m):
        c = cm.evaluate(arch, la, m)
        return c.latency_cycles, c.energy_total_pj, c.legal

    def relaxed_obj(temporal, spatial, order):
        c = cm.evaluate(arch, la, cm.Mapping(temporal, spatial, order), cm.Relaxed(0.05))
        return jnp.log(c.latency_cycles) + jnp.log(c.energy_total_pj) + c.penalty

    vg = jax.value_and_grad(relaxed_obj, argnums=(0, 1))

    def relaxed_one(x):
        return vg(*x)

    # Baseline: one mapping per Python call of the jitted single evaluation.
    one = jit(lambda m: (lambda c: (c.latency_cycles, c.energy_total_pj, c.legal))(cm.evaluate(arch, la, m)))
    m1 = random_mappings(layer, 200, rng, max_spatial=256)
    singles = [jax.tree_util.tree_map(lambda x, i=i: jnp.asarray(x[i]), m1) for i in range(200)]
    jax.block_until_ready(one(singles[0]))
    t = time.perf_counter()
    for s in singles:
        jax.block_until_ready(one(s))
    loop_rate = len(singles) / (time.perf_counter() - t)

    # The five-level eyeriss_like hierarchy on the general model (padded to MAX_LEVELS levels).
    hier = cm.hierarchy_preset("eyeriss_like")

    def exact_hier_one(m):
        c = cm.evaluate_hierarchy(hier, la, m)
        return c.latency_cycles, c.energy_total_pj, c.legal

    def compiled():
        """The three batched functions, each compiled afresh (a jit traced under
        ``sharding.disabled()`` runs on one device)."""
        return (
            jit(lambda m: map_batch(exact_one, m)),
            jit(lambda m: map_batch(exact_hier_one, m)),
            jit(lambda m: map_batch(relaxed_one, (m.temporal, m.spatial, m.order))),
        )

    exact, exact_hier, relaxed = compiled()

    rows = []
    load_start = os.getloadavg()[0]
    for n in sizes:
        m = place_batch(random_mappings(layer, n, rng, max_spatial=256))
        t_exact = _time(exact, m)
        t_rel = _time(relaxed, m)
        mh = place_batch(random_nest_mappings(layer, hier, n, rng))
        t_hier = _time(exact_hier, mh)
        rows.append((n, n / t_exact, n / t_rel, (n / t_exact) / loop_rate, n / t_hier))

    # The same three at the largest batch with everything on one device (the default of a
    # process that did not call use_cpu_cores), timed here so the split's gain is measured.
    one_device = None
    if devices > 1:
        with sharding.disabled():
            exact1, hier1, rel1 = compiled()
            m1d, mh1d = jax.device_put(jax.device_get(m)), jax.device_put(jax.device_get(mh))
            one_device = (n / _time(exact1, m1d), n / _time(hier1, mh1d), n / _time(rel1, m1d))

    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, jax {jax.__version__} on {jax.devices()[0].platform}, "
        f"batches split over {devices} device(s) (costmodels.sharding.map_batch)"
    )
    print(f"layer: {layer.describe()}  design: explainable_default")
    print(f"baseline: one mapping per Python call: {loop_rate:,.0f} exact evals/s")
    print(
        f"{'batch':>10} {'exact evals/s':>15} {'relaxed val+grad/s':>20} {'exact vs baseline':>18} "
        f"{'eyeriss_like exact/s':>21}"
    )
    for n, e, r, ratio, h in rows:
        print(f"{n:>10,} {e:>15,.0f} {r:>20,.0f} {ratio:>17.0f}x {h:>21,.0f}")
    n, e, r, _, h = rows[-1]
    print(f"targets at batch {n:,} (load average {load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end):")
    for (name, target), got in zip(TARGETS.items(), (e, h, r)):
        print(f"  {name:<36} {got:>12,.0f}  target >= {target:>9,.0f}  {'met' if got >= target else 'MISSED'}")
    if one_device is not None:
        print(f"the same on one device (what a process gets without use_cpu_cores), batch {n:,}:")
        for (name, target), got, split in zip(TARGETS.items(), one_device, (e, h, r)):
            print(
                f"  {name:<36} {got:>12,.0f}  target >= {target:>9,.0f}  {'met' if got >= target else 'MISSED'}"
                f"  (split over {devices}: {split / got:.2f}x)"
            )
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            wr = csv.writer(fh)
            wr.writerow(
                [
                    "batch",
                    "exact_evals_per_s",
                    "relaxed_value_grad_per_s",
                    "exact_vs_python_loop",
                    "eyeriss_like_exact_evals_per_s",
                ]
            )
            wr.writerows(rows)


if __name__ == "__main__":
    main()
