"""Peer comparison: jaxdse vs ZigZag (one process) and AccelForge (subprocess), same layers and design.

ZigZag (L. Mei et al., "ZigZag: Enlarging joint architecture-mapping design
space exploration for DNN accelerators", IEEE Trans. Computers 70(8), 2021,
https://ieeexplore.ieee.org/document/9360462; PyPI ``zigzag-dse``, docs at
https://kuleuven-micas.github.io/zigzag/) is an analytical DNN-accelerator
cost model with its own mapper: a spatial-mapping generator and the LOMA
temporal-mapping search (A. Symons et al., AICAS 2021,
https://ieeexplore.ieee.org/document/9458493). This script gives both tools
the same layers (ResNet-18 convolutions and BERT-base projections from
``workloads.get``) on the ``explainable_default`` design, written in each
tool's own input format, and measures per layer, in one process:

* **one evaluation of one given mapping**: jaxdse ``costmodels.evaluate_jit``
  called once per mapping from Python (all of ``Costs`` returned), vs ZigZag
  building ``TemporalMapping`` + ``CostModelEvaluation`` (its cost model; what
  its ``CostModelStage`` runs per mapping) for the same tiling, spatial
  unrolling and loop orders. Each is called ``--reps`` times, taking turns
  in blocks of 10 back-to-back calls so that both see the same machine load,
  after one warm-up call each (for jaxdse it compiles); medians. The mapping is jaxdse's best mapping of the
  layer (gradient mapper), translated loop for loop;
* **batched evaluations**: jaxdse ``costmodels.evaluate_batch`` (jitted) over
  random exact factorisations and loop orders of the layer (the generator of
  ``benchmarks/model_speed.py``), median of 3 after compilation, divided by
  the batch size. ZigZag evaluates one mapping per call, so its figure is the
  one above;
* **mapping the layer**: ``jaxdse.map_layer`` (gradient mapper, default
  budget; timed on its second call, the first, which compiles, is in the CSV
  as ``jaxdse_map_first_s``) vs ZigZag's search for the layer with the
  settings of ``zigzag.api.get_hardware_performance_zigzag``: 3 spatial
  mappings (mixed unrolling on, as the array has one dimension), LOMA with
  ``lpf_limit=6`` for each, minimal latency kept; its stage list without the
  file-saving and inter-layer stages. One run each; wall time and the number
  of cost-model evaluations each spent.

It prints the timings, evaluations/s and ratios, and the latency / energy
each tool reports (both on the shared mapping, and ZigZag on its own best
mapping), and writes ``peer_speed.csv`` plus the ZigZag inputs
(``zigzag_accelerator.yaml``, ``zigzag_workload.yaml``,
``zigzag_mapping.yaml``) to ``--out``. Without ``zigzag-dse`` (``pip install
".[peers]"``) it says so, runs the jaxdse side and still writes the inputs.

What differs between the two models. The latency and energy figures are
informative; the two models are not expected to agree. The ZigZag source
named below is zigzag-dse 3.9.1.

* **Memory hierarchy.** jaxdse's template (Explainable-DSE Table 1) is fixed:
  DRAM -> shared L2 -> per-PE L1 register file -> MAC, with one set of tile
  boundaries for all operands. It is given to ZigZag as three memories each
  holding I, W and O: 64 B of L1 per PE (``served_dimensions: []``), a
  256 KiB L2 serving the whole array and DRAM. ZigZag's mapper may place an
  operand's loops at different levels than another's ("uneven" mappings,
  Mei et al. 2021 Sec. III); jaxdse cannot. Capacity: jaxdse reserves two
  copies of every L2 tile and one L1 tile per operand; the L2 is given
  ZigZag's ``force_double_buffering``, so LOMA's memory allocator also
  reserves two copies there (one where the level holds all that is left of
  the operand). Latency is another matter: ZigZag overlaps a level's
  transfers with compute only where its tiles use at most half of it
  (``CostModelEvaluation.calc_double_buffer_flag``, whatever the flag above);
  jaxdse always overlaps them (its latency is a max). A fixed mapping is
  evaluated without ZigZag's capacity check.
* **PE array.** jaxdse counts PEs as a flat pool: spatial factors of any dims
  with product <= ``num_pes``. ZigZag needs array dimensions; the comparable
  array is one dimension D1 of 256 MACs with "mixed" unrolling (several layer
  dims on D1).
* **What the mappers search.** ZigZag: a few spatial mappings ranked by
  array utilisation, then LOMA enumerates orderings of the temporal loops'
  prime factors and a memory allocator fills each level bottom-up as far as
  its capacity allows, so tile sizes follow from the order (Symons et al.
  2021). jaxdse's gradient mapper optimises the per-level tiling factors, the
  spatial factors and one of 9 loop-order pairs together (Adam on the relaxed
  model, snapping to exact factorisations, exact steepest descent), so a tile
  need not fill its level.
* **NoC.** jaxdse has four per-operand NoCs with width, physical links and
  virtual unicast: ``NoC cycles = requests x ceil(workgroups / links) x
  ceil(bytes per request / width)`` (Explainable-DSE Fig. 8). ZigZag has no
  NoC: data move through memory ports with a bandwidth in bits/cycle, and the
  array's multicast is implied by ``served_dimensions``. Here each L2 port
  toward the PEs gets one NoC's width x links, 64 bit x 16 = 1024
  bits/cycle, per operand stream; virtual unicast and the links'
  time-sharing rounds have no counterpart. L1 gets one 16-bit port per
  operand and direction, so that, as in jaxdse, it never stalls the MAC.
* **Latency.** jaxdse: max(compute, NoC[4], DMA) per layer, DMA = bytes /
  bandwidth + 291 setup cycles per burst (dMazeRunner), streams serial on one
  DMA; pipeline fill and drain are not counted. ZigZag (L. Mei et al., "A
  uniform latency model for DNN accelerators with diverse architectures and
  dataflows", DATE 2022, https://lirias.kuleuven.be/retrieve/661303;
  ``CostModelEvaluation.calc_latency``): ideal temporal cycles + the worst
  stall of any memory port once each port's transfers are overlapped with
  compute within its allowed updating window + the data on-loading before and
  off-loading after the layer; no per-burst setup. The DRAM port gets
  ``dram_mb_per_s / freq_mhz`` bytes per cycle rounded to whole bits
  (4096 MB/s at 500 MHz: 65.5 -> 66 bit/cycle).
* **Energy.** Both are access counts x energy per access, here with the same
  45 nm figures (``costmodels/technology.py``: MAC, RF, SRAM and DRAM per
  16-bit word). ZigZag charges ``r_cost``/``w_cost`` per access of
  ``bandwidth_max`` bits, counted in ``bandwidth_min`` steps
  (``CostModelEvaluation._calc_memory_access``), so ``bandwidth_min`` is one
  word and each cost is the per-word figure x ``bandwidth_max / 16``. ZigZag
  counts no interconnect energy (``calc_energy``) and no leakage, so the
  jaxdse figure set beside it is MAC + L1 + L2 + DRAM; jaxdse's total adds
  NoC and leakage. Access counts differ in detail: ZigZag moves an operand's
  innermost irrelevant loops down a level
  (``TemporalMapping.innermost_stationary_loop_merge_down``) and counts
  re-reading unchanged data at the innermost level as no access
  (``access_same_data_considered_as_no_access=True``, the API's setting);
  jaxdse counts two operand reads and a read-modify-write of the partial sum
  per MAC at L1, skips the first touch of an output, and fetches only the new
  rows / columns of a sliding input window.
* **Area and power.** Not compared: jaxdse computes area and peak power;
  ZigZag takes each memory's area as an input (0 here).

AccelForge (Accelergy project, MIT / NVIDIA; successor of Timeloop + Accelergy; PyPI ``accelforge``,
https://accelergy-project.github.io/accelforge/, arXiv 2602.15172 and 2602.15166) is the mapper-quality
and speed anchor. It needs Python >= 3.12, so it runs in its own interpreter (``--accelforge-python``,
``$JAXDSE_ACCELFORGE_PYTHON`` or ``/work/afvenv/bin/python``), as a subprocess of
``benchmarks/accelforge_bridge.py`` with JSON in and out; it is never a jaxdse dependency, and without it
the section is skipped with a message. For GEMM-like layers (BERT-base projections) its mapper gets the
same design (DRAM -> L2 (half the capacity: two copies per tile) -> 256 PEs, each operand reaching at
most ``links x virtual`` PE groups -> 64 B L1 -> MAC; jaxdse's energies per word and leakage power;
Timeloop-style even storage-node placement) and the energy objective; its best mapping is translated
into a ``costmodels.Mapping`` (the bridge's docstring has the rules and what is not one to one),
re-costed by jaxdse's exact model and set against ``jaxdse.map_layer(objective="energy")`` with the
gradient and pruned mappers, with wall and CPU seconds. AccelForge's model has no NoC energy, no DMA
setup and no sliding-window reuse (peers.md); on a GEMM it counts MAC, L1, L2 and DRAM as jaxdse does.

    python benchmarks/peer_speed.py [--quick] [--out DIR] [--layers NET:LAYER,...] [--reps N]
        [--accelforge-python PY] [--accelforge-layers NET:LAYER,...] [--accelforge-only | --no-accelforge]
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import logging
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import yaml

import costmodels as cm
import jaxdse
import workloads as w
from costmodels import model as cm_model
from costmodels import technology as tech
from costmodels.compile import jit
from costmodels.model import L1_BUFFERS, L2_BUFFERS
from jaxdse.mapspace import random_mappings

# (network, layer name) pairs measured by default; --quick keeps the first.
LAYERS_DEFAULT: tuple[tuple[str, str], ...] = (
    ("resnet18", "conv4_x.b1.conv2"),
    ("resnet18", "conv2_x.b1.conv1"),
    ("resnet18", "conv1"),
    ("bert_base", "layer1.attn.q_proj"),
    ("bert_base", "layer1.ffn.fc1"),
)
ARCH = "explainable_default"
WORD_BITS = 16
# jaxdse dim -> ZigZag loop dim (the conv loop names of ZigZag's docs and bundled inputs).
ZZ_DIMS = {"N": "B", "K": "K", "C": "C", "P": "OY", "Q": "OX", "R": "FY", "S": "FX"}
ZZ_OPERANDS = ("O", "W", "I")
# ZigZag search settings: the defaults of zigzag.api.get_hardware_performance_zigzag (zigzag-dse 3.x).
ZZ_LPF_LIMIT = 6
ZZ_SPATIAL_CANDIDATES = 3


# ----------------------------------------------------------------------------- ZigZag inputs
def _port(name: str, kind: str, bw_bits: int, allocation: list[str]) -> dict:
    """One ZigZag memory port; accesses counted per 16-bit word (``bandwidth_min``)."""
    return dict(name=name, type=kind, bandwidth_min=WORD_BITS, bandwidth_max=bw_bits, allocation=allocation)


def zigzag_accelerator(arch_name: str = ARCH) -> dict:
    """The jaxdse preset as a ZigZag accelerator (the dict a ZigZag accelerator YAML file holds).

    Sizes in bits, bandwidths in bits/cycle, ``r_cost``/``w_cost`` in pJ per ``bandwidth_max``-bit access
    (schema: zigzag-dse 3.9.1 ``parser/accelerator_validator.py``; units: ``MemoryInstance``). Energies from
    ``costmodels.technology`` at this design's sizes; see the module docstring for what is left out.
    """
    a = cm.preset_dict(arch_name)
    if len(set(np.atleast_1d(a["noc_width_bits"]) * np.atleast_1d(a["noc_links"]))) != 1:
        raise ValueError(f"zigzag_accelerator: expected equal NoCs in preset {arch_name!r}, found {a}")
    freq_mhz = float(a.get("freq_mhz", tech.FREQ_MHZ_DEFAULT))
    noc_bits = int(np.atleast_1d(a["noc_width_bits"])[0] * np.atleast_1d(a["noc_links"])[0])
    dram_bits = int(round(a["dram_mb_per_s"] * 8.0 / freq_mhz))  # MB/s / MHz = bytes per cycle
    rf_pj = float(tech.rf_energy_pj_per_access(a["l1_bytes"], WORD_BITS))
    sram_pj = float(tech.sram_energy_pj_per_access(a["l2_kib"], WORD_BITS))
    dram_pj = tech.dram_energy_pj_per_byte() * WORD_BITS / 8.0

    def mem(size_bits, pj_per_word, bw_bits, ports, served, double_buffered=False):
        cost = pj_per_word * bw_bits / WORD_BITS
        return dict(
            size=int(size_bits),
            r_cost=cost,
            w_cost=cost,
            area=0.0,
            latency=1,
            operands=["I1", "I2", "O"],
            ports=ports,
            served_dimensions=served,
            force_double_buffering=double_buffered,
        )

    # L1: one port per operand and direction, one word per cycle each (jaxdse never stalls on L1).
    l1_dirs = ["I1, tl", "I2, tl", "O, tl", "O, th"], ["I1, fh", "I2, fh", "O, fh", "O, fl"]
    l1_ports = [_port(f"r_port_{i + 1}", "read", WORD_BITS, [d]) for i, d in enumerate(l1_dirs[0])]
    l1_ports += [_port(f"w_port_{i + 1}", "write", WORD_BITS, [d]) for i, d in enumerate(l1_dirs[1])]
    # L2: each stream toward the PEs gets one NoC's width x links; fills/write-backs share one port each.
    l2_ports = [
        _port("r_port_1", "read", noc_bits, ["I1, tl"]),
        _port("r_port_2", "read", noc_bits, ["I2, tl"]),
        _port("r_port_3", "read", noc_bits, ["O, tl"]),
        _port("w_port_1", "write", noc_bits, ["O, fl"]),
        _port("w_port_2", "write", noc_bits, ["I1, fh", "I2, fh", "O, fh"]),
        _port("r_port_4", "read", noc_bits, ["O, th"]),
    ]
    dram_ports = [_port("rw_port_1", "read_write", dram_bits, ["I1, tl", "I2, tl", "O, tl", "O, fl"])]
    return dict(
        name=arch_name,
        memories=dict(
            l1=mem(a["l1_bytes"] * 8, rf_pj, WORD_BITS, l1_ports, []),
            # two copies of each L2 tile, as jaxdse's capacity check (costmodels.model.L2_BUFFERS)
            l2=mem(a["l2_kib"] * 1024 * 8, sram_pj, noc_bits, l2_ports, ["D1"], double_buffered=True),
            dram=mem(2**40, dram_pj, dram_bits, dram_ports, ["D1"]),
        ),
        operational_array=dict(
            unit_energy=float(tech.mac_energy_pj(WORD_BITS)),
            unit_area=0.0,
            dimensions=["D1"],
            sizes=[int(a["num_pes"])],
        ),
    )


def zigzag_layer(layer: w.Layer, layer_id: int = 0) -> dict:
    """A jaxdse layer as one ZigZag workload layer (conv form; a linear layer is a 1x1 conv over tokens).

    ZigZag's equation / dimension-relation format: zigzag-dse 3.9.1 ``parser/workload_validator.py``.
    """
    n, g, k, c, p, q, r, s = layer.sizes
    if g != 1:
        raise ValueError(f"zigzag_layer: field 'sizes.G' of layer {layer.name!r} expected 1, found {g}")
    if len(set(layer.bits)) != 1:
        raise ValueError(
            f"zigzag_layer: field 'bits' of {layer.name!r} expected one width for every operand, found {layer.bits}"
        )
    (sy, sx), (dy, dx) = layer.stride, layer.dilation
    bits = layer.bits[0]
    return dict(
        id=layer_id,
        name=layer.name,
        operator_type="Conv",
        equation="O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
        dimension_relations=[f"ix={sx}*ox+{dx}*fx", f"iy={sy}*oy+{dy}*fy"],
        loop_dims=["B", "K", "C", "OY", "OX", "FY", "FX"],
        loop_sizes=[n, k, c, p, q, r, s],
        operand_precision=dict(W=bits, I=bits, O=bits, O_final=bits),
    )


def zigzag_spatial(mapping: cm.Mapping) -> dict[str, int]:
    """Spatial factors > 1 as ZigZag loop dims (all on array dimension D1)."""
    f = mapping.factors()[2]
    return {ZZ_DIMS[d]: int(v) for d, v in zip(w.DIMS, f) if v > 1}


def zigzag_temporal(mapping: cm.Mapping) -> list[list[tuple[str, int]]]:
    """jaxdse's temporal loops as ZigZag levels (L1, L2, DRAM), each innermost loop first.

    jaxdse's ``order[level]`` lists dims outermost first, so each level is reversed. The same levels serve
    every operand: jaxdse has one set of tile boundaries.
    """
    f, order = mapping.factors(), np.asarray(mapping.order)
    levels = []
    for row, lvl in ((3, 2), (1, 1), (0, 0)):  # factors row / order row of L1, L2, DRAM
        levels.append([(ZZ_DIMS[w.DIMS[d]], int(f[row][d])) for d in reversed(order[lvl].tolist()) if f[row][d] > 1])
    return levels


def mapping_yaml(layer: w.Layer, spatial: dict[str, int] | None) -> list[dict]:
    """ZigZag mapping entries: the default one (operand links) plus, when given, the layer's spatial mapping."""
    links = dict(O="O", W="I2", I="I1")
    entries = [dict(name="default", memory_operand_links=links)]
    if spatial:
        sm = {"D1": [f"{d}, {v}" for d, v in spatial.items()]}
        entries.insert(0, dict(name=layer.name, spatial_mapping=sm, memory_operand_links=links))
    return entries


