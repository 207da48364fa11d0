"""Timeloop problem files <-> ``workloads.Layer``.

Format followed: the ``problem:`` key of Timeloop's input files, a ``shape``
(``dimensions``, ``coefficients`` with defaults, ``data-spaces`` with
``projection`` in sum-of-products form) and an ``instance`` (loop bounds and
coefficient values); the canonical CNN layer is NVlabs/timeloop
``problem-shapes/cnn-layer.yaml`` (dimensions R S P Q C K N, coefficients
Wstride Hstride Wdilation Hdilation; Inputs index ``R*Wdilation + P*Wstride``
and ``S*Hdilation + Q*Hstride``), as used by timeloop-accelergy-exercises
``exercises/timeloop/06-mapper-convlayer-eyeriss/cnn-layer.prob.yaml``.

Correspondence (the letters are the same in both tools):

* jaxdse ``N G K C P Q R S`` <-> Timeloop ``N G K C P Q R S``; Timeloop's
  newer examples call the output channels ``M``, read as ``K``.
* Timeloop pairs P with R through ``Wstride``/``Wdilation`` and Q with S
  through ``Hstride``/``Hdilation``; jaxdse pairs P with R through
  ``stride[0]``/``dilation[0]``. The pairing is what counts, so
  ``stride[0] <-> Wstride``, ``stride[1] <-> Hstride`` (likewise dilation).
* Groups: the canonical CNN-layer shape has no G. A layer with G > 1
  (grouped, depthwise, multi-head matmul) is written as one problem with an
  explicit G dimension in a custom shape ("Grouped-CNN-Layer": G indexes
  Weights, Inputs and Outputs; C and K are per group), the convention of
  Accelergy-Project/pytorch2timeloop-converter ``utils/grouped_convolution.yaml``.
  G = 1 layers use the canonical 7-dimension shape.
* GEMMs are CNN-layer problems with Q = R = S = 1 (``workloads.linear``:
  P = rows, C = reduction, K = columns). Other shapes (e.g. ``gemm-ABZ``)
  are refused with a message saying how to write them.
* Not in Timeloop's problem format: layer name, kind and operand precisions.
  jaxdse writes them under ``problem: jaxdse:`` (timeloop-model reads only
  ``shape`` and ``instance``, NVlabs/timeloop ``src/workload/workload.cpp``
  ``ParseWorkload``); on reading a foreign file they come from the
  arguments or default to the file name, an inferred kind and 16 bits.
  Sparse ``densities`` other than 1 are refused (jaxdse is dense).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jaxdse.interop.timeloop_io import TimeloopError, as_list, dump_yaml, load_section, positive_int, show
from workloads import DIMS, KINDS, Layer

CNN_DIMS: tuple[str, ...] = ("R", "S", "P", "Q", "C", "K", "N")
"""Dimension order of Timeloop's canonical CNN-layer shape (problem-shapes/cnn-layer.yaml)."""
COEFFICIENTS: tuple[str, ...] = ("Wstride", "Hstride", "Wdilation", "Hdilation")
DATA_SPACES: tuple[str, ...] = ("Weights", "Inputs", "Outputs")
"""Data-space names written by jaxdse (Timeloop's CNN-layer names)."""
DIM_ALIASES: dict[str, str] = {"M": "K"}
"""Timeloop dimension names read as another jaxdse dim (newer examples use M for output channels)."""

# dims each data-space may depend on (jaxdse's workloads.RELEVANT, by role)
_ROLE_DIMS = {
    "weights": frozenset("GKCRS"),
    "inputs": frozenset("NGCPQRS"),
    "outputs": frozenset("NGKPQ"),
}
_WINDOWS = ({"P", "R"}, {"Q", "S"})
_BIT_KEYS = ("Inputs", "Weights", "Outputs")  # jaxdse's bits order (workloads.OPERANDS)


