"""The design space of a general hierarchy and the explorer on it (issue 15, section 2)."""

import json
import math

import numpy as np
import pytest

import workloads as w
from costmodels import hierarchy_model as hm
from costmodels.hierarchy import hierarchy_preset
from jaxdse.cli import main
from jaxdse.codesign.explorer_config import ConfigError
from jaxdse.codesign.hierarchy_explore import (
    HierarchyExplorerConfig,
    _hardware_ok,
    _rank,
    _restart,
    explore_hierarchy,
    resume_hierarchy,
)
from jaxdse.codesign.hierarchy_rules import HierEval, fit_limits, hardware_budgets, propose, throughput_limits
from jaxdse.codesign.hierarchy_space import HierarchySpace
from jaxdse.codesign.report import write_report
from jaxdse.codesign.space import SpaceError

TINY = "workloads/examples/tiny_cnn.yaml"


@pytest.mark.parametrize("name", ["eyeriss_like", "simba_like", "gemmini_like", "tpu_v1_like"])
def test_space_is_read_off_the_hierarchy(name):
    """Every on-chip level's capacity and every fan-out > 1 is a parameter; the base design
    rebuilds the preset exactly; integer counts only."""
    hier = hierarchy_preset(name)
    space = HierarchySpace(hier)
    caps = np.asarray(hier.capacity_bytes)
    for lv, level in enumerate(hier.names):
        assert (f"{level}.capacity" in space.by_name) == (lv > 0 and math.isfinite(caps[lv]))
        for axis in ("fanout_x", "fanout_y"):
            assert (f"{level}.{axis}" in space.by_name) == (float(np.asarray(getattr(hier, axis))[lv]) > 1)
    for p in space.params:
        if p.kind != "read_bw":
            assert all(v >= 1 and float(v).is_integer() for v in p.values), p
    rebuilt = space.to_hierarchy(space.base_design())
    for f in ("capacity_bytes", "fanout_x", "fanout_y", "read_pj", "area_um2", "read_bw_words"):
        np.testing.assert_allclose(np.asarray(getattr(rebuilt, f)), np.asarray(getattr(hier, f)), rtol=1e-6)


def test_capacity_moves_area_and_energy_along_the_technology_laws():
    space = HierarchySpace(hierarchy_preset("eyeriss_like"))
    base = space.base_design()
    up = space.step(base, "shared_glb.capacity", 1)
    a0 = float(hm.area_mm2(space.to_hierarchy(base)))
    a1 = float(hm.area_mm2(space.to_hierarchy(up)))
    assert a1 > a0
    lv = space.by_name["shared_glb.capacity"].level
    assert float(np.asarray(space.to_hierarchy(up).read_pj)[lv]) > float(np.asarray(space.base.read_pj)[lv])


def test_bad_space_values_name_the_field():
    hier = hierarchy_preset("gemmini_like")
    with pytest.raises(SpaceError, match="Accumulator.fanout_x"):
        HierarchySpace(hier, values={"Accumulator.fanout_x": [8, 12.5]})
    with pytest.raises(SpaceError, match="no_such.capacity"):
        HierarchySpace(hier, values={"no_such.capacity": [1024]})
    space = HierarchySpace(hier, values={"Accumulator.fanout_x": [8, 16, 32]})
    assert space.by_name["Accumulator.fanout_x"].values == (8.0, 16.0, 32.0)
    with pytest.raises(SpaceError, match="Accumulator.fanout_x"):
        space.validate({**space.base_design(), "Accumulator.fanout_x": 64.0})


