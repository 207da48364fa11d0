"""Evaluate and map networks on any hierarchy (``costmodels.Hierarchy``).

The path for the hierarchy presets (``eyeriss_like``, ``simba_like``,
``gemmini_like``, ``tpu_v1_like``, the template presets as three-level
hierarchies) and hierarchy files. ``map_on_hierarchy`` maps every unique
layer with one of two methods:

* ``search`` (default): ``jaxdse.mapper.nest_search`` - batched exact local
  search over per-level temporal factors and orders and per-fan-out X/Y
  factors (padded within a slack), about 1,000 exact evaluations per layer;
* ``random``: ``samples`` random exact factorisations of every loop bound
  over the levels' temporal loops and the fan-outs' X and Y (random loop
  orders), all evaluated with the exact model in one batch; the all-at-DRAM
  mapping is always a candidate, so every layer gets a legal mapping. A
  baseline: say so when quoting its figures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import costmodels as cm
from costmodels.compile import jit
from costmodels.nest_mapping import MAX_LEVELS
from jaxdse.codesign.checkpoint import atomic_write
from jaxdse.mapper.nest_search import NestSearchConfig, lex_best, nest_search
from jaxdse.mapper.space import OBJECTIVES, MapperError, check_tie_break, objective_value
from jaxdse.mapspace import prime_factors
from workloads import DIMS, Layer, Network

DEFAULT_SAMPLES = 2000
HIERARCHY_METHODS: tuple[str, ...] = ("search", "random")


class HierarchyMapError(ValueError):
    """No legal mapping, or a bad argument; the message names the field."""


def random_nest_mappings(layer: Layer, hier: cm.Hierarchy, n: int, rng: np.random.Generator) -> cm.NestMapping:
    """``n`` random exact factorisations (slots: each level's temporal loops, each fan-out's X and Y)."""
    depth = hier.depth
    fan = np.stack([np.asarray(hier.fanout_x), np.asarray(hier.fanout_y)], axis=1)[:depth]  # [depth, 2]
    slots = [("t", lv, 0) for lv in range(depth)] + [
        ("s", lv, ax) for lv in range(depth) for ax in range(2) if fan[lv, ax] > 1
    ]
    t = np.ones((n, MAX_LEVELS, 8))
    s = np.ones((n, MAX_LEVELS, 2, 8))
    for d, bound in enumerate(layer.sizes):
        for p in prime_factors(int(bound)):
            pick = rng.integers(0, len(slots), size=n)
            for k, (kind, lv, ax) in enumerate(slots):
                hit = pick == k
                if kind == "t":
                    t[hit, lv, d] *= p
                else:
                    s[hit, lv, ax, d] *= p
    # candidate 0: everything temporal at DRAM (always fits)
    t[0] = 1.0
    t[0, 0] = np.asarray(layer.sizes, float)
    s[0] = 1.0
    order = np.argsort(rng.random((n, MAX_LEVELS, 8)), axis=-1)
    return cm.NestMapping(
        temporal=jnp.asarray(t, jnp.float32), order=jnp.asarray(order, jnp.int32), spatial=jnp.asarray(s, jnp.float32)
    )


_batch_eval = jit(jax.vmap(cm.evaluate_hierarchy, in_axes=(None, None, 0)))


@dataclass
class HierarchyPlan:
    """Per-layer mappings and exact costs of a network on one hierarchy."""

    network: str
    hierarchy: cm.Hierarchy
    layers: list[dict] = field(default_factory=list)
    method: str = "random"

    @property
    def legal(self) -> bool:
        return all(r["legal"] for r in self.layers)

    def latency_energy(self) -> tuple[float, float]:
        """(latency s, energy J) of the network (layers x counts): ``total()`` without the area and
        peak power, which cost a model call each."""
        lat = sum(r["latency_s"] * r["count"] for r in self.layers)
        return lat, sum(r["energy_j"] * r["count"] for r in self.layers)

    def total(self) -> dict[str, Any]:
        lat, en = self.latency_energy()
        macs = sum(r["macs"] * r["count"] for r in self.layers)
        area = float(cm.hierarchy_model.area_mm2(self.hierarchy))
        peak = float(cm.hierarchy_model.peak_power_w(self.hierarchy, area))
        cycles = lat * float(self.hierarchy.freq_mhz) * 1e6
        return {
            "latency_s": lat,
            "energy_j": en,
            "area_mm2": area,
            "power_w": peak,
            "avg_power_w": en / lat if lat > 0 else 0.0,
            "macs": macs,
            "utilisation": macs / (cycles * float(self.hierarchy.num_macs)) if cycles > 0 else 0.0,
            "legal": self.legal,
            "exact_evaluations": sum(r.get("exact_evaluations", 0) for r in self.layers),
        }

    def table(self) -> str:
        names = self.hierarchy.names
        head = f"{'layer':<28} {'count':>5} {'MMACs':>9} {'latency ms':>11} {'energy uJ':>10} {'util %':>6}  bound by"
        lines = [head, "-" * len(head)]
        for r in self.layers:
            lines.append(
                f"{r['name'][:28]:<28} {r['count']:>5} {r['macs'] / 1e6:>9.2f} {r['latency_s'] * 1e3:>11.4f} "
                f"{r['energy_j'] * 1e6:>10.2f} {r['utilisation'] * 100:>6.1f}  {r['bound']}"
            )
        t = self.total()
        lines.append(
            f"total (x count): latency {t['latency_s'] * 1e3:.3f} ms, energy {t['energy_j'] * 1e3:.3f} mJ, "
            f"area {t['area_mm2']:.2f} mm^2, peak power {t['power_w']:.2f} W, utilisation {t['utilisation'] * 100:.1f}%"
        )
        lines.append(f"hierarchy ({' -> '.join(names)}); per-layer figures are per instance of the layer")
        bad = [r for r in self.layers if not r["legal"]]
        if bad:
            lines.append("ILLEGAL layers (what each mapping breaks):")
            lines += [f"  {r['name']}: {'; '.join(r.get('violations') or ['not recorded'])}" for r in bad]
        return "\n".join(lines)

    def nests(self) -> str:
        return "\n".join(f"{r['name']}:\n{r['nest']}" for r in self.layers)

    def to_dict(self) -> dict:
        return {
            "network": self.network,
            "method": self.method,
            "levels": list(self.hierarchy.names),
            "layers": self.layers,
            "total": self.total(),
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def save(self, out: str | Path) -> Path:
        path = Path(out) / "plan.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, self.to_json(indent=2))
        return path


def _bound(costs, names: tuple[str, ...], i: int) -> str:
    terms = np.asarray(costs.terms_cycles[i])
    labels = ["compute"] + [f"{n} bandwidth" for n in names] + [""] * (MAX_LEVELS - len(names))
    labels += [f"NoC {s}" for s in cm.hierarchy_model.STREAMS] + ["DMA"]
    return labels[int(np.argmax(terms))]


def _record(layer: Layer, count: int, hier: cm.Hierarchy, c, i: int, one: cm.NestMapping, evaluations: int) -> dict:
    """One layer's row of a plan from exact costs ``c`` (a batch; row ``i``)."""
    legal = bool(np.asarray(c.legal)[i] > 0)
    return {
        "name": layer.name,
        "count": count,
        "macs": layer.macs,
        "latency_s": float(np.asarray(c.latency_s)[i]),
        "energy_j": float(np.asarray(c.energy_total_pj)[i]) * 1e-12,
        "utilisation": layer.macs / (float(np.asarray(c.latency_cycles)[i]) * float(hier.num_macs)),
        "legal": legal,
        "bound": _bound(c, hier.names, i),
        "exact_evaluations": evaluations,
        "mapping": one.to_dict(hier.names),
        "nest": one.describe(hier.names),
        "counts": {
            f: np.asarray(getattr(c.counts, f)[i])[: hier.depth].tolist() for f in ("reads", "fills", "updates")
        },
        "energy_parts_j": _energy_parts(hier, c, i),
        "violations": [] if legal else _violations(hier, c, i),
    }


