"""Evaluate and map networks on any hierarchy (``costmodels.Hierarchy``).

Until the mapper runs on general hierarchies (issue "Mapper on any
hierarchy"), this is the path for the hierarchy presets (``eyeriss_like``,
``simba_like``, ``gemmini_like``, ``tpu_v1_like``) and hierarchy files:
``map_on_hierarchy`` samples random exact factorisations of every loop bound
over the levels' temporal loops and the fan-outs' X and Y (and random loop
orders), evaluates them all with the exact model in one batch, and keeps the
best legal one per layer for the objective. The all-at-DRAM mapping is
always a candidate, so every layer gets a legal mapping. It is a baseline
search, not the gradient mapper: say so when quoting its figures.
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
from costmodels.nest_mapping import MAX_LEVELS
from jaxdse.codesign.checkpoint import atomic_write
from jaxdse.mapper.space import OBJECTIVES, objective_value
from jaxdse.mapspace import prime_factors
from workloads import Layer, Network

DEFAULT_SAMPLES = 2000


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


_batch_eval = jax.jit(jax.vmap(cm.evaluate_hierarchy, in_axes=(None, None, 0)))


@dataclass
class HierarchyPlan:
    """Per-layer mappings and exact costs of a network on one hierarchy."""

    network: str
    hierarchy: cm.Hierarchy
    layers: list[dict] = field(default_factory=list)
    method: str = "random"

    def total(self) -> dict[str, Any]:
        lat = sum(r["latency_s"] * r["count"] for r in self.layers)
        en = sum(r["energy_j"] * r["count"] for r in self.layers)
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
            "legal": all(r["legal"] for r in self.layers),
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


def map_on_hierarchy(
    network: Network,
    hier: cm.Hierarchy,
    objective: str = "latency",
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
) -> HierarchyPlan:
    """Best of ``samples`` random mappings per unique layer (exact model, one batch per layer)."""
    if objective not in OBJECTIVES:
        raise HierarchyMapError(
            f"map_on_hierarchy: field 'objective' expected one of {list(OBJECTIVES)}, found {objective!r}"
        )
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise HierarchyMapError(f"map_on_hierarchy: field 'samples' expected a positive int, found {samples!r}")
    rng = np.random.default_rng(seed)
    plan = HierarchyPlan(network=network.name, hierarchy=hier, method=f"random ({samples} samples per layer)")
    for layer, count in network.items():
        ms = random_nest_mappings(layer, hier, samples, rng)
        c = _batch_eval(hier, cm.layer_arrays(layer), ms)
        score = np.asarray(objective_value(c, objective), dtype=np.float64)  # inf where illegal
        legal = np.asarray(c.legal) > 0
        if not legal.any():
            raise HierarchyMapError(f"map_on_hierarchy: layer '{layer.name}' expected a legal mapping, found none")
        i = int(np.argmin(np.where(legal, score, np.inf)))
        one = jax.tree_util.tree_map(lambda x, i=i: x[i], ms)
        plan.layers.append(
            {
                "name": layer.name,
                "count": count,
                "macs": layer.macs,
                "latency_s": float(c.latency_s[i]),
                "energy_j": float(c.energy_total_pj[i]) * 1e-12,
                "utilisation": layer.macs / (float(c.latency_cycles[i]) * float(hier.num_macs)),
                "legal": bool(legal[i]),
                "bound": _bound(c, hier.names, i),
                "mapping": one.to_dict(hier.names),
                "nest": one.describe(hier.names),
                "counts": {
                    f: np.asarray(getattr(c.counts, f)[i])[: hier.depth].tolist() for f in ("reads", "fills", "updates")
                },
            }
        )
    return plan


__all__ = ["DEFAULT_SAMPLES", "HierarchyMapError", "HierarchyPlan", "map_on_hierarchy", "random_nest_mappings"]