def test_fit_limits_pays_for_a_move_with_buffers():
    space = HierarchySpace(hierarchy_preset("gemmini_like"))
    base = space.base_design()
    limits = {"area_mm2": 4.0, "power_w": 20.0}
    grown = space.step(base, "Accumulator.fanout_x", 1)
    assert hardware_budgets(space, grown, limits)["power_w"] > 1.0
    fitted, shrunk = fit_limits(space, grown, limits, keep="Accumulator.fanout_x")
    assert fitted["Accumulator.fanout_x"] == grown["Accumulator.fanout_x"] and shrunk
    assert max(hardware_budgets(space, fitted, limits).values()) <= 1.0
    assert fitted["DRAM.read_bw"] == grown["DRAM.read_bw"]  # buffers first: they can pay here
    # a power limit no buffer shrinking can meet (every buffer at its smallest: 14.3 W) but a lower
    # DRAM bandwidth can (10.4 W with it at its lowest too): the bandwidth pays
    fitted, shrunk = fit_limits(space, grown, {"area_mm2": 1e9, "power_w": 12.0}, keep="Accumulator.fanout_x")
    assert fitted["DRAM.read_bw"] < grown["DRAM.read_bw"] and any("DRAM.read_bw" in x for x in shrunk)
    assert hardware_budgets(space, fitted, {"area_mm2": 1e9, "power_w": 12.0})["power_w"] <= 1.0
    assert fit_limits(space, grown, {"area_mm2": 1e9, "power_w": 10.0}, keep="Accumulator.fanout_x") is None


@pytest.mark.slow  # maps ~10 designs of tiny_cnn on gemmini_like: about a minute on 2 loaded cores
def test_explainable_beats_the_base_within_limits_and_explains_to_the_end():
    net = w.load(TINY)
    r = explore_hierarchy([net], hierarchy_preset("gemmini_like"), "gemmini_like", budget=6, mapper_budget=100,
                          max_power_w=20.0, progress=None)  # fmt: skip
    assert r.feasible and r.best.objective < r.evaluations[0].objective
    assert r.steps[-1].evaluation == r.best.index  # the explanation ends at the design returned
    assert all(e.budgets["area_mm2"] <= 1 + 1e-9 and e.budgets["power_w"] <= 1 + 1e-9 for e in [r.best])
    assert len(r.evaluations) <= 6
    for s in r.steps[1:]:  # the gradient warm start's steps first, then the rules'
        assert ("bound by" in s.reason or s.reason.startswith("gradient warm start")) and "measured" in s.reason
    rnd = explore_hierarchy([net], hierarchy_preset("gemmini_like"), "gemmini_like", budget=4, mapper_budget=100,
                            max_power_w=20.0, method="random", progress=None)  # fmt: skip
    assert len(rnd.evaluations) == 4 and all(e.design in [x.design for x in rnd.evaluations] for e in [rnd.best])
    for method in ("genetic", "bayesian_tpe", "cmaes"):  # the black-box baselines on the same space
        bb = explore_hierarchy([net], hierarchy_preset("gemmini_like"), "gemmini_like", budget=3, mapper_budget=100,
                               max_power_w=20.0, method=method, progress=None)  # fmt: skip
        assert len(bb.evaluations) == 3 and bb.steps[-1].evaluation == bb.best.index


def test_grid_and_annealing_walk_the_hierarchy_space():
    """The Table-1 grid and annealing walks (``baselines.grid_walk`` / ``anneal_walk``) on a hierarchy:
    the budget's distinct designs, every one in the space, annealing from the base design, each
    seed its own walk and the same seed the same walk."""
    net = w.load(TINY)
    space = HierarchySpace(hierarchy_preset("gemmini_like"))
    legal = {p.name: set(p.values) for p in space.params}
    runs = {}
    for method, seed in (("grid", 0), ("annealing", 0), ("annealing", 0), ("annealing", 1)):
        r = explore_hierarchy([net], hierarchy_preset("gemmini_like"), "gemmini_like", budget=5, mapper_budget=60,
                              max_power_w=20.0, method=method, seed=seed, progress=None)  # fmt: skip
        designs = [e.design for e in r.evaluations]
        assert len(designs) == 5 and len({space.key(d) for d in designs}) == 5
        assert all(d[k] in legal[k] for d in designs for k in d)
        assert r.steps[-1].evaluation == r.best.index and r.best.objective == min(
            e.objective for e in r.evaluations if e.feasible
        )
        runs.setdefault((method, seed), []).append([space.key(d) for d in designs])
    assert runs[("annealing", 0)][0] == runs[("annealing", 0)][1]  # same seed, same walk
    assert runs[("annealing", 0)][0] != runs[("annealing", 1)][0]
    assert runs[("annealing", 0)][0][0] == space.key(space.base_design())  # annealing starts at the base


