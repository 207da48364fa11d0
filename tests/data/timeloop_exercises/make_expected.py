"""Write expected.json and neutral.json for each design folder here (run from the repository root).

    PYTHONPATH=$PWD python tests/data/timeloop_exercises/make_expected.py

expected.json: Timeloop's own counts from ``timeloop-mapper.stats.txt`` (via
``jaxdse.interop.timeloop_stats.read_stats``): per storage level (outermost
first) and data space, the utilised instances, the scalar reads / fills /
updates per instance and their totals (per instance x utilised instances), and
the cycle count and computes.

neutral.json: the design as plain data (via ``jaxdse.interop.timeloop_tree``):
the storage levels outermost first (including the ``inter_*_spatial`` levels
Timeloop makes from v0.4 containers), the compute level, the mapping per level
and the problem. ``keep`` is what Timeloop used: the mapping's datatype
directive for the level (``keep_source: "mapping"``), else the architecture's
constraint (``"arch"``), else kept (``"default"``).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from jaxdse.interop.timeloop_stats import read_stats
from jaxdse.interop.timeloop_tree import read_arch_tree, read_mapping_tree, read_problem_tree

HERE = Path(__file__).resolve().parent
DESIGNS = ("eyeriss_like", "simba_like", "simple_weight_stationary", "simple_output_stationary")
STATS = "timeloop-mapper.stats.txt"


def expected(folder: Path) -> dict:
    s = read_stats(folder / STATS)
    levels = []
    for lv in s["levels"]:
        tensors = {}
        for name, t in lv["tensors"].items():
            n = t["utilized_instances_max"]
            tensors[name] = {
                "utilized_instances": n,
                "utilized_capacity": t["utilized_capacity"],
                "reads_per_instance": t["scalar_reads_per_instance"],
                "fills_per_instance": t["scalar_fills_per_instance"],
                "updates_per_instance": t["scalar_updates_per_instance"],
                "reads_total": t["scalar_reads_per_instance"] * n,
                "fills_total": t["scalar_fills_per_instance"] * n,
                "updates_total": t["scalar_updates_per_instance"] * n,
            }
        levels.append(
            {
                "name": lv["name"],
                "level_index": lv["level_index"],
                "instances": lv["specs"]["instances"],
                "cycles": lv["stats"]["cycles"],
                "tensors": tensors,
            }
        )
    mac = s["arithmetic"]
    return {
        "source": f"{folder.name}/{STATS}",
        "order": "levels outermost first; counts are scalar words; totals = per-instance x utilized_instances",
        "cycles": s["summary"]["cycles"],
        "computes": s["summary"]["computes"],
        "arithmetic": {
            "name": mac["name"],
            "instances": mac["specs"]["instances"],
            "utilized_instances": mac["stats"]["utilized_instances"],
            "computes": mac["stats"]["computes_total"],
            "cycles": mac["stats"]["cycles"],
        },
        "levels": levels,
        "hidden_levels": s["hidden_levels"],
    }


def neutral(folder: Path) -> dict:
    problem = read_problem_tree(folder / "default_problem.yaml")
    dims = problem["dimensions"]
    arch = read_arch_tree(folder / "arch.yaml")
    mapping = read_mapping_tree(folder / "timeloop-mapper.map.yaml", dims)
    names = [lv["name"] for lv in arch["storage"]]
    if set(mapping) != set(names):
        raise ValueError(f"{folder.name}: mapping targets {sorted(mapping)} differ from storage levels {sorted(names)}")
    spaces = [d["name"] for d in problem["data_spaces"]]
    storage = []
    for lv in arch["storage"]:
        m = mapping[lv["name"]]
        if "keep" in m:
            keep, source = {d: d in m["keep"] for d in spaces}, "mapping"
            if set(m["keep"]) & set(m["bypass"]) or set(m["keep"]) | set(m["bypass"]) != set(spaces):
                raise ValueError(f"{folder.name}: {lv['name']}: mapping keep/bypass not a partition of {spaces}")
        elif lv["arch_keep"] is not None or lv["arch_bypass"]:
            bypass = set(lv["arch_bypass"] or [])
            keep, source = {d: d not in bypass for d in spaces}, "arch"
        else:
            keep, source = dict.fromkeys(spaces, True), "default"
        storage.append(
            {
                **lv,
                "mapping_keep": m.get("keep"),
                "mapping_bypass": m.get("bypass"),
                "keep": keep,
                "keep_source": source,
            }
        )
    loops = []
    for lv in arch["storage"]:
        m = mapping[lv["name"]]
        loops.append({"target": lv["name"], "temporal": m.get("temporal"), "spatial": m.get("spatial")})
    for d in dims:
        product = math.prod((lp[k]["factors"][d] if lp[k] else 1) for lp in loops for k in ("temporal", "spatial"))
        if product != problem["bounds"][d]:
            raise ValueError(
                f"{folder.name}: factors of {d} multiply to {product}, not the bound {problem['bounds'][d]}"
            )
    for lp, lv in zip(loops, arch["storage"]):
        sp = lp["spatial"]
        if sp and (math.prod(sp["x"].values()) > lv["fanout"]["x"] or math.prod(sp["y"].values()) > lv["fanout"]["y"]):
            raise ValueError(f"{folder.name}: {lv['name']}: spatial factors exceed the fanout {lv['fanout']}")
    return {
        "sources": {
            "architecture": f"{folder.name}/arch.yaml",
            "mapping": f"{folder.name}/timeloop-mapper.map.yaml",
            "problem": f"{folder.name}/default_problem.yaml",
        },
        "notes": [
            "storage: outermost first; inter_*_spatial levels (dummy: true) are the spatial levels timeloopfe "
            "makes from v0.4 containers (see parsed-processed-input.yaml)",
            "fanout: from this level to the next inner one (the compute level for the last): x = meshX ratio, "
            "y = meshY ratio, total = instance ratio; meshX/meshY multiply through the containers' spatial meshes",
            "specs: block_size, cluster_size and size_words as NVlabs/timeloop src/model/buffer.cpp derives them "
            "from width, datawidth, depth",
            "keep: from the mapping's datatype directive (mapping_keep/mapping_bypass); arch_keep/arch_bypass are the "
            "architecture's constraints.dataspace lists (None: not given)",
            "mapping: one entry per storage level, outermost first; permutation strings as Timeloop writes them "
            "(innermost first); spatial loops of a level fan out from it to the next inner level; dims at index "
            "< split of the spatial permutation go to X, the rest to Y (src/mapping/parser.cpp)",
        ],
        "storage": storage,
        "compute": arch["compute"],
        "mapping": loops,
        "problem": problem,
    }


def main(check: bool = False) -> int:
    stale = []
    for design in DESIGNS:
        folder = HERE / design
        for name, data in (("expected.json", expected(folder)), ("neutral.json", neutral(folder))):
            text = json.dumps(data, indent=1) + "\n"
            path = folder / name
            if check:
                if not path.exists() or path.read_text() != text:
                    stale.append(str(path))
            else:
                path.write_text(text)
    if stale:
        print("stale:", *stale, sep="\n  ")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(check="--check" in sys.argv))
