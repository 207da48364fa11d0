"""``jaxdse.explore``: one call for every codesign explorer.

Methods (``EXPLORERS``): ``explainable`` (default; bottleneck-guided and
gradient-informed, ``jaxdse.codesign.explainable``), ``gradient`` (DOSA-style
joint gradient loop, ``jaxdse.codesign.gradient``), ``random`` (random
designs from the space, the black-box reference) and the black-box
baselines of ``jaxdse.codesign.baselines``. Every method evaluates
designs through the same ``Evaluator`` (mapper in the loop, exact costs,
constraint budgets) and records the same trace, so results compare line by
line.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from jaxdse.codesign.acceptance import explorer_result, returned
from jaxdse.codesign.baselines import BASELINES
from jaxdse.codesign.checkpoint import (
    EVALS_FILE,
    RESULT_FILE,
    RUN_FILE,
    RUN_FILES,
    ResumeError,
    atomic_write,
    check_record,
    read_records,
    read_settings,
    run_settings,
    write_settings,
)
from jaxdse.codesign.constraints import Constraints
from jaxdse.codesign.elasticity import lower_elasticities
from jaxdse.codesign.evaluator import Evaluator
from jaxdse.codesign.explainable import explainable
from jaxdse.codesign.explorer_config import ConfigError, ExplorerConfig
from jaxdse.codesign.gradient import gradient_explorer
from jaxdse.codesign.pareto import (
    MultiEvaluator,
    ParetoConfig,
    check_objectives,
    pareto_evaluators,
    pareto_search,
)
from jaxdse.codesign.pareto_result import pareto_result
from jaxdse.codesign.result import Result, Trace
from jaxdse.codesign.space import DesignSpace, SpaceError, describe, load_space, table1_space, to_arch
from jaxdse.compile_cache import compile_in_background
from jaxdse.mapper.api import MAX_BUDGET, MAX_SEED
from jaxdse.mapper.space import OBJECTIVES
from jaxdse.progress import check_progress, progress_reporter
from workloads import Network, get
from workloads.specfile import check_out_dir, printable, show

EXPLORERS: dict[str, object] = {}

MAX_DESIGN_BUDGET = 100_000
"""Largest ``explore`` budget: 40x the longest runs measured (2,500 designs, many hours on 2 cores);
each design is mapped (about a second for the smallest networks), so a larger budget only runs until
killed."""


def random_explorer(evaluator: Evaluator, budget: int, trace: Trace, progress=None, start=None) -> Result:
    """Uniformly random designs from the space (the black-box reference)."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(evaluator.seed)
    best = None
    tries = 0
    while evaluator.count < budget and tries < 100 * budget:
        tries += 1
        d = start if (start is not None and evaluator.count == 0) else evaluator.space.random_design(rng)
        if evaluator.seen(d):
            continue
        ev = evaluator.evaluate(d)
        improved = ev.feasible and (best is None or ev.objective < best.objective)
        if improved:
            best = ev
        trace.add(ev.index, ev, improved, f"random design: {describe(d)}")
        if progress is not None:
            progress(evaluator.progress_line(ev, budget, "random design"))
    return explorer_result("random", evaluator, trace, time.perf_counter() - t0)


WARM_START_SHARE = ExplorerConfig().warm_start_share
"""Default share of the budget the explainable explorer first gives the gradient
explorer (``ExplorerConfig.warm_start_share``, where it is measured)."""

WARM_START_BURN_IN = ExplorerConfig().warm_start_burn_in
"""Default Adam steps of the warm start before its first evaluated snap (``ExplorerConfig``)."""


def _explainable(evaluator, budget, trace, progress=None, start=None, warm_start=None, config=None):
    cfg = config or ExplorerConfig()
    warm = int(round(budget * cfg.warm_start_share)) if warm_start is None else warm_start
    # compile the elasticities while the first designs are mapped; they are
    # first needed after the start design is evaluated, by when the compile
    # is done (at worst the main thread compiles them again)
    arch = to_arch(start or evaluator.space.default_design(), evaluator.space.fixed)
    compiling = compile_in_background(*lower_elasticities(evaluator.networks, arch))
    try:
        if warm > 0 and budget > 4:
            gradient_explorer(
                evaluator, min(warm, budget - 1), trace, progress=progress, start=start,
                burn_in_steps=cfg.warm_start_burn_in,
            )  # fmt: skip
            start = returned(list(evaluator.cache.values()))[0].design  # the design a gradient run would return
        return explainable(evaluator, budget=budget, trace=trace, progress=progress, start=start, config=cfg)
    finally:
        compiling.join()  # no thread left compiling when the caller exits (an error included)


