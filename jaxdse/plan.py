"""A network mapped onto one design, with exact costs: ``Plan``.

``evaluate(network, arch, mappings)`` (``jaxdse.evaluate``) evaluates given
mappings, one per unique layer, with one compiled, vmapped call of the exact
cost model and returns a ``Plan`` that prints as a per-layer table,
serialises to JSON and explains each layer's bottleneck. It never searches:
``jaxdse.map_network`` searches for mappings and returns a ``Plan`` too.
``load_mappings`` reads the mappings back from a saved ``plan.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from costmodels import (
    ENERGY_COMPONENTS,
    STREAMS,
    TERMS,
    Arch,
    Mapping,
    MappingError,
    NetworkCosts,
    analyse,
    bottleneck_tree,
    evaluate_layers_jit,
    get_arch,
    mapping_from_dict,
    network_totals,
    stack_layers,
    validate_mapping,
)
from costmodels.counts import check_counts
from costmodels.model import L2_BUFFERS
from jaxdse.heuristic import default_mapping
from workloads import DIMS, Layer, Network
from workloads.specfile import printable, read_spec, show


def serving_figures(network: Network, latency_s: float, energy_j: float) -> dict | None:
    """Serving figures of one LLM pass (``network.phase`` set), else None.

    A prefill pass ends with each sequence's first output token, so its
    latency is the time to first token; a decode pass emits one token per
    sequence, so its latency is the time per output token. ``tokens_per_s``
    and ``energy_per_token_j`` divide by the tokens the pass processes
    (``network.tokens_per_pass``: prompt tokens in prefill, new tokens in decode).

    Keys: ``phase``, ``sequences``, ``tokens_per_pass``,
    ``time_to_first_token_s`` (prefill) or ``time_per_output_token_s`` (decode),
    ``tokens_per_s``, ``energy_per_token_j``.
    """
    if not network.phase:
        return None
    key = "time_to_first_token_s" if network.phase == "prefill" else "time_per_output_token_s"
    return {
        "phase": network.phase,
        "sequences": network.sequences,
        "tokens_per_pass": network.tokens_per_pass,
        key: latency_s,
        "tokens_per_s": network.tokens_per_pass / latency_s,
        "energy_per_token_j": energy_j / network.tokens_per_pass,
    }


def serving_line(s: dict) -> str:
    """``serving_figures`` as one line of text."""
    if s["phase"] == "prefill":
        head = f"time to first token {s['time_to_first_token_s'] * 1e3:.3f} ms"
        rate = f"{s['tokens_per_s']:,.1f} prompt tokens/s"
    else:
        head = f"time per output token {s['time_per_output_token_s'] * 1e3:.3f} ms"
        rate = f"{s['tokens_per_s']:,.1f} tokens/s"
    return (
        f"serving ({s['phase']}, {s['sequences']} sequences, {s['tokens_per_pass']} tokens per pass): {head}, {rate}, "
        f"energy {s['energy_per_token_j'] * 1e3:.4f} mJ/token"
    )


def _index(tree: Any, i: int) -> Any:
    return jax.tree_util.tree_map(lambda x: x[i], tree)


def stack_mappings(mappings: list[Mapping]) -> Mapping:
    return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *mappings)


LAYER_CHUNK = 8
"""Unique layers per compiled call. Networks are costed (and mapped, in
``jaxdse.mapper.gradient``) in chunks of this many layers, the last padded
with copies of the first, so every network runs the same compiled programs:
re-mapping a new network on a fixed design compiles nothing (issue 14,
section 3; ``benchmarks/remap_speed.py``)."""


def chunk_count(n: int) -> int:
    """Rows after padding ``n`` up to a whole number of ``LAYER_CHUNK`` chunks."""
    return -(-max(n, 1) // LAYER_CHUNK) * LAYER_CHUNK


def evaluate_network_chunked(arch: Arch, layers: list[Layer], mappings: list[Mapping], counts) -> NetworkCosts:
    """Exact network costs, evaluated ``LAYER_CHUNK`` layers per call.

    The padding rows repeat the first layer and its mapping, so legality and
    the design's area and power are unchanged; they are dropped before the
    totals (``costmodels.network_totals`` in NumPy, float32 like the
    compiled totals)."""
    n = len(layers)
    nd = chunk_count(n)
    lay = list(layers) + [layers[0]] * (nd - n)
    maps = list(mappings) + [mappings[0]] * (nd - n)
    parts = [
        evaluate_layers_jit(arch, stack_layers(lay[i : i + LAYER_CHUNK]), stack_mappings(maps[i : i + LAYER_CHUNK]))
        for i in range(0, nd, LAYER_CHUNK)
    ]
    per = jax.tree_util.tree_map(lambda *xs: np.concatenate([np.asarray(x) for x in xs])[:n], *parts)
    return network_totals(per, np.asarray(counts, np.float32), np)


def padding(layer: Layer, mapping: Mapping) -> tuple[dict[str, list[int]], float]:
    """A mapping's padding: ``{dim: [bound, padded bound]}`` for every dim whose
    factors multiply to more than its bound, and the padded work as a fraction of
    the layer's MACs (padded MACs / MACs - 1; 0.0 for an exact factorisation)."""
    prod = mapping.factors().prod(axis=0)
    dims = {DIMS[d]: [int(n), int(p)] for d, (n, p) in enumerate(zip(layer.sizes, prod)) if p > n}
    work = float(np.prod(prod.astype(np.float64)) / np.prod(np.asarray(layer.sizes, np.float64))) - 1.0
    return dims, work


