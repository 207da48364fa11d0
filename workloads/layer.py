"""A DNN layer as a loop nest over eight named dimensions.

Every layer jaxdse models is a multiply-accumulate loop nest over the dims

    N batch, G groups, K output channels per group, C input channels per group,
    P output rows, Q output columns, R filter rows, S filter columns

(the convention of Timeloop's CNN-layer problem and of Explainable-DSE's
dMazeRunner). The three operands and the dims that index them are

    inputs   N, G, C, and (P, R) / (Q, S) through the sliding window
    weights  G, K, C, R, S
    outputs  N, G, K, P, Q

An input tile covering ``p`` output rows and ``r`` filter rows spans
``(p - 1) * stride + (r - 1) * dilation + 1`` input rows (the halo); the same
holds for columns.  Size-1 dims are free, so every layer kind (conv, grouped
and depthwise conv, GEMM, batched matmul) is the same fixed-shape nest.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from flax import struct

from workloads.specfile import show

DIMS: tuple[str, ...] = ("N", "G", "K", "C", "P", "Q", "R", "S")
"""Loop dimension names, in the fixed order used by every array in jaxdse."""

OPERANDS: tuple[str, ...] = ("inputs", "weights", "outputs")
"""Operand names, in the fixed order used by every per-operand array."""

RELEVANT: dict[str, tuple[str, ...]] = {
    "inputs": ("N", "G", "C", "P", "Q", "R", "S"),
    "weights": ("G", "K", "C", "R", "S"),
    "outputs": ("N", "G", "K", "P", "Q"),
}
"""Dims whose index changes each operand's data (inputs via the window)."""

KINDS: tuple[str, ...] = ("conv2d", "depthwise", "linear", "matmul")


def halo_extent(out_extent: float, filt_extent: float, stride: float, dilation: float) -> float:
    """Input extent read by ``out_extent`` outputs of a ``filt_extent`` filter.

    ``(out - 1) * stride + (filt - 1) * dilation + 1`` (standard convolution
    arithmetic, e.g. Dumoulin & Visin 2016, relationship 15). Works on Python
    numbers and on JAX/NumPy arrays alike.
    """
    return (out_extent - 1) * stride + (filt_extent - 1) * dilation + 1


MAX_EXTENT = 2**24
"""Largest loop bound, stride, dilation, padding or bit width a layer may have:
every integer up to 2**24 is exact in float32 (24-bit significand, IEEE 754),
the dtype of the cost model's arrays. Real layers are far smaller."""


def _positive_int(field: str, value: Any, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}: field '{field}' expected a positive int, found {show(value)}")
    if not 1 <= value <= MAX_EXTENT:
        raise ValueError(
            f"{owner}: field '{field}' expected a positive int (at most {MAX_EXTENT}), found {show(value)}"
        )
    return value


def _distinct_offsets(n1: int, step1: int, n2: int, step2: int) -> int:
    """How many distinct ``i * step1 + j * step2`` for ``0 <= i < n1, 0 <= j < n2``.

    Loops over the shorter index only: the offsets ``i * step1`` (i < n1,
    the shorter) each start an arithmetic progression of ``n2`` terms with
    step ``step2``; progressions whose starts agree modulo ``step2`` are
    intervals of one integer line (start // step2 .. + n2), so the count is
    the length of the union of those intervals, class by class.
    """
    if n1 > n2:
        n1, step1, n2, step2 = n2, step2, n1, step1
    starts = np.arange(n1, dtype=np.int64) * step1
    cls, pos = starts % step2, starts // step2
    idx = np.lexsort((pos, cls))
    cls, pos = cls[idx], pos[idx]
    same_class_next = np.append(cls[1:] == cls[:-1], False)
    gap = np.append(pos[1:] - pos[:-1], n2)
    return int(np.sum(np.where(same_class_next, np.minimum(gap, n2), n2)))