def _energy_parts(hier: cm.Hierarchy, c, i: int) -> dict[str, float]:
    """Energy of one layer instance by part (J): each level's accesses, the MACs, the NoC, leakage
    (``hierarchy_model``'s terms, which sum to ``energy_total_pj``): the energy bottleneck."""
    lv = np.asarray(c.level_energy_pj[i], dtype=np.float64)[: hier.depth]
    parts = {name: float(e) * 1e-12 for name, e in zip(hier.names, lv)}
    for part, f in (("MACs", c.mac_energy_pj), ("NoC", c.noc_energy_pj), ("leakage", c.leakage_energy_pj)):
        parts[part] = float(np.asarray(f)[i]) * 1e-12
    return parts


def _violations(hier: cm.Hierarchy, c, i: int) -> list[str]:
    """What an illegal mapping breaks, in words (``hierarchy_model.violations``)."""
    out = []
    cap = np.asarray(c.capacity_excess_bytes)[i]
    fan = np.asarray(c.fanout_excess)[i]
    for lv, name in enumerate(hier.names):
        if cap[lv] > 0:
            out.append(f"{name} over capacity by {cap[lv]:,.0f} B")
        for ax, axis in enumerate("XY"):
            if fan[lv, ax] > 0:
                out.append(f"{name} fan-out {axis} exceeded by {fan[lv, ax]:,.0f} instances")
    short = np.asarray(c.coverage_deficit)[i]
    out += [f"dim {d} not covered (short by {x:g})" for d, x in zip(DIMS, short) if x > 0]
    noc = np.asarray(c.noc_excess)[i]
    out += [
        f"NoC {s} needs {x:,.0f} more workgroups than links x virtual"
        for s, x in zip(cm.hierarchy_model.STREAMS, noc)
        if x > 0
    ]
    return out