def lower_bounds(layer: Layer, arch: Arch) -> dict[str, float]:
    """Two lower bounds of a layer's latency on a design (cycles), for any legal mapping.

    ``roofline_cycles``: max(MACs / PEs, compulsory off-chip bytes / DRAM bytes
    per cycle), the compute / bandwidth roofline.

    ``transfer_bound_cycles``: the roofline with the model's fixed
    per-transfer costs added (``costmodels.model.latency``): max of
    * MACs / PEs;
    * DMA: compulsory bytes / bandwidth + the fewest bursts x setup cycles. A
      burst moves one L2 tile (``Traffic.dram_requests`` counts tile
      transfers) and a tile fits one of the ``L2_BUFFERS`` halves of L2, so
      each operand needs at least ceil(its compulsory bytes / (L2 bytes / 2))
      bursts (dMazeRunner's DMA model: bytes / bandwidth + bursts x setup);
    * each NoC: its operand's compulsory bytes / (links x width bytes): every
      element reaches some PE once, and a NoC moves at most width bytes per
      link per cycle (Explainable-DSE's NoC time; the partial-sum NoC may
      carry nothing, so it adds no bound).
    ``tests/jaxdse/test_plan_bounds.py`` checks latency >= both on random legal mappings.
    """
    pes = float(np.asarray(arch.num_pes))
    bw = float(np.asarray(arch.dram_bytes_per_cycle))
    comp = layer.compulsory_bytes()  # inputs, weights, outputs
    compute = layer.macs / pes
    dram = sum(comp.values()) / bw
    half_l2 = float(np.asarray(arch.l2_bytes)) / L2_BUFFERS
    bursts = sum(int(np.ceil(b / half_l2)) for b in comp.values() if b > 0)
    setup = bursts * float(np.asarray(arch.dma_setup_cycles))
    links = np.asarray(arch.noc_links, np.float64) * np.asarray(arch.noc_width_bits, np.float64) / 8.0
    noc = [comp["inputs"] / links[0], comp["weights"] / links[1], comp["outputs"] / links[3]]
    return {
        "roofline_cycles": max(compute, dram),
        "transfer_bound_cycles": max(compute, dram + setup, *noc),
        "compute_cycles": compute,
        "dram_cycles": dram,
        "dma_setup_cycles": setup,
        "noc_cycles": max(noc),
    }


TABLE_NOTES: tuple[str, ...] = (
    "notes: MMACs, latency and energy per layer are for one instance (/inst); the totals multiply each by its count.",
    "  util = MACs / (PEs x latency cycles); pad = extra MACs of padded dims (imperfect factorisation);",
    "  /roofline = latency / max(MACs / PEs, compulsory bytes / bandwidth), the compute/bandwidth roofline;",
    "  /bound = latency / the roofline with the fixed per-transfer costs added (fewest DMA bursts x setup cycles,",
    "  compulsory bytes over each NoC's links x width; jaxdse.plan.lower_bounds): what a mapper could still win;",
    "  bottleneck (N.NNx next) = the latency term that sets the layer's latency, N.NN times the next-largest term "
    "(relieving it alone speeds the layer up by at most N.NNx).",
)
"""The legend printed under ``Plan.table()``."""


