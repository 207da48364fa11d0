"""Black-box codesign baselines under the same evaluator (issue 5).

Explainable-DSE (Dave et al., ASPLOS 2023, section 5) compares against grid
search, random search, simulated annealing, a genetic algorithm and Bayesian
optimisation. These are ours, each evaluating hardware candidates through
the one ``Evaluator`` (mapper in the loop, exact costs, constraint budgets)
and recording one trace line per distinct design, so their results compare
line by line with the explainable explorer's:

    grid          a coarse grid (evenly spaced levels per parameter, sized to
                  the budget), visited in a seeded shuffled order
    annealing     simulated annealing over legal-value indices, Metropolis
                  acceptance, geometric cooling
    genetic       a genetic algorithm over index vectors (tournament
                  selection, uniform crossover, mutation, one elite)
    bayesian_tpe  optuna's TPESampler (ask/tell)
    bayesian_gp   optuna's GPSampler (ask/tell; needs torch)
    cmaes         CMA-ES with margin for integer variables (optuna's
                  CmaEsSampler over the ``cmaes`` package)

All search over the index of each parameter's legal value (every parameter
of ``DesignSpace`` is ordered), so every proposal is a legal design. The
score they minimise is the objective with a penalty for broken constraints,
``objective x max(1, worst budget)^2``, in log space (scale-free across
networks and objectives); optuna's samplers also get the budgets through
``constraints_func``. The optional libraries (optuna, cmaes, torch) are the
``baselines`` extra, imported only when their method runs.

A design proposed again is served from the evaluator's cache: it costs
nothing and adds no trace line. Every method stops at ``budget`` distinct
designs, or when the space is exhausted; when a method keeps re-proposing
known designs it is handed an unseen random one, so no loop can spin.
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from collections.abc import Callable

import numpy as np

from jaxdse.codesign.acceptance import explorer_result as _result
from jaxdse.codesign.evaluator import DesignEval, Evaluator
from jaxdse.codesign.result import Result, Trace
from jaxdse.codesign.space import PARAMS, DesignSpace, describe

STALL = 50
"""Consecutive proposals of already evaluated designs before a method is handed an unseen random design."""

ENUMERATE_LIMIT = 200_000
"""Spaces up to this size are enumerated to find an unseen design when random draws keep missing."""


class BaselineUnavailable(ImportError):
    """A baseline's optional library is missing; the message names what to install."""


def penalised(ev: DesignEval) -> float:
    """log(objective x max(1, worst constraint budget)^2): the score every baseline minimises."""
    worst = max(ev.budgets.values(), default=1.0)
    return math.log(max(ev.objective, 1e-300)) + 2.0 * math.log(max(1.0, worst))