# ----------------------------------------------------------------------------- ZigZag runs
class ZigZag:
    """In-process ZigZag: parse inputs once, evaluate fixed mappings, run its mapping search."""

    def __init__(self, accelerator: dict):
        logging.getLogger("zigzag").setLevel(logging.ERROR)
        from zigzag.parser.accelerator_factory import AcceleratorFactory
        from zigzag.parser.accelerator_validator import AcceleratorValidator

        v = AcceleratorValidator(accelerator)
        data = v.normalized_data
        if not v.validate():
            raise ValueError(f"ZigZag rejected the accelerator: {v.validator.errors}")
        self.accelerator = AcceleratorFactory(data).create()

    @staticmethod
    def layer_node(layer_dict: dict, mapping_entries: list[dict]):
        from zigzag.parser.mapping_validator import MappingValidator
        from zigzag.parser.workload_factory import WorkloadFactory
        from zigzag.parser.workload_validator import WorkloadValidator

        wv, mv = WorkloadValidator([layer_dict]), MappingValidator(mapping_entries)
        wdata, mdata = wv.normalized_data, mv.normalized_data
        if not (wv.validate() and mv.validate()):
            raise ValueError(f"ZigZag rejected layer {layer_dict['name']!r} or its mapping")
        return WorkloadFactory(wdata, mdata).create().node_list[0]

    def fixed(self, layer: w.Layer, mapping: cm.Mapping):
        """A callable evaluating ``mapping`` with ZigZag's cost model; returns its CostModelEvaluation."""
        from zigzag.cost_model.cost_model import CostModelEvaluation
        from zigzag.datatypes import LayerDim, LayerOperand
        from zigzag.mapping.temporal_mapping import TemporalMapping, TemporalMappingType
        from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage
        from zigzag.stages.stage import Stage

        covered = mapping.factors().prod(axis=0)
        if (covered != np.asarray(layer.sizes)).any():
            raise ValueError(
                f"ZigZag.fixed: field 'mapping' of layer {layer.name!r} expected factors multiplying to the loop "
                f"bounds {list(layer.sizes)}, found {covered.tolist()} (a padded mapping has no ZigZag form)"
            )
        node = self.layer_node(zigzag_layer(layer), mapping_yaml(layer, zigzag_spatial(mapping)))
        captured: list[dict] = []

        class Capture(Stage):  # leaf stage: keeps ZigZag's converted spatial mapping
            def is_leaf(self) -> bool:
                return True

            def run(self):
                captured.append(self.kwargs)
                yield from ()

        for _ in SpatialMappingGeneratorStage([Capture], accelerator=self.accelerator, layer=node).run():
            pass
        kw = captured[0]
        levels = [[(LayerDim(d), f) for d, f in lvl] for lvl in zigzag_temporal(mapping)]
        tm_dict = {LayerOperand(op): [list(lvl) for lvl in levels] for op in ZZ_OPERANDS}

        def evaluate():
            tm = TemporalMapping(tm_dict, kw["layer"], TemporalMappingType.UNEVEN)
            return CostModelEvaluation(
                accelerator=self.accelerator,
                layer=kw["layer"],
                spatial_mapping=kw["spatial_mapping"],
                spatial_mapping_int=kw["spatial_mapping_int"],
                temporal_mapping=tm,
                access_same_data_considered_as_no_access=True,
            )

        return evaluate

    def search(self, layer: w.Layer):
        """ZigZag's own mapping search for the layer (minimal latency); returns (best CME, evaluations)."""
        from zigzag.mapping.temporal_mapping import TemporalMappingType
        from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
        from zigzag.stages.main import MainStage
        from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage
        from zigzag.stages.mapping.temporal_mapping_generator_stage import TemporalMappingGeneratorStage
        from zigzag.stages.results.reduce_stages import MinimalLatencyStage

        count = [0]

        class Counted(CostModelStage):
            def run(self):
                count[0] += 1
                yield from super().run()

        node = self.layer_node(zigzag_layer(layer), mapping_yaml(layer, None))
        stages = [MinimalLatencyStage, SpatialMappingGeneratorStage, MinimalLatencyStage]
        stages += [TemporalMappingGeneratorStage, Counted]
        out = MainStage(
            stages,
            accelerator=self.accelerator,
            layer=node,
            loma_lpf_limit=ZZ_LPF_LIMIT,
            loma_show_progress_bar=False,
            nb_mappings_generated=ZZ_SPATIAL_CANDIDATES,
            enable_mix_spatial_mapping_generation=True,
            access_same_data_considered_as_no_access=True,
            temporal_mapping_type=TemporalMappingType.UNEVEN,
        ).run()
        return out[0][0], count[0]


