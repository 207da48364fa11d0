"""Access counting: how much data each level fetches, and how often.

Semantics follow Timeloop's analytical model (Parashar et al., ISPASS 2019,
sec. IV "tile analysis"), specialised to this template:

* **Reuse across loops.** Consider the temporal loops above a storage level,
  outermost first. A loop whose dim is *relevant* to an operand (indexes its
  data, ``workloads.RELEVANT``) changes the operand's tile each iteration. An
  *irrelevant* loop re-fills the tile only if some relevant loop with a factor
  > 1 sits inside it; irrelevant loops inside every non-trivial relevant loop
  keep the tile stationary (weight / output / input stationarity).
* **Sliding windows.** Let k be the innermost loop above the level with a
  factor > 1. Across k's iterations the level fetches the union of the tiles
  of those iterations, i.e. the tile with dim k's extent multiplied by its
  factor. For P, Q, R, S this union is the halo formula on the enlarged
  extent (``(p - 1) * stride + (r - 1) * dilation + 1``), so consecutive
  windows fetch only the new rows or columns (Timeloop's delta between
  consecutive tiles); for other relevant dims it is factor x tile, and for
  irrelevant dims the tile itself (stationary). Every loop outside k causes a
  whole-tile re-fetch per iteration (reuse rule above), so with another loop
  nested inside a sliding loop each slide re-fetches the whole tile.
* **Multicast.** Data shared by PEs (spatial loops irrelevant to the
  operand) is delivered once per distinct tile: the union over PEs is the
  tile enlarged by the spatial factors (with the halo for inputs).
* **Outputs** are read-modify-written; the first write of each output
  element needs no read (``first touch``), and partial sums of PEs that
  share outputs (spatial C, R, S) are reduced on the way back (spatial
  reduction), so the parent receives one update per distinct element.

All of it is written once with a numerics object (``costmodels.numerics``),
so the exact and the relaxed model are the same code.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from workloads import DIMS, OPERANDS, RELEVANT

REL = np.array([[d in RELEVANT[op] for d in DIMS] for op in OPERANDS], dtype=np.float32)
"""f32[3, 8]: 1 where a dim indexes an operand's data."""

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


def growth(tile, stride, dilation):
    """Relative growth of each operand per unit of extra factor on each dim.

    Multiplying dim d's extent by f multiplies operand o's elements by
    ``1 + (f - 1) * growth[..., o, d]``. For weights and outputs this is
    ``REL`` (elements are proportional to each relevant extent). For inputs
    the window rows are ``h = (p - 1) * stride + (r - 1) * dilation + 1``, so
    enlarging p adds ``p * (f - 1) * stride`` rows: growth ``p * stride / h``;
    likewise ``r * dilation / h`` for R, and the columns for Q and S. When
    the shift exceeds the window (a 1x1 stride-2 conv) consecutive windows
    do not overlap and each adds a whole tile: growth 1.

    Args:
        tile: f32[B, 8] extents. stride, dilation: f32[2].

    Returns:
        f32[B, 3, 8].
    """
    t = [tile[..., i] for i in range(8)]
    h = (t[_P] - 1.0) * stride[0] + (t[_R] - 1.0) * dilation[0] + 1.0
    w = (t[_Q] - 1.0) * stride[1] + (t[_S] - 1.0) * dilation[1] + 1.0
    one, zero = jnp.ones_like(h), jnp.zeros_like(h)
    inputs = jnp.stack(
        [
            one,
            one,
            zero,
            one,
            # a window shifted by more than its extent (stride > tile rows)
            # leaves a gap: the union then grows by whole tiles (hence the min)
            jnp.minimum(t[_P] * stride[0] / h, 1.0),
            jnp.minimum(t[_Q] * stride[1] / w, 1.0),
            jnp.minimum(t[_R] * dilation[0] / h, 1.0),
            jnp.minimum(t[_S] * dilation[1] / w, 1.0),
        ],
        axis=-1,
    )
    rest = jnp.broadcast_to(jnp.asarray(REL[1:]), inputs.shape[:-1] + (2, 8))
    return jnp.concatenate([inputs[..., None, :], rest], axis=-2)


def _exclusive_cumprod(x, reverse=False):
    """out[..., j] = prod_{i < j} x[..., i] (or i > j with ``reverse``).

    Unrolled over the short last axis (at most 16 loops): XLA fuses the
    products, where ``jnp.cumprod`` lowers to a slower windowed reduction.
    """
    n = x.shape[-1]
    idx = range(n - 1, -1, -1) if reverse else range(n)
    acc = jnp.ones_like(x[..., 0])
    out = [None] * n
    for j in idx:
        out[j] = acc
        acc = acc * x[..., j]
    return jnp.stack(out, axis=-1)


def _rev_exclusive_cumprod(x):
    """out[..., j] = prod_{i > j} x[..., i] along the last axis."""
    return _exclusive_cumprod(x, reverse=True)


def fills(nums, loop_factors, loop_dims, tiles, stride, dilation):
    """Data volume and number of transfers that fill a level's tiles.

    Args:
        nums: Numerics (``EXACT`` or ``Relaxed``).
        loop_factors: f32[L] factors of the temporal loops above the level,
            outermost first.
        loop_dims: i32[L] the dim index of each of those loops.
        tiles: f32[B, 8] tile extents at the level (B tile variants filled
            by the same loops, e.g. one PE's tile and the union over PEs).
        stride, dilation: f32[2] window geometry.

    Returns:
        (volume f32[B, 3], requests f32[3]): elements fetched over the whole
        layer per tile variant and operand, and how many times the tile (or
        its sliding delta) is sent, per operand.
    """
    f = loop_factors
    rel = jnp.asarray(REL)[:, loop_dims]  # [3, L]
    g = nums.is_nontrivial(f)  # [L]
    # Irrelevant loop j re-fills iff a non-trivial relevant loop is inside it.
    keep = _rev_exclusive_cumprod(1.0 - rel * g[None, :])  # [3, L]
    expo = rel + (1.0 - rel) * (1.0 - keep)  # [3, L], 1 if loop j re-fills
    # Each loop multiplies the fills by f_j if it re-fills, else by 1. Written
    # as 1 + expo * (f - 1): exact for expo in {0, 1}, smooth in between, and
    # free of logs/exps (the model's hot path).
    step = 1.0 + expo * (f[None, :] - 1.0)  # [3, L]
    mult = _exclusive_cumprod(step)  # product over the loops outside each loop, [3, L]
    # w_k = 1 for the innermost non-trivial loop k, else 0.
    w = g * _rev_exclusive_cumprod(1.0 - g)  # [L]
    w_none = jnp.prod(1.0 - g)
    # Enlarging the tile along loop k's dim by f_k grows each operand by the
    # factor 1 + (f_k - 1) * growth (exact: sizes are affine in one extent).
    coef = growth(tiles, stride, dilation)[:, :, loop_dims]  # [B, 3, L]
    size_0 = operand_elems(tiles, stride, dilation)  # [B, 3]
    wm = w[None, :] * mult  # [3, L]
    enlarge = jnp.sum(wm[None] * (1.0 + (f[None, None, :] - 1.0) * coef), axis=-1)  # [B, 3]
    volume = size_0 * (enlarge + w_none)
    req_k = 1.0 + rel * (f[None, :] - 1.0)  # [3, L], f_k if relevant else 1
    requests = jnp.sum(wm * req_k, axis=-1) + w_none
    return volume, requests