EXPLORERS.update({"explainable": _explainable, "random": random_explorer, "gradient": gradient_explorer})
EXPLORERS.update(BASELINES)


class ExploreError(ValueError):
    """Bad input to ``explore``; the message names the field."""


def explore(
    networks: list[Network | str] | Network | str,
    space: DesignSpace | str | Path | None = None,
    constraints: Constraints | None = None,
    objective: str = "latency",
    method: str = "explainable",
    budget: int = 50,
    seed: int = 0,
    out: str | Path | None = None,
    start: dict[str, float] | None = None,
    progress=True,
    mapper_budget: int | None = None,
    warm_start: int | None = None,
    force: bool = False,
    command_line: str | None = None,
    objectives: tuple[str, ...] | list[str] | str | None = None,
    pareto_config: ParetoConfig | None = None,
    explorer_config: ExplorerConfig | None = None,
) -> Result:
    """Search hardware and mappings together.

    Args:
        networks: Networks (or zoo names); one or several.
        space: A ``DesignSpace``, a YAML/JSON space file, or None for Table 1.
        constraints: Area / power / throughput limits (default: the reference's).
        objective: ``latency``, ``energy`` or ``edp`` (summed over networks).
        method: One of ``EXPLORERS``.
        budget: Distinct designs to evaluate.
        seed: Same seed, same result.
        out: If given, ``run.json`` (the settings) is written first,
            ``trace.jsonl`` and ``evaluations.jsonl`` (every mapped design)
            are streamed there as the search runs, and ``result.json`` plus
            figures are written at the end; ``resume(out)`` continues an
            interrupted run.
        start: Initial design (explainable) or first design (random).
        progress: True (default) shows a progress bar over the budget, False
            or None nothing, a callable(str) receives one line per evaluated
            design (``jaxdse.progress``).
        mapper_budget: Exact evaluations per layer for the mapper in the loop.
        warm_start: ``explainable`` only: designs given first to the gradient
            explorer, whose best design is the starting point (default:
            ``explorer_config.warm_start_share`` of the budget; 0 starts from
            ``start`` or the space's default design).
        force: Replace a run already saved in ``out``. Without it, a folder
            holding any of ``run.json``, ``evaluations.jsonl``, ``trace.jsonl``
            or ``result.json`` is refused (continue it with ``resume(out)``).
        command_line: The command that started the run, recorded in
            ``run.json`` and ``result.json`` (the CLI passes its own; None
            from Python).
        objectives: Two or more of ``latency``, ``energy``, ``edp``, ``area``,
            ``power`` (a tuple or a comma-separated string): search their
            Pareto front instead (``jaxdse.codesign.pareto``; ``method`` must
            be ``explainable`` or ``pareto``, ``objective`` is not used). Area
            and power stay available as constraints (``constraints``).
        pareto_config: Knobs of the front search (``ParetoConfig``;
            recorded in ``run.json``); only with ``objectives``.
        explorer_config: The explainable explorer's tunables
            (``ExplorerConfig``; default ``ExplorerConfig()``; recorded in
            ``run.json``); only with ``method='explainable'``.

    Returns:
        ``Result``: best design (or the closest when none is feasible), trace,
        explanation; with ``objectives``, a ``ParetoResult`` that also holds
        the front (``result.front``, ``result.json``'s ``pareto``).
    """
    if isinstance(networks, (Network, str)):
        networks = [networks]
    if not isinstance(networks, (list, tuple)):
        raise ExploreError(
            f"explore: field 'networks' expected a Network, a zoo name or a list of them, found {show(networks)}"
        )
    nets = []
    for i, n in enumerate(networks):
        if not isinstance(n, (Network, str)):
            raise ExploreError(f"explore: field 'networks[{i}]' expected a Network or a zoo name, found {show(n)}")
        nets.append(get(n) if isinstance(n, str) else n)
    _check_settings("explore:", ExploreError, nets, method, objective, budget, seed, mapper_budget, constraints)
    check_progress(progress, "explore", ExploreError)
    if not isinstance(force, (bool, np.bool_)):
        raise ExploreError(f"explore: field 'force' expected a bool, found {show(force)}")
    if out is not None:
        check_out_dir(out, "explore: field 'out'", ExploreError)
        _check_no_run(Path(out), force)
    if space is None:
        space = table1_space()
    elif not isinstance(space, DesignSpace):
        space = load_space(space)
    if start is not None:
        start = space.validate(start)
    _check_warm_start("explore:", ExploreError, warm_start)
    objectives = check_objectives("explore:", ExploreError, objectives, method)
    if objectives is not None:
        method = "pareto"
    if pareto_config is not None and (objectives is None or not isinstance(pareto_config, ParetoConfig)):
        raise ExploreError(
            f"explore: field 'pareto_config' expected a ParetoConfig with 'objectives', found {show(pareto_config)}"
        )
    cfg = pareto_config or ParetoConfig()
    if explorer_config is not None and (method != "explainable" or not isinstance(explorer_config, ExplorerConfig)):
        raise ExploreError(
            f"explore: field 'explorer_config' expected an ExplorerConfig with method 'explainable', found "
            f"{show(explorer_config)} with method {show(method)}"
        )
    ecfg = explorer_config or ExplorerConfig()
    kw = {} if mapper_budget is None else {"mapper_budget": mapper_budget}
    constraints = (constraints or Constraints()).resolve(nets)  # tokens/s limits -> passes/s (LLM passes)
    evaluator = Evaluator(nets, space, constraints, objective, seed, **kw)
    if out is not None:
        out = Path(out)
        settings = run_settings(
            nets, space, evaluator.constraints, objective, method, budget, seed, evaluator.mapper_budget, warm_start,
            start, command_line,
        )  # fmt: skip
        if objectives is not None:
            settings["objectives"] = list(objectives)
            settings["pareto_config"] = dataclasses.asdict(cfg)
        elif method == "explainable":
            settings["explorer_config"] = ecfg.to_dict()
        try:
            write_settings(out, settings)
            atomic_write(out / EVALS_FILE, "")  # empty or replaced with force=True (checked above)
            (out / RESULT_FILE).unlink(missing_ok=True)  # a result.json in DIR is always this run's
        except OSError as e:  # e.g. /proc/x: the parent looks writable but the folder cannot be made
            raise ExploreError(
                f"explore: field 'out' expected a folder that can be written, found error: {e.strerror or e} "
                f"('{printable(e.filename or out)}')"
            ) from None
    if objectives is not None:
        return _pareto(evaluator, objectives, budget, out, start, progress, [], cfg, command_line)
    return _search(evaluator, method, budget, out, start, progress, warm_start, command_line, config=ecfg)


