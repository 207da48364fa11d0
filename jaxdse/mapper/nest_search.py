"""The mapper for any hierarchy: batched exact local search over loop nests.

Map space (``costmodels.NestMapping``): every loop bound ``D_d`` is split
into factors over *slots*: each level's temporal loops and each fan-out's X
and Y (slots of a fan-out of one are absent), in a fixed layout of
``3 * MAX_LEVELS`` slots so that one compiled program serves every
hierarchy of the same depth. Bypass is the architecture's (``keep``). A
split may be *padded*: its product ``D'_d`` may exceed ``D_d`` by at most
``pad_slack`` (Timeloop's imperfect factorisation costed as the padded nest,
``costmodels.nest``); the DRAM factor absorbs the rounding
(``ceil(D_d / product of the other factors)``). Each level has its own loop
order.

Why a local search on the exact model and not the template's gradient
descent (``jaxdse.mapper.gradient``): on two CPU cores the relaxed
hierarchy model's gradient took 121 s to compile and 0.7 ms per mapping,
the exact batched model 75 s and 0.06 ms (eyeriss_like, ResNet-18 conv3,
measured while writing this module), and most of the map space is illegal
(0.85% of random exact factorisations fit eyeriss_like's 24-byte
scratchpads), where a smooth penalty says little about which discrete move
restores legality. So the search stays on legal exact points and spends its
evaluations where random search wastes them:

1. **Starts** (``starts`` mappings, scored in batches): the all-at-DRAM
   mapping (always legal); half the rest random splits (each prime of each
   bound on a random slot, as the random baseline draws them); the other
   half fill every fan-out greedily, up to a random share of its size (a
   full array can overrun a NoC's links), with divisors (or padded
   factors) of the loop bounds in a random dim order, keep the rest at DRAM
   and move a random share of the DRAM primes to random inner levels. Each
   level gets a random stationarity order (``space.ORDER_TEMPLATES``).
   Utilising the PEs is the first-order latency term (Timeloop's and
   Explainable-DSE's compute bound); the inner moves give reuse.
2. **Walkers**: the ``walkers`` best distinct legal starts. Each round,
   every walker proposes ``neighbours / walkers`` single moves, all scored
   by the exact model in one batch, and steps to its best proposal if it
   improves the objective (sampled steepest descent). Moves: a prime factor
   of one slot's factor to another slot (fan-out limits respected), a
   padding change (a non-DRAM factor +-1 or doubled, DRAM rebalanced), and a
   loop-order change at one level (a stationarity template, or two
   non-trivial loops swapped, or one sent innermost). Only the relative
   order of loops with factor > 1 matters (``costmodels.nest``), so
   mappings are deduplicated on that and no mapping is scored twice. A
   walker that stops improving is restarted from the best mapping with a
   few random moves (iterated local search).
3. Stops when the budget of exact evaluations is spent or no walker
   improved for ``patience`` rounds. The best legal mapping is returned with
   its exact costs (with ``tie_break``, of the scored mappings tied at the best
   value the one best for that second objective: the walks are unchanged);
   every call of the model is padded to one batch size, so the mapper
   compiles once per (hierarchy depth, NoC level, DMA).

``exhaustive_nest`` enumerates every padded split and every order of the
non-trivial loops of a small layer: the reference the tests compare with.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import jax
import numpy as np

import costmodels as cm
from costmodels.compile import jit
from costmodels.nest_mapping import MAX_LEVELS
from jaxdse.mapper.space import ORDER_ROWS, MapperError, check_objective, check_tie_break, objective_of
from jaxdse.mapspace import DEFAULT_MAX_PADDING, prime_factors
from workloads import DIMS, Layer

NUM_DIMS = len(DIMS)
SLOTS = 3 * MAX_LEVELS
"""Slot ``l`` (< MAX_LEVELS): level l's temporal loops; ``MAX_LEVELS + 2 l + a``: level l's fan-out, axis a."""


@dataclass(frozen=True)
class NestSearchConfig:
    """Knobs of ``nest_search`` (recorded with a plan).

    Attributes:
        budget: Exact evaluations per layer at most (starts included).
        starts: Mappings in the first batch.
        walkers: Local searches run side by side.
        neighbours: Proposals per round, all walkers together (the batch size
            of every exact call).
        patience: Rounds without any improvement before stopping.
        pad_slack: Largest padding of a loop bound, as a fraction (0.125:
            ``D' <= 1.125 D``); 0 allows exact factorisations only.
        move_mix: Shares of factor, padding and order moves.
        kick_moves: Random moves applied to the best mapping when a walker restarts.
    """

    budget: int = 1000
    starts: int = 256
    walkers: int = 4
    neighbours: int = 64
    patience: int = 4
    pad_slack: float = DEFAULT_MAX_PADDING  # the template mappers' slack (jaxdse.mapspace)
    move_mix: tuple[float, float, float] = (0.6, 0.15, 0.25)
    kick_moves: int = 3

    def __post_init__(self) -> None:
        for name in ("budget", "starts", "walkers", "neighbours", "patience", "kick_moves"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "kick_moves" else 1):
                raise MapperError(f"nest search config: field '{name}' expected a positive int, found {v!r}")
        if self.walkers > self.neighbours:
            raise MapperError(
                f"nest search config: field 'walkers' expected at most neighbours={self.neighbours}, "
                f"found {self.walkers}"
            )
        if not (isinstance(self.pad_slack, (int, float)) and 0.0 <= self.pad_slack <= 1.0):
            raise MapperError(
                f"nest search config: field 'pad_slack' expected a number in [0, 1], found {self.pad_slack!r}"
            )
        mix = self.move_mix
        if len(mix) != 3 or any(not isinstance(x, (int, float)) or x < 0 for x in mix) or sum(mix) <= 0:
            raise MapperError(f"nest search config: field 'move_mix' expected three non-negative shares, found {mix!r}")


@dataclass(frozen=True)
class NestSpace:
    """The slots of one layer on one hierarchy (host side).

    Attributes:
        sizes: i64[8] loop bounds.
        pad_max: i64[8] largest padded bound allowed.
        limit: f64[SLOTS] largest product of factors per slot (inf temporal, fan-out spatial).
        valid: bool[SLOTS] slots that exist on this hierarchy.
        depth: storage levels.
    """

    sizes: np.ndarray
    pad_max: np.ndarray
    limit: np.ndarray
    valid: np.ndarray
    depth: int

    @property
    def slots(self) -> np.ndarray:
        return np.flatnonzero(self.valid)

    @property
    def spatial_slots(self) -> np.ndarray:
        return np.flatnonzero(self.valid & np.isfinite(self.limit))

    @property
    def temporal_slots(self) -> np.ndarray:
        return np.flatnonzero(self.valid[:MAX_LEVELS])


def nest_space(layer: Layer, hier: cm.Hierarchy, pad_slack: float = DEFAULT_MAX_PADDING) -> NestSpace:
    depth = hier.depth
    fan = np.stack([np.asarray(hier.fanout_x, np.float64), np.asarray(hier.fanout_y, np.float64)], axis=1)
    limit = np.full(SLOTS, np.inf)
    valid = np.zeros(SLOTS, bool)
    valid[:depth] = True
    for lv in range(depth):
        for ax in range(2):
            k = MAX_LEVELS + 2 * lv + ax
            limit[k] = fan[lv, ax]
            valid[k] = fan[lv, ax] > 1
    sizes = np.asarray(layer.sizes, np.int64)
    pad_max = np.floor(sizes * (1.0 + pad_slack) + 1e-9).astype(np.int64)
    return NestSpace(sizes=sizes, pad_max=pad_max, limit=limit, valid=valid, depth=depth)


def to_nest(factors: np.ndarray, orders: np.ndarray) -> cm.NestMapping:
    """factors i64[..., SLOTS, 8] and orders i32[..., MAX_LEVELS, 8] -> ``NestMapping``."""
    f = np.asarray(factors, np.float32)
    lead = f.shape[:-2]
    return cm.NestMapping(
        temporal=f[..., :MAX_LEVELS, :],
        order=np.asarray(orders, np.int32),
        spatial=f[..., MAX_LEVELS:, :].reshape(lead + (MAX_LEVELS, 2, NUM_DIMS)),
    )


def canonical(hier: cm.Hierarchy) -> cm.Hierarchy:
    """``hier`` with generic level names: the names are static, so jit would compile per architecture."""
    return hier.replace(names=tuple(f"L{i}" for i in range(hier.depth)))


@jit
def _costs(hier, layer, mappings):
    """Exact costs of a batch of mappings: one compile serves every objective and the final report."""
    return jax.vmap(cm.evaluate_hierarchy, in_axes=(None, None, 0))(hier, layer, mappings)


class Scorer:
    """Exact objective of mappings of one layer (inf where illegal), in batches of one size.

    Every call is padded to ``batch`` rows (copies of the first), so it
    compiles once; only the real rows are counted in ``evaluations``.
    """

    def __init__(self, hier: cm.Hierarchy, layer: Layer, objective: str, batch: int, tie_break: str | None = None):
        self.hier = canonical(hier)
        self.layer = cm.layer_arrays(layer)
        self.objective = objective
        self.tie_break = tie_break
        self.ties = np.empty(0)
        """``tie_break``'s value of the mappings of the last call (inf where illegal; zeros without one)."""
        self.batch = batch
        self.evaluations = 0

    def costs(self, factors: np.ndarray, orders: np.ndarray) -> cm.HierarchyCosts:
        """Every exact cost of at most ``batch`` mappings (rows past theirs are padding; not counted)."""
        m = factors.shape[0]
        if m > self.batch:
            raise MapperError(f"nest search: field 'factors' expected at most {self.batch} mappings, found {m}")
        f = np.concatenate([factors, np.repeat(factors[:1], self.batch - m, axis=0)])
        o = np.concatenate([orders, np.repeat(orders[:1], self.batch - m, axis=0)])
        return _costs(self.hier, self.layer, to_nest(f, o))

    def __call__(self, factors: np.ndarray, orders: np.ndarray) -> np.ndarray:
        n = factors.shape[0]
        out, self.ties = np.empty(n), np.zeros(n)
        for lo in range(0, n, self.batch):
            c = self.costs(factors[lo : lo + self.batch], orders[lo : lo + self.batch])
            m = min(self.batch, n - lo)
            lat, en, legal = (np.asarray(x, np.float64)[:m] for x in (c.latency_cycles, c.energy_total_pj, c.legal))
            out[lo : lo + m] = np.where(legal > 0, objective_of(self.objective, lat, en), np.inf)
            if self.tie_break is not None:
                self.ties[lo : lo + m] = np.where(legal > 0, objective_of(self.tie_break, lat, en), np.inf)
        self.evaluations += n
        return out


def lex_best(values: np.ndarray, ties: np.ndarray) -> int:
    """Index of the least value; among equal least values, the least ``ties`` (first on a tie of both)."""
    tied = np.flatnonzero(values == values.min())
    return int(tied[np.argmin(ties[tied])])


def _key(f: np.ndarray, o: np.ndarray) -> bytes:
    """Identity of a mapping: its factors and, per level, the order of its loops with factor > 1."""
    parts = [f.tobytes()]
    for lv in range(MAX_LEVELS):
        parts.append(bytes(int(d) for d in o[lv] if f[lv, d] > 1) + b"|")
    return b"".join(parts)


def _rebalance(f: np.ndarray, d: int, space: NestSpace) -> bool:
    """Set the DRAM factor of dim d to cover its bound; False if the padding exceeds the slack."""
    others = int(np.prod(f[1:, d]))
    f[0, d] = max(1, -(-int(space.sizes[d]) // others))
    return int(f[0, d]) * others <= space.pad_max[d]


def _fits(f: np.ndarray, k: int, space: NestSpace) -> bool:
    return k < MAX_LEVELS or float(np.prod(f[k])) <= space.limit[k]


def _random_split(space: NestSpace, rng: np.random.Generator) -> np.ndarray:
    """Each prime of each bound on a random slot (fan-out limits kept): the random baseline's draw."""
    f = np.ones((SLOTS, NUM_DIMS), np.int64)
    slots = space.slots
    for d in range(NUM_DIMS):
        for p in prime_factors(int(space.sizes[d])):
            k = slots[rng.integers(len(slots))]
            f[k, d] *= p
            if not _fits(f, k, space):
                f[k, d] //= p
                f[0, d] *= p
    return f


def _start(space: NestSpace, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Half the starts: a random split (as random search draws them). The others: fill the fan-outs
    greedily up to a random share of their size (a full array can overrun a NoC's links), random dim
    order, padding within the slack, the rest at DRAM, then a random share of the DRAM primes at random
    inner levels. Random stationarity orders."""
    o = ORDER_ROWS[rng.integers(0, len(ORDER_ROWS), size=MAX_LEVELS)].astype(np.int32)
    if rng.random() < 0.5:
        return _random_split(space, rng), o
    f = np.ones((SLOTS, NUM_DIMS), np.int64)
    dims = [d for d in range(NUM_DIMS) if space.sizes[d] > 1]
    for k in rng.permutation(space.spatial_slots):
        cap = max(1.0, space.limit[k] * rng.choice([1.0, 1.0, 0.5, 0.25, 0.125]))
        for d in rng.permutation(dims):
            room = int(cap // np.prod(f[k]))
            if room < 2 or rng.random() < 0.2:
                continue
            done = int(np.prod(f[MAX_LEVELS:, d]))
            rest = -(-int(space.sizes[d]) // done)
            best = 1
            for v in range(min(room, rest), 1, -1):
                if done * v * -(-rest // v) <= space.pad_max[d]:
                    best = v
                    break
            f[k, d] = best
    for d in dims:
        _rebalance(f, d, space)
    inner = space.temporal_slots[1:]
    share = rng.choice([0.0, 0.25, 0.5, 0.75])
    if len(inner):
        for d in dims:
            for p in prime_factors(int(f[0, d])):
                if rng.random() < share:
                    f[0, d] //= p
                    f[rng.choice(inner), d] *= p
    return f, o


def _move(f: np.ndarray, o: np.ndarray, space: NestSpace, rng: np.random.Generator, mix: np.ndarray):
    """One random move (a copy), or None when the drawn move does not apply."""
    f, o = f.copy(), o.copy()
    kind = rng.choice(3, p=mix)
    slots = space.slots
    if kind == 0:  # a prime factor from one slot to another
        cand = [(k, d) for k in slots for d in range(NUM_DIMS) if f[k, d] > 1]
        if not cand:
            return None
        k, d = cand[rng.integers(len(cand))]
        dst = slots[rng.integers(len(slots))]
        if dst == k:
            return None
        p = rng.choice(prime_factors(int(f[k, d])))
        f[k, d] //= p
        f[dst, d] *= p
        return (f, o) if _fits(f, dst, space) else None
    if kind == 1:  # padding: a non-DRAM factor changed, DRAM rebalanced
        dims = [d for d in range(NUM_DIMS) if space.sizes[d] > 1]
        if not dims or len(slots) < 2:
            return None
        d = dims[rng.integers(len(dims))]
        k = slots[1 + rng.integers(len(slots) - 1)]
        v = int(f[k, d])
        f[k, d] = max(1, [v - 1, v + 1, 2 * v][rng.integers(3)])
        if f[k, d] == v or not _fits(f, k, space) or not _rebalance(f, d, space):
            return None
        return f, o
    lv = int(rng.integers(space.depth))  # an order change at one level
    live = [i for i, d in enumerate(o[lv]) if f[lv, d] > 1]
    r = rng.integers(3)
    if r == 0 or len(live) < 2:
        o[lv] = ORDER_ROWS[rng.integers(len(ORDER_ROWS))]
    elif r == 1:
        i, j = rng.choice(live, size=2, replace=False)
        o[lv, [i, j]] = o[lv, [j, i]]
    else:
        i = live[rng.integers(len(live))]
        o[lv] = np.concatenate([np.delete(o[lv], i), o[lv, i : i + 1]])
    return f, o


@dataclass
class NestSearchResult:
    """The best mapping of one layer and what it took.

    Attributes:
        mapping: ``NestMapping`` of the best legal mapping.
        factors: i64[SLOTS, 8]; orders: i32[MAX_LEVELS, 8] (host form).
        value: its exact objective (cycles, pJ or cycles x pJ).
        exact_evaluations: mappings scored by the exact model.
        history: best value after the starts and after each round.
        costs: ``HierarchyCosts`` of the best mapping (exact; computed with
            the search's own compiled batch, re-evaluated and not counted).
    """

    mapping: cm.NestMapping
    factors: np.ndarray
    orders: np.ndarray
    value: float
    exact_evaluations: int
    history: list[float] = field(default_factory=list)
    costs: cm.HierarchyCosts | None = None


def nest_search(
    layer: Layer,
    hier: cm.Hierarchy,
    objective: str = "latency",
    config: NestSearchConfig | None = None,
    seed: int = 0,
    tie_break: str | None = None,
) -> NestSearchResult:
    """Best mapping of ``layer`` on ``hier`` for ``objective`` (module docstring: the method);
    ``tie_break`` (None or another objective) picks among the scored mappings tied at the best value."""
    check_objective(objective)
    check_tie_break(tie_break, objective)
    cfg = config or NestSearchConfig()
    rng = np.random.default_rng(seed)
    space = nest_space(layer, hier, cfg.pad_slack)
    mix = np.asarray(cfg.move_mix, np.float64) / sum(cfg.move_mix)
    score = Scorer(hier, layer, objective, cfg.neighbours, tie_break)
    seen: set[bytes] = set()

    def fresh(batch):
        out = []
        for f, o in batch:
            k = _key(f, o)
            if k not in seen:
                seen.add(k)
                out.append((f, o))
        return out

    # 1. starts: all at DRAM first (legal on every hierarchy), then greedy fan-out fills
    base = np.ones((SLOTS, NUM_DIMS), np.int64)
    base[0] = space.sizes
    starts = fresh([(base, ORDER_ROWS[np.zeros(MAX_LEVELS, int)].astype(np.int32))])
    tries = 0
    while len(starts) < min(cfg.starts, cfg.budget) and tries < 20 * cfg.starts:
        tries += 1
        starts += fresh([_start(space, rng)])
    fs = np.stack([s[0] for s in starts])
    os_ = np.stack([s[1] for s in starts])
    vals = score(fs, os_)
    best_i = lex_best(vals, score.ties)
    best = (fs[best_i], os_[best_i], float(vals[best_i]))
    best_tie = float(score.ties[best_i])
    history = [best[2]]
    # 2. walkers: the best distinct starts
    rank = np.argsort(vals, kind="stable")[: cfg.walkers]
    walk = [(fs[i], os_[i], float(vals[i])) for i in rank]
    stale = [0] * len(walk)
    per = cfg.neighbours // len(walk)
    idle = 0
    while score.evaluations + per <= cfg.budget and idle < cfg.patience:
        props, owner = [], []
        room = min(cfg.neighbours, cfg.budget - score.evaluations)
        for w, (f, o, _) in enumerate(walk):
            got, tries = 0, 0
            while got < min(per, room - len(props)) and tries < 20 * per:
                tries += 1
                m = _move(f, o, space, rng, mix)
                if m is not None and fresh([m]):
                    props.append(m)
                    owner.append(w)
                    got += 1
        if not props:
            break
        v = score(np.stack([p[0] for p in props]), np.stack([p[1] for p in props]))
        owner_a = np.asarray(owner)
        improved = False
        for w in range(len(walk)):
            mine = np.flatnonzero(owner_a == w)
            if mine.size == 0:
                continue
            j = mine[np.argmin(v[mine])]
            if v[j] < walk[w][2]:
                walk[w] = (props[j][0], props[j][1], float(v[j]))
                stale[w] = 0
                improved = True
            else:
                stale[w] += 1
        j = lex_best(v, score.ties)
        if v[j] < best[2] or (v[j] == best[2] and score.ties[j] < best_tie):
            best = (props[j][0], props[j][1], float(v[j]))
            best_tie = float(score.ties[j])
        history.append(best[2])
        idle = 0 if improved else idle + 1
        for w in range(len(walk)):  # restart stuck walkers near the best
            if stale[w] >= 2 and np.isfinite(best[2]):
                f, o = best[0], best[1]
                for _ in range(cfg.kick_moves):
                    m = None
                    for _ in range(20):
                        m = _move(f, o, space, rng, mix)
                        if m is not None:
                            break
                    if m is not None:
                        f, o = m
                walk[w] = (f, o, np.inf) if not np.array_equal(f, best[0]) else (f, o, best[2])
                stale[w] = 0
    if not np.isfinite(best[2]):
        raise MapperError(f"nest search: layer '{layer.name}' expected a legal mapping, found none")
    return _result(score, best[0], best[1], best[2], history)


def _result(score: Scorer, factors: np.ndarray, orders: np.ndarray, value: float, history=None) -> NestSearchResult:
    c = score.costs(factors[None], orders[None])
    return NestSearchResult(
        mapping=to_nest(factors, orders),
        factors=factors,
        orders=orders,
        value=value,
        exact_evaluations=score.evaluations,
        history=list(history or []),
        costs=jax.tree_util.tree_map(lambda x: np.asarray(x)[0], c),
    )


def _splits(bound: int, slots: list[int], limit: np.ndarray):
    """Every assignment of factors with product ``bound`` to ``slots`` (each within its limit)."""
    if len(slots) == 1:
        if bound <= limit[slots[0]]:
            yield (bound,)
        return
    for v in range(1, bound + 1):
        if bound % v == 0 and v <= limit[slots[0]]:
            for rest in _splits(bound // v, slots[1:], limit):
                yield (v,) + rest


def exhaustive_nest(
    layer: Layer,
    hier: cm.Hierarchy,
    objective: str = "latency",
    pad_slack: float = DEFAULT_MAX_PADDING,
    max_mappings: int = 200_000,
    batch: int = NestSearchConfig.neighbours,
) -> NestSearchResult:
    """Every padded split and every order of the non-trivial loops of each level (small layers only).

    Raises ``MapperError`` naming ``max_mappings`` when the splits before the
    fan-out filter, or the mappings after it, are more.
    """
    check_objective(objective)
    space = nest_space(layer, hier, pad_slack)
    slots = [int(k) for k in space.slots]
    too_many = MapperError(
        f"exhaustive nest: field 'max_mappings' expected at least the space size, found {max_mappings} "
        f"exceeded for layer '{layer.name}'"
    )
    per_dim = []
    for d in range(NUM_DIMS):
        opts = []
        for b in range(int(space.sizes[d]), int(space.pad_max[d]) + 1):
            opts += list(itertools.islice(_splits(b, slots, space.limit), max_mappings + 1))
            if len(opts) > max_mappings:
                raise too_many
        per_dim.append(opts)
    if math.prod(len(p) for p in per_dim) > max_mappings:
        raise too_many
    fs, os_ = [], []
    for combo in itertools.product(*per_dim):
        f = np.ones((SLOTS, NUM_DIMS), np.int64)
        f[slots] = np.asarray(combo, np.int64).T
        if any(not _fits(f, k, space) for k in space.spatial_slots):
            continue
        per_level = []
        for lv in range(MAX_LEVELS):
            live = [d for d in range(NUM_DIMS) if f[lv, d] > 1]
            dead = [d for d in range(NUM_DIMS) if f[lv, d] == 1]
            per_level.append([list(p) + dead for p in itertools.permutations(live)])
        n = math.prod(len(p) for p in per_level)
        if len(fs) + n > max_mappings:
            raise too_many
        for orders in itertools.product(*per_level):
            fs.append(f)
            os_.append(np.asarray(orders, np.int32))
    score = Scorer(hier, layer, objective, batch)
    fa, oa = np.stack(fs), np.stack(os_)
    vals = score(fa, oa)
    i = int(np.argmin(vals))
    return _result(score, fa[i], oa[i], float(vals[i]))


__all__ = [
    "NestSearchConfig",
    "NestSearchResult",
    "NestSpace",
    "Scorer",
    "exhaustive_nest",
    "nest_search",
    "nest_space",
    "to_nest",
]