@struct.dataclass(frozen=True)
class Layer:
    """One layer: loop bounds, window geometry and operand precisions.

    All fields are static (Python values): a Layer is a user-facing spec.
    The cost model consumes its array form, ``costmodels.layer_arrays(layer)``.

    Attributes:
        name: Label used in tables and reports.
        sizes: Loop bounds in ``DIMS`` order (N, G, K, C, P, Q, R, S).
        stride: (rows, cols) stride of the sliding window.
        dilation: (rows, cols) dilation of the filter.
        bits: Precision in bits of (inputs, weights, outputs); int16 by default
            as in Explainable-DSE Table 1.
        kind: One of ``KINDS``; informational (the loop nest is what counts).
    """

    name: str = struct.field(pytree_node=False)
    sizes: tuple[int, ...] = struct.field(pytree_node=False)
    stride: tuple[int, int] = struct.field(pytree_node=False, default=(1, 1))
    dilation: tuple[int, int] = struct.field(pytree_node=False, default=(1, 1))
    bits: tuple[int, int, int] = struct.field(pytree_node=False, default=(16, 16, 16))
    kind: str = struct.field(pytree_node=False, default="conv2d")

    def __post_init__(self) -> None:
        owner = f"Layer '{self.name}'"
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"Layer: field 'name' expected a non-empty str, found {self.name!r}")
        if not isinstance(self.sizes, tuple) or len(self.sizes) != len(DIMS):
            raise ValueError(
                f"{owner}: field 'sizes' expected a tuple of {len(DIMS)} ints {DIMS}, found {self.sizes!r}"
            )
        for d, v in zip(DIMS, self.sizes, strict=True):
            _positive_int(f"sizes.{d}", v, owner)
        for fname, n in (("stride", 2), ("dilation", 2), ("bits", 3)):
            val = getattr(self, fname)
            if not isinstance(val, tuple) or len(val) != n:
                raise ValueError(f"{owner}: field '{fname}' expected a tuple of {n} ints, found {val!r}")
            for i, v in enumerate(val):
                _positive_int(f"{fname}[{i}]", v, owner)
        if self.kind not in KINDS:
            raise ValueError(f"{owner}: field 'kind' expected one of {KINDS}, found {self.kind!r}")

    # ----------------------------------------------------------------- sizes
    def size(self, dim: str) -> int:
        """Loop bound of one named dim."""
        return self.sizes[DIMS.index(dim)]

    @property
    def macs(self) -> int:
        """Multiply-accumulates: the product of all loop bounds."""
        return math.prod(self.sizes)

    @property
    def input_hw(self) -> tuple[int, int]:
        """Input rows and columns the layer reads, including the halo."""
        n, g, k, c, p, q, r, s = self.sizes
        return (
            halo_extent(p, r, self.stride[0], self.dilation[0]),
            halo_extent(q, s, self.stride[1], self.dilation[1]),
        )

    @property
    def touched_input_hw(self) -> tuple[int, int]:
        """Input rows and columns actually read: distinct ``p * stride + r * dilation``.

        Equals ``input_hw`` unless the stride skips rows (e.g. a 1x1 conv
        with stride 2 reads every other row).
        """
        n, g, k, c, p, q, r, s = self.sizes
        rows = _distinct_offsets(p, self.stride[0], r, self.dilation[0])
        cols = _distinct_offsets(q, self.stride[1], s, self.dilation[1])
        return rows, cols

    def compulsory_bytes(self) -> dict[str, int]:
        """Bytes of each operand that any mapping must move at least once
        (inputs: only the touched rows and columns)."""
        n, g, k, c, p, q, r, s = self.sizes
        h, w = self.touched_input_hw
        elems = {"inputs": n * g * c * h * w, "weights": g * k * c * r * s, "outputs": n * g * k * p * q}
        return {op: math.ceil(elems[op] * b / 8) for op, b in zip(OPERANDS, self.bits, strict=True)}

    def operand_elems(self) -> dict[str, int]:
        """Elements of each operand (inputs include the sliding-window halo)."""
        n, g, k, c, p, q, r, s = self.sizes
        h, w = self.input_hw
        return {"inputs": n * g * c * h * w, "weights": g * k * c * r * s, "outputs": n * g * k * p * q}

    def operand_bytes(self) -> dict[str, int]:
        """Bytes of each operand at its precision (rounded up to whole bytes)."""
        elems = self.operand_elems()
        return {op: math.ceil(elems[op] * b / 8) for op, b in zip(OPERANDS, self.bits, strict=True)}

    def shape_key(self) -> tuple:
        """Everything but the name: layers with equal keys cost the same."""
        return (self.sizes, self.stride, self.dilation, self.bits)

    def renamed(self, name: str) -> Layer:
        return self.replace(name=name)

    def describe(self) -> str:
        dims = " ".join(f"{d}={v}" for d, v in zip(DIMS, self.sizes, strict=True) if v != 1)
        extra = ""
        if self.stride != (1, 1):
            extra += f" stride={self.stride[0]}x{self.stride[1]}"
        if self.dilation != (1, 1):
            extra += f" dilation={self.dilation[0]}x{self.dilation[1]}"
        return f"{self.kind} {dims}{extra}"

    def to_dict(self) -> dict:
        """Plain-data form (the YAML/JSON workload-file schema, one layer)."""
        return {
            "name": self.name,
            "type": "raw",
            "kind": self.kind,
            "sizes": dict(zip(DIMS, self.sizes, strict=True)),
            "stride": list(self.stride),
            "dilation": list(self.dilation),
            "bits": list(self.bits),
        }