def _check_no_run(out: Path, force: bool) -> None:
    """Refuse to start a new run in a folder that holds one, unless ``force``."""
    held = [f for f in RUN_FILES if (out / f).exists()]
    if held and not force:
        raise ExploreError(
            f"explore: field 'out' expected a new or empty folder, found '{printable(out)}' holding a run "
            f"({', '.join(held)}); continue it with --resume (jaxdse explore --resume {printable(out)}; "
            "Python: jaxdse.resume) or replace it with --force (Python: force=True)"
        )


def _pareto(evaluator: Evaluator, objectives, budget, out, start, progress, records, cfg: ParetoConfig,
            command_line=None) -> Result:  # fmt: skip
    """A multi-objective run: one evaluator per mapper objective (``pareto_evaluators``), the
    gray-box front search, the result saved to ``out``."""
    evs = pareto_evaluators(evaluator, objectives)
    me = MultiEvaluator(evs, objectives)
    for r in records:
        m = r.get("mapper_objective")
        if m not in evs:
            raise ResumeError(f"resume: '{out / EVALS_FILE}' field 'mapper_objective' expected one of {list(evs)}, "
                              f"found {show(m)}")  # fmt: skip
        me.replay(r)
    if out is not None:
        me.log_path = Path(out) / EVALS_FILE
    trace = Trace(Path(out) if out is not None else None)
    trace.start_file()
    with progress_reporter(progress, "pareto explorer", "design") as report:
        pareto_search(me, budget, trace, progress=report, start=start, config=cfg)
    result = pareto_result(me, trace, me.elapsed_s())  # wall_s: every segment of a resumed run
    result = replace(result, run=run_info(evaluator, budget, None, command_line))
    if out is not None:
        result.save(out)
    return result