@pytest.mark.slow  # one short CLI run on a hierarchy
def test_cli_explore_on_a_hierarchy_writes_result(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["explore", "--arch", "gemmini_like", "--workload", TINY, "--budget", "3", "--power-w", "20"]
    assert main([*argv, "--out", str(out)]) == 0
    data = json.loads((out / "result.json").read_text())
    assert data["arch"] == "gemmini_like" and len(data["evaluations"]) <= 3 and data["best"]["feasible"]
    assert main([*argv, "--out", str(out)]) == 2  # an existing result is not replaced without --force
    assert "--force" in capsys.readouterr().err
    assert main(["report", str(out)]) == 0  # jaxdse report reads a hierarchy run too
    text = (out / "report.md").read_text()
    assert "Hierarchy codesign on gemmini_like" in text and "Design space" in text
    # interrupted after one mapped design: --resume retraces from evaluations.jsonl and ends where the run did
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "run.json").write_text((out / "run.json").read_text())
    (cut / "evaluations.jsonl").write_text((out / "evaluations.jsonl").read_text().splitlines()[0] + "\n")
    assert main(["explore", "--resume", str(cut)]) == 0
    again = json.loads((cut / "result.json").read_text())
    assert again["steps"] == data["steps"] and again["stopped"] == data["stopped"]
    assert [e["objective"] for e in again["evaluations"]] == [e["objective"] for e in data["evaluations"]]
    assert main(["explore", "--resume", str(cut), "--budget", "9"]) == 2  # settings come from run.json


def test_cli_explore_refuses_template_arch_and_unsupported_flags(capsys):
    assert main(["explore", "--arch", "explainable_default", "--model", "resnet18"]) == 2
    assert "general hierarchy" in capsys.readouterr().err
    assert main(["explore", "--arch", "gemmini_like", "--model", "resnet18", "--min-tokens-per-s", "3"]) == 2
    assert "'min_tokens_per_s' expected at least one LLM prefill/decode network" in capsys.readouterr().err
    # the Table-1 explorer's knobs are not the hierarchy explorer's: the message lists the right keys
    assert main(["explore", "--arch", "gemmini_like", "--model", "resnet18", "--explorer-config", "top_k=3"]) == 2
    assert "layers_tried" in capsys.readouterr().err
    assert (
        main(["explore", "--arch", "gemmini_like", "--model", "resnet18", "--explorer-config", "layers_tried=0"]) == 2
    )
    assert "'layers_tried' expected an int >= 1" in capsys.readouterr().err
    # gradient runs on hierarchies too (hierarchy_gradient); the GP baseline is the Table-1 space's only
    assert main(["explore", "--arch", "gemmini_like", "--model", "resnet18", "--method", "bayesian_gp"]) == 2
    assert "'--method' expected one of" in capsys.readouterr().err
    front = ["explore", "--arch", "gemmini_like", "--workload", TINY, "--objectives"]
    assert main([*front, "latency,energy", "--method", "random"]) == 2  # a front is searched by 'pareto' only
    assert "--objectives" in capsys.readouterr().err
    assert main([*front, "latency,energy", "--objective", "energy"]) == 2
    assert main([*front, "latency"]) == 2  # one objective is not a front
    assert "objectives" in capsys.readouterr().err


def test_cli_hierarchy_space_file_errors_name_the_parameter(tmp_path, capsys):
    bad = tmp_path / "space.yaml"
    bad.write_text("Accumulator.fanout_x: [16, 12.5]\n")
    argv = ["explore", "--arch", "gemmini_like", "--workload", TINY, "--budget", "2", "--space", str(bad)]
    assert main(argv) == 2
    assert "Accumulator.fanout_x" in capsys.readouterr().err
    bad.write_text("- 1\n- 2\n")
    assert main(argv) == 2
    assert "parameter name" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [10**400, float("nan"), -1.0, "x", True])