class IndexWalk:
    """A walk over index vectors of ordered parameters: what the grid and annealing walks need
    from a space, shared by the Table-1 baselines (``_Run``) and the hierarchy explorer's
    (``hierarchy_explore``). Subclasses give ``seen``, ``evaluate``, ``record``, ``count``,
    ``done`` and ``score``."""

    def __init__(self, names: list[str], values: list, seed: int) -> None:
        self.names = list(names)
        self.values = [tuple(v) for v in values]
        self.rng = np.random.default_rng(seed)
        self.sizes = [len(v) for v in self.values]
        self.free = [i for i, n in enumerate(self.sizes) if n > 1]
        self.idle = 0
        self.exhausted = False

    # index vectors <-> designs
    def design(self, idx) -> dict[str, float]:
        return {p: float(v[int(i)]) for p, v, i in zip(self.names, self.values, idx)}

    def random_index(self) -> list[int]:
        return [int(self.rng.integers(n)) for n in self.sizes]

    def step(self, i: int, k: int) -> int:
        """Index k of parameter i moved one or two legal steps up or down (the other way at a range end)."""
        d = int(self.rng.choice([-2, -1, 1, 2]))
        n = self.sizes[i]
        moved = min(max(k + d, 0), n - 1)
        return moved if moved != k else min(max(k - d, 0), n - 1)

    def stalled(self) -> bool:
        return self.idle >= STALL

    def fresh(self) -> list[int] | None:
        """An unseen design's indices (random draws, then enumeration of small spaces); None when none is left."""
        self.idle = 0
        for _ in range(200):
            idx = self.random_index()
            if not self.seen(self.design(idx)):
                return idx
        if math.prod(self.sizes) <= ENUMERATE_LIMIT:
            for idx in itertools.product(*(range(n) for n in self.sizes)):
                if not self.seen(self.design(idx)):
                    return list(idx)
        self.exhausted = True  # every design seen (or, in a huge space, 200 random draws all seen: give up)
        return None

    def moves(self, before, after) -> str:
        """What differs between two index vectors, in words."""
        parts = [
            f"{self.names[i]} {self.values[i][before[i]]:g} -> {self.values[i][after[i]]:g}"
            for i in self.free
            if before[i] != after[i]
        ]
        return ", ".join(parts) or "no change"

    def seen(self, design: dict[str, float]) -> bool:
        raise NotImplementedError

    def evaluate(self, design: dict[str, float]) -> tuple:
        raise NotImplementedError

    def record(self, step: int, ev, reason: str) -> None:
        raise NotImplementedError

    def count(self) -> int:
        raise NotImplementedError

    def done(self) -> bool:
        raise NotImplementedError

    def score(self, ev) -> float:
        raise NotImplementedError


class _Run(IndexWalk):
    """Budget, stall guard, best-so-far and trace lines shared by the baselines."""

    def __init__(self, name: str, evaluator: Evaluator, budget: int, trace: Trace, progress) -> None:
        self.space: DesignSpace = evaluator.space
        super().__init__(list(PARAMS), [self.space.values[p] for p in PARAMS], evaluator.seed)
        self.name = name
        self.evaluator = evaluator
        self.budget = budget
        self.trace = trace
        self.progress = progress
        self.t0 = time.perf_counter()
        self.limit = min(budget, self.space.size)
        self.best: float | None = None

    def index(self, design: dict[str, float]) -> list[int]:
        return [self.space.index(p, float(design[p])) for p in PARAMS]

    def seen(self, design: dict[str, float]) -> bool:
        return self.evaluator.seen(design)

    def count(self) -> int:
        return self.evaluator.count

    def done(self) -> bool:
        return self.exhausted or self.evaluator.count >= self.limit

    def score(self, ev: DesignEval) -> float:
        return penalised(ev)

    def evaluate(self, design: dict[str, float]) -> tuple[DesignEval, bool]:
        """(evaluation, whether it was a new design). New designs must then be ``record``-ed."""
        if self.evaluator.seen(design):
            self.idle += 1
            return self.evaluator.evaluate(design), False
        self.idle = 0
        return self.evaluator.evaluate(design), True

    def record(self, step: int, ev: DesignEval, reason: str) -> None:
        improved = ev.feasible and (self.best is None or ev.objective < self.best)
        if improved:
            self.best = ev.objective
        if ev.feasible:
            status = "feasible, new best" if improved else "feasible"
        else:
            k, b = ev.worst_constraint
            status = f"infeasible ({k} budget {b:.2f})"
        self.trace.add(step, ev, improved, f"{reason}: {describe(ev.design)}; {status}")
        if self.progress is not None:
            self.progress(self.evaluator.progress_line(ev, self.budget, self.name))

    def result(self) -> Result:
        return _result(self.name, self.evaluator, self.trace, time.perf_counter() - self.t0)


# ---------------------------------------------------------------- grid


def grid_levels(space: DesignSpace, budget: int) -> list[list[int]]:
    """Index levels per parameter (``PARAMS`` order) for a grid of at least ``budget`` points
    (or the whole space): ``index_levels`` of the Table-1 space's sizes."""
    return index_levels([len(space.values[p]) for p in PARAMS], budget)