# ------------------------------------------------------------------ builders
def _pair(field: str, v: Any, owner: str) -> tuple[int, int]:
    if isinstance(v, int) and not isinstance(v, bool):
        v = (v, v)
    if not isinstance(v, (tuple, list)) or len(v) != 2:
        raise ValueError(f"{owner}: field '{field}' expected an int or a pair of ints, found {v!r}")
    return (_positive_int(f"{field}[0]", v[0], owner), _positive_int(f"{field}[1]", v[1], owner))


def _nonneg_pair(field: str, v: Any, owner: str) -> tuple[int, int]:
    if isinstance(v, int) and not isinstance(v, bool):
        v = (v, v)
    if (
        not isinstance(v, (tuple, list))
        or len(v) != 2
        or any(isinstance(x, bool) or not isinstance(x, int) or not 0 <= x <= MAX_EXTENT for x in v)
    ):
        raise ValueError(
            f"{owner}: field '{field}' expected a non-negative int (at most {MAX_EXTENT}) or pair, found {show(v)}"
        )
    return (v[0], v[1])


def _bits(v: Any, owner: str) -> tuple[int, int, int]:
    """One bit width for all operands, or (inputs, weights, outputs)."""
    if isinstance(v, int) and not isinstance(v, bool):
        v = (v, v, v)
    if not isinstance(v, (tuple, list)) or len(v) != 3:
        raise ValueError(f"{owner}: field 'bits' expected an int or three ints (inputs, weights, outputs), found {v!r}")
    return tuple(v)


