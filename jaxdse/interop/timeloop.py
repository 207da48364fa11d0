"""Timeloop interop: read Timeloop problems, architectures and mappings, write jaxdse's out.

The written files follow Timeloop's v3 input formats (problem + architecture
v0.3 + mapping, https://timeloop.csail.mit.edu/previous_versions/timeloop-accelergy-v3/timeloop/input-formats
and the published examples in Accelergy-Project/timeloop-accelergy-exercises
and NVlabs/timeloop ``problem-shapes/``), so ``timeloop-model arch.yaml
L.problem.yaml L.map.yaml`` evaluates the same loop nest jaxdse evaluated
and any number can be cross-checked. Reading also accepts architecture
v0.2 and v0.4 files. What maps to what, and what is dropped, is stated in
``timeloop_problem``, ``timeloop_arch`` and ``timeloop_mapping``; in short:

* problem: CNN-layer shape (N C K|M P Q R S, Wstride/Hstride/Wdilation/Hdilation)
  <-> ``Layer``; G > 1 as a custom shape with a G dimension; GEMMs as
  Q = R = S = 1 problems.
* architecture: DRAM <-> DMA bandwidth, one-instance buffers <-> L2,
  per-MAC buffers <-> L1, MAC count <-> PEs; NoCs and DMA setup carried in
  ``jaxdse_*`` attributes.
* mapping: DRAM temporal / buffer temporal / buffer spatial / per-PE
  temporal <-> ``temporal[0]`` / ``temporal[1]`` / ``spatial`` / ``temporal[2]``.

Timeloop itself is not needed by these functions.
"""

from __future__ import annotations

import re
from pathlib import Path

from jaxdse.interop.timeloop_arch import LEVEL_NAMES, WORD_BITS_DEFAULT, TimeloopArch, dump_arch, read_arch, write_arch
from jaxdse.interop.timeloop_io import TimeloopError, dump_yaml
from jaxdse.interop.timeloop_mapping import dump_mapping, read_mapping, write_mapping
from jaxdse.interop.timeloop_problem import dump_problem, read_problem, write_problem
from jaxdse.plan import Plan

__all__ = [
    "LEVEL_NAMES",
    "TimeloopArch",
    "TimeloopError",
    "dump_arch",
    "dump_mapping",
    "dump_problem",
    "export_plan",
    "read_arch",
    "read_mapping",
    "read_problem",
    "write_arch",
    "write_mapping",
    "write_problem",
]


def _stem(i: int, name: str) -> str:
    return f"{i:02d}_" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "layer")


def export_plan(plan: Plan, out_dir: str | Path) -> Path:
    """Write a mapped network as Timeloop inputs: one arch, one problem + mapping per layer.

    Files: ``arch.yaml``; ``NN_<layer>.problem.yaml`` and ``NN_<layer>.map.yaml``
    per unique layer; ``index.yaml`` listing each layer's files, repeat
    count, the ``timeloop-model`` command and jaxdse's exact numbers
    (latency cycles, energy, MACs, legality) to compare with.

    Timeloop words have one size per level; the word size written is the
    layers' common precision, else 16 bits (noted in ``index.yaml``).

    Returns:
        The path of ``index.yaml``.

    Raises:
        TimeloopError: a mapping pads a dimension (nothing is written then).
    """
    layers = plan.network.layers
    mapping_docs = [write_mapping(m, layer) for m, layer in zip(plan.mappings, layers)]  # raises before writing
    bits = {b for layer in layers for b in layer.bits}
    word_bits = next(iter(bits)) if len(bits) == 1 else WORD_BITS_DEFAULT
    notes = []
    if len(bits) > 1:
        notes.append(
            f"layers mix operand precisions; Timeloop words are {word_bits} bits at every level, so its "
            f"capacities in words differ from jaxdse's in bytes for other precisions"
        )
    out = Path(out_dir)
    dump_yaml(write_arch(plan.arch, word_bits), out / "arch.yaml")
    entries = []
    for i, (layer, count, doc) in enumerate(zip(layers, plan.network.counts, mapping_docs)):
        stem = _stem(i, layer.name)
        dump_problem(layer, out / f"{stem}.problem.yaml")
        dump_yaml(doc, out / f"{stem}.map.yaml")
        c = plan.layer_costs(i)
        entries.append(
            {
                "name": layer.name,
                "count": count,
                "problem": f"{stem}.problem.yaml",
                "mapping": f"{stem}.map.yaml",
                "timeloop_model": f"timeloop-model arch.yaml {stem}.problem.yaml {stem}.map.yaml",
                "jaxdse": {
                    "macs": layer.macs,
                    "latency_cycles": float(c.latency_cycles),
                    "energy_pj": float(c.energy_total_pj),
                    "legal": bool(c.legal > 0),
                    "loop_nest": plan.mappings[i].describe(),
                },
            }
        )
    index = {
        "network": plan.network.name,
        "arch": "arch.yaml",
        "word_bits": word_bits,
        "mapping_method": plan.method,
        "notes": notes,
        "layers": entries,
    }
    return dump_yaml(index, out / "index.yaml")
