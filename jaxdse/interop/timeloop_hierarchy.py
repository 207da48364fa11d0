"""Timeloop designs as general hierarchies: every level kept, nothing merged.

``load_design(arch, mapping, problem)`` reads Timeloop's own files (through
``timeloop_tree``) and returns the ``costmodels.Hierarchy``, the
``NestMapping`` Timeloop's mapping describes and the ``workloads.Layer``.

* Each storage level becomes a level, in Timeloop's order, with its keep
  set (the mapping's datatype directives, else the architecture's
  constraints), capacity (``size_words`` x ``datawidth``), word bits,
  multiple buffering and read/write bandwidth.
* A level that keeps nothing and has no temporal loop > 1 (timeloopfe's
  ``inter_*_spatial`` dummy levels, Eyeriss's DummyBuffer) only fans out:
  its X and Y fan-outs and spatial loops join those of the level above
  (loops of the same dim multiply: the tiles they reach are the same), so a
  design fits ``MAX_LEVELS``. Anything else is kept as a level; deeper
  hierarchies are refused with a named error.
* Energies and areas default to ``costmodels.technology`` (Timeloop's
  Accelergy figures are not read); counts and cycles are Timeloop's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from costmodels import Hierarchy, NestMapping, hierarchy_from_dict
from costmodels.nest_mapping import MAX_LEVELS
from jaxdse.interop.timeloop_io import TimeloopError
from jaxdse.interop.timeloop_problem import read_problem
from jaxdse.interop.timeloop_tree import read_arch_tree, read_mapping_tree, read_problem_tree
from workloads import DIMS, Layer

_TENSOR_OF = {"Inputs": "inputs", "Weights": "weights", "Outputs": "outputs"}


def _dim(name: str) -> int:
    return DIMS.index("K" if name == "M" else name)


def _keeps(level: dict, directive: dict) -> list[str]:
    """What Timeloop keeps at a level: the mapping's datatype directive, else the
    architecture's keep/bypass constraints, else everything."""
    tensors = ("Inputs", "Weights", "Outputs")
    if "keep" in directive:
        kept = [t for t in tensors if t in directive["keep"]]
    elif level.get("arch_keep") is not None or level.get("arch_bypass"):
        bypass = set(level.get("arch_bypass") or []) | {
            t for t in tensors if level.get("arch_keep") is not None and t not in level["arch_keep"]
        }
        kept = [t for t in tensors if t not in bypass]
    else:
        kept = list(tensors)
    return [_TENSOR_OF[t] for t in kept]


