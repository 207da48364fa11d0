"""Access counts of any storage hierarchy, as Timeloop v3.0.3 counts them.

The loop nest is a list of storage levels, outermost (DRAM) first. Level
``l`` has one temporal loop per dim (``temporal[l, d]``, in the order
``order[l]``, outermost first) and, below them, a spatial fan-out to its
child level (``spatial[l, axis, d]``, axis 0 = X, 1 = Y). The tile a level
holds (per instance) is the data touched by its own loops and every loop
inside it, temporal and spatial. Which operands a level keeps is
``keep[l, o]``; an operand bypasses the levels that do not keep it.

Counting (NVlabs/timeloop v3.0.3, ``src/loop-analysis/nest-analysis.cpp``,
``tiling.cpp``, ``point-set-multi-aahr.cpp``; the facts are collected in
``shared/reference/timeloop-semantics.md``):

* **Fills** of a level are the deltas between consecutive tiles of one
  instance: each time the loops above the level move, the level receives
  the part of the new tile that the previous tile did not hold (tiles are
  axis-aligned boxes in each operand's coordinates; input rows span
  ``(p - 1) * stride + (r - 1) * dilation + 1``). Timeloop simulates only
  iterations 0 and 1 of every loop and weighs iteration 1 by ``f - 1``
  (``gExtrapolateUniformTemporal``), and a delta is taken only while the
  tile keeps moving by the same translation (``SaveAndSubtractIfSameStride``):
  a change of direction re-fetches the whole tile. Over the loops above the
  level with factor > 1 (outer ``1`` to inner ``m``, factors ``f``, tile
  translations ``s`` per step) this sums to::

      fills = F + sum_k W_k * D_k,   W_k = (prod_{i<k} f_i) * (f_k - 1),
      D_k = delta(T_k) if T_k == s_m else F,   T_k = s_k - sum_{i>k} s_i

  where ``F`` is the tile size and ``delta(T) = |E| - prod_r max(0, E_r -
  |T_r|)`` the new part of a box of extents ``E`` shifted by ``T``. Exact
  tile-by-tile counting can differ (Timeloop extrapolates; we follow it).
* **Reads of a parent** (its nearest outer level keeping the operand) are
  the child's fills over the child instances whose tiles differ: only
  identical tiles are multicast (``ComputeAccurateMulticastedAccesses``), so
  PEs whose windows merely overlap each get their own copy. Distinct tiles
  per fan-out are the product of the relevant spatial factors, with input
  windows that coincide (a P step equal to an R step, Eyeriss's diagonal)
  counted once. The innermost keeper is read once per MAC iteration and
  distinct MAC operand.
* **Outputs** (read-modify-write, first-read elision on, Timeloop's legacy
  RMW path): updates at a level are the deltas arriving from its child (one
  per MAC at the innermost keeper); reads = updates - partition size (the
  distinct outputs an instance ever holds, its first writes); fills =
  the level's own deltas - partition size (partial sums refilled into every
  instance sharing an output); the outermost level has no fills. What a
  level drains upward is kept apart as ``drain_reads`` (Timeloop does not
  count it as a read; our energy does).
* Not modelled: Timeloop's PE-to-PE link transfers
  (``ComputeNetworkLinkTransfers``, on unless ``TIMELOOP_DISABLE_LINK_TRANSFERS``
  is set), which can lower parent reads for sliding windows split across
  PEs; imperfect factorisation's residual iterations (a padded mapping is
  costed as the padded nest).

Every quantity is written with the numerics object, so the exact and the
relaxed model are this same code.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from costmodels.numerics import EXACT

_N, _G, _K, _C, _P, _Q, _R, _S = range(8)
NUM_DIMS = 8
NUM_OPERANDS = 3
NUM_COORDS = 5
"""Coordinates of each operand's data space (inputs N G C H W, weights G K C R S, outputs N G K P Q)."""

# COORD[o, d]: the coordinate of operand o that dim d moves (-1: irrelevant).
_COORD = np.array(
    [
        # N   G   K   C   P   Q   R   S
        [0, 1, -1, 2, 3, 4, 3, 4],  # inputs: N G C H W
        [-1, 0, 1, 2, -1, -1, 3, 4],  # weights: G K C R S
        [0, 1, 2, -1, 3, 4, -1, -1],  # outputs: N G K P Q
    ],
    dtype=np.int32,
)
REL = (_COORD >= 0).astype(np.float32)
"""f32[3, 8]: 1 where a dim indexes an operand's data."""