def test_bad_limits_name_the_field(bad):
    with pytest.raises(SpaceError, match="max_area_mm2"):
        explore_hierarchy([w.load(TINY)], hierarchy_preset("gemmini_like"), budget=1, max_area_mm2=bad, progress=None)


@pytest.mark.slow  # two short front searches (~40 s)
def test_hierarchy_front_is_non_dominated_exact_and_resumes(tmp_path):
    from jaxdse.codesign.hierarchy_explore import resume_hierarchy
    from jaxdse.codesign.pareto import dominates, mapper_tie_break
    from jaxdse.hierarchy_plan import map_on_hierarchy
    from jaxdse.mapper.nest_search import NestSearchConfig

    net, hier = w.load(TINY), hierarchy_preset("gemmini_like")
    kw = dict(budget=10, mapper_budget=60, max_power_w=20.0, progress=None, objectives=("latency", "energy"))
    r = explore_hierarchy([net], hier, "gemmini_like", out=tmp_path / "run", **kw)
    assert r.method == "pareto" and r.pareto and len(r.evaluations) == 10
    assert "(pareto, objectives latency, energy)" in r.summary().splitlines()[0]
    vec = {e.index: (e.latency_s, e.energy_j) for e in r.evaluations}
    feas = {e.index for e in r.evaluations if e.feasible}
    front = [f["evaluation"] for f in r.pareto]
    assert set(front) <= feas  # only feasible designs
    for i in front:  # nothing evaluated dominates a front point, and every non-dominated feasible point is on it
        assert not any(dominates(vec[j], vec[i]) for j in feas)
    assert all(any(dominates(vec[i], vec[j]) or vec[i] == vec[j] for i in front) for j in feas)
    for f0 in r.pareto:  # exactly evaluated: the same mapper on the same design gives the same costs
        m = f0["mapper_objective"]  # a latency mapping is the least-energy of the fastest the mapper scored
        cfg = NestSearchConfig(budget=60, starts=30)
        hier_f = r.space.to_hierarchy(f0["design"])
        again = map_on_hierarchy(net, hier_f, objective=m, seed=0, config=cfg, tie_break=mapper_tie_break(m)).total()
        assert again["latency_s"] == pytest.approx(f0["total"]["latency_s"], rel=1e-6)
        assert again["energy_j"] == pytest.approx(f0["total"]["energy_j"], rel=1e-6)
    assert all(f["steps"][-1]["evaluation"] == f["evaluation"] for f in r.pareto)  # each point explained
    trace = [json.loads(t) for t in (tmp_path / "run" / "trace.jsonl").read_text().splitlines()]
    assert {t["evaluation"] for t in trace if t["pareto"]} == set(front)
    assert (tmp_path / "run" / "front.png").is_file()
    # interrupted after four mapped designs: the resumed run equals the uninterrupted one
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "run.json").write_text((tmp_path / "run" / "run.json").read_text())
    lines = (tmp_path / "run" / "evaluations.jsonl").read_text().splitlines()[:4]
    (cut / "evaluations.jsonl").write_text("\n".join(lines) + "\n")
    r2 = resume_hierarchy(cut, [net], hier, progress=None)
    assert r2.pareto == r.pareto
    assert [(e.design, e.latency_s, e.energy_j) for e in r2.evaluations] == [
        (e.design, e.latency_s, e.energy_j) for e in r.evaluations
    ]
    assert main(["report", str(tmp_path / "run")]) == 0
    assert "Pareto front" in (tmp_path / "run" / "report.md").read_text()


def test_hierarchy_objectives_are_checked():
    net, hier = w.load(TINY), hierarchy_preset("gemmini_like")
    for bad in (("latency",), ("latency", "speed"), ("energy", "energy")):
        with pytest.raises(SpaceError, match="objectives"):
            explore_hierarchy([net], hier, budget=2, objectives=bad, progress=None)
    with pytest.raises(SpaceError, match="method"):
        explore_hierarchy([net], hier, budget=2, objectives=("latency", "energy"), method="random", progress=None)