def problem_dims(layer: Layer) -> tuple[str, ...]:
    """Timeloop dimensions of the problem jaxdse writes for ``layer`` (G only if grouped)."""
    return CNN_DIMS + (("G",) if layer.size("G") > 1 else ())


def _shape(grouped: bool) -> dict:
    def g() -> list:  # a fresh list per data-space
        return [[["G"]]] if grouped else []

    return {
        "name": "Grouped-CNN-Layer" if grouped else "CNN-Layer",
        "dimensions": list(CNN_DIMS + (("G",) if grouped else ())),
        "coefficients": [{"name": c, "default": 1} for c in COEFFICIENTS],
        "data-spaces": [
            {"name": "Weights", "projection": [*g(), [["C"]], [["K"]], [["R"]], [["S"]]]},
            {
                "name": "Inputs",
                "projection": [
                    [["N"]],
                    *g(),
                    [["C"]],
                    [["R", "Wdilation"], ["P", "Wstride"]],
                    [["S", "Hdilation"], ["Q", "Hstride"]],
                ],
            },
            {"name": "Outputs", "projection": [[["N"]], *g(), [["K"]], [["Q"]], [["P"]]], "read-write": True},
        ],
    }


def write_problem(layer: Layer) -> dict:
    """A Timeloop problem (``{"problem": {"shape", "instance", "jaxdse"}}``) for one layer."""
    instance: dict[str, Any] = {d: layer.size(d) for d in problem_dims(layer)}
    instance.update(
        Wstride=layer.stride[0], Hstride=layer.stride[1], Wdilation=layer.dilation[0], Hdilation=layer.dilation[1]
    )
    meta = {"name": layer.name, "kind": layer.kind, "bits": dict(zip(_BIT_KEYS, layer.bits))}
    return {"problem": {"shape": _shape(layer.size("G") > 1), "instance": instance, "jaxdse": meta}}


def dump_problem(layer: Layer, path: str | Path) -> Path:
    """Write ``write_problem(layer)`` to ``path`` (YAML)."""
    return dump_yaml(write_problem(layer), path)


# ----------------------------------------------------------------- reading
def read_problem(src: str | Path | dict, name: str | None = None, bits: tuple[int, int, int] | None = None) -> Layer:
    """A ``workloads.Layer`` from a Timeloop problem (file path or parsed dict).

    Args:
        src: A YAML/JSON file or dict holding ``problem:`` (or its content).
        name: Layer name; default: the ``jaxdse`` block, else the file name.
        bits: (inputs, weights, outputs) bits; default: the ``jaxdse`` block, else 16.

    Raises:
        TimeloopError: naming the field, what was expected and what was found.
    """
    content, source, _ = load_section(src, "problem", "Timeloop problem")
    if not isinstance(content, dict):
        raise TimeloopError(f"{source}: field 'problem' expected a mapping, found {show(content)}")
    shape = content.get("shape")
    if shape is None or (isinstance(shape, str) and shape.lower().replace("_", "-") == "cnn-layer"):
        # timeloop-model assumes problem-shapes/cnn-layer.yaml when no shape is given (workload.cpp).
        shape = _shape(False)
    elif not isinstance(shape, dict):
        raise TimeloopError(
            f"{source}: field 'problem.shape' expected an inline shape or 'cnn-layer', found {show(shape)}"
        )
    instance = content.get("instance", content)
    if not isinstance(instance, dict):
        raise TimeloopError(f"{source}: field 'problem.instance' expected a mapping, found {show(instance)}")
    _check_dense(source, instance)
    sizes, stride, dilation = _parse(source, shape, instance)
    meta = content.get("jaxdse") or {}
    if not isinstance(meta, dict):
        raise TimeloopError(f"{source}: field 'problem.jaxdse' expected a mapping, found {show(meta)}")
    if name is None:
        name = meta.get("name") or (Path(str(src)).name.split(".")[0] if source != "<dict>" else "timeloop_problem")
    if bits is None:
        mb = meta.get("bits") or {}
        if not isinstance(mb, dict):
            raise TimeloopError(f"{source}: field 'problem.jaxdse.bits' expected a mapping, found {show(mb)}")
        bits = tuple(positive_int(source, f"problem.jaxdse.bits.{k}", mb.get(k, 16)) for k in _BIT_KEYS)
    kind = meta.get("kind") or _infer_kind(sizes)
    if kind not in KINDS:
        raise TimeloopError(f"{source}: field 'problem.jaxdse.kind' expected one of {KINDS}, found {show(kind)}")
    try:
        return Layer(
            name=str(name), sizes=tuple(sizes[d] for d in DIMS), stride=stride, dilation=dilation, bits=bits, kind=kind
        )
    except (TypeError, ValueError) as e:
        raise TimeloopError(f"{source}: {e}") from e