_EXACT_DOT = jax.lax.Precision.HIGHEST
"""Products used as sums (0/1 and stride matrices): full float32 on every backend (a GPU may otherwise
round f32 products to TF32, and the counts would no longer be exact integers)."""

# _BOX_DIRECT[d, 5 o + c] = 1 where dim d alone is coordinate c of operand o (all but the inputs' H and W).
_BOX_DIRECT = np.zeros((8, 15), np.float32)
for _o, _d in zip(*np.nonzero(_COORD >= 0)):
    if not (_o == 0 and _d in (_P, _Q, _R, _S)):
        _BOX_DIRECT[_d, 5 * _o + _COORD[_o, _d]] = 1.0


def _box_matrix(stride, dilation, dt):
    """f32[8, 15] ``A``: the boxes are ``extent @ A`` plus constants (input rows p * stride + r * dilation
    + 1 - stride - dilation; every other side one extent), so ``A`` is their derivative in the extents."""
    rows_cols = (_P, 3), (_R, 3), (_Q, 4), (_S, 4)  # inputs' H and W (operand 0: columns 3 and 4)
    scale = jnp.stack([stride[0], dilation[0], stride[1], dilation[1]]).astype(dt)
    halo = jnp.zeros((NUM_DIMS, NUM_OPERANDS * NUM_COORDS), dt).at[tuple(np.array(rows_cols).T)].set(scale)
    return jnp.asarray(_BOX_DIRECT, dt) + halo


@jax.custom_jvp
def box_extents(extent, stride, dilation):
    """Box extents of each operand's tile in its own coordinates.

    Args:
        extent: f32[..., 8] loop extents in ``DIMS`` order.
        stride, dilation: f32[2] (rows, cols).

    Returns:
        f32[..., 3, 5]; irrelevant coordinates are 1. Input rows are
        ``(p - 1) * stride + (r - 1) * dilation + 1`` (Timeloop's projection
        of the corner points: the box spans any gap a stride leaves).

    Computed from the extents one by one; its derivative (``_box_extents_jvp``)
    is the same affine map as one product with an [8, 15] matrix, whose
    transpose is a product too: the automatic one padded a full-size array
    for each of the eight extents (+8-12% relaxed value+gradient).
    """
    e = [extent[..., i] for i in range(NUM_DIMS)]
    h = (e[_P] - 1.0) * stride[0] + (e[_R] - 1.0) * dilation[0] + 1.0
    w = (e[_Q] - 1.0) * stride[1] + (e[_S] - 1.0) * dilation[1] + 1.0
    inputs = jnp.stack([e[_N], e[_G], e[_C], h, w], axis=-1)
    weights = jnp.stack([e[_G], e[_K], e[_C], e[_R], e[_S]], axis=-1)
    outputs = jnp.stack([e[_N], e[_G], e[_K], e[_P], e[_Q]], axis=-1)
    return jnp.stack([inputs, weights, outputs], axis=-2)


@box_extents.defjvp
def _box_extents_jvp(primals, tangents):
    extent, stride, dilation = primals
    d_extent, d_stride, d_dilation = tangents
    a = _box_matrix(stride, dilation, extent.dtype)
    shape = extent.shape[:-1] + (NUM_OPERANDS, NUM_COORDS)
    tangent = jnp.dot(d_extent, a, precision=_EXACT_DOT).reshape(shape)
    # the input rows' and columns' dependence on the stride and dilation (zero for a layer's constants)
    rows = (extent[..., _P] - 1.0) * d_stride[0] + (extent[..., _R] - 1.0) * d_dilation[0]
    cols = (extent[..., _Q] - 1.0) * d_stride[1] + (extent[..., _S] - 1.0) * d_dilation[1]
    tangent = tangent.at[..., 0, 3].add(rows).at[..., 0, 4].add(cols)
    return box_extents(extent, stride, dilation), tangent


