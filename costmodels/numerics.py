"""The two numerics the one cost model runs with: exact and relaxed.

The cost model (``costmodels.model``) calls every rounding and reduction
primitive through a numerics object. ``EXACT`` gives integer semantics and
hard maxima (the numbers reported to users); ``Relaxed(temperature)`` gives
smooth, differentiable stand-ins (the numbers gradients are taken of).

How far they agree, as T -> 0 at a legal point with integer factors: every
term without a ceil agrees exactly (counts, compute, DMA, energy). A ceil of
an integer >= 1 agrees too, but a transfer that is not a whole number of
beats (or workgroups that are not a whole number of link rounds) gives
``x <= relaxed ceil(x) < ceil(x)``, so a NoC term (requests x rounds x beats)
is at most the exact one and at least ``(x_r / ceil(x_r)) * (x_b /
ceil(x_b))`` of it (e.g. K=6, C=3 on ``tiny`` with spatial K6 and L1 C3:
weights NoC 4 cycles exact, 2.25 relaxed, within the bound 0.5625).
``tests/costmodels/test_model.py::test_relaxed_noc_bound_at_fractional_beats``
checks both the agreement and this bound.

The relaxations follow the options in the project's relaxation notes
(``shared/reference/relaxation-ideas.md``):

* ``smax``: ``T * logsumexp(log(x_i) / T)`` in log space, scale-free across
  layers of very different sizes; T -> 0 recovers the hard max.
* ``ceil``: the identity, floored smoothly at 1 (a transfer takes at least one
  beat). Exact at integers >= 1; at a non-integer x it is below ceil(x) by
  less than one unit. Its gradient (1) is what the explorer needs to size
  NoC widths and link counts; a staircase would give zero gradient.
* ``is_nontrivial(f)``: whether a loop factor f > 1 (decides reuse); relaxed
  as ``clip(f - 1, 0, 1)``, which is exact at every integer f >= 1.
* ``excess(x, scale)``: ``max(x, 0)`` for capacity and fan-out violations;
  relaxed as a softplus of width ``T * scale`` (a smooth penalty).
"""

from __future__ import annotations

import jax.numpy as jnp
from flax import struct

_CEIL_RTOL = 1e-5
"""Relative slack for ceil in float32: a ratio that is mathematically an
integer n may be computed as n * (1 + 1e-7); ceil must still return n."""


@struct.dataclass(frozen=True)
class Exact:
    """Integer semantics and hard max: the numbers users see."""

    relaxed: bool = struct.field(pytree_node=False, default=False)

    def ceil(self, x):
        return jnp.ceil(x - _CEIL_RTOL * jnp.abs(x))

    def ceil_div(self, a, b):
        """ceil(a / b) for a >= 0, b > 0, without ``ceil``'s relative slack: the floor of
        the float32 quotient plus one where a remainder is left (a quotient rounded just
        below a whole n floors to n - 1 and leaves remainder b: n again). Exact while a
        and q * b stay below 2**24; a relative slack would round 4,620,288 / 42 =
        110,006.86 down to 110,006 (Timeloop: 110,007)."""
        q = jnp.floor(a / b)
        return q + (a - q * b > 0.0).astype(q.dtype)

    def smax(self, xs, axis=-1):
        return jnp.max(xs, axis=axis)

    def is_nontrivial(self, f):
        return (f > 1.0 + _CEIL_RTOL).astype(f.dtype)

    def excess(self, x, scale):
        del scale
        return jnp.maximum(x, 0.0)


@struct.dataclass(frozen=True)
class Relaxed:
    """Smooth, differentiable primitives with a temperature.

    Attributes:
        temperature: Smoothing width. For ``smax`` it is in log units (0.05
            means terms within ~5% of the largest still share the max); for
            ``excess`` it is a fraction of the capacity.
    """

    temperature: float = 0.05
    relaxed: bool = struct.field(pytree_node=False, default=True)

    def ceil(self, x):
        # Smooth max(x, 1) in log space: exact for integers >= 1 as T -> 0.
        return self.smax(jnp.stack([x, jnp.ones_like(x)], axis=-1))

    def ceil_div(self, a, b):
        return self.ceil(a / b)

    def smax(self, xs, axis=-1):
        t = self.temperature
        logs = jnp.log(jnp.maximum(xs, 1e-30))
        return jnp.exp(t * _logsumexp(logs / t, axis))

    def is_nontrivial(self, f):
        return jnp.clip(f - 1.0, 0.0, 1.0)

    def excess(self, x, scale):
        w = self.temperature * scale
        return w * jnp.logaddexp(x / w, 0.0)


def _logsumexp(x, axis):
    m = jnp.max(x, axis=axis, keepdims=True)
    m = jnp.where(jnp.isfinite(m), m, 0.0)
    return jnp.squeeze(m, axis) + jnp.log(jnp.sum(jnp.exp(x - m), axis=axis))


EXACT = Exact()
"""The exact numerics singleton."""

Numerics = Exact | Relaxed