def evaluate_on_hierarchy(
    network: Network, hier: cm.Hierarchy, mappings: list[cm.NestMapping], method: str = "given mappings"
) -> HierarchyPlan:
    """Exact costs of given mappings (one per unique layer of ``network``) on ``hier``; no search."""
    if len(mappings) != len(network.layers):
        raise HierarchyMapError(
            f"evaluate_on_hierarchy: field 'mappings' expected one per layer ({len(network.layers)}), "
            f"found {len(mappings)}"
        )
    plan = HierarchyPlan(network=network.name, hierarchy=hier, method=method)
    for (layer, count), m in zip(network.items(), mappings):
        one = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], m)
        c = _batch_eval(hier, cm.layer_arrays(layer), one)
        plan.layers.append(_record(layer, count, hier, c, 0, m, 1))
    return plan


def map_on_hierarchy(
    network: Network,
    hier: cm.Hierarchy,
    objective: str = "latency",
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    method: str = "search",
    config: NestSearchConfig | None = None,
    tie_break: str | None = None,
) -> HierarchyPlan:
    """Best mapping per unique layer, exact costs.

    Args:
        network: The layers (each unique layer mapped once, weighted by its count).
        hier: Any hierarchy.
        objective: ``latency``, ``energy`` or ``edp``.
        samples: Random mappings per layer (``method="random"`` only).
        seed: Determinism: same seed, same plan.
        method: ``search`` (``nest_search``) or ``random``.
        config: ``NestSearchConfig`` for ``search`` (default budget 1,000
            exact evaluations per layer).
        tie_break: None, or another objective that picks among the mappings
            tied at the best value (a multi-objective run maps latency with
            ``"energy"``, as ``map_layer``'s ``tie_break``).
    """
    if objective not in OBJECTIVES:
        raise HierarchyMapError(
            f"map_on_hierarchy: field 'objective' expected one of {list(OBJECTIVES)}, found {objective!r}"
        )
    if method not in HIERARCHY_METHODS:
        raise HierarchyMapError(
            f"map_on_hierarchy: field 'method' expected one of {list(HIERARCHY_METHODS)}, found {method!r}"
        )
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise HierarchyMapError(f"map_on_hierarchy: field 'samples' expected a positive int, found {samples!r}")
    try:
        check_tie_break(tie_break, objective)
    except MapperError as e:
        raise HierarchyMapError(f"map_on_hierarchy: {str(e).removeprefix('mapper: ')}") from None
    if method == "search":
        cfg = config or NestSearchConfig()
        plan = HierarchyPlan(
            network=network.name,
            hierarchy=hier,
            method=f"search (local search on the exact model, budget {cfg.budget} per layer)",
        )
        for li, (layer, count) in enumerate(network.items()):
            r = nest_search(layer, hier, objective, cfg, seed=seed + li, tie_break=tie_break)
            c = jax.tree_util.tree_map(lambda x: np.asarray(x)[None], r.costs)
            plan.layers.append(_record(layer, count, hier, c, 0, r.mapping, r.exact_evaluations))
        return plan
    rng = np.random.default_rng(seed)
    plan = HierarchyPlan(network=network.name, hierarchy=hier, method=f"random ({samples} samples per layer)")
    for layer, count in network.items():
        ms = random_nest_mappings(layer, hier, samples, rng)
        c = _batch_eval(hier, cm.layer_arrays(layer), ms)
        score = np.asarray(objective_value(c, objective), dtype=np.float64)  # inf where illegal
        legal = np.asarray(c.legal) > 0
        if not legal.any():
            raise HierarchyMapError(f"map_on_hierarchy: layer '{layer.name}' expected a legal mapping, found none")
        second = np.zeros(len(score)) if tie_break is None else np.asarray(objective_value(c, tie_break), np.float64)
        i = lex_best(np.where(legal, score, np.inf), second)  # among the best, the least tie_break
        one = jax.tree_util.tree_map(lambda x, i=i: x[i], ms)
        plan.layers.append(_record(layer, count, hier, c, i, one, samples))
    return plan


__all__ = [
    "DEFAULT_SAMPLES",
    "HIERARCHY_METHODS",
    "HierarchyMapError",
    "HierarchyPlan",
    "map_on_hierarchy",
    "random_nest_mappings",
]
