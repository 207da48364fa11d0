"""costmodels.jit: the model compiled without XLA:CPU's library fusions gives the same numbers."""

import jax
import numpy as np

import costmodels as cm
import workloads as w
from costmodels.compile import CPU_COMPILER_OPTIONS, compiler_options, jit
from jaxdse.mapspace import random_mappings


def _exact(arch, la):
    def f(m):
        c = cm.evaluate_batch(arch, la, m)
        return c.latency_cycles, c.energy_total_pj, c.legal, c.traffic.l1_fills_words

    return f


def test_same_numbers_as_plain_jit():
    layer = w.conv2d("c", 64, 32, 28, 3)
    arch, la = cm.preset("explainable_default"), cm.layer_arrays(layer)
    m = random_mappings(layer, 512, np.random.default_rng(0), max_spatial=256)
    ours = jit(_exact(arch, la))(m)
    plain = jax.jit(_exact(arch, la))(m)
    for a, b in zip(ours, plain):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_options_reach_the_compiler_on_cpu():
    opts = compiler_options()
    if jax.default_backend() == "cpu" and opts:
        assert opts == CPU_COMPILER_OPTIONS
        f = jit(lambda x: x.sum(axis=1))
        text = f.lower(np.ones((64, 16), np.float32)).compile().as_text()  # attribute access reaches jax.jit's
        assert "ynn_fusion" not in text
    else:  # another backend, or a jaxlib without the option: nothing passed
        assert opts == {} or jax.default_backend() == "cpu"


def test_decorator_with_static_args():
    @jit(static_argnames=("k",))
    def f(x, k):
        return x * k

    assert float(f(np.float32(2.0), k=3)) == 6.0
    assert f.__name__ == "f"
