"""The relaxed model is NaN/inf-free over 10^4 random inputs, values and gradients.

Inputs span the box the gradient mapper and the gradient explorer move in:

* hardware: every parameter log-uniform between Explainable-DSE's Table-1
  limits (``jaxdse.codesign.space.TABLE1``), links = PEs x i / 64 with
  i in [1, 64], virtual unicast in [1, 512] (the explorer's continuous
  relaxation, ``jaxdse.codesign.gradient``);
* mappings: per dim, log factors of the four levels (DRAM, L2, spatial, L1)
  are shares of log(bound) (the mapper's softmax parameterisation,
  ``jaxdse.mapper.gradient``) scaled by 0.5..1.5, so coverage ranges from a
  deficit to padding; loop orders from the nine template pairs or random;
* layers: real ones (ResNet-18, MobileNetV2, BERT-base) and extreme ones
  (all dims 1, a 2^24 reduction, stride and dilation 8, 4-bit operands);
* temperatures 1e-3 .. 1.

Extremes, 2,000 inputs each: factors within 1e-6 of 1 ("tiny"), a whole
dim at one level and the 2^24 layer ("huge"), hardware at the box's
corners, and "zero-size excess" (capacities, PE count and NoC limits set
exactly to what the mapping needs, so every violation is 0 and the smooth
penalty sits at its kink). Everything runs as one vmapped, jitted
function of (arch, layer, mapping, temperature) per batch of 2,000.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import workloads
from costmodels import Mapping, Relaxed, evaluate, make_arch, preset, stack_layers
from jaxdse.codesign.space import TABLE1
from jaxdse.mapper.space import ALL_ORDERS
from workloads.layer import MAX_EXTENT

BATCH = 2000
CATEGORIES = ("box", "tiny", "huge", "corners", "zero_excess")  # 5 x 2,000 = 10^4 inputs


def _layers() -> list[workloads.Layer]:
    real = list(workloads.get("resnet18").layers[:6]) + list(workloads.get("mobilenet_v2").layers[:4])
    real += list(workloads.get("bert_base").layers[:3])
    extreme = [
        workloads.raw("ones", {}),
        workloads.linear("wide", MAX_EXTENT, 1),
        workloads.raw("strided", {"K": 3, "C": 5, "P": 7, "Q": 2, "R": 3, "S": 5}, stride=8, dilation=8),
        workloads.conv2d("int4", 8, 16, 12, 3, bits=(4, 4, 4)),
    ]
    return real + extreme


LAYERS = _layers()
LAYER_ARRAYS = stack_layers(LAYERS)
HUGE_LAYER = [x.name for x in LAYERS].index("wide")

_ARCH_KEYS = ("num_pes", "l1_bytes", "l2_kib", "dram_mb_per_s", "noc_width_bits")
_LO = np.log([min(TABLE1[k]) for k in _ARCH_KEYS])
_HI = np.log([max(TABLE1[k]) for k in _ARCH_KEYS])


def _archs(u_hw: np.ndarray, u_links: np.ndarray, u_virtual: np.ndarray):
    """Archs from unit-box coordinates: u_hw [B, 5], u_links [B, 4], u_virtual [B, 4] in [0, 1]."""
    vals = np.exp(_LO + u_hw * (_HI - _LO))
    pes = vals[:, 0]
    base = preset("explainable_default")
    b = len(pes)
    return base.replace(
        num_pes=jnp.asarray(pes, jnp.float32),
        l1_bytes=jnp.asarray(vals[:, 1], jnp.float32),
        l2_kib=jnp.asarray(vals[:, 2], jnp.float32),
        dram_mb_per_s=jnp.asarray(vals[:, 3], jnp.float32),
        noc_width_bits=jnp.asarray(np.repeat(vals[:, 4:5], 4, axis=1), jnp.float32),
        noc_links=jnp.asarray(pes[:, None] * (1.0 + 63.0 * u_links) / 64.0, jnp.float32),
        noc_virtual=jnp.asarray(np.exp(u_virtual * np.log(512.0)), jnp.float32),
        dma_setup_cycles=jnp.full((b,), base.dma_setup_cycles, jnp.float32),
        freq_mhz=jnp.full((b,), base.freq_mhz, jnp.float32),
    )


def _orders(rng: np.random.Generator, b: int) -> np.ndarray:
    pick = ALL_ORDERS[rng.integers(len(ALL_ORDERS), size=b)]
    rand = np.stack([np.stack([rng.permutation(8) for _ in range(3)]) for _ in range(b)])
    return np.where(rng.random(b)[:, None, None] < 0.7, pick, rand).astype(np.int32)


def _log_factors(rng: np.random.Generator, layer_idx: np.ndarray, scale: np.ndarray, theta_sd: np.ndarray):
    """Log factors [B, 4, 8] (DRAM, L2, spatial, L1): softmax shares of log(bound), times ``scale``."""
    log_bounds = np.log(np.asarray([LAYERS[i].sizes for i in layer_idx], np.float64))  # [B, 8]
    theta = rng.normal(size=(len(layer_idx), 4, 8)) * theta_sd[:, None, None]
    share = np.exp(theta - theta.max(axis=1, keepdims=True))
    share /= share.sum(axis=1, keepdims=True)
    return share * log_bounds[:, None, :] * scale[:, None, None]


def batch(category: str, seed: int):
    """(arch, layer index, log factors [B, 4, 8], orders [B, 3, 8], temperature [B]) of one category."""
    rng = np.random.default_rng(seed)
    b = BATCH
    layer_idx = rng.integers(len(LAYERS), size=b)
    u = [rng.random((b, 5)), rng.random((b, 4)), rng.random((b, 4))]
    temperature = np.exp(rng.uniform(np.log(1e-3), 0.0, size=b))
    if category == "box":
        logf = _log_factors(rng, layer_idx, rng.uniform(0.5, 1.5, b), np.exp(rng.uniform(-3, 2, b)))
    elif category == "tiny":
        logf = rng.uniform(0.0, 1e-6, (b, 4, 8))
    elif category == "huge":
        layer_idx[: b // 2] = HUGE_LAYER
        logf = _log_factors(rng, layer_idx, np.ones(b), np.full(b, 1e3))  # one-hot: a whole dim at one level
    elif category == "corners":
        u = [rng.integers(0, 2, x.shape).astype(float) for x in u]
        logf = _log_factors(rng, layer_idx, rng.choice([0.5, 1.0, 1.5], b), np.exp(rng.uniform(-3, 2, b)))
        temperature = rng.choice([1e-3, 1.0], b)
    else:  # zero_excess: hardware fitted later, exactly to what each mapping needs
        logf = _log_factors(rng, layer_idx, np.ones(b), np.exp(rng.uniform(-3, 2, b)))
    return _archs(*u), layer_idx, logf.astype(np.float32), _orders(rng, b), temperature.astype(np.float32)


def _mapping(logf, order):
    f = jnp.exp(logf)
    return Mapping(temporal=jnp.stack([f[0], f[1], f[3]]), spatial=f[2], order=order)


def _loss(params, layer, order, temperature, base):
    """The gradient explorer's kind of objective, differentiated w.r.t. log factors and log hardware."""
    arch = base.replace(**{k: jnp.exp(v) for k, v in params["log_arch"].items()})
    c = evaluate(arch, layer, _mapping(params["logf"], order), Relaxed(temperature))
    return (
        jnp.log(c.latency_cycles)
        + jnp.log(c.energy_total_pj)
        + c.penalty
        + jnp.log(c.area_total_mm2)
        + jnp.log(c.peak_power_w)
    )


