"""The gradient explorer on a general hierarchy (``jaxdse.codesign.hierarchy_gradient``)."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

import workloads as w
from costmodels import Relaxed, layer_arrays
from costmodels import hierarchy_model as hm
from costmodels.hierarchy import hierarchy_preset
from costmodels.nest_mapping import nest_mapping
from jaxdse.codesign import hierarchy_gradient as hg
from jaxdse.codesign.hierarchy_explore import explore_hierarchy
from jaxdse.codesign.hierarchy_space import HierarchySpace

TINY = "workloads/examples/tiny_cnn.yaml"


@pytest.mark.parametrize("name", ["eyeriss_like", "gemmini_like", "simba_like"])
def test_relaxed_hierarchy_equals_the_exact_one_at_legal_designs(name):
    """At every legal design (here: each parameter one step off the base, and all at once), the
    relaxed hierarchy has the exact one's capacities, fan-outs, bandwidths, energies and areas."""
    space = HierarchySpace(hierarchy_preset(name))
    tables = {k: jnp.asarray(v) for k, v in hg._param_tables(space).items()}
    layout = tuple((p.kind, p.level) for p in space.params)
    base = space.base_design()
    designs = [d for p in space.params for d in (space.step(base, p.name, 1), space.step(base, p.name, -1)) if d]
    everything = dict(base)
    for p in space.params:
        everything = space.step(everything, p.name, 1) or everything
    for d in [base, *designs, everything]:
        h = jnp.asarray(np.log([d[p.name] for p in space.params]), jnp.float32)
        got, want = hg.relaxed_hierarchy(h, space.base, layout, tables), space.to_hierarchy(d)
        for f in ("capacity_bytes", "fanout_x", "fanout_y", "read_bw_words", "write_bw_words", "read_pj",
                  "write_pj", "area_um2"):  # fmt: skip
            np.testing.assert_allclose(np.asarray(getattr(got, f)), np.asarray(getattr(want, f)), rtol=2e-5)
        assert float(hm.area_mm2(got)) == pytest.approx(float(hm.area_mm2(want)), rel=2e-5)


def test_a_restart_reproduces_the_exact_mapping_padding_included():
    """The tiling logits and bounds a restart takes from an exact mapping give back its factors
    (a padded dim included: P 14 split as 2 x 2 x 4 = 16), and the relaxed model's latency there is the
    exact one's within 3%."""
    hier = hierarchy_preset("eyeriss_like")
    space = HierarchySpace(hier)
    mask = hg.slot_mask(space)
    layer = w.conv2d("c", 16, 32, in_hw=14, kernel=3)  # K 32, C 16, P Q 14, R S 3
    m = nest_mapping(  # P padded: 2 x 2 x 4 = 16 >= 14
        temporal=[{"K": 4, "P": 2}, {"C": 4, "Q": 14, "P": 2}, {"S": 3}, {"C": 4, "R": 3}],
        spatial_x=[{}, {"P": 4}],
        spatial_y=[{}, {"K": 8}],
    )
    theta, log_bounds = hg.theta_from_mapping(m, mask)
    r = hg._nest(jnp.asarray(theta), jnp.asarray(log_bounds), m.order, jnp.asarray(mask))
    np.testing.assert_allclose(np.asarray(r.temporal), np.asarray(m.temporal), rtol=1e-3)
    np.testing.assert_allclose(np.asarray(r.spatial), np.asarray(m.spatial), rtol=1e-3)
    assert math.exp(float(log_bounds[4])) == pytest.approx(16.0, rel=1e-5)  # P's padded bound
    exact = hm.evaluate_hierarchy(hier, layer_arrays(layer), m)
    relaxed = hm.evaluate_hierarchy(hier, layer_arrays(layer), r, Relaxed(0.05))
    assert float(relaxed.latency_cycles) == pytest.approx(float(exact.latency_cycles), rel=0.03)


def test_gradient_explorer_improves_within_limits_and_explains_each_step():
    """On tiny_cnn / eyeriss_like (iso-area, iso-power) the joint descent finds a faster design
    than the base within the limits; every evaluated design is within area and power; each
    accepted step improves on the last, says what moved (the descent's snap, or a first-order
    step once the descent repeats a known design) and what it measured, and the explanation
    ends at the design returned."""
    net = w.load(TINY)
    r = explore_hierarchy([net], hierarchy_preset("eyeriss_like"), "eyeriss_like", budget=8, mapper_budget=100,
                          method="gradient", progress=None)  # fmt: skip
    assert 2 <= len(r.evaluations) <= 8
    assert r.feasible and r.best.objective < r.evaluations[0].objective
    assert all(max(e.budgets["area_mm2"], e.budgets["power_w"]) <= 1 + 1e-9 for e in r.evaluations)
    assert r.steps[-1].evaluation == r.best.index
    objs = [s.objective for s in r.steps]
    assert objs == sorted(objs, reverse=True) and len(set(objs)) == len(objs)
    for s in r.steps[1:]:
        assert ("joint descent" in s.reason or "first-order step" in s.reason) and "->" in s.reason
        assert "measured" in s.reason
    assert r.stopped.startswith(("budget", "converged"))