def zigzag_available() -> str | None:
    """ZigZag's version, or None when zigzag-dse cannot be imported."""
    try:
        import zigzag.api  # noqa: F401
    except ImportError:
        return None
    from importlib.metadata import version

    return version("zigzag-dse")


# ----------------------------------------------------------------------------- timing helpers
BLOCK = 10
"""Calls per block in ``median_call_s``."""


def median_call_s(fns: list, reps: int) -> list[float]:
    """Median wall seconds per call of each function (JAX results blocked on), after one warm-up call each.

    The functions take turns in blocks of ``BLOCK`` back-to-back calls (f0 x 10, f1 x 10, f0 x 10, ...), so
    that both tools see the same machine load over the run while each runs warm, as in a search loop.
    """
    for fn in fns:
        jax.block_until_ready(fn())
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(max(1, reps // BLOCK)):
        for fn, ts in zip(fns, times):
            for _ in range(min(BLOCK, reps)):
                t = time.perf_counter()
                jax.block_until_ready(fn())
                ts.append(time.perf_counter() - t)
    return [statistics.median(ts) for ts in times]


def _timed(fn):
    """(result, wall seconds, process CPU seconds) of one call."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def comparable_energy_pj(costs: cm.Costs) -> float:
    """jaxdse energy without the terms ZigZag lacks (NoC, leakage): MAC + L1 + L2 + DRAM, pJ."""
    e = dict(zip(cm.ENERGY_COMPONENTS, np.asarray(costs.energy_pj).tolist()))
    return e["mac"] + e["l1"] + e["l2"] + e["dram"]


def find_layer(network: str, name: str) -> w.Layer:
    for layer in w.get(network).layers:
        if layer.name == name:
            return layer
    raise ValueError(f"peer_speed: field 'layers' expected a layer of {network}, found {name!r}")


# ----------------------------------------------------------------------------- the benchmark
def measure_layer(layer: w.Layer, arch: cm.Arch, zz: ZigZag | None, reps: int, batch: int) -> dict:
    """Every timing and model output of one layer (see the module docstring)."""
    la = cm.layer_arrays(layer)
    row: dict = dict(layer=layer.name, macs=layer.macs)

    # first call compiles the mapper's programs for this layer's shapes; the second is timed
    _, row["jaxdse_map_first_s"], _ = _timed(lambda: jaxdse.map_layer(layer, arch))
    best, row["jaxdse_map_s"], row["jaxdse_map_cpu_s"] = _timed(lambda: jaxdse.map_layer(layer, arch))
    row["jaxdse_map_evals"] = best.exact_evaluations
    m = best.mapping
    row["mapping"] = m.describe()

    fns = [lambda: cm.evaluate_jit(arch, la, m)] + ([zz.fixed(layer, m)] if zz is not None else [])
    times = median_call_s(fns, reps)
    row["jaxdse_eval_s"] = times[0]
    exact = jit(lambda ms: (lambda c: (c.latency_cycles, c.energy_total_pj, c.legal))(cm.evaluate_batch(arch, la, ms)))
    ms = jax.device_put(random_mappings(layer, batch, np.random.default_rng(0), max_spatial=int(arch.num_pes)))
    row["jaxdse_batch_eval_s"] = median_call_s([lambda: exact(ms)], 3)[0] / batch

    costs = best.costs
    row["jaxdse_latency_cycles"] = float(costs.latency_cycles)
    row["jaxdse_energy_pj"] = comparable_energy_pj(costs)
    row["jaxdse_energy_total_pj"] = float(costs.energy_total_pj)
    row["ideal_cycles"] = float(costs.compute_cycles)
    if zz is None:
        return row

    row["zigzag_eval_s"] = times[1]
    cme = fns[1]()
    row["zigzag_ideal_cycles"] = float(cme.ideal_temporal_cycle)
    row["zigzag_latency_cycles"] = float(cme.latency_total2)
    row["zigzag_energy_pj"] = float(cme.energy_total)

    (zbest, n), row["zigzag_search_s"], row["zigzag_search_cpu_s"] = _timed(lambda: zz.search(layer))
    row["zigzag_search_evals"] = n
    row["zigzag_best_latency_cycles"] = float(zbest.latency_total2)
    row["zigzag_best_energy_pj"] = float(zbest.energy_total)
    row["zigzag_best_mapping"] = f"spatial {zbest.layer.spatial_mapping} temporal {zbest.temporal_mapping}"
    return row


def _table(header: list[str], rows: list[list[str]]) -> None:
    """Print a right-aligned plain-text table (first column left-aligned)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(c.ljust(wd) if i == 0 else c.rjust(wd) for i, (c, wd) in enumerate(zip(r, widths))))


def _fmt(r: dict, key: str, spec: str, scale: float | None = None) -> str:
    if key not in r:
        return "-"
    return format(r[key] if scale is None else r[key] * scale, spec)


def _ratio(r: dict, num: str, den: str) -> str:
    return f"{r[num] / r[den]:,.0f}x" if num in r and den in r else "-"


def print_tables(rows: list[dict]) -> None:
    """The three result tables: cost per evaluation, mapping a layer, model outputs."""
    print("\ncost of one evaluation of one mapping (seconds; evaluations/s in brackets):")
    _table(
        ["layer", "jaxdse one call", "jaxdse batched", "ZigZag", "ZigZag / one call", "ZigZag / batched"],
        [
            [
                r["layer"],
                f"{r['jaxdse_eval_s']:.2e} ({1 / r['jaxdse_eval_s']:,.0f})",
                f"{r['jaxdse_batch_eval_s']:.2e} ({1 / r['jaxdse_batch_eval_s']:,.0f})",
                f"{r['zigzag_eval_s']:.2e} ({1 / r['zigzag_eval_s']:,.0f})" if "zigzag_eval_s" in r else "-",
                _ratio(r, "zigzag_eval_s", "jaxdse_eval_s"),
                _ratio(r, "zigzag_eval_s", "jaxdse_batch_eval_s"),
            ]
            for r in rows
        ],
    )
    print("\nmapping the layer (one run each; evaluations = cost-model evaluations the search spent):")
    _table(
        [
            "layer",
            "jaxdse map s (CPU)",
            "evals",
            "ms/eval",
            "ZigZag search s (CPU)",
            "evals",
            "ms/eval",
            "ZigZag / jaxdse",
        ],
        [
            [
                r["layer"],
                f"{r['jaxdse_map_s']:.2f} ({r['jaxdse_map_cpu_s']:.2f})",
                f"{r['jaxdse_map_evals']:,}",
                f"{1e3 * r['jaxdse_map_s'] / r['jaxdse_map_evals']:.3f}",
                f"{r['zigzag_search_s']:.1f} ({r['zigzag_search_cpu_s']:.1f})" if "zigzag_search_s" in r else "-",
                _fmt(r, "zigzag_search_evals", ","),
                f"{1e3 * r['zigzag_search_s'] / r['zigzag_search_evals']:.2f}" if "zigzag_search_s" in r else "-",
                _ratio(r, "zigzag_search_s", "jaxdse_map_s"),
            ]
            for r in rows
        ],
    )
    print("\nmodel outputs (cycles; energy in uJ, jaxdse's counted as ZigZag counts: MAC + L1 + L2 + DRAM):")
    _table(
        ["layer", "ideal", "jaxdse lat", "ZigZag lat", "jaxdse E", "ZigZag E", "ZigZag best lat", "ZigZag best E"],
        [
            [
                r["layer"],
                f"{r['ideal_cycles']:,.0f}",
                f"{r['jaxdse_latency_cycles']:,.0f}",
                _fmt(r, "zigzag_latency_cycles", ",.0f"),
                f"{r['jaxdse_energy_pj'] * 1e-6:,.1f}",
                _fmt(r, "zigzag_energy_pj", ",.1f", 1e-6),
                _fmt(r, "zigzag_best_latency_cycles", ",.0f"),
                _fmt(r, "zigzag_best_energy_pj", ",.1f", 1e-6),
            ]
            for r in rows
        ],
    )
    print(
        "ideal = temporal iterations of jaxdse's mapping; jaxdse / ZigZag lat and E: both tools on that mapping "
        "(jaxdse's best); ZigZag best: ZigZag's model on its own best mapping"
    )


# ----------------------------------------------------------------------------- AccelForge (subprocess)
ACCELFORGE_ENV = "JAXDSE_ACCELFORGE_PYTHON"
"""Environment variable naming the Python >= 3.12 interpreter that has ``accelforge`` installed."""
ACCELFORGE_PYTHON_DEFAULT = Path("/work/afvenv/bin/python")
"""Tried when neither ``--accelforge-python`` nor the environment variable is set (the dev machines' venv)."""
ACCELFORGE_BRIDGE = Path(__file__).with_name("accelforge_bridge.py")
ACCELFORGE_LAYERS: tuple[tuple[str, str], ...] = (("bert_base", "layer1.attn.q_proj"), ("bert_base", "layer1.ffn.fc1"))
"""GEMM-like layers for the mapper-quality comparison; --quick keeps the first. AccelForge 1.0.467 maps a
768x768 GEMM in about half a CPU-minute, a 3x3 convolution in 19-43 minutes on 2 cores (peers.md)."""
ACCELFORGE_TIMEOUT_S = 3600
JAXDSE_METHODS = ("gradient", "pruned")
"""jaxdse mappers compared with AccelForge's: the default (gradient) and the pruned top-N enumeration."""


def accelforge_python(flag: str | None) -> tuple[str | None, str]:
    """(interpreter, description) for the AccelForge peer, or (None, why it is skipped).

    Looks at ``--accelforge-python``, then ``$JAXDSE_ACCELFORGE_PYTHON``, then ``ACCELFORGE_PYTHON_DEFAULT``;
    the interpreter must import ``accelforge`` and graphviz's ``dot`` must be on PATH (AccelForge 1.0.467's
    ``map_workload_to_arch`` renders the mapping with it and fails without it).
    """
    cand = flag or os.environ.get(ACCELFORGE_ENV)
    if cand is None and ACCELFORGE_PYTHON_DEFAULT.exists():
        cand = str(ACCELFORGE_PYTHON_DEFAULT)
    if cand is None:
        return None, (
            f"no AccelForge interpreter: set {ACCELFORGE_ENV} or --accelforge-python to a Python >= 3.12 "
            "with `pip install accelforge` (never a jaxdse dependency)"
        )
    code = "import sys, importlib.metadata as m, accelforge; print(m.version('accelforge'), sys.version.split()[0])"
    try:
        p = subprocess.run([cand, "-c", code], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"AccelForge interpreter {cand!r} did not run: {e}"
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"{cand!r} cannot import accelforge ({last})"
    if shutil.which("dot") is None:
        return None, "graphviz `dot` is not on PATH (apt-get install graphviz); AccelForge's mapper needs it"
    af_version, py_version = p.stdout.strip().splitlines()[-1].split()
    return cand, f"accelforge {af_version} under Python {py_version} ({cand}, subprocess)"


def gemm_like(layer: w.Layer) -> bool:
    """No filter window, unit stride, one group: a matrix multiplication over (N, P, Q) x C -> K."""
    n, g, k, c, p, q, r, s = layer.sizes
    return g == 1 and r == 1 and s == 1 and tuple(layer.stride) == (1, 1)


def accelforge_request(layer: w.Layer, arch_name: str, metric: str = "energy", even: bool = True) -> dict:
    """The bridge's input (``benchmarks/accelforge_bridge.py`` docstring): the layer and the preset's figures.

    Energies per 16-bit word are jaxdse's 45 nm figures at this design's sizes (``costmodels.technology``),
    leakage power is the design's (``leakage_w_per_mm2 x area``),
    L2 holds ``L2_BUFFERS`` copies of each tile and L1 ``L1_BUFFERS`` (``costmodels.model``), each operand
    reaches at most ``noc_links x noc_virtual`` distinct-data PE groups (jaxdse's NoC limit).
    """
    if len(set(layer.bits)) != 1:
        raise ValueError(f"accelforge_request: field 'bits' of {layer.name!r} expected one width, found {layer.bits}")
    if L1_BUFFERS != 1.0:
        raise ValueError(f"accelforge_request: expected one L1 copy per tile, found L1_BUFFERS={L1_BUFFERS}")
    a = cm.preset_dict(arch_name)
    freq_mhz = float(a.get("freq_mhz", tech.FREQ_MHZ_DEFAULT))
    area_mm2 = float(np.sum(cm_model.area(cm.preset(arch_name))))
    groups = int(np.min(np.atleast_1d(a["noc_links"]) * np.atleast_1d(a["noc_virtual"])))
    return dict(
        layer=dict(
            name=layer.name,
            sizes=dict(zip(w.DIMS, map(int, layer.sizes))),
            stride=list(layer.stride),
            bits=int(layer.bits[0]),
        ),
        arch=dict(
            num_pes=int(a["num_pes"]),
            l1_bytes=int(a["l1_bytes"]),
            l2_kib=float(a["l2_kib"]),
            l2_buffers=float(L2_BUFFERS),
            max_workgroups=groups,
            word_bits=WORD_BITS,
            freq_hz=freq_mhz * 1e6,
            dram_words_per_cycle=a["dram_mb_per_s"] / freq_mhz / (WORD_BITS / 8),  # MB/s / MHz = bytes/cycle
            leak_power_w=tech.leakage_w_per_mm2() * area_mm2,  # as costmodels.model.energy charges it
            energy_pj_per_word=dict(
                mac=float(tech.mac_energy_pj(WORD_BITS)),
                l1=float(tech.rf_energy_pj_per_access(a["l1_bytes"], WORD_BITS)),
                l2=float(tech.sram_energy_pj_per_access(a["l2_kib"], WORD_BITS)),
                dram=tech.dram_energy_pj_per_byte() * WORD_BITS / 8.0,
            ),
        ),
        metric=metric,
        even=even,
        n_jobs=os.cpu_count() or 1,
    )


def run_accelforge(python: str, request: dict, timeout_s: float = ACCELFORGE_TIMEOUT_S) -> dict:
    """Run the bridge once; its JSON answer plus ``subprocess_wall_s`` / ``subprocess_cpu_s`` (whole process
    tree as reaped: interpreter start, imports, mapping). Raises RuntimeError with the bridge's message."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    try:
        p = subprocess.run(
            [python, str(ACCELFORGE_BRIDGE)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"AccelForge bridge ran past {timeout_s:.0f} s on {request['layer']['name']!r}") from None
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = p.stdout.strip().splitlines()
    try:
        out = json.loads(lines[-1]) if lines else {"error": "no output"}
    except json.JSONDecodeError:
        out = {"error": f"unreadable answer {lines[-1][:200]!r}"}
    if p.returncode != 0 or "error" in out:
        tail = "\n".join(p.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"{out.get('error', 'bridge failed')} (exit {p.returncode}; stderr tail:\n{tail})")
    out["subprocess_wall_s"] = wall
    out["subprocess_cpu_s"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return out


def measure_accelforge(layer: w.Layer, arch: cm.Arch, python: str, even: bool = True) -> dict:
    """Mapper quality and speed, one layer: AccelForge's energy-optimal mapping (its model, translated and
    re-costed by jaxdse's exact model) against ``jaxdse.map_layer(objective="energy")`` with each of
    ``JAXDSE_METHODS`` (timed on a second call; the first compiles)."""
    la = cm.layer_arrays(layer)
    row: dict = dict(layer=layer.name, macs=layer.macs)
    for method in JAXDSE_METHODS:
        key = f"jaxdse_{method}"
        run = functools.partial(jaxdse.map_layer, layer, arch, "energy", method)
        _, row[f"{key}_first_s"], _ = _timed(run)
        best, row[f"{key}_s"], row[f"{key}_cpu_s"] = _timed(run)
        row[f"{key}_evals"] = best.exact_evaluations
        row[f"{key}_mapping"] = best.mapping.describe()
        row[f"{key}_energy_total_pj"] = float(best.costs.energy_total_pj)
        row[f"{key}_energy_pj"] = comparable_energy_pj(best.costs)
        row[f"{key}_latency_cycles"] = float(best.costs.latency_cycles)

    af = run_accelforge(python, accelforge_request(layer, ARCH, "energy", even))
    row["accelforge_version"] = af["accelforge_version"]
    row["accelforge_map_s"] = af["map_wall_s"]
    row["accelforge_cpu_s"] = af["cpu_s"]
    row["accelforge_process_s"] = af["subprocess_wall_s"]
    row["accelforge_process_cpu_s"] = af["subprocess_cpu_s"]
    row["accelforge_mappings"] = af["mappings_evaluated"]
    row["accelforge_valid_mappings"] = af["valid_mappings"]
    row["accelforge_own_energy_pj"] = af["energy_pj"]
    row["accelforge_loop_tree"] = af["loop_tree"]
    row["accelforge_exact"] = af["exact"]
    row["accelforge_notes"] = "; ".join(af["notes"])
    m = cm.make_mapping(**af["mapping"])
    cm.validate_mapping(layer, m)
    costs = cm.evaluate_jit(arch, la, m)
    row["accelforge_mapping"] = m.describe()
    row["accelforge_energy_total_pj"] = float(costs.energy_total_pj)
    row["accelforge_energy_pj"] = comparable_energy_pj(costs)
    row["accelforge_latency_cycles"] = float(costs.latency_cycles)
    row["accelforge_legal"] = bool(costs.legal > 0)
    return row


def print_accelforge(rows: list[dict]) -> None:
    """Mapper quality and speed against AccelForge (energy objective)."""
    print("\nAccelForge's mapper vs jaxdse.map_layer(objective='energy'); energy in uJ by jaxdse's exact model:")
    head = ["layer", "AccelForge s (CPU)", "mappings", "AF own E", "AF mapping E", "legal"]
    for m in JAXDSE_METHODS:
        head += [f"{m} s (CPU)", f"{m} E", f"AF / {m} E", f"AF / {m} CPU"]
    body = []
    for r in rows:
        line = [
            r["layer"],
            f"{r['accelforge_map_s']:.1f} ({r['accelforge_cpu_s']:.1f})",
            f"{r['accelforge_mappings']:.3g}",
            f"{r['accelforge_own_energy_pj'] * 1e-6:,.1f}",
            f"{r['accelforge_energy_total_pj'] * 1e-6:,.1f}",
            "yes" if r["accelforge_legal"] else "NO",
        ]
        for m in JAXDSE_METHODS:
            k = f"jaxdse_{m}"
            line += [
                f"{r[f'{k}_s']:.2f} ({r[f'{k}_cpu_s']:.2f})",
                f"{r[f'{k}_energy_total_pj'] * 1e-6:,.1f}",
                f"{r['accelforge_energy_total_pj'] / r[f'{k}_energy_total_pj']:.4f}",
                _ratio(r, "accelforge_cpu_s", f"{k}_cpu_s"),
            ]
        body.append(line)
    _table(head, body)
    print(
        "AF own E: AccelForge's model on its mapping (MAC + L1 + L2 + DRAM + leakage; no NoC); AF mapping E: that "
        "mapping translated and costed by jaxdse (all terms), as are the jaxdse columns;\n"
        "AccelForge s: its map_workload_to_arch, CPU = the bridge process and its joblib workers; jaxdse s: a second "
        "map_layer call (the first compiles; its time is in the CSV)"
    )
    for r in rows:
        print(f"{r['layer']}: AccelForge tree   {r['accelforge_loop_tree']}")
        note = "" if r["accelforge_exact"] else f"  (not one to one: {r['accelforge_notes']})"
        print(f"{r['layer']}: AccelForge mapping {r['accelforge_mapping']}{note}")
        for m in JAXDSE_METHODS:
            print(f"{r['layer']}: jaxdse {m:<11} {r[f'jaxdse_{m}_mapping']}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one layer, few repeats (CI smoke run)")
    ap.add_argument("--out", default="runs/peer_speed", help="output folder (CSV and ZigZag inputs)")
    ap.add_argument("--layers", help="comma-separated NETWORK:LAYER pairs (default: five ResNet-18 / BERT layers)")
    ap.add_argument("--reps", type=int, help="timed calls per median (default 200, quick 20)")
    ap.add_argument(
        "--accelforge-python",
        help=f"Python >= 3.12 with accelforge installed (default ${ACCELFORGE_ENV}, else {ACCELFORGE_PYTHON_DEFAULT} "
        "if present); without one the AccelForge section is skipped with a message",
    )
    ap.add_argument(
        "--accelforge-layers",
        help="comma-separated NETWORK:LAYER pairs for the AccelForge comparison (default: bert_base q_proj and "
        "ffn.fc1, quick: q_proj). A convolution takes AccelForge 19-43 min per layer on 2 cores",
    )
    ap.add_argument("--accelforge-uneven", action="store_true", help="let AccelForge place storage nodes freely")
    ap.add_argument("--no-accelforge", action="store_true", help="skip the AccelForge section")
    ap.add_argument("--accelforge-only", action="store_true", help="run only the AccelForge section")
    args = ap.parse_args(argv)

    pairs = list(LAYERS_DEFAULT[:1] if args.quick else LAYERS_DEFAULT)
    if args.layers:
        pairs = [tuple(p.split(":", 1)) for p in args.layers.split(",")]
        if any(len(p) != 2 for p in pairs):
            ap.error(f"--layers: expected NETWORK:LAYER pairs, found {args.layers!r}")
    reps = args.reps or (20 if args.quick else 200)
    batch = 10_000 if args.quick else 100_000
    af_pairs = list(ACCELFORGE_LAYERS[:1] if args.quick else ACCELFORGE_LAYERS)
    if args.accelforge_layers:
        af_pairs = [tuple(p.split(":", 1)) for p in args.accelforge_layers.split(",")]
        if any(len(p) != 2 for p in af_pairs):
            ap.error(f"--accelforge-layers: expected NETWORK:LAYER pairs, found {args.accelforge_layers!r}")
    if args.no_accelforge and args.accelforge_only:
        ap.error("--no-accelforge and --accelforge-only exclude each other")
    try:
        layers = [find_layer(net, name) for net, name in pairs]
        af_layers = [find_layer(net, name) for net, name in af_pairs]
    except (ValueError, w.WorkloadError) as e:
        ap.error(str(e))
    arch = cm.preset(ARCH)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}, "
        f"jax {jax.__version__} on {jax.devices()[0].platform}; design {ARCH}"
    )
    if not args.accelforge_only:
        acc = zigzag_accelerator(ARCH)
        (out / "zigzag_accelerator.yaml").write_text(yaml.safe_dump(acc, sort_keys=False))
        (out / "zigzag_workload.yaml").write_text(
            yaml.safe_dump([zigzag_layer(lay, i) for i, lay in enumerate(layers)], sort_keys=False)
        )
        (out / "zigzag_mapping.yaml").write_text(yaml.safe_dump(mapping_yaml(layers[0], None), sort_keys=False))

        zz_version = zigzag_available()
        if zz_version is None:
            print(
                "PEER MISSING: zigzag-dse is not installed (pip install '.[peers]'); timing the jaxdse side only, "
                f"ZigZag columns are '-'. The ZigZag inputs are still written to {out}/."
            )
            zz = None
        else:
            print(f"peer: zigzag-dse {zz_version} (same process)")
            zz = ZigZag(acc)

        rows = []
        for layer in layers:
            print(f"measuring {layer.name}: {layer.describe()}", file=sys.stderr, flush=True)
            rows.append(measure_layer(layer, arch, zz, reps, batch))
        print(
            f"timings: median of {reps} calls, the tools taking turns in blocks of {BLOCK}, after a warm-up "
            "(jaxdse: jitted, compile excluded; ZigZag: TemporalMapping + CostModelEvaluation);\n"
            f"batched: evaluate_batch over {batch:,} random mappings, median of 3; map / search: one run "
            "(jaxdse's second call; the first, compiling, and both tools' CPU seconds are in the CSV)"
        )
        print_tables(rows)
        for r in rows:
            print(f"{r['layer']}: jaxdse mapping {r['mapping']}")
            if "zigzag_best_mapping" in r:
                print(f"{r['layer']}: ZigZag best  {r['zigzag_best_mapping']}")

        keys = list(dict.fromkeys(k for r in rows for k in r))
        with open(out / "peer_speed.csv", "w", newline="") as fh:
            wr = csv.DictWriter(fh, fieldnames=keys)
            wr.writeheader()
            wr.writerows(rows)
        print(f"wrote {out / 'peer_speed.csv'}")
        if zz is None:
            print("PEER MISSING: zigzag-dse not installed, no ZigZag figures in this run (pip install '.[peers]')")

    if args.no_accelforge:
        return
    python, why = accelforge_python(args.accelforge_python)
    if python is None:
        print(f"PEER SKIPPED: AccelForge: {why}")
        return
    print(f"peer: {why}, {'uneven' if args.accelforge_uneven else 'Timeloop-style even'} mappings, metric energy")
    af_rows = []
    for layer in af_layers:
        if not gemm_like(layer):
            print(f"note: {layer.name} is not GEMM-like; AccelForge takes 19-43 min per such layer on 2 cores")
        print(f"AccelForge mapping {layer.name}: {layer.describe()}", file=sys.stderr, flush=True)
        try:
            af_rows.append(measure_accelforge(layer, arch, python, even=not args.accelforge_uneven))
        except RuntimeError as e:
            print(f"PEER FAILED: AccelForge on {layer.name}: {e}")
    if af_rows:
        print_accelforge(af_rows)
        keys = list(dict.fromkeys(k for r in af_rows for k in r))
        with open(out / "accelforge.csv", "w", newline="") as fh:
            wr = csv.DictWriter(fh, fieldnames=keys)
            wr.writeheader()
            wr.writerows(af_rows)
        print(f"wrote {out / 'accelforge.csv'}")


if __name__ == "__main__":
    main()