def _infer_kind(sizes: dict[str, int]) -> str:
    if sizes["G"] > 1 and sizes["K"] == sizes["C"] == 1:
        return "depthwise"
    if sizes["Q"] == sizes["R"] == sizes["S"] == 1:
        return "linear" if sizes["G"] == 1 else "matmul"
    return "conv2d"


def _check_dense(source: str, instance: dict) -> None:
    for key in ("densities", "commonDensity"):
        if key not in instance:
            continue
        value = instance[key]
        values = list(value.values()) if isinstance(value, dict) else [value]
        if any(v != 1 for v in values):
            raise TimeloopError(
                f"{source}: field 'problem.instance.{key}' expected dense tensors (density 1; jaxdse has no "
                f"sparsity model), found {show(value)}"
            )


def _parse(source: str, shape: dict, instance: dict) -> tuple[dict[str, int], tuple[int, int], tuple[int, int]]:
    """Loop bounds, stride and dilation of a CNN-layer-like shape, checked structurally."""
    raw_dims = shape.get("dimensions")
    if not isinstance(raw_dims, list) or not raw_dims:
        raise TimeloopError(
            f"{source}: field 'problem.shape.dimensions' expected a list of names, found {show(raw_dims)}"
        )
    canon: dict[str, str] = {}
    for d in raw_dims:
        c = DIM_ALIASES.get(d, d) if isinstance(d, str) else None
        if c not in DIMS or c in canon.values():
            raise TimeloopError(
                f"{source}: field 'problem.shape.dimensions' expected distinct CNN-layer dimensions among "
                f"N G C K(or M) P Q R S, found {show(raw_dims)}; write a GEMM as a CNN-layer problem with "
                f"Q=R=S=1 (P rows, C reduction, K columns)"
            )
        canon[d] = c
    coeffs = {}
    for i, c in enumerate(as_list(source, "problem.shape.coefficients", shape.get("coefficients"))):
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            raise TimeloopError(
                f"{source}: field 'problem.shape.coefficients[{i}]' expected {{name, default}}, found {show(c)}"
            )
        coeffs[c["name"]] = instance.get(c["name"], c.get("default", 1))
    sizes = {d: 1 for d in DIMS}
    for d, c in canon.items():
        sizes[c] = positive_int(source, f"problem.instance.{d}", instance.get(d))
    spaces = shape.get("data-spaces", shape.get("data_spaces"))
    if not isinstance(spaces, list) or len(spaces) != 3:
        raise TimeloopError(
            f"{source}: field 'problem.shape.data-spaces' expected 3 data-spaces (weights, inputs, outputs), "
            f"found {show(spaces)}"
        )
    parsed = [_data_space(source, i, s, canon, coeffs) for i, s in enumerate(spaces)]
    present = frozenset(canon.values())
    stride, dilation = [1, 1], [1, 1]
    for role, i in _roles(source, spaces, parsed).items():
        field = f"problem.shape.data-spaces[{i}].projection"
        seen: set[str] = set()
        for entry in parsed[i]:
            names = {d for d, _ in entry}
            window = role == "inputs" and any(names <= w and (w & present) <= names for w in _WINDOWS)
            split_window = role == "inputs" and not window and bool(names & set("PQRS"))
            if not (len(entry) == 1 or window) or len(names) != len(entry) or split_window:
                want = "single-dimension entries"
                if role == "inputs":
                    want += " or the windows [[R, Wdilation], [P, Wstride]] and [[S, Hdilation], [Q, Hstride]]"
                raise TimeloopError(
                    f"{source}: field '{field}' expected {want} for the {role}, found {show(spaces[i]['projection'])}"
                )
            for d, coef in entry:
                if window:
                    axis = 0 if d in "PR" else 1
                    (stride if d in "PQ" else dilation)[axis] = coef
                elif coef != 1:
                    raise TimeloopError(f"{source}: field '{field}' expected coefficient 1 for {d}, found {coef}")
                if d in seen:
                    raise TimeloopError(f"{source}: field '{field}' expected {d} once, found it twice")
                seen.add(d)
        want_dims = _ROLE_DIMS[role] & present
        if seen != want_dims:
            raise TimeloopError(
                f"{source}: field '{field}' expected the {role} to be indexed by {sorted(want_dims)} "
                f"(a CNN layer), found {sorted(seen)}"
            )
    return sizes, (stride[0], stride[1]), (dilation[0], dilation[1])