@dataclass(frozen=True)
class Plan:
    """Mappings of every unique layer of a network on one design, and their exact costs.

    Attributes:
        network: The workload.
        arch: The design.
        mappings: One mapping per unique layer.
        costs: ``NetworkCosts`` from the exact model.
        method: How the mappings were obtained (e.g. "gradient mapper").
        exact_evaluations: Exact cost-model evaluations the mapping search spent.
        wall_s: Wall time of the mapping search in seconds.
    """

    network: Network
    arch: Arch
    mappings: tuple[Mapping, ...]
    costs: NetworkCosts
    method: str
    exact_evaluations: int = 0
    wall_s: float = 0.0

    # ----------------------------------------------------------- per layer
    def layer_costs(self, i: int):
        return _index(self.costs.layers, i)

    def bottleneck(self, i: int):
        return analyse(bottleneck_tree(self.layer_costs(i)))

    def layer_dict(self, i: int) -> dict:
        layer, count = self.network.layers[i], self.network.counts[i]
        c = self.layer_costs(i)
        b = self.bottleneck(i)
        pes = float(np.asarray(self.arch.num_pes))
        bounds = lower_bounds(layer, self.arch)
        pads, work = padding(layer, self.mappings[i])
        lat = float(c.latency_cycles)
        return {
            "name": layer.name,
            "count": count,
            "shape": layer.describe(),
            "macs": layer.macs,
            "mapping": self.mappings[i].to_dict(),
            "loop_nest": self.mappings[i].describe(),
            "latency_cycles": float(c.latency_cycles),
            "latency_s": float(c.latency_s),
            "energy_j": float(c.energy_total_pj) * 1e-12,
            "utilisation": layer.macs / (float(c.latency_cycles) * pes),
            "padded_bounds": pads,
            "padded_work": work,
            "roofline_cycles": bounds["roofline_cycles"],
            "roofline_ratio": lat / bounds["roofline_cycles"],
            "transfer_bound_cycles": bounds["transfer_bound_cycles"],
            "transfer_bound_ratio": lat / bounds["transfer_bound_cycles"],
            "bottleneck": b.term.name,
            "bottleneck_scaling": float(b.scaling) if np.isfinite(b.scaling) else None,
            "bottleneck_leaf": b.leaf.name,
            "terms_cycles": dict(zip(TERMS, np.asarray(c.terms_cycles).tolist())),
            "energy_pj": dict(zip(ENERGY_COMPONENTS, np.asarray(c.energy_pj).tolist())),
            "legal": bool(c.legal > 0),
            "violations": {
                "l1_excess_bytes": float(c.l1_excess_bytes),
                "l2_excess_bytes": float(c.l2_excess_bytes),
                "pe_excess": float(c.pe_excess),
                "noc_excess": dict(zip(STREAMS, np.asarray(c.noc_excess).tolist())),
            },
        }

    def roofline_cycles(self, i: int) -> float:
        """Lower bound of a layer's latency on this design: max(MACs / PEs,
        compulsory off-chip bytes / DRAM bytes per cycle) (``lower_bounds``)."""
        return lower_bounds(self.network.layers[i], self.arch)["roofline_cycles"]

    # --------------------------------------------------------------- totals
    def dominant_term(self) -> tuple[str, float]:
        """The latency term that bounds most of the network's latency, and its share."""
        lat = np.asarray(self.costs.layers.latency_cycles) * np.asarray(self.costs.counts)
        terms = np.asarray(self.costs.layers.terms_cycles)
        by_term = np.zeros(len(TERMS))
        for li in range(len(lat)):
            by_term[int(np.argmax(terms[li]))] += lat[li]
        k = int(np.argmax(by_term))
        return TERMS[k], float(by_term[k] / max(lat.sum(), 1e-30))

    def total(self) -> dict:
        c = self.costs
        pes = float(np.asarray(self.arch.num_pes))
        term, share = self.dominant_term()
        lat_s = float(c.latency_s)
        energy_j = float(c.energy_pj) * 1e-12
        out = {
            "latency_s": lat_s,
            "latency_cycles": float(c.latency_cycles),
            "energy_j": energy_j,
            "area_mm2": float(c.area_mm2),
            "power_w": float(c.peak_power_w),
            "avg_power_w": energy_j / lat_s,
            "macs": int(round(float(np.asarray(self.network.macs)))),
            "utilisation": float(self.network.macs) / (float(c.latency_cycles) * pes),
            "throughput_per_s": float(c.throughput_per_s),
            "bottleneck": term,
            "bottleneck_share": share,
            "legal": bool(c.legal > 0),
            "padded_work": self.padded_work(),
            "exact_evaluations": int(self.exact_evaluations),
            "search_wall_s": float(self.wall_s),
        }
        serving = serving_figures(self.network, lat_s, energy_j)
        if serving is not None:
            out["serving"] = serving
        return out

    def to_dict(self) -> dict:
        return {
            "network": self.network.name,
            "arch": self.arch.to_dict(),
            "mapping_method": self.method,
            "layers": [self.layer_dict(i) for i in range(len(self.network.layers))],
            "total": self.total(),
        }

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **kw)

    def save(self, path: str | Path) -> Path:
        """Write ``plan.json`` into a folder (created if needed)."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        target = out / "plan.json"
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(self.to_json(indent=2))
        tmp.replace(target)
        return target

    def table(self) -> str:
        """Per-layer table (one instance of each unique layer), totals over every instance, and notes."""
        rows = [self.layer_dict(i) for i in range(len(self.network.layers))]
        w = max(12, *(len(r["name"]) for r in rows))
        head = (
            f"{'layer':<{w}} {'count':>5} {'MMACs/inst':>10} {'latency_ms/inst':>15} {'energy_uJ/inst':>14} "
            f"{'util':>6} {'pad':>6} {'/roofline':>9} {'/bound':>7}  bottleneck"
        )
        lines = [head, "-" * len(head)]
        for r in rows:
            s = r["bottleneck_scaling"]
            bound = f"{r['bottleneck']}" + (f" ({s:.2f}x next)" if s is not None else "")
            flag = "" if r["legal"] else "  ILLEGAL"
            lines.append(
                f"{r['name']:<{w}} {r['count']:>5} {r['macs'] / 1e6:>10.2f} {r['latency_s'] * 1e3:>15.4f} "
                f"{r['energy_j'] * 1e6:>14.2f} {r['utilisation']:>6.1%} {_pad_text(r):>6} "
                f"{r['roofline_ratio']:>8.2f}x {r['transfer_bound_ratio']:>6.2f}x  {bound}{flag}"
            )
        t = self.total()
        lines.append("-" * len(head))
        lines.append(
            f"total: latency {t['latency_s'] * 1e3:.3f} ms ({t['throughput_per_s']:.1f}/s), "
            f"energy {t['energy_j'] * 1e3:.3f} mJ, area {t['area_mm2']:.2f} mm^2, peak power {t['power_w']:.3f} W, "
            f"{t['macs'] / 1e9:.3f} GMACs, utilisation {t['utilisation']:.1%}, "
            f"mostly {t['bottleneck']}-bound ({t['bottleneck_share']:.0%} of latency)"
        )
        if "serving" in t:
            lines.append(serving_line(t["serving"]))
        lines.append(f"mappings: {self.method}; {self.exact_evaluations:,} exact evaluations, {self.wall_s:.2f} s")
        illegal = self.violation_lines()
        if illegal:
            lines.append("ILLEGAL layers (what each mapping breaks):")
            lines.extend(illegal)
        pads = self.padding_lines()
        if pads:
            lines.append("padded dims (imperfect factorisation; padded work is costed):")
            lines.extend(pads)
        lines.extend(TABLE_NOTES)
        return "\n".join(lines)

    def violation_lines(self) -> list[str]:
        """One line per illegal layer naming each violated limit and by how much."""
        out = []
        for i, layer in enumerate(self.network.layers):
            r = self.layer_dict(i)
            if r["legal"]:
                continue
            v = r["violations"]
            why = [
                f"{name} over capacity by {v[key]:,.0f} B"
                for name, key in (("L1", "l1_excess_bytes"), ("L2", "l2_excess_bytes"))
                if v[key] > 0
            ]
            if v["pe_excess"] > 0:
                why.append(f"spatial factors use {v['pe_excess']:,.0f} PEs more than the array has")
            why += [
                f"NoC {s} needs {x:,.0f} more workgroups than links x virtual"
                for s, x in v["noc_excess"].items()
                if x > 0
            ]
            out.append(f"  {layer.name}: {'; '.join(why) or 'factors do not cover the loop bounds'}")
        return out

    def padded_work(self) -> float:
        """Extra MACs of padded dims over the network (every instance), as a fraction of its MACs."""
        extra = sum(
            count * layer.macs * padding(layer, m)[1]
            for layer, m, count in zip(self.network.layers, self.mappings, self.network.counts)
        )
        return float(extra / max(float(np.asarray(self.network.macs)), 1e-30))

    def padding_lines(self) -> list[str]:
        """One line per padded layer: which dims were padded to what."""
        out = []
        for layer, m in zip(self.network.layers, self.mappings):
            dims, work = padding(layer, m)
            if dims:
                what = ", ".join(f"{d} {n} -> {p}" for d, (n, p) in dims.items())
                out.append(f"  {layer.name}: {what} (+{work:.1%} MACs)")
        return out

    def nests(self) -> str:
        """Each layer's loop nest per level, one line per layer."""
        w = max(len(layer.name) for layer in self.network.layers)
        return "\n".join(f"{layer.name:<{w}}  {m.describe()}" for layer, m in zip(self.network.layers, self.mappings))

    def __str__(self) -> str:
        return self.table()