def index_levels(sizes: list[int], budget: int) -> list[list[int]]:
    """Index levels per parameter for a grid of at least ``budget`` points (or the whole space).

    Parameters get one more level in turn (their order: for Table 1, PEs
    first) until the grid reaches the budget. k levels of n legal values are
    the centres of k equal cells, ``floor((j + 1/2) n / k)``: one level is
    the middle value, two avoid the extremes.
    """
    k = [1] * len(sizes)
    i = 0
    while math.prod(k) < budget and any(a < n for a, n in zip(k, sizes)):
        j = i % len(sizes)
        if k[j] < sizes[j]:
            k[j] += 1
        i += 1
    return [sorted({int((j + 0.5) * n / kk) for j in range(kk)}) for kk, n in zip(k, sizes)]


def grid(evaluator: Evaluator, budget: int, trace: Trace, progress=None, start=None) -> Result:
    """Grid search: a coarse grid sized to the budget, visited in a seeded shuffled order so a
    small budget still spreads over the whole space (``start``, if given, goes first)."""
    run = _Run("grid", evaluator, budget, trace, progress)
    grid_walk(run, budget, start)
    return run.result()


def grid_walk(run: IndexWalk, budget: int, start=None) -> None:
    """``grid``'s walk over any ``IndexWalk``: ``index_levels`` of its sizes, visited in a shuffled order."""
    levels = index_levels(run.sizes, budget)
    shape = [len(v) for v in levels]
    total = math.prod(shape)
    desc = ", ".join(f"{p} x{len(v)}" for p, v in zip(run.names, levels) if len(v) > 1) or "one point"
    if start is not None:
        ev, new = run.evaluate(start)
        if new:
            run.record(0, ev, "grid search: the given start design")
    for n, flat in enumerate(run.rng.permutation(total)):
        if run.done():
            break
        pos = np.unravel_index(int(flat), shape)
        idx = [levels[i][int(j)] for i, j in enumerate(pos)]
        ev, new = run.evaluate(run.design(idx))
        if new:
            run.record(n + 1, ev, f"grid search: point {n + 1} of {total} (levels: {desc}), shuffled order")


# ---------------------------------------------------------------- simulated annealing

T_START = 1.0 / math.log(2.0)
"""Annealing's initial cooling factor: an average uphill move is accepted with probability 1/2."""
T_END = 0.05
"""Annealing's final cooling factor: an average uphill move is accepted with probability e^-20."""


def annealing(
    evaluator: Evaluator,
    budget: int,
    trace: Trace,
    progress=None,
    start=None,
    t_start: float = T_START,
    t_end: float = T_END,
) -> Result:
    """Simulated annealing over legal-value indices.

    A neighbour moves one or two parameters by one or two legal steps; the
    walk starts at ``start`` or a random design. The score is ``penalised``
    (log space). The temperature is a cooling factor times the mean uphill
    step seen so far (the usual data-driven scale, so it suits any network
    and objective): the factor falls geometrically from ``t_start`` (an
    average uphill move is accepted with probability 1/2) to ``t_end``
    (probability e^-20) over the budget's evaluations. Metropolis
    acceptance. When neighbours keep landing on evaluated designs the walk
    restarts from an unseen random design.
    """
    run = _Run("annealing", evaluator, budget, trace, progress)
    anneal_walk(run, budget, None if start is None else run.index(start), t_start, t_end)
    return run.result()