def design_from_tree(arch: dict, mapping: dict, source: str = "timeloop design") -> tuple[Hierarchy, NestMapping]:
    """Neutral arch + mapping data (``read_arch_tree`` / ``read_mapping_tree``) -> hierarchy and mapping."""
    storage = arch["storage"]
    by_target = mapping
    levels: list[dict] = []
    temporal: list[np.ndarray] = []
    order: list[list[int]] = []
    spatial: list[np.ndarray] = []
    for i, lv in enumerate(storage):
        m = by_target.get(lv["name"], {})
        t = np.ones(8)
        perm: list[int] = []
        tm = m.get("temporal") or {}
        for d, f in (tm.get("factors") or {}).items():
            t[_dim(d)] = f
        perm = [_dim(c) for c in (tm.get("permutation") or "")][::-1]  # Timeloop writes innermost first
        sp = np.ones((2, 8))
        sm = m.get("spatial") or {}
        for axis, key in enumerate(("x", "y")):
            for d, f in (sm.get(key) or {}).items():
                sp[axis, _dim(d)] *= f
        fan = lv.get("fanout") or {"x": 1, "y": 1}
        keeps = _keeps(lv, m)
        only_fans_out = i > 0 and not keeps and (t == 1).all()
        if only_fans_out:
            prev = levels[-1]
            fx, fy = prev["fanout"]
            prev["fanout"] = [fx * int(fan["x"]), fy * int(fan["y"])]
            # Two Timeloop spatial levels folded into one fan-out: an X-only stage above a
            # Y-only one keeps Timeloop's per-level multicast (xy_stages); anything else is refused.
            x_only = (spatial[-1][1] == 1).all() and (sp[0] == 1).all()
            folded = (spatial[-1] != 1).any() and (sp != 1).any()
            if folded and not x_only:
                raise TimeloopError(
                    f"{source}: level '{lv['name']}' expected to fan out on Y below an X-only fan-out of "
                    f"'{prev['name']}' (to fold into one X x Y fan-out), found other spatial loops"
                )
            if folded:
                prev["xy_stages"] = True
            spatial[-1] = spatial[-1] * sp
            continue
        entry: dict[str, Any] = {"name": lv["name"], "keep": keeps, "fanout": [int(fan["x"]), int(fan["y"])]}
        if i > 0:
            words = lv.get("size_words")
            if words is None:
                raise TimeloopError(f"{source}: level '{lv['name']}' expected a depth (size in words), found none")
            entry["capacity_bytes"] = float(words) * float(lv.get("datawidth") or lv.get("word_bits") or 16) / 8.0
        entry["word_bits"] = int(lv.get("datawidth") or lv.get("word_bits") or 16)
        if lv.get("multiple_buffering"):
            entry["buffers"] = int(round(float(lv["multiple_buffering"])))
        if lv.get("read_bandwidth"):
            entry["read_bandwidth_words"] = float(lv["read_bandwidth"])
        if lv.get("write_bandwidth"):
            entry["write_bandwidth_words"] = float(lv["write_bandwidth"])
        levels.append(entry)
        temporal.append(t)
        order.append([d for d in range(8) if d not in perm] + perm)
        spatial.append(sp)
    if len(levels) > MAX_LEVELS:
        raise TimeloopError(
            f"{source}: field 'architecture' expected at most {MAX_LEVELS} storage levels that keep data "
            f"(after folding fan-out-only levels), found {len(levels)}: {[lv['name'] for lv in levels]}"
        )
    compute = arch.get("compute") or {}
    spec = {"name": source, "levels": levels, "compute": {"bits": int(compute.get("word_bits") or 16)}}
    hier = hierarchy_from_dict(spec, source=source)
    pad = MAX_LEVELS - len(levels)
    t = np.concatenate([np.stack(temporal), np.ones((pad, 8))])
    o = np.concatenate([np.asarray(order), np.tile(np.arange(8), (pad, 1))])
    s = np.concatenate([np.stack(spatial), np.ones((pad, 2, 8))])
    nm = NestMapping(
        temporal=jnp.asarray(t, jnp.float32), order=jnp.asarray(o, jnp.int32), spatial=jnp.asarray(s, jnp.float32)
    )
    return hier, nm


def load_design(arch: str | Path, mapping: str | Path, problem: str | Path) -> tuple[Hierarchy, NestMapping, Layer]:
    """Read a Timeloop design (architecture, mapping, problem files) as jaxdse objects.

    The layer's operand bits are the word width of the innermost level that
    keeps each operand (Timeloop counts capacity in words of each level:
    Eyeriss's 8-bit activations and weights with 16-bit partial sums).
    """
    layer = read_problem(problem)
    arch_tree = read_arch_tree(arch)
    dims = read_problem_tree(problem)["dimensions"]  # the problem's own names (M or K, G when grouped)
    mapping_tree = read_mapping_tree(mapping, dims)
    hier, nm = design_from_tree(arch_tree, mapping_tree, source=f"timeloop design '{Path(str(arch)).name}'")
    keep = np.asarray(hier.keep)[: hier.depth]
    bits = np.asarray(hier.word_bits)[: hier.depth]
    innermost = [int(np.nonzero(keep[:, o])[0].max()) for o in range(3)]
    layer = dataclasses.replace(layer, bits=tuple(int(bits[i]) for i in innermost))
    return hier, nm, layer


__all__ = ["design_from_tree", "load_design"]