def _pad_text(row: dict) -> str:
    return f"+{row['padded_work']:.1%}" if row["padded_bounds"] else "-"


def load_mappings(path: str | Path, network: Network) -> list[Mapping]:
    """The mappings of a saved plan (``plan.json`` of ``Plan.save`` or ``jaxdse map --out``), for ``network``.

    Raises MappingError naming the field when the file is not a template plan
    or its layers do not match the network's unique layers by count and name.
    """
    where = f"plan file '{printable(path)}'"
    data = read_spec(path, "plan file", MappingError)
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, list) or "levels" in data:
        raise MappingError(
            f"{where}: expected a template plan (plan.json of jaxdse map --out, with 'layers' and no 'levels'), "
            f"found {show(sorted(data) if isinstance(data, dict) else data)}"
        )
    names = [layer.name for layer in network.layers]
    found = [row.get("name") if isinstance(row, dict) else row for row in layers]
    if found != names:
        raise MappingError(
            f"{where}: field 'layers' expected the {len(names)} unique layers of '{network.name}' {show(names, 200)}, "
            f"found {show(found, 200)}"
        )
    out = []
    for i, row in enumerate(layers):
        try:
            out.append(mapping_from_dict(row.get("mapping")))
        except MappingError as e:
            raise MappingError(f"{where}: field 'layers[{i}].mapping': {e}") from None
    return out


