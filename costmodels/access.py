"""Operand footprints of a tile, host- or device-side.

The access counting itself lives in ``costmodels.nest`` (Timeloop v3.0.3's
semantics); this module keeps the footprint helper that the mappers and the
default heuristic use on NumPy arrays.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from costmodels.nest import REL

__all__ = ["REL", "operand_elems"]

_N, _G, _K, _C, _P, _Q, _R, _S = range(8)


def operand_elems(tile, stride, dilation):
    """Elements of each operand touched by a tile of loop extents.

    Args:
        tile: f32[..., 8] loop extents in ``DIMS`` order.
        stride: f32[2] (rows, cols).
        dilation: f32[2] (rows, cols).

    Returns:
        f32[..., 3] elements of (inputs, weights, outputs); inputs include
        the halo (``workloads.halo_extent``).
    """
    xp = np if isinstance(tile, np.ndarray) else jnp
    t = [tile[..., i] for i in range(8)]
    h = (t[_P] - 1.0) * stride[0] + (t[_R] - 1.0) * dilation[0] + 1.0
    w = (t[_Q] - 1.0) * stride[1] + (t[_S] - 1.0) * dilation[1] + 1.0
    inputs = t[_N] * t[_G] * t[_C] * h * w
    weights = t[_G] * t[_K] * t[_C] * t[_R] * t[_S]
    outputs = t[_N] * t[_G] * t[_K] * t[_P] * t[_Q]
    return xp.stack([inputs, weights, outputs], axis=-1)