def _data_space(source: str, i: int, space: Any, canon: dict, coeffs: dict) -> list[list[tuple[str, int]]]:
    field = f"problem.shape.data-spaces[{i}]"
    if not isinstance(space, dict) or not isinstance(space.get("projection"), list):
        raise TimeloopError(f"{source}: field '{field}' expected {{name, projection}}, found {show(space)}")
    entries = []
    for entry in space["projection"]:
        terms = []
        for term in entry if isinstance(entry, list) else [None]:
            if (
                not isinstance(term, list)
                or not 1 <= len(term) <= 2
                or not isinstance(term[0], str)
                or term[0] not in canon
            ):
                raise TimeloopError(
                    f"{source}: field '{field}.projection' expected terms [dim] or [dim, coefficient] over "
                    f"{list(canon)}, found {show(entry)}"
                )
            coef = term[1] if len(term) == 2 else 1
            if isinstance(coef, str):
                if coef not in coeffs:
                    raise TimeloopError(
                        f"{source}: field '{field}.projection' expected a coefficient among {list(coeffs)}, "
                        f"found {coef!r}"
                    )
                coef = positive_int(source, f"problem.instance.{coef}", coeffs[coef])
            else:
                coef = positive_int(source, f"{field}.projection", coef)
            terms.append((canon[term[0]], coef))
        entries.append(terms)
    return entries


def _roles(source: str, spaces: list, parsed: list) -> dict[str, int]:
    rw = [i for i, s in enumerate(spaces) if s.get("read-write", s.get("read_write", False))]
    if len(rw) != 1:
        raise TimeloopError(
            f"{source}: field 'problem.shape.data-spaces' expected exactly one read-write data-space "
            f"(the outputs), found {len(rw)}"
        )
    ro = [i for i in range(3) if i != rw[0]]
    windowed = [i for i in ro if any(len(e) > 1 for e in parsed[i])]
    with_k = [i for i in ro if any(d == "K" for e in parsed[i] for d, _ in e)]
    if len(windowed) == 1:
        inputs = windowed[0]
    elif len(with_k) == 1:
        inputs = ro[0] if with_k[0] == ro[1] else ro[1]
    else:
        raise TimeloopError(
            f"{source}: field 'problem.shape.data-spaces' expected one read-only data-space indexed by K "
            f"(weights) and one by the window or N (inputs), found {[s.get('name') for s in spaces]}"
        )
    return {"weights": ro[0] if inputs == ro[1] else ro[1], "inputs": inputs, "outputs": rw[0]}