def conv_out_extent(in_extent: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output extent of a convolution (Dumoulin & Visin 2016, relationship 15)."""
    return (in_extent + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv2d(
    name: str,
    in_channels: int,
    out_channels: int,
    in_hw: int | tuple[int, int],
    kernel: int | tuple[int, int] = 3,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | None = None,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
    batch: int = 1,
    bits: tuple[int, int, int] = (16, 16, 16),
) -> Layer:
    """A 2-D convolution given its input feature map, as a framework defines it.

    ``padding=None`` means "same"-style padding ``dilation * (kernel - 1) // 2``.
    Padding only changes the output extent: padded zeros are read as part of
    the halo, as Timeloop does for a problem written in output coordinates.
    """
    owner = f"conv2d '{name}'"
    hw = _pair("in_hw", in_hw, owner)
    kr, ks = _pair("kernel", kernel, owner)
    st = _pair("stride", stride, owner)
    dl = _pair("dilation", dilation, owner)
    if padding is None:
        padding = (dl[0] * (kr - 1) // 2, dl[1] * (ks - 1) // 2)
    pd = _nonneg_pair("padding", padding, owner)
    _positive_int("groups", groups, owner)
    _positive_int("in_channels", in_channels, owner)
    _positive_int("out_channels", out_channels, owner)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"{owner}: field 'groups' expected a divisor of in_channels={in_channels} and "
            f"out_channels={out_channels}, found {groups}"
        )
    p = conv_out_extent(hw[0], kr, st[0], pd[0], dl[0])
    q = conv_out_extent(hw[1], ks, st[1], pd[1], dl[1])
    if p < 1 or q < 1:
        raise ValueError(
            f"{owner}: field 'in_hw' expected at least the dilated kernel extent {(kr - 1) * dl[0] + 1}x"
            f"{(ks - 1) * dl[1] + 1} minus padding, found {hw} (output would be {p}x{q})"
        )
    kind = "depthwise" if groups > 1 and groups == in_channels and out_channels == groups else "conv2d"
    return Layer(
        name=name,
        sizes=(batch, groups, out_channels // groups, in_channels // groups, p, q, kr, ks),
        stride=st,
        dilation=dl,
        bits=_bits(bits, owner),
        kind=kind,
    )


def depthwise(
    name: str,
    channels: int,
    in_hw: int | tuple[int, int],
    kernel: int | tuple[int, int] = 3,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | None = None,
    dilation: int | tuple[int, int] = 1,
    batch: int = 1,
    bits: tuple[int, int, int] = (16, 16, 16),
) -> Layer:
    """A depthwise convolution: one group per channel (G = channels, K = C = 1)."""
    return conv2d(name, channels, channels, in_hw, kernel, stride, padding, dilation, channels, batch, bits)


def linear(
    name: str,
    in_features: int,
    out_features: int,
    tokens: int = 1,
    batch: int = 1,
    bits: tuple[int, int, int] = (16, 16, 16),
) -> Layer:
    """A fully connected layer / GEMM: ``tokens x in_features @ in_features x out_features``.

    Mapped as N = batch, P = tokens (rows of the activation matrix),
    C = in_features (the reduction), K = out_features; R = S = Q = 1.
    """
    owner = f"linear '{name}'"
    for f, v in (("in_features", in_features), ("out_features", out_features), ("tokens", tokens), ("batch", batch)):
        _positive_int(f, v, owner)
    return Layer(
        name=name, sizes=(batch, 1, out_features, in_features, tokens, 1, 1, 1), bits=_bits(bits, owner), kind="linear"
    )


def matmul(
    name: str,
    m: int,
    k: int,
    n: int,
    heads: int = 1,
    batch: int = 1,
    bits: tuple[int, int, int] = (16, 16, 16),
    b_shared: bool | None = None,
) -> Layer:
    """A batched matmul ``[batch, heads, m, k] @ [batch?, heads, k, n]``.

    Attention scores are ``matmul(m=seq, k=head_dim, n=kv_len, heads=h)`` and
    the context ``matmul(m=seq, k=kv_len, n=head_dim, heads=h)``. The reduction
    k maps to C, rows m to P and columns n to K; the second matrix plays the
    weights operand (indexed by G, K, C, not by N).

    With ``batch > 1`` the caller must say what the second matrix is, since the
    two readings cost very differently (the second operand's traffic differs by
    the batch factor):

    * ``b_shared=True``: one matrix shared by every sample (a weight): N = batch,
      G = heads.
    * ``b_shared=False``: one matrix per sample (an activation, e.g. each
      sequence's K and V in attention): batch and heads both index every
      operand, so they fold into the groups, G = heads x batch, N = 1.

    With ``batch = 1`` the readings coincide and ``b_shared`` may be left out.

    Raises:
        ValueError: A size is not a positive int, or ``batch > 1`` without a
            bool ``b_shared``.
    """
    owner = f"matmul '{name}'"
    for f, v in (("m", m), ("k", k), ("n", n), ("heads", heads), ("batch", batch)):
        _positive_int(f, v, owner)
    if b_shared is not None and not isinstance(b_shared, bool):
        raise TypeError(f"{owner}: field 'b_shared' expected a bool or None, found {show(b_shared)}")
    if batch > 1 and b_shared is None:
        raise ValueError(
            f"{owner}: field 'b_shared' expected True (second operand a weight shared over the batch) or False "
            f"(a per-sample activation, e.g. attention K/V) when batch > 1, found None (batch={batch})"
        )
    if b_shared is False:
        _positive_int("heads x batch", heads * batch, owner)
        sizes = (1, heads * batch, n, k, m, 1, 1, 1)
    else:
        sizes = (batch, heads, n, k, m, 1, 1, 1)
    return Layer(name=name, sizes=sizes, bits=_bits(bits, owner), kind="matmul")


def raw(
    name: str,
    sizes: dict[str, int] | tuple[int, ...],
    stride: int | tuple[int, int] = 1,
    dilation: int | tuple[int, int] = 1,
    bits: tuple[int, int, int] = (16, 16, 16),
    kind: str = "conv2d",
) -> Layer:
    """A layer from explicit loop bounds (a dict by dim name, missing dims = 1)."""
    owner = f"layer '{name}'"
    if isinstance(sizes, dict):
        unknown = sorted(set(sizes) - set(DIMS))
        if unknown:
            raise ValueError(f"{owner}: field 'sizes' expected keys among {DIMS}, found {unknown}")
        sizes = tuple(sizes.get(d, 1) for d in DIMS)
    elif not isinstance(sizes, (tuple, list)):
        raise ValueError(f"{owner}: field 'sizes' expected a dict by dim or {len(DIMS)} ints, found {show(sizes)}")
    return Layer(
        name=name,
        sizes=tuple(sizes),
        stride=_pair("stride", stride, owner),
        dilation=_pair("dilation", dilation, owner),
        bits=_bits(bits, owner),
        kind=kind,
    )