_LOG_ARCH_FIELDS = ("num_pes", "l1_bytes", "l2_kib", "dram_mb_per_s", "noc_width_bits", "noc_links", "noc_virtual")


@jax.jit
def values_and_grads(arch, layer_idx, logf, order, temperature):
    layers = jax.tree_util.tree_map(lambda x: x[layer_idx], LAYER_ARRAYS)

    def one(arch, layer, logf, order, t):
        costs = evaluate(arch, layer, _mapping(logf, order), Relaxed(t))
        params = {"logf": logf, "log_arch": {k: jnp.log(getattr(arch, k)) for k in _LOG_ARCH_FIELDS}}
        grads = jax.grad(_loss)(params, layer, order, t, arch)
        return costs, grads

    return jax.vmap(one)(arch, layers, logf, order, temperature)


@functools.cache
def _fitted_zero_excess(seed: int):
    """Hardware set to exactly what each mapping needs (every violation exactly 0)."""
    arch, layer_idx, logf, order, t = batch("zero_excess", seed)
    costs, _ = values_and_grads(arch, layer_idx, logf, order, t)
    tr = costs.traffic
    links = np.asarray(arch.noc_links)
    fitted = arch.replace(
        l1_bytes=jnp.sum(tr.l1_tile_bytes, axis=-1),
        l2_kib=2.0 * jnp.sum(tr.l2_tile_bytes, axis=-1) / 1024.0,
        num_pes=tr.active_pes,
        noc_links=jnp.minimum(jnp.asarray(links), tr.workgroups),
        noc_virtual=tr.workgroups / jnp.minimum(jnp.asarray(links), tr.workgroups),
    )
    return fitted, layer_idx, logf, order, t