def test_plan_records_energy_by_part_summing_to_the_layer_energy():
    from jaxdse.hierarchy_plan import map_on_hierarchy
    from jaxdse.mapper.nest_search import NestSearchConfig

    hier = hierarchy_preset("gemmini_like")  # the explorer tests' mapper settings: programs compiled once
    plan = map_on_hierarchy(w.load(TINY), hier, seed=0, config=NestSearchConfig(budget=100, starts=50))
    for r in plan.layers:
        parts = r["energy_parts_j"]
        assert set(hier.names) | {"MACs", "NoC", "leakage"} == set(parts)
        assert sum(parts.values()) == pytest.approx(r["energy_j"], rel=1e-5)
    # the outermost level never moves less than the compulsory bytes: its excess is a share
    from types import SimpleNamespace

    from jaxdse.codesign.hierarchy_pareto import top_level_excess

    net = w.load(TINY)
    for layer, r in zip(net.layers, plan.layers, strict=True):
        moved = sum(
            (a + b) * bits / 8 for a, b, bits in zip(r["counts"]["reads"][0], r["counts"]["updates"][0], layer.bits)
        )
        assert moved >= sum(layer.compulsory_bytes().values()) * (1 - 1e-6)
    excess = top_level_excess(SimpleNamespace(plans={net.name: plan}), [net])
    assert excess is not None and 0.0 <= excess < 1.0


def test_min_fps_climbs_from_a_slow_base_and_returns_the_closest_when_unreachable(tmp_path):
    """A throughput limit on a hierarchy: budget ``throughput.{network}`` = latency x min_fps. From a
    base too slow for it the explorer climbs (each step says how far it still is) to a feasible
    design; when no design can meet it, the closest is returned (area and power held, the least
    throughput excess), the result says it is not feasible, and run.json records the limit."""
    net = w.load(TINY)
    kw = dict(budget=6, mapper_budget=100, max_power_w=20.0, progress=None)
    free = explore_hierarchy([net], hierarchy_preset("gemmini_like"), "gemmini_like", **kw)
    base_s, best_s = free.evaluations[0].latency_s, free.best.latency_s
    assert best_s < 0.8 * base_s
    fps = 1.0 / (0.5 * (base_s + best_s))  # the base is too slow; the free run's best is fast enough
    r = explore_hierarchy([net], hierarchy_preset("gemmini_like"), "gemmini_like", min_fps=fps, out=tmp_path, **kw)
    assert not r.evaluations[0].feasible and r.evaluations[0].budgets["throughput.tiny_cnn"] > 1.0
    assert r.feasible and r.best.budgets["throughput.tiny_cnn"] <= 1.0
    assert r.steps[-1].evaluation == r.best.index and "worst budget" in r.steps[1].reason
    assert json.loads((tmp_path / "run.json").read_text())["min_fps"] == fps
    again = resume_hierarchy(tmp_path, [net], hierarchy_preset("gemmini_like"), progress=None)
    assert again.min_per_s == {"tiny_cnn": fps} and again.best.design == r.best.design and again.steps == r.steps

    far = explore_hierarchy([net], hierarchy_preset("gemmini_like"), "gemmini_like", min_fps=1e9, out=tmp_path / "far",
                            **{**kw, "budget": 4})  # fmt: skip
    assert "No design met every limit" in write_report(tmp_path / "far").read_text()
    assert not far.feasible and far.best is not None
    held = [e for e in far.evaluations if e.budgets["area_mm2"] <= 1 and e.budgets["power_w"] <= 1]
    assert far.best.budgets["area_mm2"] <= 1 and far.best.budgets["power_w"] <= 1
    assert far.best.budgets["throughput.tiny_cnn"] == min(e.budgets["throughput.tiny_cnn"] for e in held)
    assert "NO DESIGN MET EVERY LIMIT" in far.summary() and far.to_dict()["feasible"] is False
    for bad in (0, -1.0, float("nan"), True, "10", 10**400):
        with pytest.raises(SpaceError, match="min_fps"):
            explore_hierarchy([net], hierarchy_preset("gemmini_like"), "gemmini_like", min_fps=bad, **kw)


