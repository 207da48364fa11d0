"""Multi-objective codesign (issue 16): the front, its files, resume, CLI errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from explore_helpers import TINY_NET, small_space, without_timings

import jaxdse
from jaxdse.cli import main
from jaxdse.codesign import Constraints, ExploreError, ResumeError
from jaxdse.codesign.checkpoint import EVALS_FILE, RUN_FILE, plans_from_record, read_records
from jaxdse.codesign.pareto import costs_of, dominates, hypervolume, non_dominated
from jaxdse.codesign.report import write_report
from jaxdse.codesign.space import to_arch

SETTINGS = {
    "space": small_space(),
    "constraints": Constraints(area_mm2=75.0, power_w=4.0),
    "budget": 9,
    "seed": 0,
    "mapper_budget": 40,
}


def test_dominance_and_non_dominated_set():
    assert dominates((1, 2), (1, 3)) and not dominates((1, 3), (1, 3)) and not dominates((0, 4), (1, 3))
    pts = [(1, 5), (2, 2), (3, 3), (5, 1), (2, 2), (4, 4)]
    assert non_dominated(pts) == [0, 1, 3]  # (3,3) and (4,4) dominated by (2,2); its copy dropped


def test_hypervolume_hand_computed():
    # staircase of (1,3), (2,1) under ref (4,4): 3*1 + 2*2 = 7
    assert hypervolume([(1, 3), (2, 1)], (4, 4)) == pytest.approx(7.0)
    assert hypervolume([(1, 3), (2, 1), (3, 3)], (4, 4)) == pytest.approx(7.0)  # a dominated point adds nothing
    assert hypervolume([(5, 1)], (4, 4)) == 0.0  # beyond the reference point
    # 3-D: two boxes [1,2]^3-corner points, union by inclusion-exclusion
    a, b, ref = (0, 0, 1), (1, 1, 0), (2, 2, 2)
    assert hypervolume([a, b], ref) == pytest.approx(4 * 1 + 1 * 2 - 1 * 1)
    rng = np.random.default_rng(0)
    pts = [tuple(x) for x in rng.uniform(0, 1, size=(6, 2))]
    g = (np.arange(400) + 0.5) / 400  # cell centres of a 400 x 400 grid on [0, 1]^2
    gx, gy = np.meshgrid(g, g)
    covered = np.zeros_like(gx, dtype=bool)
    for x, y in pts:
        covered |= (gx >= x) & (gy >= y)
    assert hypervolume(pts, (1.0, 1.0)) == pytest.approx(covered.mean(), abs=0.01)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pareto")
    jaxdse.explore([TINY_NET], objectives=("latency", "energy"), out=out, **SETTINGS)
    return out


@pytest.mark.slow  # a 9-design multi-objective run (minutes on 2 cores); CI runs it with -m slow
def test_front_is_the_non_dominated_set_of_feasible_exactly_evaluated_points(finished):
    s = json.loads((finished / "result.json").read_text())
    trace = [json.loads(line) for line in (finished / "trace.jsonl").read_text().splitlines()]
    assert s["objectives"] == ["latency", "energy"] and s["method"] == "pareto" and len(trace) == 9
    front = s["pareto"]
    assert front, "a feasible start design gives a front"
    vec = [(p["total"]["latency_s"], p["total"]["energy_j"]) for p in front]
    assert all(not dominates(a, b) for a in vec for b in vec)
    feas = [(e["total"]["latency_s"], e["total"]["energy_j"]) for e in trace if e["feasible"]]
    assert sorted(vec) == sorted(feas[i] for i in non_dominated(feas))  # nothing evaluated dominates it, none left out
    assert all(all(b <= 1.0 for b in p["budgets"].values()) for p in front)
    flagged = {e["evaluation"] for e in trace if e["pareto"]}
    assert flagged == {p["evaluation"] for p in front}
    # exact: the stored mappings re-costed by the exact model give the reported numbers
    records = read_records(finished / EVALS_FILE)
    for p in front:
        rec = records[p["evaluation"] - 1]
        assert rec["design"] == p["design"] and rec["mapper_objective"] == p["mapper_objective"]
        plan = plans_from_record(rec, [TINY_NET], to_arch(p["design"], small_space().fixed))["tiny_cnn"]
        assert plan.total()["latency_s"] == pytest.approx(p["total"]["latency_s"], rel=1e-6)
        assert plan.total()["energy_j"] == pytest.approx(p["total"]["energy_j"], rel=1e-6)
        # each point carries its mappings and the steps that led to it, ending with itself
        assert p["layers"]["tiny_cnn"] and all(r["loop_nest"] for r in p["layers"]["tiny_cnn"])
        assert p["steps"][-1]["evaluation"] == p["evaluation"] and p["steps"][0]["evaluation"] <= 3


def test_every_mapper_objective_joins_the_pruned_mapper(finished):
    """At a small mapper budget latency alone would skip the pruned mapper's join that energy and
    EDP always make; a front compares them on the same axes, so a multi-objective run joins all,
    and its latency mapper breaks ties by energy."""
    from jaxdse.mapper import map_network

    records = read_records(finished / EVALS_FILE)
    rec = next(r for r in records if r["mapper_objective"] == "latency")
    arch = to_arch(rec["design"], small_space().fixed)
    kw = dict(objective="latency", budget=SETTINGS["mapper_budget"], seed=SETTINGS["seed"], progress=False)
    joined = map_network(TINY_NET, arch, join=True, tie_break="energy", **kw)
    alone = map_network(TINY_NET, arch, **kw)
    assert rec["plans"]["tiny_cnn"]["exact_evaluations"] == joined.exact_evaluations > alone.exact_evaluations
    assert joined.total()["latency_s"] <= alone.total()["latency_s"] * (1 + 1e-9)
    # ... and of its fastest mappings it keeps the least-energy one (Evaluator.mapper_tie_break)
    stored = plans_from_record(rec, [TINY_NET], arch)["tiny_cnn"]
    assert stored.total()["energy_j"] == pytest.approx(joined.total()["energy_j"], rel=1e-9)


@pytest.mark.slow  # a 9-design multi-objective run (minutes on 2 cores); CI runs it with -m slow
def test_one_hardware_can_give_several_mapper_objectives(finished):
    records = read_records(finished / EVALS_FILE)
    first = [r for r in records if r["design"] == records[0]["design"]]
    assert {r["mapper_objective"] for r in first} == {"latency", "energy", "edp"}


@pytest.mark.slow  # a 9-design multi-objective run (minutes on 2 cores); CI runs it with -m slow
def test_result_in_memory_matches_costs():
    r = jaxdse.explore([TINY_NET], objectives="latency,area", **{**SETTINGS, "budget": 5})
    assert r.objectives == ("latency", "area") and r.evaluations == 5
    vec = [(costs_of(p.ev)["latency"], costs_of(p.ev)["area"]) for p in r.front]
    assert all(not dominates(a, b) for a in vec for b in vec)
    assert all(p.ev.feasible for p in r.front)
    assert "Pareto front over latency, area" in r.explain()


@pytest.mark.slow  # a 9-design multi-objective run (minutes on 2 cores); CI runs it with -m slow
def test_resume_equals_the_uninterrupted_multi_objective_run(finished, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    lines = (out / EVALS_FILE).read_text().splitlines()
    (out / EVALS_FILE).write_text("\n".join(lines[:4]) + "\n" + lines[4][:50])  # killed while writing line 5
    (out / "result.json").unlink()
    (out / "trace.jsonl").write_text((finished / "trace.jsonl").read_text().splitlines()[0] + "\n")
    result = jaxdse.resume(out)
    assert result.evaluations == 9
    a = without_timings(json.loads((out / "result.json").read_text()))
    b = without_timings(json.loads((finished / "result.json").read_text()))
    assert a == b
    assert (out / "trace.jsonl").read_text() == (finished / "trace.jsonl").read_text()
    assert len(read_records(out / EVALS_FILE)) == 9


@pytest.mark.slow  # a 9-design multi-objective run (minutes on 2 cores); CI runs it with -m slow
def test_report_shows_the_front(finished, tmp_path):
    out = tmp_path / "rep"
    shutil.copytree(finished, out)
    (out / "front.png").unlink()
    text = write_report(out).read_text()
    assert "## Pareto front" in text and "front.png" in text and (out / "front.png").is_file()
    n = len(json.loads((out / "result.json").read_text())["pareto"])
    assert f"Pareto front ({n} points over latency, energy)" in text


@pytest.mark.parametrize(
    "objectives, method, needle",
    [
        (("latency", "speed"), "explainable", "'objectives'"),
        (("latency",), "explainable", "at least two"),
        (("latency", "latency"), "explainable", "at least two"),
        (("latency", "energy"), "random", "'method'"),
        (3, "explainable", "'objectives'"),
        (None, "pareto", "'objectives'"),
    ],
)
def test_bad_objectives_name_the_field(objectives, method, needle):
    with pytest.raises(ExploreError, match=needle):
        jaxdse.explore([TINY_NET], objectives=objectives, method=method, budget=2)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--objectives", "latency,speed"], "field 'objectives'"),
        (["--objectives", "latency"], "at least two"),
        (["--objectives", "latency,energy", "--objective", "edp"], "--objective"),
        (["--objectives", "latency,energy", "--method", "random"], "--method"),
    ],
)
def test_cli_objectives_errors_name_the_flag(argv, needle, capsys):
    assert main(["explore", "--model", "resnet18", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxdse: error:") and needle in err


@pytest.mark.slow  # a 9-design multi-objective run (minutes on 2 cores); CI runs it with -m slow
def test_cli_resume_rejects_objectives_and_bad_stored_objectives(finished, tmp_path, capsys):
    assert main(["explore", "--resume", str(finished), "--objectives", "latency,energy"]) == 2
    assert "--objectives" in capsys.readouterr().err
    out = tmp_path / "bad"
    shutil.copytree(finished, out)
    s = json.loads((out / RUN_FILE).read_text())
    s["objectives"] = ["latency", "speed"]
    (out / RUN_FILE).write_text(json.dumps(s))
    with pytest.raises(ResumeError, match="objectives"):
        jaxdse.resume(out)


@pytest.mark.slow  # a 9-design multi-objective run (minutes on 2 cores); CI runs it with -m slow
def test_pareto_config_is_checked_and_recorded(finished):
    from jaxdse.codesign import ParetoConfig

    with pytest.raises(ValueError, match="'per_step'"):
        ParetoConfig(per_step=0)
    with pytest.raises(ValueError, match="'steps'"):
        ParetoConfig(steps=[1])
    for bad in (-1, True, 1.5):
        with pytest.raises(ValueError, match="'pairs'"):
            ParetoConfig(pairs=bad)
    with pytest.raises(ExploreError, match="'pareto_config'"):
        jaxdse.explore([TINY_NET], pareto_config=ParetoConfig(), budget=2)
    assert json.loads((finished / RUN_FILE).read_text())["pareto_config"]["per_step"] == ParetoConfig().per_step


def test_table1_energy_rule_grows_every_level_below_dram(monkeypatch):
    """DRAM dominating energy calls for more reuse at every level below it (L2 and L1), as on a
    hierarchy: held mappings predict nothing for a larger L1, so only this rule proposes it.
    The predicted gain is capped by the DRAM bytes above the compulsory traffic."""
    from jaxdse.codesign import pareto as pa
    from jaxdse.codesign.space import table1_space

    space = table1_space()
    ev = SimpleNamespace(design=space.default_design())
    parts = {"mac": 1.0, "l1": 1.0, "noc": 0.5, "l2": 0.5, "dram": 10.0, "leakage": 0.0}
    monkeypatch.setattr(pa, "energy_components", lambda e: parts)
    monkeypatch.setattr(pa, "dram_excess", lambda e: 0.1)
    rules = pa._energy_rules(ev, space, pa.ParetoConfig())
    assert {p for p, *_ in rules} == {"l2_kib", "l1_bytes"}
    assert all(new > ev.design[p] and "dram is 77% of energy (10% of its" in why for p, new, why, _ in rules)
    assert all(gain == pytest.approx(-10 / 13 * 0.1) for *_, gain in rules)  # removable, not half of 77%


def test_table1_energy_rule_leaves_dram_at_its_compulsory_traffic(monkeypatch):
    """DRAM at its compulsory traffic (every operand moved once) cannot be lowered by a buffer:
    the rule names that and turns to the largest component more reuse can lower (L2, then the
    NoC: a larger L1 either way); where none can be, it proposes nothing (a smaller L1, fewer
    PEs or less area are the held-mapping predictions' moves, not a guess)."""
    from jaxdse.codesign import pareto as pa
    from jaxdse.codesign.space import table1_space

    space = table1_space()
    ev = SimpleNamespace(design={**space.default_design(), "l2_kib": 256.0, "num_pes": 256.0})
    monkeypatch.setattr(pa, "dram_excess", lambda e: 0.0)
    for parts, head in (
        (
            {"l1": 1.0, "l2": 2.0, "dram": 10.0, "noc": 0.0},
            "dram is 77% of energy but at its compulsory traffic; l2 is 15%",
        ),
        (
            {"l1": 1.0, "l2": 1.0, "dram": 10.0, "noc": 3.0},
            "dram is 67% of energy but at its compulsory traffic; noc is 20%",
        ),
    ):
        monkeypatch.setattr(pa, "energy_components", lambda e, parts=parts: parts)
        rules = pa._energy_rules(ev, space, pa.ParetoConfig())
        assert [(p, new) for p, new, *_ in rules] == [("l1_bytes", space.step("l1_bytes", ev.design["l1_bytes"], 1))]
        assert rules[0][2].startswith(head)
    monkeypatch.setattr(pa, "energy_components", lambda e: {"mac": 2.0, "l1": 5.0, "dram": 10.0})
    assert pa._energy_rules(ev, space, pa.ParetoConfig()) == []
    # a little above the floor: said so, and the larger removable share still wins
    monkeypatch.setattr(pa, "dram_excess", lambda e: 0.05)
    monkeypatch.setattr(pa, "energy_components", lambda e: {"l1": 1.0, "l2": 2.0, "dram": 10.0})
    (rule,) = pa._energy_rules(ev, space, pa.ParetoConfig())
    assert rule[2].startswith("dram is 77% of energy but only 5% of its bytes above the compulsory traffic; l2 is 15%")


def test_dram_excess_of_real_mappings_is_the_share_above_compulsory_bytes(finished):
    """On the run's stored mappings: DRAM never moves less than the compulsory bytes of a
    layer (the floor is a lower bound of the model), and the excess is the share above it."""
    from jaxdse.codesign.pareto import dram_excess

    records = read_records(finished / EVALS_FILE)
    for rec in records[:3]:
        plans = plans_from_record(rec, [TINY_NET], to_arch(rec["design"], small_space().fixed))
        plan = plans["tiny_cnn"]
        moved = np.asarray(plan.costs.layers.traffic.dram_bytes, dtype=np.float64).sum(-1)
        floor = np.array([sum(layer.compulsory_bytes().values()) for layer in plan.network.layers], dtype=np.float64)
        assert np.all(moved >= floor * (1 - 1e-6))
        counts = np.asarray(plan.costs.counts, dtype=np.float64)
        want = 1 - (counts * floor).sum() / (counts * moved).sum()
        assert dram_excess(SimpleNamespace(plans=plans)) == pytest.approx(want, abs=1e-9)


class _Store:
    """A store of hand-set costs (``FrontSearch``'s interface, no model): a design is its costs."""

    objectives, mappers, seed = ("latency", "energy"), ("latency",), 0

    def __init__(self) -> None:
        self.points = []

    @property
    def count(self) -> int:
        return len(self.points)

    def evaluate(self, design, m, parent=None, reason=""):
        from jaxdse.codesign.pareto import Point

        ev = SimpleNamespace(index=self.count + 1, feasible=True, design=design)
        p = Point(ev, m, parent, reason)
        self.points.append(p)
        return p, True

    def costs(self, p):
        return p.ev.design

    def vector(self, p):
        return tuple(p.ev.design[o] for o in self.objectives)

    def front(self):
        vec = [self.vector(p) for p in self.points]
        return [self.points[i] for i in non_dominated(vec)]


def test_a_hair_below_the_front_is_not_progress_on_its_target():
    """A new front point counts as progress on its target only if it lowers the target's
    scalarised cost by ``min_progress`` of the span; a smaller gain still joins the front."""
    from jaxdse.codesign.pareto import FrontSearch, ParetoConfig, _Cand

    store = _Store()
    trace = SimpleNamespace(add=lambda *a, **k: None)
    fs = FrontSearch(store, None, 10, trace, ParetoConfig(min_progress=0.02), None)
    fs.evaluate(
        0,
        None,
        [
            _Cand({"latency": 1.0, "energy": 2.0}, "latency", "a"),
            _Cand({"latency": 2.0, "energy": 1.0}, "latency", "b"),
        ],
    )
    fs.weights, fs.spans = {"energy": 1.0}, {"latency": 0.69, "energy": 0.69}
    assert not fs.evaluate(1, None, [_Cand({"latency": 2.0, "energy": 0.999}, "latency", "hair")])  # 0.1% of span
    assert len(store.front()) == 2 and store.front()[-1].ev.index == 3  # it did join (and displaced b)
    assert fs.evaluate(2, None, [_Cand({"latency": 2.0, "energy": 0.9}, "latency", "real")])  # 15% of span
    for bad in (-0.1, True, float("inf"), "x"):
        with pytest.raises(ValueError, match="'min_progress'"):
            ParetoConfig(min_progress=bad)
