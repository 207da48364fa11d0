"""Write a general hierarchy, a mapping and a layer back out as Timeloop inputs.

The inverse of ``timeloop_hierarchy.load_design``: ``write_design(hier,
mapping, layer)`` gives Timeloop's three documents (architecture v0.3,
mapping, problem) for any ``costmodels.Hierarchy``, level by level, so
``timeloop-model arch.yaml problem.yaml map.yaml`` evaluates the same loop
nest jaxdse evaluated, and ``load_design`` of the written files gives the
same hierarchy structure, mapping and layer back.

What is written (formats: Timeloop v3 input formats, architecture v0.3
``subtree``/``local`` trees as in the exercises' v0.3 designs; attribute
names as NVlabs/timeloop v3.0.3 ``src/model/buffer.cpp`` ``ParseSpecs``
reads them):

* Each level becomes a storage component, outermost first: DRAM (class
  DRAM) for level 0, class ``SRAM`` (``regfile`` for the innermost)
  below; ``word-bits`` and ``width`` = the level's word bits, block size
  1, ``depth`` = capacity in the level's words, ``multiple-buffering``,
  ``read_bandwidth`` / ``write_bandwidth`` in words per cycle when finite.
  Instance counts change only at a fan-out: one ``subtree`` per distinct
  count, named ``<level>[0..n-1]``; ``meshX`` is the X extent.
* A fan-out with ``xy_stages`` (X and Y as two Timeloop spatial levels) is
  written as Timeloop writes such designs: the X loops at the level, then a
  storage level ``<level>_y_stage`` that keeps nothing (``bypass`` of every
  data space, as timeloopfe's ``inter_*_spatial`` levels) holding the Y
  loops. ``load_design`` folds it back.
* Mapping: per level a temporal directive (permutation inner to outer, as
  Timeloop writes it), a spatial directive when the level fans out (X dims
  then Y dims, ``split`` = number of X dims) and a bypass directive from the
  level's keep set; the compute level is the innermost fan-out's target.
* Problem: ``timeloop_problem.write_problem``.

Not written (Timeloop would use its own figures): energies and areas
(Accelergy/built-in tables), the Explainable-DSE NoC and DMA models.
Refused with ``TimeloopError``: a padded mapping (Timeloop needs exact
factorisations), a capacity that is not a whole number of words, and one
dim split on both X and Y of a one-stage fan-out (one Timeloop spatial
directive cannot hold it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from costmodels import Hierarchy, NestMapping
from jaxdse.interop.timeloop_io import TimeloopError, dump_yaml
from jaxdse.interop.timeloop_problem import DATA_SPACES, problem_dims, write_problem
from workloads import DIMS, OPERANDS, Layer

_SPACE_OF = {"inputs": "Inputs", "weights": "Weights", "outputs": "Outputs"}


def _factor_text(row: np.ndarray, dims: tuple[str, ...]) -> str:
    return " ".join(f"{d}={int(row[DIMS.index(d)])}" for d in dims)


def _check_exact(mapping: NestMapping, layer: Layer, depth: int, who: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(mapping.temporal, dtype=np.float64)[:depth]
    s = np.asarray(mapping.spatial, dtype=np.float64)[:depth]
    if (np.abs(t - np.round(t)) > 1e-6).any() or (np.abs(s - np.round(s)) > 1e-6).any() or (t < 1).any():
        raise TimeloopError(f"{who}: field 'mapping' expected whole factors >= 1, found fractional or zero ones")
    t, s = np.round(t).astype(np.int64), np.round(s).astype(np.int64)
    prod = t.prod(axis=0) * s.prod(axis=(0, 1))
    for d, (p, b) in enumerate(zip(prod, layer.sizes)):
        if p != b:
            raise TimeloopError(
                f"{who}: field 'mapping.{DIMS[d]}' expected factors multiplying to the bound {b} "
                f"(Timeloop requires exact factorisations), found {p}"
            )
    return t, s


def _storage(name: str, cls: str, bits: int, attrs: dict[str, Any]) -> dict:
    return {"name": name, "class": cls, "attributes": {"word-bits": bits, "width": bits, "block-size": 1, **attrs}}


def write_design(hier: Hierarchy, mapping: NestMapping, layer: Layer) -> dict[str, dict]:
    """Timeloop's architecture, mapping and problem documents for one layer on ``hier``.

    Returns:
        ``{"arch": {...}, "mapping": {...}, "problem": {...}}``, each ready for ``dump_yaml``.

    Raises:
        TimeloopError: naming the field (see the module docstring for what is refused).
    """
    who = f"write_design('{layer.name}')"
    depth = hier.depth
    t, s = _check_exact(mapping, layer, depth, who)
    order = np.asarray(mapping.order)[:depth]
    dims = problem_dims(layer)
    keep = np.asarray(hier.keep)[:depth] > 0
    fx = np.asarray(hier.fanout_x)[:depth].astype(np.int64)
    fy = np.asarray(hier.fanout_y)[:depth].astype(np.int64)
    stages = np.asarray(hier.xy_stages)[:depth] > 0
    bits = np.asarray(hier.word_bits)[:depth].astype(np.int64)
    cap = np.asarray(hier.capacity_bytes, dtype=np.float64)[:depth]
    bufs = np.asarray(hier.buffers, dtype=np.float64)[:depth]
    rbw = np.asarray(hier.read_bw_words, dtype=np.float64)[:depth]
    wbw = np.asarray(hier.write_bw_words, dtype=np.float64)[:depth]

    # Timeloop levels, outermost first: (component, instances, meshX, directives)
    levels: list[tuple[dict, int, int, list[dict]]] = []
    inst, mesh_x = 1, 1
    for i in range(depth):
        name = hier.names[i]
        attrs: dict[str, Any] = {}
        if i == 0:
            comp = _storage(name, "DRAM", int(bits[i]), {"type": "LPDDR4"})
        else:
            words = cap[i] * 8.0 / bits[i]
            if not np.isfinite(words) or abs(words - round(words)) > 1e-6:
                raise TimeloopError(
                    f"{who}: level '{name}' field 'capacity_bytes' expected a whole number of {bits[i]}-bit words, "
                    f"found {cap[i]:g} bytes"
                )
            attrs["depth"] = int(round(words))
            comp = _storage(name, "regfile" if i == depth - 1 else "SRAM", int(bits[i]), attrs)
        if bufs[i] != 1:
            comp["attributes"]["multiple-buffering"] = int(bufs[i])
        for key, bw in (("read_bandwidth", rbw[i]), ("write_bandwidth", wbw[i])):
            if np.isfinite(bw):
                comp["attributes"][key] = float(bw)
        directives = [
            {
                "target": name,
                "type": "temporal",
                "factors": _factor_text(t[i], dims),
                "permutation": "".join(DIMS[d] for d in order[i][::-1] if DIMS[d] in dims),
            },
            {
                "target": name,
                "type": "bypass",
                "keep": [_SPACE_OF[o] for o, k in zip(OPERANDS, keep[i]) if k],
                "bypass": [_SPACE_OF[o] for o, k in zip(OPERANDS, keep[i]) if not k],
            },
        ]
        x_dims = [d for d in dims if s[i, 0, DIMS.index(d)] > 1]
        y_dims = [d for d in dims if s[i, 1, DIMS.index(d)] > 1]
        two_stage = bool(stages[i]) and fx[i] > 1 and fy[i] > 1
        if set(x_dims) & set(y_dims) and not two_stage:
            raise TimeloopError(
                f"{who}: level '{name}' field 'mapping.spatial' expected each dim on X or Y of a one-stage fan-out, "
                f"found {sorted(set(x_dims) & set(y_dims))} on both"
            )
        if fx[i] * fy[i] > 1:
            if two_stage:
                directives.append(_spatial(name, s[i, 0], x_dims, [], dims))
            else:
                directives.append(_spatial(name, s[i, 0] * s[i, 1], x_dims, y_dims, dims))
        levels.append((comp, inst, mesh_x, directives))
        if two_stage:  # the Y stage: a level that keeps nothing, below the X fan-out
            inst, mesh_x = inst * int(fx[i]), mesh_x * int(fx[i])
            stage = f"{name}_y_stage"
            comp = _storage(stage, "regfile", int(bits[i]), {"depth": 1})
            directives = [
                {
                    "target": stage,
                    "type": "temporal",
                    "factors": _factor_text(np.ones(8, np.int64), dims),
                    "permutation": "".join(dims),
                },  # fmt: skip
                _spatial(stage, s[i, 1], [], y_dims, dims),
                {"target": stage, "type": "bypass", "keep": [], "bypass": list(DATA_SPACES)},
            ]
            levels.append((comp, inst, mesh_x, directives))
            inst = inst * int(fy[i])
        else:
            inst, mesh_x = inst * int(fx[i] * fy[i]), mesh_x * int(fx[i])
    mac = {"name": "MAC", "class": "intmac", "attributes": {"datawidth": int(max(layer.bits))}}
    return {
        "arch": {"architecture": {"version": 0.3, "subtree": [_tree(levels, mac, inst, mesh_x)]}},
        "mapping": {"mapping": [d for _, _, _, ds in levels for d in ds]},
        "problem": write_problem(layer),
    }


def _spatial(target: str, row: np.ndarray, x_dims: list, y_dims: list, dims: tuple[str, ...]) -> dict:
    rest = [d for d in dims if d not in x_dims and d not in y_dims]
    return {
        "target": target,
        "type": "spatial",
        "factors": _factor_text(row, dims),
        "permutation": "".join(x_dims + y_dims + rest),
        "split": len(x_dims),
    }


def _tree(levels: list[tuple[dict, int, int, list]], mac: dict, mac_inst: int, mac_mesh_x: int) -> dict:
    """Nested v0.3 subtrees: one per distinct instance count, components outermost first."""
    groups: list[tuple[int, int, list[dict]]] = []  # (instances, meshX, components)
    for comp, inst, mesh_x, _ in [*levels, (mac, mac_inst, mac_mesh_x, [])]:
        comp = {**comp, "attributes": {**comp["attributes"], **({"meshX": mesh_x} if inst > 1 else {})}}
        if groups and groups[-1][0] == inst:
            groups[-1][2].append(comp)
        else:
            groups.append((inst, mesh_x, [comp]))
    node: dict | None = None
    for k in range(len(groups) - 1, -1, -1):
        inst, _, comps = groups[k]
        ratio = inst // (groups[k - 1][0] if k else 1)
        here: dict[str, Any] = {"name": f"level{k}" + (f"[0..{ratio - 1}]" if ratio > 1 else ""), "local": comps}
        if node is not None:
            here["subtree"] = [node]
        node = here
    assert node is not None
    return node


def export_design(hier: Hierarchy, mapping: NestMapping, layer: Layer, out_dir: str | Path) -> dict[str, Path]:
    """Write ``write_design``'s documents as ``arch.yaml``, ``map.yaml``, ``problem.yaml`` in ``out_dir``.

    Returns:
        ``{"arch": path, "mapping": path, "problem": path}``; run them with
        ``timeloop-model arch.yaml problem.yaml map.yaml``.
    """
    docs = write_design(hier, mapping, layer)  # raises before anything is written
    out = Path(out_dir)
    names = {"arch": "arch.yaml", "mapping": "map.yaml", "problem": "problem.yaml"}
    return {k: dump_yaml(docs[k], out / names[k]) for k in names}


__all__ = ["export_design", "write_design"]