def evaluate(
    network: Network,
    arch: Arch | str = "explainable_default",
    mappings: list[Mapping] | str | None = None,
    method: str = "given",
    exact_evaluations: int = 0,
    wall_s: float = 0.0,
) -> Plan:
    """Exact costs of a network on a design.

    Args:
        network: The workload (``workloads.get(...)`` or ``workloads.load(...)``).
        arch: An ``Arch``, a preset name or an arch file path.
        mappings: One mapping per unique layer (e.g. ``load_mappings`` of a
            saved plan), or ``"default"``: the greedy default mapping of
            ``jaxdse.heuristic``. Never searched for here: ``jaxdse.map_network``
            searches (the mapper builds on this module, not the other way round).
        method, exact_evaluations, wall_s: Provenance recorded in the Plan.
    """
    where = f"arch {printable(arch)}" if isinstance(arch, (str, os.PathLike)) else "arch"
    arch = check_counts(get_arch(arch), where)
    if mappings is None:
        raise MappingError(
            "evaluate: field 'mappings' expected a list (one mapping per unique layer) or 'default', found None "
            "(evaluate never searches: jaxdse.map_network searches for mappings)"
        )
    if isinstance(mappings, str):
        if mappings != "default":
            raise MappingError(f"evaluate: field 'mappings' expected a list, None or 'default', found {mappings!r}")
        mappings = [default_mapping(layer, arch) for layer in network.layers]
        method = "default heuristic (greedy, no search; see jaxdse.heuristic)"
    if len(mappings) != len(network.layers):
        raise MappingError(
            f"evaluate: field 'mappings' expected {len(network.layers)} mappings (one per unique layer), "
            f"found {len(mappings)}"
        )
    for layer, m in zip(network.layers, mappings):
        validate_mapping(layer, m)
    costs = evaluate_network_chunked(arch, list(network.layers), list(mappings), network.counts)
    return Plan(
        network=network,
        arch=arch,
        mappings=tuple(mappings),
        costs=costs,
        method=method,
        exact_evaluations=exact_evaluations,
        wall_s=wall_s,
    )
