"""Black-box baselines: budget of distinct designs, trace lines, determinism, explore(), stall guard, errors."""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import workloads as w
from jaxdse.codesign import Constraints, DesignEval, DesignSpace, Evaluator, Trace, table1_space
from jaxdse.codesign.api import EXPLORERS, explore
from jaxdse.codesign.baselines import BASELINES, BaselineUnavailable, grid_levels, penalised
from jaxdse.codesign.space import NOC_KEYS, PARAMS

ROOT = Path(__file__).resolve().parents[2]
TINY_NET = w.load(ROOT / "workloads/examples/tiny_cnn.yaml")
METHODS = sorted(BASELINES)
MAPPER_BUDGET = 300  # as tests/jaxdse/test_explore.py: the mapper's compiled shapes are shared


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def tiny_space() -> DesignSpace:
    """2-3 legal values per parameter (12,288 designs)."""
    return DesignSpace(
        values={
            "num_pes": (64.0, 256.0),
            "l1_bytes": (16.0, 64.0),
            "l2_kib": (64.0, 256.0),
            "dram_mb_per_s": (4096.0, 12800.0),
            "noc_width_bits": (32.0, 64.0, 128.0),
            **{f"links_{k}": (4.0, 16.0) for k in NOC_KEYS},
            **{f"virtual_{k}": (1.0, 8.0) for k in NOC_KEYS},
        }
    )


def four_design_space() -> DesignSpace:
    """Two parameters with two values each, the rest fixed: 4 designs."""
    v = {p: (vals[0],) for p, vals in tiny_space().values.items()}
    v.update(num_pes=(64.0, 256.0), dram_mb_per_s=(4096.0, 12800.0))
    return DesignSpace(values=v)


class BowlEvaluator(Evaluator):
    """No mapper: a smooth synthetic objective over normalised indices and an
    'area' budget, so the search logic can be tested at larger budgets in
    milliseconds."""

    def evaluate(self, design):
        k = self.key(design)
        if k in self.cache:
            return self.cache[k]
        design = self.space.validate(design)
        x = np.array([self.space.index(p, design[p]) / max(1, len(self.space.values[p]) - 1) for p in PARAMS])
        obj = float(1.0 + np.sum((x - 0.3) ** 2))
        area = float(np.sum(x))
        ev = DesignEval(design, {}, {"bowl": obj}, {"bowl": 0.0}, area, 1.0, {}, {"area_mm2": area / 6.0}, obj,
                        len(self.cache) + 1, 0)  # fmt: skip
        self.cache[k] = ev
        return ev


def bowl(space=None, seed=0) -> BowlEvaluator:
    return BowlEvaluator([], space or table1_space(), Constraints(default_throughput=False), seed=seed)


def _available(method: str) -> bool:
    return method != "bayesian_gp" or _has_torch()


@pytest.mark.parametrize("method", METHODS)
def test_registered_in_explorers(method):
    assert EXPLORERS[method] is BASELINES[method]


@pytest.mark.slow  # a minute of compiling the mapper on 2 loaded cores; CI runs it with -m slow
@pytest.mark.parametrize("method", METHODS)
def test_baseline_contract_with_mapper_in_the_loop(method, tmp_path):
    """Exactly `budget` distinct legal designs, one trace line each with the required
    keys, accepted = improved the best feasible, same seed -> same designs."""
    space = tiny_space()
    if not _available(method):
        with pytest.raises(BaselineUnavailable, match="torch"):
            explore(TINY_NET, space=space, method=method, budget=6, seed=3, mapper_budget=MAPPER_BUDGET)
        return
    r = explore(TINY_NET, space=space, method=method, budget=6, seed=3, out=tmp_path, mapper_budget=MAPPER_BUDGET)
    assert r.method == method and r.evaluations == 6 and len(r.trace.entries) == 6
    lines = [json.loads(s) for s in (tmp_path / "trace.jsonl").read_text().splitlines()]
    assert len(lines) == 6
    for line in lines:
        for key in ("design", "total", "budgets", "accepted", "reason"):
            assert key in line, key
        assert space.validate(line["design"]) == line["design"]
        assert line["reason"]
    keys = {tuple(e.design[p] for p in PARAMS) for e in r.trace.entries}
    assert len(keys) == 6
    assert [e.evaluation for e in r.trace.entries] == list(range(1, 7))
    # accepted exactly where the best feasible objective improves
    bsf = r.best_so_far()
    prev = np.concatenate([[np.inf], bsf[:-1]])
    assert [e.accepted for e in r.trace.entries] == list(bsf < prev)
    if r.feasible:
        assert math.isclose(r.best.objective, bsf[-1])
    # the same seed through the explorer function directly: the same designs
    ev = Evaluator([TINY_NET], space, Constraints(), seed=3, mapper_budget=MAPPER_BUDGET)
    again = BASELINES[method](ev, 6, Trace())
    assert [e.design for e in again.trace.entries] == [e.design for e in r.trace.entries]


