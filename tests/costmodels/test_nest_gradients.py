"""The hand-written gradients of costmodels.nest's scans equal the automatic ones."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from costmodels.nest import _exclusive_cumprod, _gcd, _suffix_sum


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