@struct.dataclass(frozen=True)
class NestCounts:
    """Per-level, per-operand access counts of one layer (totals over instances).

    Levels are in hierarchy order (outermost first), padded to the mapping's
    level axis; a level that does not keep an operand has zeros for it.

    Attributes:
        instances: f32[L] utilised instances of each level.
        tile_elems: f32[L, 3] one instance's tile of each operand (elements).
        reads, fills, updates: f32[L, 3] scalar accesses, Timeloop's meaning.
        drain_reads: f32[L, 3] outputs a level sends up to its parent.
        fill_transfers: f32[L, 3] non-empty deltas (transfers) per instance.
        deltas_per_instance: f32[L, 3] tile deltas one instance receives
            over the layer (= its fills; for outputs, fills + first writes,
            which is also what it drains upward).
        partition: f32[L] distinct outputs one instance ever holds.
        child_transfers: f32[L, 3] per instance, the transfers its nearest
            keeping child level (or the MACs: 0) asks for, over distinct tiles.
        distinct: f32[L, 3] distinct tiles across the fan-out below each level.
        mac_iterations: temporal iterations of every MAC (compute cycles).
        padded_macs: MACs executed including padding.
        active_macs: MAC instances in use.
    """

    instances: Any
    tile_elems: Any
    reads: Any
    fills: Any
    updates: Any
    drain_reads: Any
    fill_transfers: Any
    deltas_per_instance: Any
    partition: Any
    child_transfers: Any
    distinct: Any
    mac_iterations: Any
    padded_macs: Any
    active_macs: Any


def _scan_front(x, fn, init):
    """``[acc before each index]`` along axis 0, unrolled (acc_0 = init, acc_{j+1} = fn(acc_j, x_j))."""
    out, acc = [], init
    for j in range(x.shape[0]):
        out.append(acc)
        acc = fn(acc, x[j])
    return jnp.stack(out)


@jax.custom_vjp
def _exclusive_prefix_prod(x):
    """prod of the entries before each index along axis 0 (unrolled; see ``_exclusive_cumprod``)."""
    return _scan_front(x, jnp.multiply, jnp.ones_like(x[0]))


def _exclusive_prefix_prod_fwd(x):
    y = _exclusive_prefix_prod(x)
    return y, (x, y)


def _exclusive_prefix_prod_bwd(res, ct):
    # d y_j / d x_i = prod_{k<j, k!=i} x_k for j > i: grad_i = y_i * R_i with R_i = sum_{j>i} ct_j prod_{i<k<j} x_k,
    # R_i = ct_{i+1} + x_{i+1} R_{i+1} (a reverse recurrence, no division, no per-index padding)
    x, y = res
    n = x.shape[0]
    r = [None] * n
    acc = jnp.zeros_like(x[0])
    for i in range(n - 1, -1, -1):
        r[i] = acc
        acc = ct[i] + x[i] * acc
    return (y * jnp.stack(r),)


_exclusive_prefix_prod.defvjp(_exclusive_prefix_prod_fwd, _exclusive_prefix_prod_bwd)


def _exclusive_cumprod(x, axis=-1, reverse=False):
    """prod of the entries before (or after, ``reverse``) each index along ``axis``.

    Unrolled over the short axis (at most a few dozen loops): XLA fuses the
    products, where ``jnp.cumprod`` lowers to a slower windowed reduction.
    Its gradient is a recurrence of its own (``_exclusive_prefix_prod``):
    the automatic one pads a full-size array per index.
    """
    x = jnp.moveaxis(x, axis, 0)
    if reverse:
        x = x[::-1]
    y = _exclusive_prefix_prod(x)
    if reverse:
        y = y[::-1]
    return jnp.moveaxis(y, 0, axis)


def _suffix_sum(x, axis):
    """sum of the entries after each index along ``axis``.

    A product with a constant strictly-lower-triangular 0/1 matrix (exact for
    the integer step sums it adds: every partial sum stays below 2**24). An
    unrolled chain here would be fused by XLA into every output, recomputing
    each suffix (quadratic: 3.5x the flops of the whole evaluation's other
    counts on ``eyeriss_like``); ``lax.cumsum`` lowers on CPU to a windowed
    reduction, slower still, forward and in its gradient: the matrix product
    measured 13-20% more relaxed value+gradients and ``eyeriss_like`` exact
    evaluations per CPU-second than it (``benchmarks/model_speed.py``'s
    functions, same process, alternating, 2 loaded cores).
    """
    ax = axis % x.ndim
    n = x.shape[ax]
    after = jnp.asarray(np.tril(np.ones((n, n), np.float32), -1))  # after[j, k] = 1 where j > k
    return jnp.moveaxis(jnp.tensordot(jnp.moveaxis(x, ax, -1), after, axes=1, precision=_EXACT_DOT), -1, ax)