def _bad(tree) -> list[str]:
    """Paths of leaves holding NaN or inf."""
    out = []
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        a = np.asarray(leaf)
        if not np.all(np.isfinite(a)):
            out.append(f"{jax.tree_util.keystr(path)}: {np.sum(~np.isfinite(a))} non-finite")
    return out


@pytest.mark.parametrize("category", CATEGORIES)
def test_relaxed_values_and_gradients_are_finite(category):
    inputs = _fitted_zero_excess(5) if category == "zero_excess" else batch(category, CATEGORIES.index(category))
    costs, grads = values_and_grads(*inputs)
    assert _bad(costs) == [], category
    assert _bad(grads) == [], category
    assert np.all(np.asarray(costs.latency_cycles) > 0) and np.all(np.asarray(costs.energy_total_pj) > 0)
    assert np.all(np.asarray(costs.penalty) >= 0)
    if category == "zero_excess":
        # the inputs really sit at zero excess: the exact excess of the fitted design is 0 up to round-off
        tr = costs.traffic
        l1_need = np.sum(np.asarray(tr.l1_tile_bytes), axis=-1)
        np.testing.assert_allclose(l1_need, np.asarray(inputs[0].l1_bytes), rtol=1e-5)
        np.testing.assert_allclose(np.asarray(tr.active_pes), np.asarray(inputs[0].num_pes), rtol=1e-5)
    if category == "huge":
        assert np.sum(inputs[1] == HUGE_LAYER) >= BATCH // 2 and LAYERS[HUGE_LAYER].name == "wide"
        assert float(np.max(np.exp(inputs[2]))) > 0.9 * MAX_EXTENT  # a factor as large as the largest bound


def test_the_box_reaches_its_edges():
    """The inputs cover what the docstring promises (so the test above could fail)."""
    arch, layer_idx, logf, order, t = batch("corners", 3)
    pes = np.asarray(arch.num_pes)
    assert set(np.round(pes).astype(int)) == {64, 4096}
    assert float(np.min(t)) == pytest.approx(1e-3) and float(np.max(t)) == pytest.approx(1.0)
    _, _, logf_tiny, _, _ = batch("tiny", 1)
    assert float(np.max(np.exp(logf_tiny))) < 1 + 2e-6
    assert len(set(layer_idx.tolist())) == len(LAYERS)
    cheap = make_arch(num_pes=1, l1_bytes=1, l2_kib=1, dram_mb_per_s=1, noc_width_bits=1, noc_links=1, noc_virtual=1)
    assert float(cheap.num_pes) == 1.0  # the model accepts the smallest hardware too (checked finite below)
    one = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (BATCH,) + jnp.shape(x)), cheap)
    costs, grads = values_and_grads(one, layer_idx, logf, order, t)
    assert _bad(costs) == [] and _bad(grads) == []
    # and the check itself sees a NaN: temperature 0 divides by zero in the smooth max
    costs, _ = values_and_grads(one, layer_idx, logf, order, np.zeros_like(t))
    assert _bad(costs)
