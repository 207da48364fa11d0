"""The hierarchy mapper (``jaxdse.mapper.nest_search``): legal moves, exhaustive optimum,
Timeloop's shipped exercise mappings beaten, and its place behind ``map_on_hierarchy``."""

from pathlib import Path

import jax
import numpy as np
import pytest

import costmodels as cm
import workloads as w
from jaxdse.hierarchy_plan import HierarchyMapError, map_on_hierarchy, random_nest_mappings
from jaxdse.interop.timeloop_hierarchy import load_design
from jaxdse.mapper import nest_search as ns
from jaxdse.mapper.space import MapperError
from workloads.layer import raw

DATA = Path(__file__).resolve().parents[1] / "data" / "timeloop_exercises"
TINY = {"eyeriss_like": {"K": 4, "C": 3, "P": 3, "R": 3}, "gemmini_like": {"K": 8, "C": 6, "P": 3}}


def _covered(f: np.ndarray) -> np.ndarray:
    return np.prod(f, axis=0)


@pytest.mark.parametrize("preset", ["eyeriss_like", "simba_like", "tpu_v1_like"])
def test_starts_and_moves_stay_in_the_space(preset):
    """Every start and every move covers each loop bound within the padding slack and
    keeps every fan-out within its X / Y limit (host side; no model call)."""
    hier = cm.hierarchy_preset(preset)
    layer = w.get("resnet18").layers[1]
    space = ns.nest_space(layer, hier, 0.125)
    rng = np.random.default_rng(0)
    mix = np.array([0.6, 0.15, 0.25])
    moved = 0
    for _ in range(40):
        f, o = ns._start(space, rng)
        for _ in range(20):
            m = ns._move(f, o, space, rng, mix)
            if m is None:
                continue
            f, o = m
            moved += 1
            cov = _covered(f)
            assert np.all(cov >= space.sizes) and np.all(cov <= space.pad_max), (cov, space.sizes)
            for k in space.spatial_slots:
                assert np.prod(f[k]) <= space.limit[k]
            assert np.all(f[~space.valid] == 1), "a factor on a slot the hierarchy lacks"
            assert all(sorted(row) == list(range(8)) for row in o), "an order that is not a permutation"
    assert moved > 400


def test_bad_config_and_method_are_named():
    with pytest.raises(MapperError, match="field 'budget'"):
        ns.NestSearchConfig(budget=0)
    with pytest.raises(MapperError, match="field 'pad_slack'"):
        ns.NestSearchConfig(pad_slack=2.0)
    with pytest.raises(MapperError, match="field 'walkers'"):
        ns.NestSearchConfig(walkers=9, neighbours=8)
    with pytest.raises(HierarchyMapError, match="field 'method'"):
        map_on_hierarchy(w.get("resnet18"), cm.hierarchy_preset("eyeriss_like"), method="annealing")
    with pytest.raises(MapperError, match="field 'max_mappings'"):
        ns.exhaustive_nest(w.get("resnet18").layers[1], cm.hierarchy_preset("eyeriss_like"), max_mappings=1000)


@pytest.mark.slow  # two compiles of the hierarchy model (about a minute each on 2 loaded cores)
@pytest.mark.parametrize("preset", ["eyeriss_like", "gemmini_like"])
def test_equal_to_exhaustive_with_padding(preset):
    """On a layer small enough to enumerate (every padded split, every order of the
    non-trivial loops), the search finds the optimum for each objective."""
    hier = cm.hierarchy_preset(preset)
    layer = raw("tiny", TINY[preset])
    for objective in ("latency", "energy", "edp"):
        ex = ns.exhaustive_nest(layer, hier, objective)
        got = ns.nest_search(layer, hier, objective, seed=0)
        assert ex.exact_evaluations > 10 * got.exact_evaluations
        assert got.value == pytest.approx(ex.value, rel=1e-6), objective
        assert float(got.costs.legal) == 1.0