def _gcd(a, b):
    """Greatest common divisor of positive integer-valued floats (Euclid, until every pair is done).

    The remainder is ``a - b * floor(a / b)``: for integers below 2**24 the
    rounded quotient never crosses an integer, so this is exact, and it
    vectorises (a float ``remainder`` is a scalar ``fmod`` call per element
    on CPU). A loop that stops when every remainder is zero (window steps
    are small: a handful of steps), not an unrolled chain, which XLA fused
    into quadratic work. The inputs carry no gradient (``_distinct_windows``
    stops it). A NaN or infinite input stops the loop too (its result is meaningless).
    """

    def step(ab):
        a, b = ab
        nz = b > 0
        bs = jnp.where(nz, b, 1.0)
        return jnp.where(nz, b, a), jnp.where(nz, a - bs * jnp.floor(a / bs), 0.0)

    return jax.lax.while_loop(lambda ab: jnp.any(ab[1] > 0), step, (a, b))[0]


def _divides(d, x):
    """``d`` divides ``x`` (positive integer-valued floats; exact below 2**24, as in ``_gcd``)."""
    return x - d * jnp.floor(x / d) == 0.0


def _distinct_windows(fa, fb, a, b):
    """Distinct values of ``i * a + j * b`` for ``i < fa``, ``j < fb`` (integers >= 1).

    ``i a + j b = i' a + j' b`` iff ``(i - i', j' - j)`` is a multiple of
    ``(b', a') = (b, a) / gcd(a, b)``, so every point with ``i >= b'`` and
    ``j + a' < fb`` repeats an earlier one. Elementwise over any shape.
    """
    ai = jax.lax.stop_gradient(jnp.maximum(jnp.rint(a), 1.0))
    bi = jax.lax.stop_gradient(jnp.maximum(jnp.rint(b), 1.0))
    # Only a pair with both loops split (fa, fb > 1) can repeat; Euclid runs on those alone (the others get
    # gcd(1, 1), one step, so the loop lasts only as long as the pairs that need it: 3.5x less time in it on
    # eyeriss_like). For the others the count is fa * fb whatever the gcd, and the relaxed gradient (a tie
    # of max(., 0) at fa = 1 or fb = 1) needs a' or b' only where it is 1: b | a gives g = b, a | b g = a.
    need = jax.lax.stop_gradient((fa > 1.0) & (fb > 1.0))
    g_other = jnp.where(_divides(bi, ai), bi, jnp.where(_divides(ai, bi), ai, 1.0))
    g = jnp.where(need, _gcd(jnp.where(need, ai, 1.0), jnp.where(need, bi, 1.0)), g_other)
    a1, b1 = ai / g, bi / g
    repeats = jnp.maximum(fa - b1, 0.0) * jnp.maximum(fb - a1, 0.0)
    return fa * fb - repeats


def _distinct_tiles(sp, child_extent, stride, dilation):
    """Distinct tiles of each operand across sets of spatial loops.

    Args:
        sp: f32[..., 8] spatial factors of each set.
        child_extent: f32[..., 8] the step of each spatial loop along its dim
            (the extent of the tile each loop iteration reaches).
        stride, dilation: f32[2].

    Returns:
        f32[..., 3]: distinct tiles of (inputs, weights, outputs).
    """
    rel = jnp.asarray(REL, sp.dtype)
    plain = jnp.prod(jnp.where(rel > 0, sp[..., None, :], 1.0), axis=-1)  # [..., 3]
    # Inputs: P and R (rows), Q and S (cols) move the same coordinate; both pairs in one gcd.
    windows = _distinct_windows(
        jnp.stack([sp[..., _P], sp[..., _Q]], axis=-1),
        jnp.stack([sp[..., _R], sp[..., _S]], axis=-1),
        jnp.stack([child_extent[..., _P] * stride[0], child_extent[..., _Q] * stride[1]], axis=-1),
        jnp.stack([child_extent[..., _R] * dilation[0], child_extent[..., _S] * dilation[1]], axis=-1),
    )
    inputs = sp[..., _N] * sp[..., _G] * sp[..., _C] * windows[..., 0] * windows[..., 1]
    return jnp.stack([inputs, plain[..., 1], plain[..., 2]], axis=-1)


