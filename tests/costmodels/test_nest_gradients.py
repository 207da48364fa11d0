"""The hand-written gradients of costmodels.nest's scans and of its fills equal the automatic ones.

``_level_fills`` carries a custom VJP (the automatic one was over half of a
relaxed value+gradient); its forward pass ``_fills_forward`` is plain JAX, so
``jax.vjp`` of it is the reference, kinks included (tiles that just touch,
zero translations, clipped deltas).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from costmodels.nest import _exclusive_cumprod, _fills_forward, _gcd, _level_fills, _suffix_sum


def _reference_exclusive_cumprod(x, axis, reverse):
    x = jnp.moveaxis(x, axis, 0)
    if reverse:
        x = x[::-1]
    y = jnp.concatenate([jnp.ones_like(x[:1]), jnp.cumprod(x, axis=0)[:-1]], axis=0)
    if reverse:
        y = y[::-1]
    return jnp.moveaxis(y, 0, axis)


def _reference_suffix_sum(x, axis):
    return jnp.flip(jnp.cumsum(jnp.flip(x, axis), axis=axis), axis) - x


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("reverse", [False, True])
def test_exclusive_cumprod_value_and_gradient(axis, reverse):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 2.0, (5, 7, 3)).astype(np.float32)
    x[1, 2, 0] = 0.0  # a zero factor: the gradient must not divide by it
    w = rng.normal(size=x.shape).astype(np.float32)
    ours = lambda v: jnp.sum(w * _exclusive_cumprod(v, axis=axis, reverse=reverse))  # noqa: E731
    ref = lambda v: jnp.sum(w * _reference_exclusive_cumprod(v, axis, reverse))  # noqa: E731
    np.testing.assert_allclose(ours(x), ref(x), rtol=1e-5)
    g, g_ref = jax.grad(ours)(x), jax.grad(ref)(x)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_suffix_sum_value_and_gradient(axis):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 6, 5)).astype(np.float32)
    w = rng.normal(size=x.shape).astype(np.float32)
    ours = lambda v: jnp.sum(w * _suffix_sum(v, axis=axis))  # noqa: E731
    ref = lambda v: jnp.sum(w * _reference_suffix_sum(v, axis))  # noqa: E731
    np.testing.assert_allclose(ours(x), ref(x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(jax.grad(ours)(x), jax.grad(ref)(x), rtol=1e-5, atol=1e-5)


def test_gcd_exact_and_stops():
    a = np.array([12, 7, 46368, 1, 30, 9], np.float32)
    b = np.array([18, 7, 28657, 5, 0, 6], np.float32)  # includes consecutive Fibonacci numbers (slowest case)
    np.testing.assert_array_equal(np.asarray(jax.jit(_gcd)(a, b)), np.gcd(a.astype(int), b.astype(int)))
    # a NaN or an infinity does not hang the loop
    out = jax.jit(_gcd)(np.array([np.nan, np.inf, 4.0], np.float32), np.array([3.0, 2.0, np.inf], np.float32))
    assert out.shape == (3,)


def _fills_inputs(rng, levels=3, loops=24, integer=True):
    """Random fills inputs reaching every branch: tiles that overlap their last position (same
    translation as the innermost step) and ones that do not; integer values make exact ties
    (max(., 0) at 0, T_k = 0)."""

    def draw(lo, hi, shape):
        x = rng.integers(lo, hi, shape) if integer else rng.uniform(lo, hi, shape)
        return np.asarray(x, np.float32)

    weight = draw(0, 4, (levels, loops))
    base = draw(-3, 4, (5, 3, loops))
    past = draw(-2, 3, (5, levels, 3))
    box = draw(1, 8, (5, levels, 3))
    k = rng.integers(0, loops, levels)  # each level's "innermost step": T_k of that loop
    s_m = np.stack([base[:, :, k[c]] + past[:, c] for c in range(levels)], axis=1).astype(np.float32)
    # several loops share that translation (so their deltas are partial), the rest move elsewhere
    for c in range(levels):
        for j in rng.integers(0, loops, loops // 3):
            base[:, :, j] = base[:, :, k[c]]
    return weight, base, past, s_m, box


@pytest.mark.parametrize("integer", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_fills_gradient_equals_autodiff(seed, integer):
    args = _fills_inputs(np.random.default_rng(seed), integer=integer)
    rng = np.random.default_rng(100 + seed)
    cts = (rng.normal(size=(3, 3)).astype(np.float32), rng.normal(size=(3, 3)).astype(np.float32))
    out, vjp = jax.vjp(_level_fills, *args)
    ref_out, ref_vjp = jax.vjp(lambda *a: _fills_forward(*a)[0], *args)
    for a, b in zip(out, ref_out):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    got, want = vjp(cts), ref_vjp(cts)
    for name, g, r in zip(("weight", "base", "past", "s_m", "box"), got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(r), rtol=1e-5, atol=1e-4, err_msg=name)


def test_fills_gradient_reaches_every_input():
    # the inputs above do reach the kinks and the smooth parts: some gradients are non-zero
    args = _fills_inputs(np.random.default_rng(7), integer=False)
    g = jax.grad(lambda *a: jnp.sum(_level_fills(*a)[0]), argnums=(0, 1, 2, 4))(*args)
    assert all(float(jnp.max(jnp.abs(x))) > 0 for x in g)


def test_box_extents_derivative_equals_autodiff_of_its_formula():
    # box_extents carries a custom JVP (one product with an [8, 15] matrix); the reference is the
    # automatic derivative of the same formula, in the extents and in the stride and dilation
    from costmodels.nest import box_extents

    def formula(extent, stride, dilation):
        return box_extents.fun(extent, stride, dilation)

    rng = np.random.default_rng(3)
    extent = rng.uniform(1.0, 9.0, (4, 8)).astype(np.float32)
    stride = np.array([2.0, 1.0], np.float32)
    dilation = np.array([1.0, 3.0], np.float32)
    for argnums in (0, 1, 2):
        got = jax.jacfwd(box_extents, argnums=argnums)(extent, stride, dilation)
        want = jax.jacfwd(formula, argnums=argnums)(extent, stride, dilation)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)
        got = jax.jacrev(box_extents, argnums=argnums)(extent, stride, dilation)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)