def _check_settings(who: str, error, nets, method, objective, budget, seed, mapper_budget, constraints) -> None:
    """The run settings ``explore`` gets as arguments and ``resume`` reads from
    ``run.json``, checked before any search starts; ``who`` starts each message."""
    if not isinstance(nets, list) or not nets or not all(isinstance(n, Network) for n in nets):
        raise error(f"{who} field 'networks' expected at least one network, found {show(nets)}")
    seen: set[str] = set()
    for i, n in enumerate(nets):
        if n.name in seen:  # results, tables and budgets are keyed by name: two would collapse into one
            raise error(
                f"{who} field 'networks[{i}]' expected a distinct network name, found {show(n.name)} a second time "
                "(rename one, e.g. the 'name' of its workload file)"
            )
        seen.add(n.name)
    if not isinstance(method, str) or (method not in EXPLORERS and method != "pareto"):
        raise error(f"{who} field 'method' expected one of {sorted(EXPLORERS)} or 'pareto', found {show(method)}")
    if not isinstance(objective, str) or objective not in OBJECTIVES:
        raise error(f"{who} field 'objective' expected one of {OBJECTIVES}, found {show(objective)}")
    if isinstance(budget, bool) or not isinstance(budget, int) or not 1 <= budget <= MAX_DESIGN_BUDGET:
        raise error(
            f"{who} field 'budget' expected an int in 1..{MAX_DESIGN_BUDGET:,} (designs to evaluate), "
            f"found {show(budget)}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise error(f"{who} field 'seed' expected an int in 0..{MAX_SEED}, found {show(seed)}")
    if mapper_budget is not None and (
        isinstance(mapper_budget, bool) or not isinstance(mapper_budget, int) or not 1 <= mapper_budget <= MAX_BUDGET
    ):
        raise error(
            f"{who} field 'mapper_budget' expected an int in 1..{MAX_BUDGET} or None, found {show(mapper_budget)}"
        )
    if constraints is not None and not isinstance(constraints, Constraints):
        raise error(f"{who} field 'constraints' expected a Constraints or None, found {show(constraints)}")


def _check_warm_start(who: str, error, warm_start) -> None:
    if warm_start is not None and (isinstance(warm_start, bool) or not isinstance(warm_start, int) or warm_start < 0):
        raise error(f"{who} field 'warm_start' expected a non-negative int, found {show(warm_start)}")


def run_info(evaluator: Evaluator, budget: int, warm_start, command_line: str | None) -> dict:
    """What ``result.json`` records about how the run was made (the report prints it)."""
    try:
        version = importlib.metadata.version("jaxdse")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout without installing
        version = "unknown (not installed)"
    return {
        "seed": evaluator.seed,
        "budget": budget,
        "mapper_budget": evaluator.mapper_budget,
        "warm_start": warm_start,
        "command_line": command_line,
        "jaxdse_version": version,
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _search(
    evaluator: Evaluator, method, budget, out, start, progress, warm_start, command_line=None, config=None
) -> Result:
    if out is not None:
        evaluator.log_path = Path(out) / EVALS_FILE
    evaluator.run_budget = budget  # progress lines count to the run's budget, warm start included
    trace = Trace(Path(out) if out is not None else None)
    trace.start_file()  # a new run (checked empty or forced), or a resumed one whose explorer replays every entry
    extra = {"warm_start": warm_start, "config": config} if method == "explainable" else {}
    with progress_reporter(progress, f"{method} explorer", "design") as report:
        result = EXPLORERS[method](evaluator, budget, trace, progress=report, start=start, **extra)
    info = run_info(evaluator, budget, warm_start, command_line)
    if method == "explainable":
        info["explorer_config"] = (config or ExplorerConfig()).to_dict()
    result = replace(result, wall_s=evaluator.elapsed_s(), run=info)  # wall_s: every segment, warm start included
    if out is not None:
        result.save(out)
    return result


def _elapsed(record: dict) -> float:
    """``elapsed_s`` of a stored evaluation (0 for one written before it was recorded, or malformed)."""
    v = record.get("elapsed_s", 0.0)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and v >= 0 else 0.0


def resume(out: str | Path, progress=True) -> Result:
    """Continue an interrupted ``explore(..., out=DIR)`` run from what DIR holds.

    The settings come from ``DIR/run.json``; designs already mapped
    (``DIR/evaluations.jsonl``) are rebuilt from their stored mappings, not
    mapped again (``jaxdse.codesign.checkpoint``). The result equals that of an
    uninterrupted run with the same settings (timings aside). Resuming a
    finished run recomputes the same result cheaply. ``wall_s`` counts every
    segment: the stored ``elapsed_s`` of the last design plus this segment's
    new work.

    Raises:
        ResumeError: DIR has no readable ``run.json``, or a stored evaluation is malformed.
    """
    check_out_dir(out, "resume: field 'out'", ResumeError)
    out = Path(out)
    s = read_settings(out)
    records = read_records(out / EVALS_FILE)
    who = f"resume: '{out / RUN_FILE}'"
    _check_settings(who, ResumeError, s["networks"], s["method"], s["objective"], s["budget"], s["seed"],
                    s["mapper_budget"], s["constraints"])  # fmt: skip
    _check_warm_start(who, ResumeError, s["warm_start"])
    check_progress(progress, "resume", ResumeError)
    objectives = check_objectives(who, ResumeError, s["objectives"], s["method"])
    cfg = ParetoConfig()
    if objectives is not None and s["pareto_config"] is not None:
        c = s["pareto_config"]
        try:
            cfg = ParetoConfig(**{**c, "steps": tuple(c["steps"])} if isinstance(c, dict) and "steps" in c else c)
        except (TypeError, ValueError) as e:
            raise ResumeError(f"{who} field 'pareto_config' expected the form explore(out=...) writes: {e}") from None
    ecfg = None
    if s["method"] == "explainable":
        try:  # a run.json written before the config was recorded: the defaults those runs used
            ecfg = ExplorerConfig.from_dict(s["explorer_config"] or {}, f"{who} field 'explorer_config'")
        except (ConfigError, TypeError) as e:
            raise ResumeError(f"{who} field 'explorer_config' expected the form explore(out=...) writes: {e}") from None
    if s["start"] is not None:
        s["start"] = s["space"].validate(s["start"])
    evaluator = Evaluator(
        s["networks"], s["space"], s["constraints"], s["objective"], s["seed"], mapper_budget=s["mapper_budget"]
    )
    evaluator.prior_wall_s = max((_elapsed(r) for r in records), default=0.0)
    names = {n.name for n in s["networks"]}
    for i, r in enumerate(records):
        if set(r["plans"]) != names:
            raise ResumeError(
                f"resume: '{out / EVALS_FILE}' line {i + 1} field 'plans' expected networks {sorted(names)}, "
                f"found {sorted(r['plans'])}"
            )
        try:
            design = s["space"].validate(r["design"])
            check_record(r, s["networks"])
        except (SpaceError, ValueError) as e:
            raise ResumeError(f"resume: '{out / EVALS_FILE}' line {i + 1}: {e}") from None
        r["design"] = design
        if objectives is None:
            evaluator.replay[evaluator.key(design)] = r
    # rewrite the stored evaluations without a torn last line before appending new ones
    try:
        atomic_write(out / EVALS_FILE, "".join(json.dumps(r) + "\n" for r in records))
    except OSError as e:  # a read-only folder
        raise ResumeError(
            f"resume: '{printable(out)}' expected a writable run folder, found error: {e.strerror or e}"
        ) from None
    if callable(progress):
        progress(f"resuming {out}: {len(records)} designs already evaluated, budget {s['budget']}")
    start = s["start"]
    if objectives is not None:
        return _pareto(evaluator, objectives, s["budget"], out, start, progress, records, cfg, s["command_line"])
    return _search(
        evaluator, s["method"], s["budget"], out, start, progress, s["warm_start"], s["command_line"], config=ecfg
    )


__all__ = ["EXPLORERS", "ExploreError", "ResumeError", "SpaceError", "explore", "random_explorer", "resume"]