@pytest.mark.slow  # compiles the 5- and 6-level models
@pytest.mark.parametrize("design", ["eyeriss_like", "simba_like"])
def test_beats_timeloops_shipped_mapping(design):
    """On the exercises' own problem, EDP under our model <= that of the mapping Timeloop's
    random mapper shipped; one compiled program serves the preset of the same depth too."""
    folder = DATA / design
    hier, mapping, layer = load_design(
        folder / "arch.yaml", folder / "timeloop-mapper.map.yaml", folder / "default_problem.yaml"
    )
    c = cm.evaluate_hierarchy(hier, cm.layer_arrays(layer), mapping)
    assert float(c.legal) == 1.0
    shipped = float(c.latency_cycles) * float(c.energy_total_pj)
    got = ns.nest_search(layer, hier, "edp", seed=0)
    assert got.value <= shipped, (got.value, shipped)
    assert got.exact_evaluations <= ns.NestSearchConfig().budget
    compiled = ns._costs._cache_size()
    ns.nest_search(layer, cm.hierarchy_preset(design), "edp", ns.NestSearchConfig(budget=64))
    assert ns._costs._cache_size() == compiled, "a second architecture of the same depth recompiled"


@pytest.mark.slow
def test_map_on_hierarchy_defaults_to_the_search():
    """The default method is the search: legal, within budget, and no worse than random
    with more evaluations on a two-layer network."""
    net = w.get("resnet18")
    small = w.Network(name="two", layers=net.layers[1:3], counts=net.counts[1:3])
    hier = cm.hierarchy_preset("gemmini_like")
    cfg = ns.NestSearchConfig(budget=400)
    plan = map_on_hierarchy(small, hier, config=cfg)
    rand = map_on_hierarchy(small, hier, method="random", samples=2000)
    assert plan.method.startswith("search") and plan.total()["legal"]
    assert all(r["exact_evaluations"] <= 400 for r in plan.layers)
    assert plan.total()["latency_s"] <= rand.total()["latency_s"]


@pytest.mark.slow  # compiles the 4-level model
def test_tie_break_picks_the_least_energy_of_the_fastest_mappings():
    """With ``tie_break="energy"`` the search walks as without it (same latency) and returns the
    least-energy of the mappings it scored at that latency; the random method returns exactly
    the least-energy sample among those tied at the best latency. Bad values are named."""
    hier = cm.hierarchy_preset("gemmini_like")
    layer = w.get("resnet18").layers[0]
    cfg = ns.NestSearchConfig(budget=256, starts=128)  # the explorer's share of starts
    plain = ns.nest_search(layer, hier, "latency", cfg, seed=0)
    tied = ns.nest_search(layer, hier, "latency", cfg, seed=0, tie_break="energy")
    assert tied.value == plain.value and tied.exact_evaluations == plain.exact_evaluations
    assert float(tied.costs.energy_total_pj) < float(plain.costs.energy_total_pj)  # the case it exists for

    small = raw("tiny", TINY["gemmini_like"])  # small enough for ties among 300 random mappings
    net = w.Network(name="one", layers=[small], counts=[1])
    got = map_on_hierarchy(net, hier, method="random", samples=300, seed=1, tie_break="energy")
    ms = random_nest_mappings(small, hier, 300, np.random.default_rng(1))
    c = jax.vmap(cm.evaluate_hierarchy, in_axes=(None, None, 0))(hier, cm.layer_arrays(small), ms)
    lat = np.where(np.asarray(c.legal) > 0, np.asarray(c.latency_cycles, np.float64), np.inf)
    fastest = np.flatnonzero(lat == lat.min())
    assert len(fastest) > 1
    energy = np.asarray(c.energy_total_pj, np.float64)[fastest]
    assert energy.min() < energy[0]  # the first of the tied (what argmin gave) is not the least
    assert got.layers[0]["latency_s"] == pytest.approx(float(np.asarray(c.latency_s)[fastest[0]]), rel=1e-6)
    assert got.layers[0]["energy_j"] == pytest.approx(energy.min() * 1e-12, rel=1e-6)
    for bad in ("latency", "power", 3):
        with pytest.raises(MapperError, match="field 'tie_break'"):
            ns.nest_search(layer, hier, "latency", cfg, tie_break=bad)
        with pytest.raises(HierarchyMapError, match="field 'tie_break'"):
            map_on_hierarchy(net, hier, tie_break=bad)
