"""Timeloop mapping files <-> ``costmodels.Mapping``.

Format followed: Timeloop's ``mapping:`` list of directives, each with a
``target`` (a storage level), a ``type`` (``temporal``, ``spatial``,
``bypass``/``datatype``), ``factors`` (``"R=3 S=3 ..."``, also the older
``"R3 S3"``) and a ``permutation`` written inner to outer ("little-endian")
(Timeloop v3 input formats, "Mapping",
https://timeloop.csail.mit.edu/previous_versions/timeloop-accelergy-v3/timeloop/input-formats/mapping;
parsed as in NVlabs/timeloop ``src/mapping/parser.cpp``: missing factors
are 1, a factor 0 means the whole dimension, the factors of a dimension must
multiply to its bound exactly, a spatial ``split`` defaults to all-X, a
datatype neither kept nor bypassed is kept; example: timeloop-accelergy-exercises
``exercises/timeloop/04-model-conv1d+oc-3levelspatial/conv1d+oc-3levelspatial-kp-ws.map.yaml``).

Levels: Timeloop's DRAM temporal <-> ``temporal[0]`` (dram); the shared
buffer's temporal <-> ``temporal[1]`` (l2); the shared buffer's spatial
<-> ``spatial`` (across PEs); the per-PE buffer's temporal <-> ``temporal[2]``
(l1). jaxdse orders loops outermost first, so permutations are reversed.
jaxdse's spatial loops have no order; the written spatial permutation is
the problem's dimension order, all on the X axis.

Folding rules on reading (anything else raises ``TimeloopError``):

* several storage levels merged into jaxdse's L2 or L1 (see
  ``timeloop_arch``): their temporal factors multiply per dimension; the
  merged loop order lists each dimension at its outermost non-trivial loop.
* spatial directives at the shared buffer and at dropped levels between it
  and the PEs (e.g. Eyeriss's DummyBuffer): factors multiply into the one
  PE-array unrolling (same MACs and coverage; Timeloop's per-level X/Y
  multicast geometry is dropped). Such a dropped level may only carry
  trivial temporal factors (a temporal loop between two spatial loops has
  no place in the template).
* bypass: jaxdse keeps every operand at every level, so a bypass is
  accepted only inside a merged level whose other parts keep the operand
  (Eyeriss's per-operand scratchpads) or at a dropped level.
* imperfect factors (``R=3,2``), skews, spatial loops above the shared
  buffer or below the per-PE level are refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from costmodels import LEVELS, Mapping, MappingError, make_mapping, validate_mapping
from jaxdse.interop.timeloop_arch import LEVEL_NAMES, TimeloopArch
from jaxdse.interop.timeloop_io import TimeloopError, as_list, dump_yaml, load_section, show
from jaxdse.interop.timeloop_problem import DATA_SPACES, DIM_ALIASES, problem_dims
from workloads import DIMS, Layer

_SLOTS = {"dram": 0, "l2": 1, "l1": 2}
_FACTOR = re.compile(r"([A-Za-z]+)\s*=?\s*(\d+)(,\d+)?")


def _perm(order_row: np.ndarray, dims: tuple[str, ...]) -> str:
    """jaxdse order (outermost first, dim indices) -> Timeloop permutation (inner to outer)."""
    names = [DIMS[i] for i in order_row if DIMS[i] in dims]
    return "".join(reversed(names))


def write_mapping(mapping: Mapping, layer: Layer, names: dict[str, str] | None = None) -> dict:
    """A Timeloop mapping (``{"mapping": [...]}``) of one layer onto ``write_arch``'s levels.

    Raises:
        TimeloopError: the mapping pads a dimension (Timeloop needs exact factorisations).
    """
    n = {**LEVEL_NAMES, **(names or {})}
    try:
        validate_mapping(layer, mapping)
    except MappingError as e:
        raise TimeloopError(str(e)) from e
    f = mapping.factors()
    prod = f.prod(axis=0)
    for d, (p, b) in enumerate(zip(prod, layer.sizes)):
        if p != b:
            raise TimeloopError(
                f"mapping for '{layer.name}': field 'factors.{DIMS[d]}' expected a product equal to the bound {b} "
                f"(Timeloop requires exact factorisations), found {p} (the jaxdse mapping pads)"
            )
    dims = problem_dims(layer)
    order = np.asarray(mapping.order)

    def factors(row: np.ndarray) -> str:
        return " ".join(f"{d}={int(row[DIMS.index(d)])}" for d in dims)

    return {
        "mapping": [
            {"target": n["dram"], "type": "temporal", "factors": factors(f[0]), "permutation": _perm(order[0], dims)},
            {"target": n["l2"], "type": "temporal", "factors": factors(f[1]), "permutation": _perm(order[1], dims)},
            {
                "target": n["l2"],
                "type": "spatial",
                "factors": factors(f[2]),
                "permutation": "".join(dims),
                "split": len(dims),
            },
            {"target": n["l1"], "type": "temporal", "factors": factors(f[3]), "permutation": _perm(order[2], dims)},
            {"target": n["l2"], "type": "bypass", "keep": list(DATA_SPACES), "bypass": []},
            {"target": n["l1"], "type": "bypass", "keep": list(DATA_SPACES), "bypass": []},
        ]
    }


def dump_mapping(mapping: Mapping, layer: Layer, path: str | Path) -> Path:
    """Write ``write_mapping(mapping, layer)`` to ``path`` (YAML)."""
    return dump_yaml(write_mapping(mapping, layer), path)


# ----------------------------------------------------------------- reading
def _dim(source: str, field: str, name: str) -> str:
    d = DIM_ALIASES.get(name, name)
    if d not in DIMS:
        raise TimeloopError(f"{source}: field '{field}' expected dimensions among {DIMS} (or M for K), found {name!r}")
    return d


def _factors(source: str, field: str, spec: Any, layer: Layer) -> dict[str, int]:
    text = " ".join(spec) if isinstance(spec, list) and all(isinstance(x, str) for x in spec) else spec
    if text is None:
        return {}
    if not isinstance(text, str):
        raise TimeloopError(f"{source}: field '{field}' expected a string like 'R=3 S=3', found {show(spec)}")
    text = text.split("#")[0]
    out: dict[str, int] = {}
    rest = _FACTOR.sub("", text).strip(" ,")
    if rest:
        raise TimeloopError(f"{source}: field '{field}' expected 'DIM=factor' items, found {text.strip()!r}")
    for m in _FACTOR.finditer(text):
        d = _dim(source, field, m.group(1))
        if m.group(3):
            raise TimeloopError(
                f"{source}: field '{field}' expected perfect factors, found the imperfect {m.group(0)!r} "
                f"(jaxdse pads instead of running a residual tile)"
            )
        if d in out:
            raise TimeloopError(f"{source}: field '{field}' expected each dimension once, found {d} twice")
        v = int(m.group(2))
        out[d] = layer.size(d) if v == 0 else v  # parser.cpp: 0 means the whole dimension
    return out


def _permutation(source: str, field: str, spec: Any) -> list[str]:
    """Timeloop permutation (inner to outer) -> dims outermost first."""
    if spec is None:
        return []
    text = "".join(spec) if isinstance(spec, list) and all(isinstance(x, str) for x in spec) else spec
    if not isinstance(text, str):
        raise TimeloopError(f"{source}: field '{field}' expected a string of dimensions, found {show(spec)}")
    dims = [_dim(source, field, ch) for ch in text if not ch.isspace()]
    if len(set(dims)) != len(dims):
        raise TimeloopError(f"{source}: field '{field}' expected each dimension once, found {text!r}")
    return list(reversed(dims))


def _infer_levels(source: str, directives: list) -> dict[str, str]:
    temporal: list[str] = []
    for i, d in enumerate(directives):
        if d.get("type") == "temporal" and d.get("target") not in temporal:
            if not isinstance(d.get("target"), str):
                raise TimeloopError(
                    f"{source}: field 'mapping[{i}].target' expected a level name, found {show(d.get('target'))}"
                )
            temporal.append(d["target"])
    if len(temporal) != 3:
        raise TimeloopError(
            f"{source}: field 'mapping' expected temporal directives at exactly 3 levels (DRAM, shared buffer, "
            f"per-PE buffer, listed outer to inner) when no architecture is given, found {temporal}; "
            f"pass the Timeloop architecture to fold more levels"
        )
    return dict(zip(temporal, ("dram", "l2", "l1")))


def read_mapping(src: str | Path | dict | list, layer: Layer, arch: TimeloopArch | None = None) -> Mapping:
    """A ``costmodels.Mapping`` of ``layer`` from a Timeloop mapping (file, dict or list).

    Args:
        src: The mapping file or parsed data (``mapping:`` or its list).
        layer: The layer it maps (gives the loop bounds; see ``read_problem``).
        arch: The architecture as read by ``read_arch``; its level roles say
            which directive is which. Without it the temporal directives
            must target exactly three levels, listed outer to inner.

    Raises:
        TimeloopError: naming the directive field, what was expected and what was found.
    """
    content, source, _ = load_section(src, "mapping", "Timeloop mapping")
    if not isinstance(content, list) or not all(isinstance(d, dict) for d in content):
        raise TimeloopError(f"{source}: field 'mapping' expected a list of directives, found {show(content)}")
    levels = dict(arch.levels) if arch is not None else _infer_levels(source, content)
    temporal: dict[str, tuple[dict[str, int], list[str]]] = {}
    spatial = {d: 1 for d in DIMS}
    kept: dict[str, dict[str, bool]] = {}
    spatial_seen: set[str] = set()
    for i, d in enumerate(content):
        field = f"mapping[{i}]"
        kind, target = d.get("type"), d.get("target")
        if not isinstance(target, str) or target not in levels:
            raise TimeloopError(
                f"{source}: field '{field}.target' expected one of {list(levels)}, found {show(target)}"
            )
        role = levels[target]
        if kind in ("bypass", "datatype"):
            for key, keep in (("keep", True), ("bypass", False)):
                for ds in as_list(source, f"{field}.{key}", d.get(key)):
                    kept.setdefault(target, {})[show(ds) if not isinstance(ds, str) else ds] = keep
            continue
        if kind not in ("temporal", "spatial"):
            raise TimeloopError(
                f"{source}: field '{field}.type' expected temporal, spatial or bypass, found {show(kind)}"
            )
        factors = _factors(source, f"{field}.factors", d.get("factors"), layer)
        if kind == "spatial":
            if role not in ("l2", "fanout"):
                raise TimeloopError(
                    f"{source}: field '{field}.target' expected a spatial loop at the shared buffer or a level "
                    f"between it and the PEs, found one at {target!r} ({role}); the template has one PE array"
                )
            if target in spatial_seen:
                raise TimeloopError(
                    f"{source}: field '{field}' expected one spatial directive per level, found a second for {target!r}"
                )
            spatial_seen.add(target)
            for dim, v in factors.items():
                spatial[dim] *= v
            continue
        if role == "fanout":
            if any(v > 1 for v in factors.values()):
                raise TimeloopError(
                    f"{source}: field '{field}.factors' expected only factors of 1 at {target!r} (a level dropped "
                    f"between the shared buffer and the PEs), found {d.get('factors')!r}"
                )
            continue
        if target in temporal:
            raise TimeloopError(
                f"{source}: field '{field}' expected one temporal directive per level, found a second for {target!r}"
            )
        temporal[target] = (factors, _permutation(source, f"{field}.permutation", d.get("permutation")))
    _check_bypass(source, levels, kept)
    rows: dict[str, dict[str, int]] = {}
    orders: dict[str, str] = {}
    for role in LEVELS:
        parts = [temporal[t] for t, r in levels.items() if r == role and t in temporal]
        rows[role] = {dim: int(np.prod([p[0].get(dim, 1) for p in parts])) for dim in DIMS}
        orders[role] = _merged_order(parts)
    try:
        mapping = make_mapping(dram=rows["dram"], l2=rows["l2"], spatial=spatial, l1=rows["l1"], order=orders)
    except MappingError as e:
        raise TimeloopError(f"{source}: {e}") from e
    prod = mapping.factors().prod(axis=0)
    for k, (p, b) in enumerate(zip(prod, layer.sizes)):
        if p != b:
            raise TimeloopError(
                f"{source}: field 'mapping.factors.{DIMS[k]}' expected factors multiplying to the bound {b} "
                f"of layer '{layer.name}' (as timeloop-model requires), found {p}"
            )
    return mapping


def _merged_order(parts: list[tuple[dict[str, int], list[str]]]) -> str:
    """Outermost first. One level: its permutation (unlisted dims outermost, as make_mapping
    does). Merged levels: each dim at its outermost non-trivial loop, then the trivial ones."""
    if len(parts) == 1:
        perm = parts[0][1]
        return "".join([d for d in DIMS if d not in perm] + perm)
    placed: list[str] = []
    for factors, perm in parts:
        placed += [d for d in perm if factors.get(d, 1) > 1 and d not in placed]
    for _, perm in parts:
        placed += [d for d in perm if d not in placed]
    rest = [d for d in DIMS if d not in placed]
    return "".join(rest + placed)


def _check_bypass(source: str, levels: dict[str, str], kept: dict[str, dict[str, bool]]) -> None:
    spaces = {ds for per in kept.values() for ds in per}
    for role in ("dram", "l2", "l1"):
        group = [t for t, r in levels.items() if r == role]
        for ds in sorted(spaces):
            if all(kept.get(t, {}).get(ds, True) is False for t in group):
                where = group[0] if len(group) == 1 else f"all of {group}"
                raise TimeloopError(
                    f"{source}: field 'mapping.bypass' expected {ds} to be kept at {where} (jaxdse keeps every "
                    f"operand at every level; Timeloop bypass cannot be expressed), found it bypassed"
                )
