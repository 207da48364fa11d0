"""The gradient mapper: Adam on the relaxed model, snapping, exact validation.

All unique layers of a network are optimised together by one compiled,
vmapped program (layers x starts), called on chunks of ``plan.LAYER_CHUNK``
layers, so the same compiled programs serve every network (re-mapping a new
network compiles nothing; issue 14, section 3).

Parameterisation (the project's relaxation notes; DOSA derives the DRAM
factor from the others to the same end): per layer, start and dim d the log
factors of the four levels (DRAM, L2, spatial, L1) are
``log(D_d) * softmax(theta[:, d])``, so their product is exactly D_d for any
theta and no coverage constraint is needed.

Loop orders have no gradient. Each step evaluates the relaxed cost under
all 9 candidate (DRAM, L2) order pairs (``space.ALL_ORDERS``) as a batch and
takes the minimum: the gradient flows through the best order, and the
order "choice" is exact (DOSA tried 3 fixed orders at each rounding step).

Loss: log(objective) of the relaxed model plus ``penalty_weight`` times its
smooth capacity / fan-out penalty (log space keeps the scale the same across
layers of very different sizes).

Every ``snap_every`` steps each start is snapped: the nearest exact splits
per dim in log space (``snap.nearest_splits``, top 3), ``neighbours`` random
combinations of them (the all-nearest one first), repaired to fit
(``snap.repair``), crossed with the 9 order pairs and scored by the exact
model in one batch. With ``max_padding`` > 0 the nearest splits include
those of the dim's smooth padded bounds (``snap.padded_splits``; a padded
split's distance includes its excess log(P / D)), so a prime bound such as
197 can snap to 198 = 2 x 99 or 200 = 8 x 25. The start then continues from its best snapped point
(DOSA rounds and continues likewise). The greedy default mapping is scored
too, so a legal result always exists. Finally a few rounds of exact
steepest descent over single prime-factor moves between levels and order
changes polish each layer's best mapping (all layers as one batch); with
padding, also +-1 steps of one level's factor that keep the dim's product
within ``D .. D + floor(D * max_padding)`` (these reach every padded bound,
not only the smooth ones).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from costmodels import Arch, Mapping, Relaxed, evaluate, evaluate_batch, stack_layers
from costmodels.compile import jit
from costmodels.sharding import replicate, shard_leading
from jaxdse.heuristic import default_mapping
from jaxdse.mapper.enumerate import pruned_space
from jaxdse.mapper.snap import nearest_splits, repair
from jaxdse.mapper.space import ALL_ORDERS, Candidates, log_objective, objective_value
from jaxdse.mapspace import DEFAULT_MAX_PADDING, max_bound, prime_factors
from jaxdse.plan import LAYER_CHUNK, chunk_count
from workloads import Layer

EPS = 1e-3


def _factors(theta, log_bounds):
    """theta f[4, 8] -> factors f[4, 8] (DRAM, L2, spatial, L1) with exact products."""
    return jnp.exp(jax.nn.softmax(theta, axis=0) * log_bounds[None, :])


def _theta_from_factors(factors: np.ndarray, log_bounds: np.ndarray) -> np.ndarray:
    """Inverse of ``_factors`` (up to softmax's shift), for warm starts."""
    share = np.log(factors.astype(np.float64)) / np.maximum(log_bounds[..., None, :], 1e-9)
    return np.log(np.maximum(share, EPS)).astype(np.float32)


def _mapping(factors, order):
    return Mapping.from_factors(factors, order)


def _loss(theta, log_bounds, layer, arch, objective, temperature, penalty_weight):
    f = _factors(theta, log_bounds)
    orders = jnp.asarray(ALL_ORDERS)

    def one(order):
        c = evaluate(arch, layer, _mapping(f, order), Relaxed(temperature))
        return log_objective(objective, c.latency_cycles, c.energy_total_pj) + penalty_weight * c.penalty

    return jnp.min(jax.vmap(one)(orders))


@jit(static_argnames=("objective", "steps", "lr"))
def _optimise(theta, opt_state, log_bounds, layers, arch, objective, steps, lr, temperature, penalty_weight):
    """``steps`` Adam steps for every (layer, start); theta f[L, S, 4, 8]."""
    opt = optax.adam(lr)
    loss = jax.vmap(
        jax.vmap(_loss, in_axes=(0, None, None, None, None, None, None)), in_axes=(0, 0, 0, None, None, None, None)
    )

    def total(th):
        return jnp.sum(loss(th, log_bounds, layers, arch, objective, temperature, penalty_weight))

    return adam_steps(total, theta, opt_state, opt, steps)


def adam_steps(loss, params, opt_state, opt, steps: int):
    """``steps`` optimiser steps on ``loss(params)`` as one ``lax.scan`` (inside jit)."""

    def step(carry, _):
        p, st = carry
        upd, st = opt.update(jax.grad(loss)(p), st, p)
        return (optax.apply_updates(p, upd), st), None

    (params, opt_state), _ = jax.lax.scan(step, (params, opt_state), None, length=steps)
    return params, opt_state


@jit
def _shares(theta):
    """Each start's share of every dim's log-bound per level (softmax over levels), compiled so
    that it is dispatched without waiting for ``theta`` (eager ops wait for their inputs)."""
    return jax.nn.softmax(theta, axis=2)


@jit(static_argnames=("objective",))
def _score_layers(arch, layers, mappings, objective):
    """Exact objective of mappings f[L, M, ...] of layers [L]: f[L, M]."""
    c = jax.vmap(evaluate_batch, in_axes=(None, 0, 0))(arch, layers, mappings)
    return objective_value(c, objective)


_SRC_DST = [(a, b) for a in range(4) for b in range(4) if a != b]
RANDOM_ORDERS = 24
"""Random DRAM- and L2-level loop orders tried per polish round (beyond the
9 template pairs): orders outside the templates occasionally win."""


def _neighbourhood(factors: np.ndarray, orders: np.ndarray, rng: np.random.Generator, lo=None, hi=None):
    """Single moves around each layer's current mapping, fixed count per layer.

    For every dim and every ordered pair of levels, move the smallest and
    the largest prime factor of the source level's factor to the other
    level (a no-op when the factor is 1), keeping the order; when padded
    bounds ``lo`` .. ``hi`` (i64[nb, 8]) are given, also every +-1 step of
    one level's factor whose dim product stays within them (else a no-op);
    plus the current factors under every template order pair and under random
    permutations of the DRAM or the L2 loop order. Returns factors
    i64[nb, M, 4, 8] and orders i32[nb, M, 3, 8].
    """
    nb = factors.shape[0]
    moves = []
    if lo is not None and np.any(hi > lo):
        prod = factors.prod(axis=1)  # [nb, 8]
        for d in range(8):
            for lvl in range(4):
                for step in (1, -1):
                    f = factors.copy()
                    new = f[:, lvl, d] + step
                    new_prod = prod[:, d] // f[:, lvl, d] * new
                    ok = (new >= 1) & (new_prod >= lo[:, d]) & (new_prod <= hi[:, d])
                    f[ok, lvl, d] = new[ok]
                    moves.append(f)
    for d in range(8):
        for src, dst in _SRC_DST:
            for pick in (min, max):
                f = factors.copy()
                for li in range(nb):
                    v = int(f[li, src, d])
                    if v > 1:
                        p = pick(prime_factors(v))
                        f[li, src, d] //= p
                        f[li, dst, d] *= p
                moves.append(f)
    moved = np.stack(moves, axis=1)  # [nb, 192, 4, 8]
    keep = np.repeat(orders[:, None], moved.shape[1], axis=1)
    perms = np.argsort(rng.random((nb, 2 * RANDOM_ORDERS, 8)), axis=-1).astype(np.int32)
    alt = np.repeat(orders[:, None], 2 * RANDOM_ORDERS, axis=1).copy()
    alt[:, :RANDOM_ORDERS, 0] = perms[:, :RANDOM_ORDERS]
    alt[:, RANDOM_ORDERS:, 1] = perms[:, RANDOM_ORDERS:]
    templates = np.broadcast_to(ALL_ORDERS[None], (nb,) + ALL_ORDERS.shape)
    all_o = np.concatenate([keep, templates, alt], axis=1)
    n_extra = templates.shape[1] + alt.shape[1]
    all_f = np.concatenate([moved, np.repeat(factors[:, None], n_extra, axis=1)], axis=1)
    return all_f, all_o


def _rows(tree, rows: slice):
    """The same rows of every leaf of a host-side pytree."""
    return jax.tree_util.tree_map(lambda a: a[rows], tree)


def _bucket(n: int) -> int:
    """Host-side rows of the layer batch: a power of two (the random streams,
    and so the mappings, are those of the mapper before the device work was
    chunked; the device sees these rows in chunks of ``LAYER_CHUNK``)."""
    return 1 << max(0, (n - 1).bit_length())


_STARTS: dict[tuple, np.ndarray] = {}
_STARTS_MAX = 20_000


def _start_factors(layer: Layer, arch: Arch, k: int, max_padding: float) -> np.ndarray:
    """i64[1 + k, 4, 8]: the default mapping's factors, then the ``k`` best
    pruned-space tilings (padded with the default where there are fewer).

    Both depend on the design only through its capacities (PEs, L1, L2 and
    each NoC's links x virtual unicast), so they are kept per layer and
    capacities: an explorer's neighbouring designs that differ in bandwidth
    or NoC width share them (host-side work was ~20% of a ResNet-50 mapping).
    """
    key = (
        layer,
        k,
        max_padding,
        float(np.asarray(arch.num_pes)),
        float(np.asarray(arch.l1_bytes)),
        float(np.asarray(arch.l2_kib)),
        tuple((np.asarray(arch.noc_links, np.float64) * np.asarray(arch.noc_virtual, np.float64)).tolist()),
    )
    hit = _STARTS.get(key)
    if hit is None:
        m = default_mapping(layer, arch)
        f = np.stack([m.temporal[0], m.temporal[1], m.spatial, m.temporal[2]]).astype(np.int64)
        hit = np.repeat(f[None], 1 + k, axis=0)
        if k > 0:
            tl = pruned_space(layer, arch, n_range=(1, 9 * k), max_padding=max_padding).tilings[:k]
            hit[1 : 1 + len(tl)] = tl
        if len(_STARTS) >= _STARTS_MAX:
            _STARTS.clear()
        _STARTS[key] = hit
    return hit.copy()


def gradient_map(
    layers: list[Layer],
    arch: Arch,
    objective: str = "latency",
    seed: int = 0,
    starts: int = 8,
    steps: int = 120,
    snap_every: int = 40,
    neighbours: int = 8,
    lr: float = 0.15,
    temperature: float = 0.05,
    penalty_weight: float = 4.0,
    polish_iters: int = 3,
    seeded: int = 3,
    max_padding: float = DEFAULT_MAX_PADDING,
    progress=None,
) -> list[Candidates]:
    """Map every layer with the gradient mapper; one ``Candidates`` per layer.

    Args:
        layers: Unique layers (a network's ``layers``).
        arch: One design.
        objective: ``latency``, ``energy`` or ``edp``.
        seed: Determinism: same seed, same mappings.
        starts: Starts per layer (start 0 is the default mapping, then
            ``seeded`` pruned-space tilings, the rest random).
        steps: Adam steps in all.
        snap_every: Steps between snapping rounds (snaps also at the end).
        neighbours: Snapped combinations per start per round.
        lr, temperature, penalty_weight: Optimiser and relaxation settings.
        seeded: Starts initialised from the best-utilised tilings of the
            pruned map space (``enumerate.pruned_space``).
        polish_iters: Rounds of exact steepest descent over single prime-factor
            moves and order changes around each layer's best snapped mapping.
        max_padding: Padding slack per dim (``jaxdse.mapspace.DEFAULT_MAX_PADDING``;
            0: exact factorisations only).
        progress: Optional callable(str) for progress lines.

    Returns:
        Per layer, every exactly scored candidate and the evaluations spent.
    """
    rng = np.random.default_rng(seed)
    n = len(layers)
    nb = _bucket(n)
    padded = list(layers) + [layers[0]] * (nb - n)
    # the device sees the n real layers in chunks of LAYER_CHUNK (padded with
    # copies of the first): every network runs the same compiled programs,
    # and layers x starts being independent, each chunk's results are those
    # of one whole batch. The host's rows n..nb-1 (kept so the random streams
    # stay those of the unchunked mapper) never reach the device: their
    # results are row 0's and are dropped. Each chunk's layer axis is split
    # over the local devices (costmodels.sharding; a no-op with one device).
    nd = chunk_count(n)
    chunks = [slice(i, i + LAYER_CHUNK) for i in range(0, nd, LAYER_CHUNK)]
    dev_layers = list(layers) + [layers[0]] * (nd - n)
    la = [shard_leading(stack_layers(dev_layers[c])) for c in chunks]
    arch_d = replicate(arch)

    def rows(a, count: int):
        """The first ``count`` rows of ``a`` (host), padded with copies of row 0."""
        return a[:count] if a.shape[0] >= count else np.concatenate([a, np.repeat(a[:1], count - a.shape[0], axis=0)])

    def to_device(a: np.ndarray) -> list:
        """Host rows [nb, ...] -> one device array per chunk of the nd device rows."""
        a = rows(a, nd)
        return [shard_leading(jnp.asarray(a[c])) for c in chunks]

    def adam_init(th: list) -> list:
        return [shard_leading(optax.adam(lr).init(t)) for t in th]

    bounds = np.array([lay.sizes for lay in padded], dtype=np.float64)
    log_bounds = np.log(bounds)
    n_orders = ALL_ORDERS.shape[0]

    # Start 0: the greedy default mapping; starts 1..k: the best-utilised
    # tilings of the pruned space (host-side enumeration, no cost-model
    # calls), so the search also begins where a classical mapper would; the
    # rest: random logits, for diversity. The host works out one chunk's
    # starts while the device runs the first round of the chunks before it
    # (the starts took ~40% of a new network's re-mapping when done first).
    k = min(seeded, starts - 1)
    k0 = min(snap_every, steps)  # the first round's steps
    theta_h = rng.normal(0.0, 1.0, size=(nb, starts, 4, 8)).astype(np.float32)
    log_bounds_d = to_device(log_bounds.astype(np.float32))
    first: list = [None] * nb
    theta, opt_state = [], []

    def optimise(j: int, count: int) -> None:
        """Dispatch ``count`` Adam steps on chunk ``j`` (not waited for)."""
        theta[j], opt_state[j] = _optimise(
            theta[j],
            opt_state[j],
            log_bounds_d[j],
            la[j],
            arch_d,
            objective,
            count,
            lr,
            jnp.float32(temperature),
            jnp.float32(penalty_weight),
        )

    for j, c in enumerate(chunks):
        real = range(c.start, min(c.stop, n))
        fill = list(real) + (list(range(n, nb)) if j == len(chunks) - 1 else [])  # the bucket rows repeat row 0
        for li in fill:
            first[li] = _start_factors(layers[li], arch, k, max_padding) if li < n else first[0]
            theta_h[li, 0] = _theta_from_factors(first[li][0], log_bounds[li])
            if k > 0:
                theta_h[li, 1 : 1 + k] = _theta_from_factors(first[li][1:], log_bounds[li][None, :])
        theta.append(shard_leading(jnp.asarray(rows(theta_h, nd)[c])))
        opt_state.extend(adam_init(theta[j : j + 1]))
        if k0 > 0:
            optimise(j, k0)
    def_factors = np.stack([f[0] for f in first])
    seeds = np.stack([f[1:] if k > 0 else f[:1] for f in first])

    kept_f: list[list[np.ndarray]] = [[] for _ in range(n)]
    kept_o: list[list[np.ndarray]] = [[] for _ in range(n)]
    kept_v: list[list[np.ndarray]] = [[] for _ in range(n)]
    evaluations = 0

    batch = starts * neighbours * n_orders  # the snapping rounds' size: every call padded to it

    def score_and_keep(factors, orders):
        """factors i64[nb, M, 4, 8], orders i32[nb, M, 3, 8]; returns f[nb, M].

        Batches smaller than ``batch`` (the initial mappings, the polish
        moves) are padded with copies of their first mapping, so the scoring
        function compiles once per network size instead of three times (the
        padding is scored but neither kept nor counted)."""
        nonlocal evaluations
        m_real = factors.shape[1]
        if m_real < batch:
            factors = np.concatenate([factors, np.repeat(factors[:, :1], batch - m_real, axis=1)], axis=1)
            orders = np.concatenate([orders, np.repeat(orders[:, :1], batch - m_real, axis=1)], axis=1)
        m = Mapping.from_factors(rows(factors, nd), rows(orders, nd).astype(np.int32))
        parts = [_score_layers(arch_d, la[j], shard_leading(_rows(m, c)), objective) for j, c in enumerate(chunks)]
        v = rows(np.concatenate([np.asarray(p) for p in parts]), nb)[:, :m_real]
        factors, orders = factors[:, :m_real], orders[:, :m_real]
        evaluations += n * factors.shape[1]
        for i in range(n):
            kept_f[i].append(factors[i])
            kept_o[i].append(orders[i])
            kept_v[i].append(v[i])
        return v

    # the default mappings and the seeded tilings under every order pair
    init = np.concatenate([def_factors[:, None], seeds[:, :k]], axis=1)
    score_and_keep(np.repeat(init, n_orders, 1), ALL_ORDERS[np.tile(np.arange(n_orders), (nb, init.shape[1]))])

    rounds = max(1, -(-steps // snap_every))
    t0 = time.perf_counter()
    for r in range(rounds):
        k = min(snap_every, steps - r * snap_every)
        if k > 0 and r > 0:  # round 0 was dispatched with the starts
            for j in range(len(chunks)):
                optimise(j, k)
        # snap every start: nearest splits per dim, random combinations,
        # repair; chunk by chunk as each chunk's optimisation finishes (the
        # host snaps one chunk while the device optimises the next), the
        # random draws in row order as before
        shares = [_shares(t) for t in theta]  # dispatched, not waited for
        flat = np.ones((nb, starts * neighbours, 4, 8), dtype=np.int64)
        for li in range(nb):
            if li < n and li % LAYER_CHUNK == 0:
                share = np.asarray(shares[li // LAYER_CHUNK])  # waits for this chunk only
            picks = [rng.choice(3, size=(starts, neighbours), p=[0.6, 0.25, 0.15]) for _ in range(8)]
            if li >= n:
                continue  # a bucket row: repeats row 0 below
            logf = share[li % LAYER_CHUNK] * log_bounds[li][None, None, :]  # [S, 4, 8]
            cand = np.ones((starts, neighbours, 4, 8), dtype=np.int64)
            for d in range(8):
                near = nearest_splits(int(bounds[li, d]), logf[:, :, d], 3, max_padding)  # [S, 3, 4]
                pick = picks[d]
                pick[:, 0] = 0
                cand[:, :, :, d] = np.take_along_axis(near, pick[..., None], axis=1)
            flat[li] = repair(padded[li], arch, cand.reshape(starts * neighbours, 4, 8))
        flat[n:] = flat[0]
        both = np.repeat(flat, n_orders, axis=1)
        oidx = np.tile(np.arange(n_orders), (nb, starts * neighbours))
        v = score_and_keep(both, ALL_ORDERS[oidx]).reshape(nb, starts, neighbours * n_orders)
        # continue each start from its best snapped point
        best = np.argmin(v, axis=-1)
        best_f = both.reshape(nb, starts, neighbours * n_orders, 4, 8)[
            np.arange(nb)[:, None], np.arange(starts)[None, :], best
        ]
        theta = to_device(_theta_from_factors(best_f, log_bounds[:, None, :]))
        opt_state = adam_init(theta)
        if progress is not None:
            finite = np.isfinite(v).any(axis=(1, 2))[:n].sum()
            progress(
                f"gradient mapper: round {r + 1}/{rounds}, {finite}/{n} layers legal, {time.perf_counter() - t0:.1f}s"
            )

    # Polish: steepest descent on the exact model over single prime moves.
    best_i = [int(np.argmin(np.concatenate(kept_v[i]))) for i in range(n)] + [0] * (nb - n)
    cur_f = np.stack([np.concatenate(kept_f[min(i, n - 1)])[best_i[i]] for i in range(nb)])
    cur_o = np.stack([np.concatenate(kept_o[min(i, n - 1)])[best_i[i]] for i in range(nb)])
    cur_v = np.array([np.concatenate(kept_v[min(i, n - 1)])[best_i[i]] for i in range(nb)])
    lo = bounds.astype(np.int64)
    hi = np.array([[max_bound(int(b), max_padding) for b in row] for row in lo], np.int64)
    for _ in range(polish_iters):
        moves, m_orders = _neighbourhood(cur_f, cur_o, rng, lo, hi)
        v = score_and_keep(moves, m_orders)
        j = np.argmin(v, axis=1)
        better = v[np.arange(nb), j] < cur_v
        if not better[:n].any():
            break
        cur_f[better] = moves[better, j[better]]
        cur_o[better] = m_orders[better, j[better]]
        cur_v[better] = v[better, j[better]]

    out = []
    for i in range(n):
        f = np.concatenate(kept_f[i])
        o = np.concatenate(kept_o[i])
        m = Mapping.from_factors(f, o)
        per_layer = evaluations // n
        out.append(Candidates(m, np.concatenate(kept_v[i]), per_layer, f"{starts} starts x {steps} steps"))
    return out