def _fanout_distinct(spatial_xy, child_extent, stride, dilation, xy_stages):
    """Distinct tiles across each level's fan-out (X and Y spatial loops).

    Timeloop finds identical tiles among all the spatial loops of one
    spatial level (``ComputeAccurateMulticastedAccesses``). A fan-out whose X
    and Y come from two Timeloop spatial levels (``xy_stages`` = 1, e.g.
    Eyeriss's PE columns and rows) is two stages: tiles are compared within
    each stage only, the outer stage (X) stepping over the inner stage's
    union. ``xy_stages=None``: every fan-out is one stage.

    Args:
        spatial_xy: f32[L, 2, 8]; child_extent: f32[L, 8]; xy_stages: f32[L] or None.

    Returns:
        f32[L, 3].
    """
    spx, spy = spatial_xy[:, 0], spatial_xy[:, 1]
    if xy_stages is None:
        return _distinct_tiles(spx * spy, child_extent, stride, dilation)
    # One stage (X * Y), or the inner stage (Y) then the outer (X) stepping over the inner's union; a
    # one-stage fan-out's second stage has factors 1 (one distinct tile). Both stages as one batch.
    two = xy_stages[:, None] > 0
    d = _distinct_tiles(
        jnp.stack([jnp.where(two, spy, spx * spy), jnp.where(two, spx, 1.0)]),
        jnp.stack([child_extent, jnp.where(two, child_extent * spy, child_extent)]),
        stride,
        dilation,
    )
    return d[0] * d[1]


def _loop_steps(order, temporal, inner, stride, dilation, top: int):
    """The loops of levels ``0 .. top-1`` in nest order, outermost first.

    Loop ``j = 8 l + k`` is level ``l``'s ``k``-th loop (dim ``order[l, k]``).
    The dim of each loop is picked by comparison (a one-hot over the 8
    dims), not a gather (a batched gather is slow on CPU). ``inner``: f32[L, 8]
    the extent below each level's temporal loop of each dim.

    Returns:
        factors f32[J] and steps f32[5, 3, J]: the translation of each
        operand's tile per step of each loop, coordinate first (the extent below the loop along
        its dim, times stride or dilation for input rows and columns).
    """
    dt = temporal.dtype
    pick = (order[:top, :, None] == jnp.arange(NUM_DIMS)).astype(dt)  # [top, k, d]
    inner = inner[:top]
    factors = jnp.sum(pick * temporal[:top, None], axis=-1).reshape(-1)  # [J]
    step_extent = jnp.sum(pick * inner[:, None], axis=-1).reshape(-1)  # [J]
    pick = pick.reshape(-1, NUM_DIMS)  # [J, d]
    # per operand: the coordinate each loop moves (-1: none) and the units it moves per step
    one = jnp.ones((), dt)
    unit = jnp.stack(
        [
            jnp.stack([one, one, one * 0, one, stride[0], stride[1], dilation[0], dilation[1]]),
            jnp.asarray(REL[1], dt),
            jnp.asarray(REL[2], dt),
        ]
    )  # [3, d]
    coord = jnp.sum(pick[None] * jnp.asarray(_COORD, dt)[:, None, :], axis=-1)  # [3, J]
    moved = jnp.sum(pick[None] * unit[:, None, :], axis=-1) * step_extent  # [3, J]
    steps = jnp.where(coord[None] == jnp.arange(NUM_COORDS, dtype=dt)[:, None, None], moved[None], 0.0)  # [5, 3, J]
    return factors, steps


def _others(xs):
    """For each entry of a list of arrays, the product of all the others (prefix x suffix, no division)."""
    n = len(xs)
    pre, suf = [None] * n, [None] * n
    acc = None
    for r in range(n):
        pre[r] = acc
        acc = xs[r] if acc is None else acc * xs[r]
    acc = None
    for r in range(n - 1, -1, -1):
        suf[r] = acc
        acc = xs[r] if acc is None else acc * xs[r]
    return [p if q is None else q if p is None else p * q for p, q in zip(pre, suf)]


def _up(x):
    """d max(x, 0) / dx as JAX differentiates it (1 above, 1/2 at the tie, 0 below)."""
    return jnp.where(x > 0.0, 1.0, jnp.where(x == 0.0, 0.5, 0.0))


def _fills_forward(weight, base, past, s_m, box):
    """The forward pass of ``_level_fills`` and what its gradient reuses."""
    trans = [base[r][None] + past[r][..., None] for r in range(NUM_COORDS)]  # T_k, 5 x [C, 3, J]
    boxes = [box[r] for r in range(NUM_COORDS)]
    full = boxes[0] * boxes[1] * boxes[2] * boxes[3] * boxes[4]  # [C, 3]
    same, room = None, []
    for r in range(NUM_COORDS):
        t, s = trans[r], s_m[r][..., None]
        same_r = jnp.abs(t - s) <= 1e-3 * (1.0 + jnp.abs(s))
        same = same_r if same is None else same & same_r
        room.append(boxes[r][..., None] - jnp.abs(t))  # overlap along r before clipping at 0
    parts = [jnp.maximum(x, 0.0) for x in room]
    overlap = parts[0] * parts[1] * parts[2] * parts[3] * parts[4]
    full_j = full[..., None]
    pre = jnp.where(same, full_j - overlap, full_j)
    delta = jnp.maximum(pre, 0.0)  # [C, 3, J]
    w = weight[:, None]  # [C, 1, J]
    moved = (delta > 1e-6 * (1.0 + full_j)).astype(delta.dtype)
    out = (full + jnp.sum(w * delta, axis=-1), 1.0 + jnp.sum(w * moved, axis=-1))
    return out, (trans, boxes, room, parts, same, pre, delta, moved, w)


