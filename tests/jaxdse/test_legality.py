"""The mappers' host-side legality (``jaxdse.legality``) agrees with the cost model's
(``costmodels.model.violations``) on random mappings: one definition, checked."""

import jax
import numpy as np
import pytest

import workloads as w
from costmodels import Mapping, evaluate_batch, layer_arrays, make_arch, preset, preset_names
from jaxdse import legality
from jaxdse.heuristic import default_mapping
from jaxdse.mapper.space import ALL_ORDERS
from jaxdse.mapspace import prime_factors


def _random_factors(layer, n: int, rng) -> np.ndarray:
    """i64[n, 4, 8]: every prime of every bound sent to a random level (exact coverage)."""
    f = np.ones((n, 4, 8), np.int64)
    for d, bound in enumerate(layer.sizes):
        for p in prime_factors(int(bound)):
            lvl = rng.integers(0, 4, size=n)
            f[np.arange(n), lvl, d] *= p
    return f


def _layer(name: str, stride=(1, 1), **bounds) -> w.Layer:
    return w.Layer(name, tuple(bounds.get(d, 1) for d in w.DIMS), stride=stride)


LAYERS = {
    "conv3x3_stride2": _layer("c", K=32, C=24, P=14, Q=14, R=3, S=3, stride=(2, 2)),
    "pointwise": _layer("p", K=96, C=16, P=28, Q=28),
    "gemm": _layer("g", K=64, C=48, P=12),
}


@pytest.mark.parametrize("design", ["explainable_default", "small"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_host_legality_equals_the_model(design, name):
    layer = LAYERS[name]
    arch = (
        preset("explainable_default")
        if design == "explainable_default"
        else make_arch(
            num_pes=16, l1_bytes=64, l2_kib=8, dram_mb_per_s=4096, noc_width_bits=32, noc_links=2, noc_virtual=2
        )
    )
    f = _random_factors(layer, 3000, np.random.default_rng(hash(name) % 2**32))
    host = legality.legal(layer, legality.limits(arch), f)
    c = jax.jit(evaluate_batch)(arch, layer_arrays(layer), Mapping.from_factors(f, ALL_ORDERS[np.zeros(len(f), int)]))
    model = np.asarray(c.legal) > 0
    assert 0 < host.sum() < len(f)  # both verdicts occur, so the comparison means something
    assert not (host & ~model).any()  # the host never accepts what the model rejects
    # equal wherever no spatial window overlaps (P or Q unrolled with R or S): there the host's
    # input workgroups (the plain product) are an upper bound of the model's distinct windows
    sp = f[:, 2]
    overlap = ((sp[:, 4] > 1) & (sp[:, 6] > 1)) | ((sp[:, 5] > 1) & (sp[:, 7] > 1))
    assert (host == model)[~overlap].all()
    assert (~overlap).sum() > len(f) // 2


def test_default_mapping_is_legal_on_every_preset():
    for name in preset_names():
        arch = preset(name)
        for layer in LAYERS.values():
            m = default_mapping(layer, arch)
            f = np.stack([np.asarray(m.temporal)[0], np.asarray(m.temporal)[1], np.asarray(m.spatial),
                          np.asarray(m.temporal)[2]])[None].astype(np.int64)  # fmt: skip
            assert legality.legal(layer, legality.limits(arch), f).all(), (name, layer.name)
