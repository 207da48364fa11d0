"""Import an ONNX model as a Network: ``workloads.from_onnx``.

Operators with multiply-accumulates become layers (shapes from
``onnx.shape_inference.infer_shapes``):

* ``Conv`` / ``ConvInteger`` / ``QLinearConv``: groups, strides, dilations,
  pads (asymmetric too) or ``auto_pad``; the kernel from the weight's shape.
  Output extents follow ``(in + pad_begin + pad_end - dilation * (k - 1) - 1)
  // stride + 1`` (the ONNX Conv spec; Dumoulin & Visin 2016, rel. 15);
  ``SAME_*`` gives ``ceil(in / stride)``. ``group == channels`` is a depthwise
  layer (G = channels, K = C = 1).
* ``Gemm`` (``transA``/``transB``): a linear layer, rows = M.
* ``MatMul`` / ``MatMulInteger`` / ``QLinearMatMul`` with numpy broadcasting:
  batch dims where the second operand has size > 1 become G (heads), the
  others are folded into the rows P; a constant second operand (an
  initializer, possibly through Transpose/Cast/...) makes a ``linear`` layer,
  two activations (attention scores and context) a ``matmul``.

Model-local functions are inlined first. Operators with MACs that are not
imported (``ConvTranspose``, ``Einsum``, recurrent cells, control-flow
subgraphs, custom-domain ops) are skipped; the Network
notes list them and a ``UserWarning`` is issued. Operators without MACs
(activations, adds, pooling, softmax, norms, reshapes) are dropped as the zoo
drops them; the notes list their types.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from workloads.errors import WorkloadError
from workloads.importers import FOLDED_SPATIAL_NOTE, NOT_MODELLED, conv_layer, finish, gemm_layer
from workloads.layer import Layer
from workloads.network import Network

_CONV_INPUTS = {"Conv": (0, 1), "ConvInteger": (0, 1), "QLinearConv": (0, 3)}
_MATMUL_INPUTS = {"MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3)}
_UNSUPPORTED_MAC_OPS = frozenset(
    {"ConvTranspose", "Einsum", "DeformConv", "LSTM", "GRU", "RNN", "Attention", "If", "Loop", "Scan"}
)
_DEFAULT_DOMAINS = ("", "ai.onnx")


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError as e:
        raise ImportError(
            "workloads.from_onnx needs the optional 'onnx' package; install it with `pip install 'jaxdse[onnx]'`"
        ) from e
    return onnx


def _load(onnx: Any, path_or_model: Any) -> tuple[Any, str]:
    """The ModelProto and a label for messages."""
    if isinstance(path_or_model, onnx.ModelProto):
        model, source = path_or_model, f"<onnx model {path_or_model.graph.name or 'unnamed'}>"
    elif isinstance(path_or_model, (str, os.PathLike)):
        p = Path(path_or_model)
        source = str(p)
        if not p.is_file():
            raise WorkloadError(f"{p}: expected an existing ONNX file, found no such file")
        try:
            # Weights stored as external data are not needed: shapes are in the proto.
            model = onnx.load(str(p), load_external_data=False)
        except Exception as e:  # protobuf DecodeError and friends
            raise WorkloadError(f"{p}: expected an ONNX model (a serialized onnx.ModelProto), found {e}") from e
    else:
        raise TypeError(
            f"from_onnx: field 'path_or_model' expected a path or an onnx.ModelProto, "
            f"found {type(path_or_model).__name__}"
        )
    if model.ir_version < 1 or not model.graph.node:
        raise WorkloadError(
            f"{source}: expected an ONNX model with a graph of nodes, found "
            f"ir_version={model.ir_version} and {len(model.graph.node)} nodes (not an ONNX model?)"
        )
    return model, source


def _fix_inputs(model: Any, batch: int | None, source: str) -> list[str]:
    """Fix dynamic input dims in place: a symbolic leading dim takes ``batch``; others raise."""
    const = {t.name for t in model.graph.initializer}
    batched = []
    for vi in model.graph.input:
        if vi.name in const:  # old exporters list initializers as inputs
            continue
        if not vi.type.tensor_type.HasField("shape"):
            raise WorkloadError(f"{source}: field 'graph.input[{vi.name}].shape' expected a fixed shape, found none")
        for i, d in enumerate(vi.type.tensor_type.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                continue
            found = f"dynamic dim '{d.dim_param}'" if d.dim_param else "an unknown dim"
            if i == 0 and batch is not None:
                d.ClearField("dim_param")
                d.dim_value = batch
                batched.append(vi.name)
                continue
            hint = "pass batch= to set it" if i == 0 else "fix it in the model (e.g. onnx.tools.update_model_dims)"
            raise WorkloadError(
                f"{source}: field 'graph.input[{vi.name}].shape[{i}]' expected a fixed size, found {found}; {hint}"
            )
    return batched


def _shape(vi: Any) -> tuple[int | None, ...] | None:
    tt = vi.type.tensor_type
    if not vi.type.HasField("tensor_type") or not tt.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)


class _Graph:
    """Shapes and constness of the tensors of a shape-inferred graph."""

    def __init__(self, onnx: Any, graph: Any, source: str) -> None:
        self.source = source
        self.shapes: dict[str, tuple[int | None, ...] | None] = {}
        for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
            self.shapes[vi.name] = _shape(vi)
        self.const = set()
        for t in graph.initializer:
            self.shapes[t.name] = tuple(t.dims)
            self.const.add(t.name)
        for node in graph.node:  # constness: every input constant (Constant nodes have none)
            if all(x in self.const for x in node.input if x):
                self.const.update(o for o in node.output if o)
        self.attr = onnx.helper.get_attribute_value

    def shape(self, node: Any, index: int, what: str) -> tuple[int, ...]:
        name = node.input[index] if index < len(node.input) else ""
        s = self.shapes.get(name)
        if not name or s is None or any(d is None for d in s):
            raise WorkloadError(
                f"{self.source}: node '{node.name or node.op_type}' ({node.op_type}): expected a known shape for "
                f"input {index} ({what}) '{name}', found {s if s is not None else 'no shape'} after shape "
                "inference (fix the input shapes, or an upstream op that onnx cannot infer)"
            )
        return s

    def attrs(self, node: Any) -> dict[str, Any]:
        out = {a.name: self.attr(a) for a in node.attribute}
        return {k: v.decode() if isinstance(v, bytes) else v for k, v in out.items()}


def _conv(g: _Graph, node: Any, name: str) -> tuple[Layer, bool]:
    xi, wi = _CONV_INPUTS[node.op_type]
    x = g.shape(node, xi, "X")
    w = g.shape(node, wi, "W")
    a = g.attrs(node)
    nd = len(x) - 2
    owner = f"{g.source}: node '{name}' ({node.op_type})"
    if nd < 0 or len(w) != nd + 2:
        raise WorkloadError(f"{owner}: expected X [N, C, spatial...] and W [M, C/group, k...], found {x} and {w}")
    kernel = list(w[2:])
    if "kernel_shape" in a and list(a["kernel_shape"]) != kernel:
        raise WorkloadError(f"{owner}: field 'kernel_shape' expected the weight's {kernel}, found {a['kernel_shape']}")
    strides = list(a.get("strides", [1] * nd))
    dilations = list(a.get("dilations", [1] * nd))
    pads = list(a.get("pads", [0] * (2 * nd)))
    group = int(a.get("group", 1))
    auto_pad = a.get("auto_pad", "NOTSET")
    if len(strides) != nd or len(dilations) != nd or len(pads) != 2 * nd:
        raise WorkloadError(
            f"{owner}: fields 'strides', 'dilations', 'pads' expected {nd}, {nd}, {2 * nd} values, "
            f"found {strides}, {dilations}, {pads}"
        )
    if group < 1 or x[1] % group or w[0] % group or x[1] // group != w[1]:
        raise WorkloadError(
            f"{owner}: field 'group' expected a divisor of C={x[1]} and M={w[0]} with C/group = W.shape[1]={w[1]}, "
            f"found {group}"
        )
    out = []
    for i in range(nd):
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out.append(-(-x[2 + i] // strides[i]))
        else:
            pb, pe = (0, 0) if auto_pad == "VALID" else (pads[i], pads[nd + i])
            out.append((x[2 + i] + pb + pe - dilations[i] * (kernel[i] - 1) - 1) // strides[i] + 1)
    if any(o < 1 for o in out):
        raise WorkloadError(f"{owner}: expected a positive output extent, found {out} for input {x[2:]}")
    return conv_layer(
        name,
        batch=x[0],
        groups=group,
        out_per_group=w[0] // group,
        in_per_group=w[1],
        out_spatial=out,
        kernel=kernel,
        strides=strides,
        dilations=dilations,
    )


def _gemm(g: _Graph, node: Any, name: str) -> Layer:
    a_shape, b_shape = g.shape(node, 0, "A"), g.shape(node, 1, "B")
    at = g.attrs(node)
    m, k = a_shape[::-1] if at.get("transA", 0) else a_shape
    kb, n = b_shape[::-1] if at.get("transB", 0) else b_shape
    if k != kb:
        raise WorkloadError(f"{g.source}: node '{name}' (Gemm): expected matching K, found A {a_shape}, B {b_shape}")
    kind = "linear" if node.input[1] in g.const else "matmul"
    return gemm_layer(name, groups=1, rows=m, reduction=k, cols=n, kind=kind)


def _matmul(g: _Graph, node: Any, name: str) -> Layer:
    ai, bi = _MATMUL_INPUTS[node.op_type]
    a, b = list(g.shape(node, ai, "A")), list(g.shape(node, bi, "B"))
    a = [1] + a if len(a) == 1 else a  # numpy matmul: a vector is a row (A) or a column (B)
    b = b + [1] if len(b) == 1 else b
    if a[-1] != b[-2]:
        raise WorkloadError(
            f"{g.source}: node '{name}' ({node.op_type}): expected A[..., K] and B[..., K, N], found {a} and {b}"
        )
    nb = max(len(a), len(b)) - 2
    a_batch = [1] * (nb - len(a) + 2) + a[:-2]
    b_batch = [1] * (nb - len(b) + 2) + b[:-2]
    heads = rows_fold = 1
    for da, db in zip(a_batch, b_batch):
        if db > 1:
            heads *= max(da, db)  # each head has its own second operand
        else:
            rows_fold *= da  # B is shared across this dim: fold it into the rows
    kind = "linear" if node.input[bi] in g.const else "matmul"
    return gemm_layer(name, groups=heads, rows=rows_fold * a[-2], reduction=a[-1], cols=b[-1], kind=kind)


def from_onnx(path_or_model: Any, name: str | None = None, batch: int | None = None) -> Network:
    """Import an ONNX model's Conv, Gemm and MatMul operators as a Network.

    Args:
        path_or_model: Path of a ``.onnx`` file or an ``onnx.ModelProto``.
            Weights stored as external data are not read (shapes suffice).
        name: Network name; defaults to the graph name, else the file stem.
        batch: Size for a symbolic leading (batch) dim of the graph inputs.
            Other dynamic dims must be fixed in the model.

    Returns:
        A Network; identical layer shapes are merged into counts. Its notes
        list skipped operators with MACs and dropped operators without.

    Raises:
        ImportError: The optional ``onnx`` package (extra ``jaxdse[onnx]``) is missing.
        WorkloadError: Missing file, not an ONNX model, a dynamic dim without
            ``batch``, an unknown shape at a MAC node, or no MAC nodes at all;
            the message names the file and the field or node.
    """
    onnx = _import_onnx()
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise ValueError(f"from_onnx: field 'batch' expected a positive int or None, found {batch!r}")
    model, source = _load(onnx, path_or_model)
    work = onnx.ModelProto()
    work.CopyFrom(model)
    batched = _fix_inputs(work, batch, source)
    try:
        if work.functions:  # model-local functions: expand their nodes in place
            from onnx import inliner  # onnx >= 1.15

            work = inliner.inline_local_functions(work)
        work = onnx.shape_inference.infer_shapes(work, check_type=False, strict_mode=False, data_prop=True)
    except Exception as e:  # onnx.shape_inference.InferenceError and protobuf errors
        raise WorkloadError(f"{source}: expected a model onnx can inline and shape-infer, found: {e}") from e
    g = _Graph(onnx, work.graph, source)

    items: list[tuple[Layer, int]] = []
    skipped: list[str] = []
    dropped: Counter[str] = Counter()
    folded = False
    for i, node in enumerate(work.graph.node):
        op = node.op_type
        lname = node.name or f"{op}_{i}"
        if node.domain not in _DEFAULT_DOMAINS and op not in _CONV_INPUTS and op not in _MATMUL_INPUTS:
            skipped.append(f"{node.domain}.{op} '{lname}' (custom-domain op)")
        elif op in _CONV_INPUTS:
            layer, f = _conv(g, node, lname)
            folded |= f
            items.append((layer, 1))
        elif op == "Gemm":
            items.append((_gemm(g, node, lname), 1))
        elif op in _MATMUL_INPUTS:
            items.append((_matmul(g, node, lname), 1))
        elif op in _UNSUPPORTED_MAC_OPS:
            skipped.append(f"{op} '{lname}'")
        else:
            dropped[op] += 1

    stem = Path(path_or_model).stem if isinstance(path_or_model, (str, os.PathLike)) else ""
    net_name = name if name is not None else (model.graph.name or stem or "onnx_model")
    opset = next((o.version for o in model.opset_import if o.domain in _DEFAULT_DOMAINS), "unknown")
    notes = [f"Imported from ONNX ({source}, opset {opset})."]
    if batched:
        notes.append(f"Symbolic batch dim set to {batch} on inputs {batched}.")
    if skipped:
        msg = f"Skipped operators with MACs (not counted): {', '.join(skipped)}."
        notes.append(msg)
        warnings.warn(f"from_onnx({net_name}): {msg}", UserWarning, stacklevel=2)
    if dropped:
        notes.append(
            NOT_MODELLED + " Dropped here: " + ", ".join(f"{op} x{c}" for op, c in sorted(dropped.items())) + "."
        )
    if folded:
        notes.append(FOLDED_SPATIAL_NOTE)
    return finish(net_name, items, notes, source, "Conv, Gemm or MatMul node")