@pytest.mark.slow  # half a minute of compiling the mapper per method on 2 cores; CI runs it with -m slow
@pytest.mark.parametrize("method", METHODS[::-1])
def test_small_space_is_exhausted_without_spinning(method):
    """A budget above the space size evaluates every design once and stops."""
    if not _available(method):
        pytest.skip("bayesian_gp needs torch (its error is tested in test_missing_library_errors_name_the_extra)")
    r = explore(TINY_NET, space=four_design_space(), method=method, budget=8, seed=0, mapper_budget=MAPPER_BUDGET)
    assert r.evaluations == 4 and len(r.trace.entries) == 4
    assert len({tuple(e.design.values()) for e in r.trace.entries}) == 4


@pytest.mark.parametrize("method", METHODS)
def test_single_design_space_and_stall_guard(method):
    if not _available(method):
        pytest.skip("bayesian_gp needs torch")
    one = DesignSpace(values={p: (v[0],) for p, v in tiny_space().values.items()})
    assert BASELINES[method](bowl(one), 5, Trace()).evaluations == 1
    ev = bowl(four_design_space())
    assert BASELINES[method](ev, 100, Trace()).evaluations == 4


@pytest.mark.parametrize("method", [m for m in METHODS if m != "grid"])
def test_baselines_beat_their_start_on_a_bowl(method):
    """On a smooth synthetic objective over Table 1 the given start is evaluated first
    and 40 designs improve on it by more than 3%."""
    if not _available(method):
        pytest.skip("bayesian_gp needs torch")
    ev = bowl()
    start = table1_space().default_design()
    r = BASELINES[method](ev, 40, Trace(), start=start)
    assert r.evaluations == 40 and r.trace.entries[0].design == start
    bsf = r.best_so_far()
    assert bsf[-1] < bsf[0] * 0.97, (bsf[0], bsf[-1])
    assert r.feasible


def test_grid_levels_cover_the_ranges_and_match_the_budget():
    s = table1_space()
    for budget in (1, 10, 50, 500, 2500):
        levels = grid_levels(s, budget)
        size = math.prod(len(v) for v in levels)
        assert budget <= size < 2 * budget or budget == 1
        for p, v in zip(PARAMS, levels):
            n = len(s.values[p])
            assert v == sorted(set(v)) and 0 <= v[0] and v[-1] < n
    # one level: the middle value; two: cell centres, not the extremes; PEs refined first
    assert grid_levels(s, 1)[0] == [3]
    assert grid_levels(s, 10)[0] == [1, 5]
    small = four_design_space()
    assert math.prod(len(v) for v in grid_levels(small, 100)) == 4


def test_grid_visits_a_shuffled_grid():
    ev = bowl(seed=0)
    r = BASELINES["grid"](ev, 10, Trace())
    levels = grid_levels(table1_space(), 10)
    for e in r.trace.entries:
        for p, v in zip(PARAMS, levels):
            assert table1_space().index(p, e.design[p]) in v
    other = BASELINES["grid"](bowl(seed=1), 10, Trace())
    assert [e.design for e in other.trace.entries] != [e.design for e in r.trace.entries]


def test_penalty_squares_the_worst_budget():
    ev = bowl(four_design_space()).evaluate(four_design_space().default_design())
    ev.budgets = {"area_mm2": 0.5, "power_w": 3.0}
    assert math.isclose(penalised(ev), math.log(ev.objective * 9.0))
    ev.budgets = {"area_mm2": 0.5}
    assert math.isclose(penalised(ev), math.log(ev.objective))


def test_annealing_reasons_name_temperature_and_metropolis():
    r = BASELINES["annealing"](bowl(), 30, Trace())
    reasons = [e.reason for e in r.trace.entries[1:]]
    assert all(s.startswith("simulated annealing: T=") for s in reasons)
    assert any("Metropolis" in s for s in reasons)
    factors = [float(s.split("(")[1].split(" x ")[0]) for s in reasons]  # "T=0.2 (1.44 x mean uphill step 0.14)"
    assert factors == sorted(factors, reverse=True)
    assert math.isclose(factors[0], 1 / math.log(2), rel_tol=1e-2) and math.isclose(factors[-1], 0.05, rel_tol=1e-2)


def test_genetic_breeds_from_the_population():
    r = BASELINES["genetic"](bowl(), 30, Trace())
    assert sum("initial population" in e.reason for e in r.trace.entries) == 10  # min(20, 30 // 3)
    assert any("child of designs" in e.reason and "uniform crossover" in e.reason for e in r.trace.entries)


def test_missing_library_errors_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(BaselineUnavailable, match="torch") as e:
        BASELINES["bayesian_gp"](bowl(), 5, Trace())
    assert "jaxdse[baselines]" in str(e.value)
    monkeypatch.setitem(sys.modules, "cmaes", None)
    with pytest.raises(BaselineUnavailable, match="cmaes"):
        BASELINES["cmaes"](bowl(), 5, Trace())
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(BaselineUnavailable, match=r"jaxdse\[baselines\]"):
        BASELINES["bayesian_tpe"](bowl(), 5, Trace())
