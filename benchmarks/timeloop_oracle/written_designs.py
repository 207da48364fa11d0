"""Timeloop v3.0.3 on designs jaxdse writes: every hierarchy preset, random legal mappings.

For each preset of ``costmodels.hierarchy_preset_names()`` and a few zoo layers,
draws random mappings (``jaxdse.hierarchy_plan.random_nest_mappings``), keeps
those our exact model calls legal and ``write_design`` can express, writes them
with ``jaxdse.interop.timeloop_design.export_design``, runs ``timeloop-model`` on
the written files (link transfers off: jaxdse does not model them, see
README.md here) and stores Timeloop's per-level, per-tensor reads / fills /
updates totals and its cycle count in
``tests/data/timeloop_oracle/written_designs.json``.
``tests/jaxdse/test_timeloop_design.py`` checks our counts against them.

    TIMELOOP_MODEL=/path/to/wrapper python benchmarks/timeloop_oracle/written_designs.py [--per-layer 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

import jax
import numpy as np

import costmodels as cm
import workloads as w
from costmodels.compile import jit
from jaxdse.hierarchy_plan import random_nest_mappings
from jaxdse.interop import read_stats
from jaxdse.interop.timeloop_design import export_design
from jaxdse.interop.timeloop_io import TimeloopError

OUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "timeloop_oracle" / "written_designs.json"
LAYERS = (
    ("resnet18", "conv3_x.b1.conv2"),
    ("resnet18", "conv2_x.b1.conv1"),
    ("mobilenet_v2", None),  # a random small layer
    ("bert_base", None),
)
TIMELOOP_MODEL = os.environ.get("TIMELOOP_MODEL", "/work/timeloop-build/timeloop-model")
_BATCH = jit(jax.vmap(cm.evaluate_hierarchy, in_axes=(None, None, 0)))


def _layer(net: str, name: str | None, rng: np.random.Generator) -> w.Layer:
    layers = w.get(net).layers
    if name is not None:
        return next(lay for lay in layers if lay.name == name)
    small = [lay for lay in layers if lay.macs < 3e7]
    return small[int(rng.integers(len(small)))]


def run_timeloop(files: dict[str, Path]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELOOP_")}
    env["TIMELOOP_DISABLE_LINK_TRANSFERS"] = "1"
    folder = files["arch"].parent
    p = subprocess.run(
        [TIMELOOP_MODEL, "arch.yaml", "problem.yaml", "map.yaml"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    stats = folder / "timeloop-model.stats.txt"
    if p.returncode != 0 or not stats.exists():
        return {"ok": False, "error": (p.stdout + p.stderr)[-600:]}
    s = read_stats(stats)
    levels = []
    for lv in s["levels"]:
        tensors = {}
        for t, d in lv["tensors"].items():
            n = d["utilized_instances_max"]
            tensors[t] = {f"{k}_total": d[f"scalar_{k}_per_instance"] * n for k in ("reads", "fills", "updates")}
        levels.append({"name": lv["name"], "tensors": tensors})
    return {"ok": True, "cycles": s["summary"]["cycles"], "levels": levels}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-layer", type=int, default=2, help="mappings per (preset, layer)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--presets", help="comma-separated presets (default: all); other presets' cases are kept")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    presets = args.presets.split(",") if args.presets else list(cm.hierarchy_preset_names())
    old = json.loads(OUT.read_text()) if OUT.exists() else {"cases": [], "timeloop_refused": []}
    cases = [c for c in old["cases"] if c["preset"] not in presets]
    failed = [c for c in old["timeloop_refused"] if c["preset"] not in presets]
    for preset in presets:
        hier = cm.hierarchy_preset(preset)
        for net, name in LAYERS:
            layer = _layer(net, name, rng)
            ms = random_nest_mappings(layer, hier, 400, rng)
            c = _BATCH(hier, cm.layer_arrays(layer), ms)
            legal = np.nonzero(np.asarray(c.legal) > 0)[0][1:]  # candidate 0 is all-at-DRAM
            taken = 0
            for i in rng.permutation(legal):
                if taken == args.per_layer:
                    break
                m = jax.tree_util.tree_map(lambda x, i=i: x[i], ms)
                with tempfile.TemporaryDirectory() as d:
                    try:
                        files = export_design(hier, m, layer, d)
                    except TimeloopError:
                        continue  # e.g. one dim on both X and Y of a one-stage fan-out
                    tl = run_timeloop(files)
                case = {
                    "preset": preset,
                    "network": net,
                    "layer": layer.name,
                    "mapping": {k: np.asarray(getattr(m, k)).tolist() for k in ("temporal", "order", "spatial")},
                }
                if not tl["ok"]:
                    failed.append({**case, "error": tl["error"]})
                    continue
                cases.append({**case, "timeloop": {"cycles": tl["cycles"], "levels": tl["levels"]}})
                taken += 1
            print(f"{preset:20s} {layer.name:28s} {taken} cases", flush=True)
            _write(args.seed, cases, failed)  # after every layer: an interrupted run keeps what it has
    print(f"wrote {OUT}: {len(cases)} cases, Timeloop refused {len(failed)}")


def _write(seed: int, cases: list, failed: list) -> None:
    doc = {
        "source": "timeloop-model v3.0.3 (NVlabs/timeloop, built without ISL/Accelergy; "
        "TIMELOOP_DISABLE_LINK_TRANSFERS=1) on files written by jaxdse.interop.timeloop_design.export_design; "
        "made by benchmarks/timeloop_oracle/written_designs.py",
        "seed": seed,
        "cases": cases,
        "timeloop_refused": failed,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
