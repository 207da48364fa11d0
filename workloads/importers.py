"""Shared pieces of the model importers (``from_onnx``, ``from_jax``, ``from_flax``).

Both front ends reduce every multiply-accumulate operator to one of two
geometries and build the Layer here, so ONNX and JAX models of the same
network import to the same layers:

* a convolution with ``N`` images, ``G`` groups of ``K`` output and ``C``
  input channels, output spatial extents and kernel extents;
* a (batched) matrix product ``[G, P, C] x [G, C, K]``: G batch/heads,
  P rows (free dims of the first operand, folded), C the reduction,
  K columns (free dims of the second operand, folded).

Operand precision is the jaxdse default (16 bits, Explainable-DSE Table 1),
not the model's dtype, so imported networks compare with the zoo.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from workloads.errors import WorkloadError
from workloads.layer import Layer, raw
from workloads.network import Network

NOT_MODELLED = (
    "Dropped (no multiply-accumulates in this MAC-centric model, as in the zoo): activations, element-wise "
    "ops, pooling, softmax, normalisations, reshapes and look-ups."
)

FOLDED_SPATIAL_NOTE = (
    "Convolutions with more than two spatial dims: the outer output dims are folded into N and the outer "
    "kernel dims into C (MACs exact; input reuse across the folded window is not modelled)."
)


def conv_layer(
    name: str,
    *,
    batch: int,
    groups: int,
    out_per_group: int,
    in_per_group: int,
    out_spatial: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> tuple[Layer, bool]:
    """A convolution as a Layer; returns ``(layer, folded)``.

    One spatial dim maps to (P, R); two to (P, Q, R, S); with more, the outer
    output dims are folded into N and the outer kernel dims into C
    (``folded`` is then True and ``FOLDED_SPATIAL_NOTE`` applies). MACs are
    ``N * G * K * C * prod(out_spatial) * prod(kernel)`` in every case.
    """
    nd = len(out_spatial)
    if not (len(kernel) == len(strides) == len(dilations) == nd):
        raise WorkloadError(
            f"conv '{name}': expected equal numbers of output, kernel, stride and dilation dims, found "
            f"{list(out_spatial)}, {list(kernel)}, {list(strides)}, {list(dilations)}"
        )
    extra = max(nd - 2, 0)
    out = [1, 1]
    ker = [1, 1]
    st = [1, 1]
    dl = [1, 1]
    for i in range(extra, nd):
        j = i - extra
        out[j], ker[j], st[j], dl[j] = out_spatial[i], kernel[i], strides[i], dilations[i]
    sizes = {
        "N": batch * math.prod(out_spatial[:extra]),
        "G": groups,
        "K": out_per_group,
        "C": in_per_group * math.prod(kernel[:extra]),
        "P": out[0],
        "Q": out[1],
        "R": ker[0],
        "S": ker[1],
    }
    kind = "depthwise" if groups > 1 and out_per_group == 1 and in_per_group == 1 else "conv2d"
    layer = raw(
        name,
        {d: int(v) for d, v in sizes.items()},
        stride=(int(st[0]), int(st[1])),
        dilation=(int(dl[0]), int(dl[1])),
        kind=kind,
    )
    return layer, extra > 0


def gemm_layer(name: str, *, groups: int, rows: int, reduction: int, cols: int, kind: str) -> Layer:
    """A (batched) matrix product ``[groups, rows, reduction] x [groups, reduction, cols]``.

    Maps as ``workloads.matmul`` / ``workloads.linear`` do: G = groups (heads),
    P = rows, C = reduction, K = cols; the second operand is the weights
    operand. ``kind`` is ``"linear"`` (second operand is a parameter) or
    ``"matmul"`` (both are activations).
    """
    sizes = {"G": groups, "K": cols, "C": reduction, "P": rows}
    return raw(name, {d: int(v) for d, v in sizes.items()}, kind=kind)


def finish(name: str, items: list[tuple[Layer, int]], notes: Sequence[str], source: str, found: str) -> Network:
    """Merge the imported layers into a Network; WorkloadError when there are none."""
    if not items:
        raise WorkloadError(f"{source}: expected at least one {found}, found none (nothing to import)")
    return Network.from_layers(name, items, notes=" ".join(n for n in notes if n))