def test_hierarchy_explorer_config_is_used_recorded_and_resumed(tmp_path):
    """``HierarchyExplorerConfig``: its knobs change the search (one dominant layer and neighbour
    batches of one), run.json records them, resume reads them back; bad values name the field."""
    net = w.load(TINY)
    cfg = HierarchyExplorerConfig(layers_tried=1, neighbours_tried=1, free_steps=0)
    kw = dict(budget=5, mapper_budget=100, max_power_w=20.0, progress=None)
    r = explore_hierarchy([net], hierarchy_preset("gemmini_like"), "gemmini_like", explorer_config=cfg, out=tmp_path,
                          **kw)  # fmt: skip
    assert json.loads((tmp_path / "run.json").read_text())["explorer_config"] == cfg.to_dict()
    again = resume_hierarchy(tmp_path, [net], hierarchy_preset("gemmini_like"), progress=None)
    assert again.steps == r.steps and again.best.design == r.best.design
    for bad in ({"layers_tried": 0}, {"low_utilisation": 1.5}, {"free_harm": float("nan")}, {"free_steps": True}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            HierarchyExplorerConfig(**bad)
    with pytest.raises(SpaceError, match="explorer_config"):  # a front search takes pareto_config
        explore_hierarchy([net], hierarchy_preset("gemmini_like"), "gemmini_like", explorer_config=cfg,
                          objectives=("latency", "energy"), **kw)  # fmt: skip


def test_compute_bound_rules_grow_or_reshape_the_array():
    """``propose`` on a compute-bound layer: well used MACs -> more instances at each fan-out;
    idle MACs (utilisation under ``RESHAPE_UTILISATION``) -> also the array reshaped, X one step
    up and Y one down or the reverse, so the instance count stays about the same."""
    space = HierarchySpace(hierarchy_preset("eyeriss_like"))
    d = space.base_design()
    ev = HierEval(index=1, design=d, plans={}, latency_s=1.0, energy_j=1.0, area_mm2=1.0, power_w=1.0,
                  budgets={}, objective=1.0, wall_s=0.0)  # fmt: skip
    busy = propose(space, ev, "net", {"name": "conv", "bound": "compute", "utilisation": 0.95}, 0.5)
    idle = propose(space, ev, "net", {"name": "conv", "bound": "compute", "utilisation": 0.7}, 0.5)
    x, y = "shared_glb.fanout_x", "shared_glb.fanout_y"
    assert all("reshaped" not in q.reason for q in busy)
    assert {space.key(q.design) for q in busy} < {space.key(q.design) for q in idle}
    reshaped = [q.design for q in idle if "reshaped" in q.reason]
    assert len(reshaped) == 2
    for r in reshaped:
        changed = {k for k in d if r[k] != d[k]}
        assert changed == {x, y} and 0.5 <= (r[x] * r[y]) / (d[x] * d[y]) <= 2.0
        assert (r[x] > d[x]) != (r[y] > d[y])


def test_throughput_limits_from_fps_and_tokens_per_s():
    """min_fps applies to every network, min_tokens_per_s to every LLM pass as tokens/s / tokens per
    pass (the stricter of the two kept); bad values and a tokens/s limit without an LLM pass name
    the field."""
    cnn, decode = w.load(TINY), w.get("llama2_7b_decode")
    assert throughput_limits([cnn], 30.0, None) == {"tiny_cnn": 30.0}
    per_pass = decode.tokens_per_pass
    got = throughput_limits([cnn, decode], None, 200.0)
    assert got == {decode.name: 200.0 / per_pass}
    both = throughput_limits([cnn, decode], 1e-9, 200.0)
    assert both == {"tiny_cnn": 1e-9, decode.name: 200.0 / per_pass}
    assert throughput_limits([cnn], None, None) == {}
    with pytest.raises(SpaceError, match="'min_tokens_per_s' expected at least one LLM"):
        throughput_limits([cnn], None, 10.0)
    for bad in (0, -1.0, float("nan"), True, 10**400):
        with pytest.raises(SpaceError, match="min_fps"):
            throughput_limits([cnn], bad, None)


def test_resume_of_a_too_deeply_nested_run_file_is_an_error_not_a_crash(tmp_path, capsys):
    """A run.json nested deeper than the JSON parser's recursion limit (found by the CLI fuzzer)
    is a named resume error with exit 2, not a RecursionError."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "run.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "evaluations.jsonl").write_text("")
    assert main(["explore", "--resume", str(folder)]) == 2
    assert "run.json" in capsys.readouterr().err


def test_second_pass_from_the_base_spends_the_budget_left_after_convergence():
    """When the warm-started rules converge with budget left, the rules run again from the base
    design; the result says so, stays within the budget, and its explanation still ends at the
    design returned (the better of the two paths)."""
    net = w.load(TINY)
    r = explore_hierarchy([net], hierarchy_preset("gemmini_like"), "gemmini_like", budget=30, mapper_budget=100,
                          max_power_w=20.0, progress=None)  # fmt: skip
    assert "pass 2, from the base design" in r.stopped and len(r.evaluations) <= 30
    assert r.steps[0].reason.startswith("base design") and r.steps[-1].evaluation == r.best.index
    assert r.best.objective == min(e.objective for e in r.evaluations if e.feasible)
    # then restarts from designs two parameters away from every start and end until the budget is spent
    assert len(r.evaluations) == 30 or r.stopped.endswith("no evaluated design left to restart from")
    restarts = [st for st in r.steps if st.reason.startswith("restart with")]
    assert len(restarts) <= 1 and all(st is r.steps[1] for st in restarts)


def test_restart_picks_the_best_design_two_parameters_from_every_known_one():
    """``_restart``: the best-ranked evaluated design that differs in at least two parameters from
    each given design, None when every evaluated design is within one parameter of one."""
    net = w.load(TINY)
    r = explore_hierarchy([net], hierarchy_preset("gemmini_like"), "gemmini_like", budget=12, mapper_budget=100,
                          max_power_w=20.0, method="random", seed=3, progress=None)  # fmt: skip
    space, evs = r.space, r.evaluations
    cache = type("Cache", (), {"cache": {space.key(e.design): e for e in evs}})()
    best = min(evs, key=_rank)
    pick = _restart(space, cache, [best])
    differs = [sum(a != b for a, b in zip(space.key(e.design), space.key(best.design))) for e in evs]
    far = [e for e, n in zip(evs, differs) if n >= 2 and (e.feasible or _hardware_ok(e))]
    assert far, "the random designs should include one two parameters from the best"
    assert pick is not None and any(pick is e for e in far) and _rank(pick) == min(_rank(e) for e in far)
    assert _restart(space, cache, list(evs)) is None


def _front_moves(preset: str):
    """(space, limits, HierarchyMoves) of a resnet18 front on ``preset`` with no binding limit."""
    from jaxdse.codesign import hierarchy_pareto as hp
    from jaxdse.codesign.hierarchy_rules import HierarchyEvaluator
    from jaxdse.codesign.pareto import ParetoConfig

    space = HierarchySpace(hierarchy_preset(preset))
    limits = {"area_mm2": 1e9, "power_w": 1e9}
    net = w.get("resnet18")
    store = hp.HierarchyStore(
        {"energy": HierarchyEvaluator([net], space, limits, "energy", 0, 8)}, ("latency", "energy"), 0
    )
    return space, limits, hp.HierarchyMoves(store, [net], limits, ParetoConfig())


def test_pareto_energy_rule_grows_every_level_below_the_dominant_one(monkeypatch):
    """DRAM dominating energy calls for more reuse below it at every level, not the nearest two:
    on gemmini_like (tiny_cnn, seed 0) a PE weight register 4 -> 8 B cut DRAM energy by 30%."""
    from jaxdse.codesign import hierarchy_pareto as hp

    space, _, moves = _front_moves("gemmini_like")
    design = space.base_design()
    ev = HierEval(1, design, {}, 1.0, 1.0, 1.0, 1.0, {}, 1.0, 0.0)
    monkeypatch.setattr(hp, "energy_parts", lambda e: {"DRAM": 0.8, "Scratchpad": 0.1, "MACs": 0.1})
    grown = {next(k for k in d if d[k] != design[k]) for d, why, _ in moves.energy_rules(ev) if "below DRAM" in why}
    below = {p.name for p in space.params if p.kind == "capacity" and p.level > 0}
    assert len(below) >= 3 and grown == {n for n in below if space.step(design, n, 1) is not None}
    # DRAM at its compulsory traffic: no buffer lowers it; the rule says so and turns to the next part
    monkeypatch.setattr(hp, "top_level_excess", lambda e, nets: 0.0)
    rules = moves.energy_rules(ev)
    assert rules and all(why.startswith("DRAM is 80% of energy but at its compulsory traffic; Scratchpad is 10%")
                         for _, why, _ in rules)  # fmt: skip


def test_a_bandwidth_bound_level_calls_for_a_larger_level_anywhere_below_it():
    """DRAM bandwidth bound: more DRAM bandwidth, or more reuse below DRAM at every level below."""
    space = HierarchySpace(hierarchy_preset("gemmini_like"))
    d = space.base_design()
    ev = HierEval(index=1, design=d, plans={}, latency_s=1.0, energy_j=1.0, area_mm2=1.0, power_w=1.0,
                  budgets={}, objective=1.0, wall_s=0.0)  # fmt: skip
    props = propose(space, ev, "net", {"name": "fc", "bound": "DRAM bandwidth", "utilisation": 0.2}, 0.5)
    grown = {next(k for k in d if q.design[k] != d[k]) for q in props}
    below = {p.name for p in space.params if p.kind == "capacity" and p.level > 0 and space.step(d, p.name, 1)}
    assert len(below) >= 3 and grown == below | ({"DRAM.read_bw"} if space.step(d, "DRAM.read_bw", 1) else set())


def test_front_search_reshapes_an_idle_array_for_free():
    """A hierarchy front's free moves: the array reshaped one and two steps (two fan-outs, of one
    level or two, the same MACs) at the same area and peak power as the base, for any mapper
    objective, only while the MACs idle (latency-weighted utilisation under ``RESHAPE_UTILISATION``)."""
    from types import SimpleNamespace

    from jaxdse.codesign.hierarchy_rules import RESHAPE_UTILISATION
    from jaxdse.codesign.pareto import Point

    for preset in ("gemmini_like", "eyeriss_like", "simba_like"):
        space, limits, moves = _front_moves(preset)
        d = space.base_design()

        def point(util: float, d: dict = d) -> Point:
            rows = [
                {"latency_s": 3.0, "count": 1, "utilisation": util},
                {"latency_s": 1.0, "count": 1, "utilisation": 1.0},
            ]
            plans = {"resnet18": SimpleNamespace(layers=rows)}
            return Point(HierEval(1, d, plans, 4.0, 1.0, 1.0, 1.0, {}, 1.0, 0.0), "latency", None, "")

        # 3/4 of latency at 0.5 utilisation, 1/4 at 1.0: 0.625 overall
        free = moves.free_moves(point(0.5), "latency")
        assert moves.free_moves(point(1.0), "energy") == [] and RESHAPE_UTILISATION > 0.625
        b0 = hardware_budgets(space, d, limits)
        for r, why in free:
            changed = {k for k in d if r[k] != d[k]}
            assert len(changed) == 2 and all(space.by_name[k].kind.startswith("fanout") for k in changed)
            x, y = sorted(changed)
            assert r[x] * r[y] == d[x] * d[y] and f"{0.625:.0%} used: the array reshaped" in why
            assert all(v == pytest.approx(b0[c], rel=1e-6) for c, v in hardware_budgets(space, r, limits).items())
        if preset == "simba_like":  # fan-outs on three levels: moving instances changes area, not free
            assert free == []
        if preset != "simba_like":  # one X x Y fan-out, the same cost in every shape: every step is free
            x, y = (p.name for p in space.params if p.kind.startswith("fanout"))
            legal = [k for k in (1, -1, 2, -2) if space.step(d, x, k) and space.step(d, y, -k)]
            assert len(free) == len(legal) >= 2
