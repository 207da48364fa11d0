"""Throughput against device count and batch size (``costmodels.sharding``).

For each device count D the measurement runs in a fresh process started with
``XLA_FLAGS=--xla_force_host_platform_device_count=D`` (on a CPU host;
on a GPU/TPU host pass ``--real`` to use the real local devices, D up to
their count). Per process:

- exact evaluations/s of ``costmodels.evaluate_sharded`` (the batch split over
  D devices) for each batch size, random legal-or-not mappings of one
  ResNet-18 layer, median of ``--repeats`` timed calls after a compile call;
- seconds to map 8 ResNet-18 layers with the gradient mapper (the layer axis
  split over D devices), after a compile call (skipped by ``--quick``).

Ratios are against D = 1 measured by the same script in the same
invocation. Simulated CPU devices share the host's cores: one XLA:CPU
device keeps only part of them busy on this model, so one device per core
is faster on large batches (``costmodels.sharding.use_cpu_cores``), and
more devices than cores give part of that back. Batches below
``MIN_ITEMS_PER_DEVICE`` per device are not split, so at small sizes the
rows compare processes, not splits.

    python benchmarks/scaling.py --quick        # D in 1, 2; batches 1e3, 1e4
    python benchmarks/scaling.py                # D in 1, 2, 4, 8; batches 1e3..1e5; mapper too
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

WORKER = "--worker"


def worker(batches: list[int], repeats: int, mapper: bool) -> dict:
    import jax
    import numpy as np

    import costmodels as cm
    from costmodels import sharding
    from jaxdse import map_network
    from jaxdse.mapspace import random_mappings
    from workloads import Network, get

    arch = cm.get_arch("explainable_default")
    net = get("resnet18")
    layer = net.layers[3]
    la = cm.layer_arrays(layer)
    rng = np.random.default_rng(0)
    out = {"devices": sharding.device_count(), "platform": jax.default_backend(), "evals_per_s": {}}
    for b in batches:
        ms = random_mappings(layer, b, rng)
        jax.block_until_ready(cm.evaluate_sharded(arch, la, ms).latency_cycles)  # compile
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            jax.block_until_ready(cm.evaluate_sharded(arch, la, ms).latency_cycles)
            times.append(time.perf_counter() - t)
        out["evals_per_s"][b] = b / float(np.median(times))
    if mapper:
        sub = Network("resnet18_first8", net.layers[:8], net.counts[:8])
        map_network(sub, arch, seed=0)  # compile
        times = []
        for s in range(repeats):
            t = time.perf_counter()
            map_network(sub, arch, seed=s)
            times.append(time.perf_counter() - t)
        out["map_s"] = float(np.median(times))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="devices 1,2; batches 1e3,1e4; no mapper")
    ap.add_argument("--devices", help="comma-separated device counts (default 1,2,4,8)")
    ap.add_argument("--batches", help="comma-separated batch sizes (default 1000,10000,100000)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--real", action="store_true", help="real local devices (GPU/TPU), not simulated CPUs")
    ap.add_argument("--out", help="also write the measurements as JSON to this file")
    ap.add_argument(WORKER, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    batches = [int(x) for x in (args.batches or ("1000,10000" if args.quick else "1000,10000,100000")).split(",")]
    mapper = not args.quick
    if args.worker is not None:
        print(json.dumps(worker(batches, args.repeats, mapper)))
        return 0
    devices = [int(x) for x in (args.devices or ("1,2" if args.quick else "1,2,4,8")).split(",")]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {sys.version.split()[0]}")
    results = []
    for d in devices:
        env = dict(os.environ)
        if args.real:
            env["JAXDSE_MAX_DEVICES"] = str(d)
        else:
            env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={d}".strip()
            env["JAX_PLATFORMS"] = "cpu"
        cmd = [sys.executable, __file__, WORKER, str(d), "--batches", ",".join(map(str, batches))]
        cmd += ["--repeats", str(args.repeats)] + (["--quick"] if args.quick else [])
        run = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if run.returncode != 0:
            print(f"D={d}: worker failed:\n{run.stderr[-2000:]}")
            return 1
        r = json.loads(run.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"  measured D={r['devices']} ({r['platform']})", flush=True)
    base = results[0]
    head = f"{'devices':>7} " + " ".join(f"{'evals/s @' + format(b, ','):>18} {'ratio':>6}" for b in batches)
    if mapper:
        head += f" {'map 8 layers s':>14} {'speedup':>7}"
    print()
    print(head)
    print("-" * len(head))
    for r in results:
        line = f"{r['devices']:>7} "
        line += " ".join(
            f"{r['evals_per_s'][str(b)]:>18,.0f} {r['evals_per_s'][str(b)] / base['evals_per_s'][str(b)]:>6.2f}"
            for b in batches
        )
        if mapper:
            line += f" {r['map_s']:>14.2f} {base['map_s'] / r['map_s']:>7.2f}"
        print(line)
    print("\nratio / speedup: against the first device count, measured in this invocation")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