def anneal_walk(run: IndexWalk, budget: int, start: list[int] | None, t_start: float, t_end: float) -> None:
    """``annealing``'s walk over any ``IndexWalk`` (its ``score`` minimised), from index vector
    ``start`` or a random one."""
    alpha = (t_end / t_start) ** (1.0 / max(budget - 2, 1))
    x = list(start) if start is not None else run.random_index()
    ev, new = run.evaluate(run.design(x))
    if new:
        run.record(0, ev, "simulated annealing: initial design" + (" (given)" if start is not None else " (random)"))
    f = run.score(ev)
    uphill: list[float] = []
    step = 0
    while not run.done() and run.free:
        step += 1
        factor = t_start * alpha ** max(run.count() - 1, 0)
        scale = float(np.mean(uphill)) if uphill else 1.0
        temp = factor * scale
        where = f"T={temp:.3g} ({factor:.3g} x mean uphill step {scale:.3g})"
        if run.stalled():
            y = run.fresh()
            if y is None:
                break
            ev, new = run.evaluate(run.design(y))
            x, f = y, run.score(ev)
            if new:
                run.record(step, ev, f"simulated annealing: {where}, neighbours exhausted, restart from random")
            continue
        y = list(x)
        while y == x:
            for i in run.rng.choice(run.free, size=min(len(run.free), int(run.rng.integers(1, 3))), replace=False):
                y[i] = run.step(int(i), y[i])
        ev, new = run.evaluate(run.design(y))
        fy = run.score(ev)
        if fy > f:
            uphill.append(fy - f)
        p = 1.0 if fy <= f else math.exp(-(fy - f) / temp)
        u = run.rng.random()
        if fy <= f:
            verdict = "proposal accepted (better score)"
        elif u < p:
            verdict = f"proposal accepted (Metropolis, p={p:.2g})"
        else:
            verdict = f"proposal rejected (Metropolis, p={p:.2g})"
        if new:
            run.record(step, ev, f"simulated annealing: {where}, {run.moves(x, y)}, {verdict}")
        if u < p:
            x, f = y, fy


# ---------------------------------------------------------------- genetic algorithm