@jax.custom_vjp
def _level_fills(weight, base, past, s_m, box):
    """Fills of the levels' tiles over the loops above them (Timeloop's extrapolated deltas).

    One coordinate at a time (unrolled products over the five, each a
    contiguous [C, 3, J] block, so the elementwise work vectorises;
    reductions over a trailing axis of five did not: this layout took
    ``eyeriss_like`` from 289k to 452k exact evaluations/s, same machine,
    same load, ``benchmarks/model_speed.py``'s function). The gradient is
    written out (``_level_fills_bwd``): the automatic one, through the five
    slices and products, was over half of a relaxed value+gradient.

    Args:
        weight: f32[C, J] ``W_k`` of each loop for each filled level c (0
            for the loops not above it), outermost first (``nest_counts``).
        base, past: f32[5, 3, J] and f32[5, C, 3]: level c's ``T_k`` (per
            coordinate, operand, loop) is ``base[.., k] + past[c]``.
        s_m: f32[5, C, 3] the step of the innermost non-trivial loop above
            each level (no gradient).
        box: f32[5, C, 3] each level's tile box extents per operand.

    Returns:
        (fills f32[C, 3], transfers f32[C, 3]) per instance of each level.
    """
    return _fills_forward(weight, base, past, s_m, box)[0]


def _level_fills_fwd(weight, base, past, s_m, box):
    # only the inputs are kept: the backward recomputes the rest (fused into its sums, cheaper than
    # storing and reloading a dozen [C, 3, J] arrays)
    return _fills_forward(weight, base, past, s_m, box)[0], (weight, base, past, s_m, box)


def _level_fills_bwd(saved, cts):
    # The chain rule of _fills_forward, with JAX's conventions at the kinks (max: 1/2 at a tie; abs: +1 at 0;
    # the comparisons and the moved-or-not step carry none). Checked against jax.grad of the forward
    # (tests/costmodels/test_nest_gradients.py).
    s_m = saved[3]
    trans, boxes, room, parts, same, pre, delta, moved, w = _fills_forward(*saved)[1]
    ct_fills, ct_transfers = cts
    f_ct = ct_fills[..., None]  # [C, 3, 1]
    per_w = f_ct * delta + ct_transfers[..., None] * moved  # [C, 3, J]
    d_weight = per_w[:, 0] + per_w[:, 1] + per_w[:, 2]  # [C, J]
    d_pre = f_ct * w * _up(pre)  # [C, 3, J]
    d_full = ct_fills + jnp.sum(d_pre, axis=-1)  # [C, 3]
    d_overlap = -jnp.where(same, d_pre, 0.0)
    rooms, sgn = [], []
    for q, x, t in zip(_others(parts), room, trans):
        d_room = d_overlap * q * _up(x)  # [C, 3, J]
        rooms.append(d_room)
        sgn.append(-d_room * jnp.where(t >= 0.0, 1.0, -1.0))  # d T_k
    # One array, read by products with ones: a dot takes a materialised operand, so XLA computes the chain
    # once instead of fusing all of it into each sum (measured: 3x the work of this function).
    both = jnp.stack([jnp.stack(rooms), jnp.stack(sgn)])  # [2, 5, C, 3, J]
    sums_j = jnp.dot(both, jnp.ones(both.shape[-1], both.dtype), precision=_EXACT_DOT)  # [2, 5, C, 3]
    d_box = d_full * jnp.stack(_others(boxes)) + sums_j[0]
    d_past = sums_j[1]
    ones_c = jnp.ones(both.shape[2], both.dtype)
    d_base = jnp.tensordot(ones_c, both[1], axes=([0], [1]), precision=_EXACT_DOT)  # [5, 3, J]
    return d_weight, d_base, d_past, jnp.zeros_like(s_m), d_box


_level_fills.defvjp(_level_fills_fwd, _level_fills_bwd)