def genetic(
    evaluator: Evaluator,
    budget: int,
    trace: Trace,
    progress=None,
    start=None,
    population: int | None = None,
    tournament: int = 3,
) -> Result:
    """A genetic algorithm over index vectors.

    Population ``min(20, budget // 3)`` (at least 4) of random designs (and
    ``start``); each generation keeps the best (elitism) and breeds the rest:
    two parents by tournament selection on the ``penalised`` score, uniform
    crossover, then each gene moves one or two legal steps with probability
    1 / (number of free parameters), at least one gene always. An unseen
    random immigrant replaces a child when children keep repeating known designs.
    """
    run = _Run("genetic", evaluator, budget, trace, progress)
    size = population or max(4, min(20, budget // 3))
    pop: list[tuple[list[int], DesignEval]] = []
    while len(pop) < size and not run.done():
        if start is not None and not pop:
            x = run.index(start)
        elif run.stalled():
            x = run.fresh()
            if x is None:
                break
        else:
            x = run.random_index()
        ev, new = run.evaluate(run.design(x))
        if new:
            run.record(0, ev, f"genetic algorithm: initial population member {len(pop) + 1} of {size}")
        pop.append((x, ev))
    gen = 0
    rate = 1.0 / max(len(run.free), 1)

    def pick() -> int:
        cands = run.rng.choice(len(pop), size=min(tournament, len(pop)), replace=False)
        return int(min(cands, key=lambda i: penalised(pop[i][1])))

    while not run.done() and run.free:
        gen += 1
        elite = min(pop, key=lambda t: penalised(t[1]))
        nxt = [elite]
        while len(nxt) < size and not run.done():
            if run.stalled():
                child = run.fresh()
                if child is None:
                    break
                why = "random immigrant (children kept repeating evaluated designs)"
            else:
                a, b = pick(), pick()
                mask = run.rng.random(len(run.sizes)) < 0.5
                child = [pop[a][0][i] if mask[i] else pop[b][0][i] for i in range(len(run.sizes))]
                mutate = [i for i in run.free if run.rng.random() < rate] or [int(run.rng.choice(run.free))]
                before = list(child)
                for i in mutate:
                    child[i] = run.step(i, child[i])
                why = (
                    f"child of designs #{pop[a][1].index} and #{pop[b][1].index} (tournament of {tournament}), "
                    f"uniform crossover, mutation {run.moves(before, child)}"
                )
            ev, new = run.evaluate(run.design(child))
            if new:
                run.record(gen, ev, f"genetic algorithm: generation {gen}, {why}")
            nxt.append((child, ev))
        if run.exhausted:
            break
        pop = nxt
    return run.result()


# ---------------------------------------------------------------- optuna: TPE, GP, CMA-ES


def _optuna(method: str):
    try:
        import optuna
    except ImportError:
        raise BaselineUnavailable(
            f"method '{method}' needs optuna; install the optional extra: pip install 'jaxdse[baselines]'"
        ) from None
    return optuna


def _set_constraint(optuna) -> bool:
    return hasattr(optuna.trial.Trial, "set_constraint")


def _constraints_func(trial) -> list[float]:
    return trial.user_attrs.get("log_budgets") or [-1.0]


def _sampler(method: str, seed: int, budget: int):
    optuna = _optuna(method)
    startup = max(2, min(10, budget // 4))

    # Constraint values are log budgets (met when <= 0). optuna >= 5 reads them
    # from ``Trial.set_constraint``; older versions through ``constraints_func``.
    kw = {} if _set_constraint(optuna) else {"constraints_func": _constraints_func}
    if method == "bayesian_tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True, **kw), startup
    if method == "bayesian_gp":
        if not hasattr(optuna.samplers, "GPSampler"):
            raise BaselineUnavailable(
                f"method 'bayesian_gp' needs optuna >= 3.6 (GPSampler); found optuna {optuna.__version__}: "
                "pip install 'jaxdse[baselines]'"
            )
        try:
            import scipy  # noqa: F401
            import torch  # noqa: F401
        except ImportError:
            raise BaselineUnavailable(
                "method 'bayesian_gp' uses optuna's GPSampler, which needs torch and scipy (the CPU build of "
                "torch is enough); install the optional extra: pip install 'jaxdse[baselines]'"
            ) from None
        return optuna.samplers.GPSampler(
            seed=seed, n_startup_trials=startup, deterministic_objective=True, **kw
        ), startup
    try:
        import cmaes  # noqa: F401
    except ImportError:
        raise BaselineUnavailable(
            "method 'cmaes' uses optuna's CmaEsSampler, which needs the cmaes package; "
            "install the optional extra: pip install 'jaxdse[baselines]'"
        ) from None
    # CMA-ES with margin (Hamano et al., GECCO 2022) keeps integer coordinates
    # from collapsing onto one value. optuna scales every range to [0, 1] and
    # starts the mean at the middle with sigma0 = 1/6 (its x0/sigma0 arguments
    # are deprecated since 4.9; a given start design is enqueued as trial 0).
    return optuna.samplers.CmaEsSampler(seed=seed, with_margin=True, n_startup_trials=1), 1


def _torch_threads(method: str, n: int | None) -> int | None:
    """Set torch's intra-op threads for the GP sampler; returns the previous count.

    Measured on 2 cores: with torch's default threads (which fight the
    threads of jax and numpy) one GPSampler proposal over the 13 Table-1
    parameters took 10-30 s after 20 trials; with one thread, 0.5 s.
    """
    if method != "bayesian_gp" or n is None:
        return None
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    return old


_LABELS = {
    "bayesian_tpe": "Bayesian optimisation (optuna TPE)",
    "bayesian_gp": "Bayesian optimisation (optuna GP)",
    "cmaes": "CMA-ES (optuna CmaEsSampler, with margin)",
}


def _optuna_search(method: str, evaluator: Evaluator, budget: int, trace: Trace, progress, start) -> Result:
    """One ask/tell loop for the optuna samplers: every trial goes through ``evaluator.evaluate``."""
    optuna = _optuna(method)
    label = _LABELS[method]
    run = _Run(method, evaluator, budget, trace, progress)
    dists = {PARAMS[i]: optuna.distributions.IntDistribution(0, run.sizes[i] - 1) for i in run.free}
    fixed = [0] * len(PARAMS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler, startup = _sampler(method, evaluator.seed, budget)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    threads = _torch_threads(method, 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study = optuna.create_study(direction="minimize", sampler=sampler)
            if start is not None:
                study.enqueue_trial({p: run.space.index(p, start[p]) for p in dists})
            while not run.done():
                how = None
                if run.stalled():
                    idx = run.fresh()
                    if idx is None:
                        break
                    study.enqueue_trial({p: idx[PARAMS.index(p)] for p in dists})
                    how = f"{label} kept re-proposing evaluated designs; an unseen random design was enqueued"
                trial = study.ask(dists)
                idx = list(fixed)
                for p, v in trial.params.items():
                    idx[PARAMS.index(p)] = int(v)
                ev, new = run.evaluate(run.design(idx))
                logb = {k: math.log(max(b, 1e-300)) for k, b in ev.budgets.items()}
                if method == "cmaes":
                    pass  # CmaEsSampler has no constraint handling: the penalised score carries them
                elif _set_constraint(optuna):
                    for k, v in (logb or {"none": -1.0}).items():
                        trial.set_constraint(k, v)
                else:
                    trial.set_user_attr("log_budgets", list(logb.values()))
                study.tell(trial, penalised(ev))
                if new:
                    if how is None:
                        if start is not None and trial.number == 0:
                            how = "the given start design (enqueued)"
                        elif trial.number < startup:
                            how = f"startup trial {trial.number + 1} of {startup} (independent random sampling)"
                        else:
                            how = f"proposed by the sampler from {trial.number} scored trials"
                    run.record(trial.number, ev, f"{label}: trial {trial.number}, {how}")
    finally:
        optuna.logging.set_verbosity(verbosity)
        _torch_threads(method, threads)
    return run.result()


def bayesian_tpe(evaluator: Evaluator, budget: int, trace: Trace, progress=None, start=None) -> Result:
    """Bayesian optimisation with optuna's TPESampler (multivariate, seeded; ask/tell).

    Parameters are legal-value indices (``IntDistribution``); the score is
    ``penalised``; the constraint budgets (log, met when <= 0) go to
    ``constraints_func``. Random startup trials: ``max(2, min(10, budget // 4))``.
    """
    return _optuna_search("bayesian_tpe", evaluator, budget, trace, progress, start)


def bayesian_gp(evaluator: Evaluator, budget: int, trace: Trace, progress=None, start=None) -> Result:
    """Bayesian optimisation with optuna's GPSampler (Gaussian process, log EI; ask/tell).

    As ``bayesian_tpe``, with a GP surrogate (needs torch). Cost per proposal
    grows with the trials scored (GP fit), so thousands of trials are slow.
    """
    return _optuna_search("bayesian_gp", evaluator, budget, trace, progress, start)


def cmaes(evaluator: Evaluator, budget: int, trace: Trace, progress=None, start=None) -> Result:
    """CMA-ES with margin over legal-value indices (optuna's CmaEsSampler, ``cmaes`` package).

    Continuous coordinates are rounded to legal indices; the margin keeps
    every integer coordinate's marginal from freezing on one value. The
    search distribution starts at the middle of every range (``start``, if
    given, is evaluated first). The penalised score carries the constraints
    (CmaEsSampler does not read optuna's constraint values).
    """
    return _optuna_search("cmaes", evaluator, budget, trace, progress, start)


BASELINES: dict[str, Callable[..., Result]] = {
    "grid": grid,
    "annealing": annealing,
    "genetic": genetic,
    "bayesian_tpe": bayesian_tpe,
    "bayesian_gp": bayesian_gp,
    "cmaes": cmaes,
}
"""Black-box explorers by method name (merged into ``jaxdse.codesign.EXPLORERS``)."""

__all__ = [
    "BASELINES",
    "T_END",
    "T_START",
    "BaselineUnavailable",
    "IndexWalk",
    "anneal_walk",
    "annealing",
    "bayesian_gp",
    "bayesian_tpe",
    "cmaes",
    "genetic",
    "grid",
    "grid_levels",
    "grid_walk",
    "index_levels",
    "penalised",
]