def nest_counts(
    keep, temporal, order, spatial, sizes, stride, dilation, nums=EXACT, xy_stages=None, depth=None
) -> NestCounts:
    """Timeloop's per-level access counts of one layer on one hierarchy (``vmap`` it over a batch).

    Args:
        keep: f32[L, 3] 1 where level l keeps operand o (level 0, DRAM,
            keeps everything).
        temporal: f32[L, 8] temporal factors per level.
        order: i32[L, 8] loop order per level, outermost first (dim indices).
        spatial: f32[L, 2, 8] spatial factors of the fan-out below each level
            (X, Y); the last level's fan-out reaches the MACs.
        sizes: f32[8] loop bounds (unused by the counts; coverage is a
            violation checked by the model).
        stride, dilation: f32[2].
        nums: numerics (``EXACT`` or ``Relaxed``).
        xy_stages: f32[L] 1 where a fan-out's X and Y are two spatial
            stages (``_fanout_distinct``); default all 0.
        depth: static; levels ``>= depth`` keep nothing (a hierarchy padded
            to the mapping's level axis), so their fills are not computed
            (reported as zeros). Default: every level may keep.

    Returns:
        ``NestCounts``.
    """
    del sizes
    num_levels = temporal.shape[0]
    depth = num_levels if depth is None else depth
    dt = temporal.dtype
    sp = spatial[:, 0] * spatial[:, 1]  # [L, 8] X * Y
    # extent below-and-at level l: temporal of levels >= l and spatial of levels >= l
    per_level = temporal * sp
    below = _exclusive_cumprod(per_level, axis=0, reverse=True)  # [L, 8] the levels inside l
    extent = below * per_level  # [L, 8] tile extents
    # the extent below level l's temporal loop of each dim (its fan-out and the levels inside): a product, not
    # extent / temporal (without the division and its gradient: +6% relaxed value+gradient)
    inner = below * sp
    extent_below = jnp.concatenate([extent[1:], jnp.ones_like(extent[:1])], axis=0)  # child's tile
    instances = _exclusive_cumprod(jnp.prod(sp, axis=1), axis=0)  # [L] utilised instances of each level
    active_macs = jnp.prod(sp)
    mac_iterations = jnp.prod(temporal)
    padded_macs = mac_iterations * active_macs
    boxes = box_extents(extent, stride, dilation)  # [L, 3, 5]

    # Loops of the levels that can be above a filled one (0 .. depth-2), outermost first: level l's in its order.
    top = max(depth - 1, 1)
    loop_f, steps = _loop_steps(order, temporal, inner, stride, dilation, top)
    nontrivial = nums.is_nontrivial(loop_f)  # [J]
    # W_k = (prod of the step counts of the loops outside k) x (f_k - 1): the same for every level below
    weight = _exclusive_cumprod(1.0 + nontrivial * (loop_f - 1.0), axis=0) * nontrivial * (loop_f - 1.0)
    # Level c (1 .. depth-1) is filled over the loops of levels < c, j < 8c: all levels at once, the loops
    # past a level's last masked out of its sums (one pass, no per-level slices: their gradients would pad).
    # T_k = s_k - (the non-trivial steps inside k, among the level's loops) = base_k + inside past the last.
    inside = _suffix_sum(steps * nontrivial, axis=-1)  # [5, 3, J]
    base = steps - inside
    filled = max(min(depth, num_levels) - 1, 0)  # levels 1 .. filled get fills
    past = jnp.moveaxis(inside[..., NUM_DIMS - 1 :: NUM_DIMS][..., :filled], -1, 1)  # [5, C, 3]: inside loop 8c - 1
    # s_m: the step of the innermost non-trivial loop above each level: the blend s <- s + g_k (s_k - s) over
    # the loops outer to inner (a one-hot pick in exact numerics; in relaxed numerics the same sum as
    # sum_m g_m prod_{k>m} (1 - g_k) s_m). It only feeds a comparison: no gradient. A scan over the levels
    # (each level's 8 loops unrolled): unrolled over all loops, XLA fused the chain into every level's
    # output and recomputed it from the start (15% of the evaluation on ``eyeriss_like``).
    steps_ng, g_ng = jax.lax.stop_gradient(steps), jax.lax.stop_gradient(nontrivial)
    blk_steps = steps_ng[..., : filled * NUM_DIMS].reshape(NUM_COORDS, NUM_OPERANDS, filled, NUM_DIMS)
    blk_steps = jnp.moveaxis(blk_steps, 2, 0)  # [C, 5, 3, 8]
    blk_g = g_ng[: filled * NUM_DIMS].reshape(filled, NUM_DIMS)

    def level(s, xs):
        st, g = xs
        for k in range(NUM_DIMS):
            s = s + g[k] * (st[..., k] - s)
        return s, s

    s_m_rows = jax.lax.scan(level, jnp.zeros_like(steps_ng[..., 0]), (blk_steps, blk_g))[1] if filled else None
    mask = jnp.asarray(np.arange(top * NUM_DIMS)[None, :] < NUM_DIMS * np.arange(1, filled + 1)[:, None], dt)
    if filled:
        box = jnp.moveaxis(boxes[1 : filled + 1], -1, 0)  # [5, C, 3]
        fl, tr = _level_fills(weight[None] * mask, base, past, jnp.moveaxis(s_m_rows, 0, 1), box)
    else:
        fl = tr = jnp.zeros((0, NUM_OPERANDS), dt)

    # The outermost level is never filled: its "fills" are its tile, one transfer. Levels at or past
    # ``depth`` keep nothing: their fills are not needed.
    pad = num_levels - 1 - filled
    fill_rows = [jnp.prod(boxes[:1], axis=-1), fl, jnp.zeros((pad, NUM_OPERANDS), dt)]
    transfer_rows = [jnp.ones((1, NUM_OPERANDS), dt), tr, jnp.zeros((pad, NUM_OPERANDS), dt)]
    own_fills, transfers = jnp.concatenate(fill_rows), jnp.concatenate(transfer_rows)  # [L, 3] per instance
    distinct = _fanout_distinct(spatial, extent_below, stride, dilation, xy_stages)  # [L, 3]

    # The MACs as the innermost child: one access per iteration, distinct operands per fan-out.
    keep = keep.at[0].set(1.0)
    lvl = jnp.arange(num_levels)
    # child_of[l, o]: nearest inner level keeping o (num_levels = the MACs).
    later = (lvl[None, :] > lvl[:, None]).astype(dt)  # [L, L'] l' inside l
    cand = later[:, :, None] * keep[None, :, :]  # [L, L', 3]
    first_inner = cand * _exclusive_cumprod(1.0 - cand, axis=1)  # one-hot over L' of the nearest keeper
    has_child = jnp.sum(first_inner, axis=1)  # [L, 3]
    # span[l, c]: distinct tiles over the fan-outs from level l down to (excluding) level c, a product
    # of whole counts (no logs: exact integers in float32); 1 where c <= l.
    ones = jnp.ones_like(distinct[0])
    rows = []
    for l0 in range(num_levels):
        row, acc = [], ones
        for c in range(num_levels + 1):
            row.append(acc)
            if l0 <= c < num_levels:
                acc = acc * distinct[c]
        rows.append(jnp.stack(row))
    span = jnp.stack(rows)  # [L, L + 1, 3]; column L: down to the MACs
    span_to_child = jnp.sum(first_inner * span[:, :num_levels], axis=1)  # [L, 3]
    span_to_macs = span[:, num_levels]
    child_fills = jnp.sum(first_inner * own_fills[None], axis=1)  # [L, 3] per child instance
    child_transfers = jnp.sum(first_inner * transfers[None], axis=1) * span_to_child * has_child
    # per instance of l: what its child (or the MACs) asks for
    demand = has_child * child_fills * span_to_child + (1.0 - has_child) * mac_iterations * span_to_macs

    # Outputs: partition = distinct outputs an instance ever holds.
    out_total = extent[0, _N] * extent[0, _G] * extent[0, _K] * extent[0, _P] * extent[0, _Q]
    partition = out_total / span[0, :num_levels, 2]  # [L]

    is_out = jnp.asarray([0.0, 0.0, 1.0], dt)
    not_dram = (lvl > 0).astype(dt)[:, None]  # [L, 1]
    kept = keep
    part = partition[:, None]
    reads_pi = kept * (demand - is_out * part)
    updates_pi = kept * is_out * demand
    fills_pi = kept * not_dram * (own_fills - is_out * part)
    drain_pi = kept * not_dram * is_out * own_fills
    inst = instances[:, None]
    return NestCounts(
        instances=instances,
        tile_elems=jnp.prod(boxes, axis=-1),
        reads=jnp.maximum(reads_pi, 0.0) * inst,
        fills=jnp.maximum(fills_pi, 0.0) * inst,
        updates=updates_pi * inst,
        drain_reads=drain_pi * inst,
        fill_transfers=kept * not_dram * transfers,
        deltas_per_instance=kept * not_dram * own_fills,
        partition=partition,
        child_transfers=kept * child_transfers,
        distinct=distinct,
        mac_iterations=mac_iterations,
        padded_macs=padded_macs,
        active_macs=active_macs,
    )
