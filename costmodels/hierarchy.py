"""Any accelerator: an ordered list of storage levels over an array of MACs.

A hierarchy lists storage levels from DRAM (outermost) to the innermost
per-PE buffer. Each level has a capacity per instance (DRAM unlimited),
the operands it keeps (the others bypass it), a spatial fan-out to the next
level as X x Y instances per instance (the innermost level's fan-out reaches
the MACs), optional read/write bandwidths in words per cycle per instance
(Timeloop's ``read_bandwidth`` / ``write_bandwidth``; infinite when absent),
multiple buffering, a word width, and per-access energies and area per
instance (defaults from ``costmodels.technology`` by capacity and width).
The compute level gives MAC bits and energy.

Two optional models attach to it, both from Explainable-DSE (Dave et al.,
ASPLOS 2023, Table 1 and Fig. 8; ``shared/reference/explainable-dse.md``):
a NoC on one fan-out (four operand streams, each a width in bits, physical
links and a virtual-unicast factor) and a DMA engine at DRAM (bandwidth and
setup cycles per burst). The ``explainable_default`` template is the
three-level instance with both (``hierarchy_from_arch``).

``Hierarchy`` is a pytree padded to ``MAX_LEVELS`` levels: the level names,
the NoC's level and whether there is a DMA decide control flow and are
static; every number is an array, so a batch of designs of one shape is one
pytree with a leading axis.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import struct

from costmodels import technology as tech
from costmodels.arch import Arch, preset
from costmodels.nest_mapping import MAX_LEVELS
from workloads import OPERANDS
from workloads.specfile import printable, read_spec, show

INF = float("inf")
RF_MAX_BYTES = 4096.0
"""Levels up to this capacity are costed as register files, larger ones as SRAM (technology.py's two laws)."""


class HierarchyError(ValueError):
    """A malformed hierarchy spec; the message names the field."""


@struct.dataclass(frozen=True)
class Hierarchy:
    """A storage hierarchy and its compute array (one design or a batch).

    Arrays have ``MAX_LEVELS`` entries on the level axis; levels past
    ``depth`` keep nothing and fan out to one instance.

    Attributes:
        names: level names, outermost first (static).
        noc_level: the level whose fan-out carries the NoC model, -1 for none (static).
        has_dma: whether DRAM transfers use the DMA model (static).
        keep: f32[L, 3] 1 where a level keeps (inputs, weights, outputs).
        capacity_bytes: f32[L] per instance (inf for DRAM and padding).
        buffers: f32[L] multiple buffering (copies of each tile held).
        fanout_x, fanout_y: f32[L] instances of the next level (or MACs) per instance.
        xy_stages: f32[L] 1 where X and Y are two spatial stages (identical
            tiles found within each only; ``costmodels.nest``).
        read_bw_words, write_bw_words: f32[L] words per cycle per instance (inf: unlimited).
        word_bits: f32[L] the level's word width (access energies are per such word).
        read_pj, write_pj: f32[L] energy per access of one word.
        area_um2: f32[L] area of one instance.
        mac_pj, mac_area_um2: one MAC.
        freq_mhz: clock.
        noc_width_bits, noc_links, noc_virtual: f32[4] the NoC streams
            (inputs, weights, psum_reads, output_writes); unused without a NoC.
        noc_pj_per_bit, noc_area_mm2: NoC energy per bit delivered, area.
        dram_bytes_per_cycle, dma_setup_cycles, dma_area_mm2: the DMA model.
        leakage_w_per_mm2: static power density.
    """

    names: tuple = struct.field(pytree_node=False)
    noc_level: int = struct.field(pytree_node=False)
    has_dma: bool = struct.field(pytree_node=False)
    keep: Any
    capacity_bytes: Any
    buffers: Any
    fanout_x: Any
    fanout_y: Any
    xy_stages: Any
    read_bw_words: Any
    write_bw_words: Any
    word_bits: Any
    read_pj: Any
    write_pj: Any
    area_um2: Any
    mac_pj: Any
    mac_area_um2: Any
    freq_mhz: Any
    noc_width_bits: Any
    noc_links: Any
    noc_virtual: Any
    noc_pj_per_bit: Any
    noc_area_mm2: Any
    dram_bytes_per_cycle: Any
    dma_setup_cycles: Any
    dma_area_mm2: Any
    leakage_w_per_mm2: Any

    @property
    def depth(self) -> int:
        return len(self.names)

    @property
    def fanout(self):
        """f32[L] instances of the next level per instance (X * Y)."""
        return self.fanout_x * self.fanout_y

    @property
    def instances(self):
        """f32[L] instances of each level (product of the fan-outs above it)."""
        f = self.fanout
        return jnp.cumprod(jnp.concatenate([jnp.ones_like(f[..., :1]), f[..., :-1]], axis=-1), axis=-1)

    @property
    def num_macs(self):
        return jnp.prod(self.fanout, axis=-1)

    def describe(self) -> str:
        """One line per level: name, instances, capacity, keeps, fan-out."""
        inst = np.asarray(self.instances)
        lines = []
        for i, name in enumerate(self.names):
            cap = float(np.asarray(self.capacity_bytes)[i])
            keeps = [op for o, op in enumerate(OPERANDS) if np.asarray(self.keep)[i, o] > 0]
            fx, fy = (int(np.asarray(self.fanout_x)[i]), int(np.asarray(self.fanout_y)[i]))
            cap_s = "unlimited" if not math.isfinite(cap) else _bytes(cap)
            lines.append(
                f"{name}: {int(inst[i])} instance(s), {cap_s} each, keeps {'/'.join(keeps) or 'nothing'}, "
                f"fan-out {fx}x{fy}"
            )
        lines.append(f"MACs: {int(np.asarray(self.num_macs))}")
        return "\n".join(lines)


def _bytes(b: float) -> str:
    if b >= 1024 * 1024:
        return f"{b / 1024 / 1024:g} MiB"
    if b >= 1024:
        return f"{b / 1024:g} KiB"
    return f"{b:g} B"


# ------------------------------------------------------------------ building
_LEVEL_KEYS = {
    "name",
    "capacity_bytes",
    "keep",
    "fanout",
    "xy_stages",
    "buffers",
    "read_bandwidth_words",
    "write_bandwidth_words",
    "word_bits",
    "read_pj",
    "write_pj",
    "area_um2",
    "noc",
    "dma",
    "notes",
}
_TOP_KEYS = {"name", "levels", "compute", "freq_mhz", "notes", "source"}
_COMPUTE_KEYS = {"bits", "mac_pj", "mac_area_um2"}
_NOC_KEYS = {"width_bits", "links", "virtual"}
_DMA_KEYS = {"mb_per_s", "setup_cycles"}


def _num(src: str, field: str, v: Any, lo: float = 0.0, strict: bool = True, integer: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise HierarchyError(f"{src}: field '{field}' expected a number, found {show(v)}")
    x = float(v)
    if not math.isfinite(x) or (x <= lo if strict else x < lo):
        raise HierarchyError(
            f"{src}: field '{field}' expected a finite number {'>' if strict else '>='} {lo:g}, found {show(v)}"
        )
    if integer and x != int(x):
        raise HierarchyError(f"{src}: field '{field}' expected an integer (a count of things), found {show(v)}")
    return x


def _unknown(src: str, field: str, data: dict, allowed: set[str]) -> None:
    bad = sorted(k if isinstance(k, str) else show(k) for k in data if k not in allowed)
    if bad:
        raise HierarchyError(f"{src}: field '{field}' expected keys among {sorted(allowed)}, found unknown {bad}")


def _dict(src: str, field: str, v: Any) -> dict:
    if not isinstance(v, dict):
        raise HierarchyError(f"{src}: field '{field}' expected a mapping, found {show(v)}")
    return v


def hierarchy_from_dict(data: Any, source: str = "hierarchy") -> Hierarchy:
    """Build a ``Hierarchy`` from plain data (our YAML/JSON schema).

    Schema::

        name: str (optional)
        freq_mhz: float (default 500)
        levels:              # outermost (DRAM) first, 1 .. MAX_LEVELS entries
          - name: str
            capacity_bytes: float   # required except for the first level (DRAM)
            keep: [inputs, weights, outputs]   # default all three
            fanout: int | [X, Y]    # instances of the next level (the MACs for the last)
            xy_stages: false        # X and Y are two spatial stages (Timeloop: two spatial levels)
            buffers: 1              # multiple buffering
            read_bandwidth_words / write_bandwidth_words: float  # per cycle per instance
            word_bits: 16
            read_pj / write_pj / area_um2: float   # default from technology.py
            noc: {width_bits, links, virtual}      # Explainable-DSE NoC on this fan-out
            dma: {mb_per_s, setup_cycles}          # first level only: the DMA model
        compute: {bits: 16, mac_pj, mac_area_um2}

    Raises ``HierarchyError`` naming the field, what was expected and what
    was found.
    """
    src = source
    data = _dict(src, "<top>", data)
    _unknown(src, "<top>", data, _TOP_KEYS)
    levels = data.get("levels")
    if not isinstance(levels, list) or not 1 <= len(levels) <= MAX_LEVELS:
        raise HierarchyError(
            f"{src}: field 'levels' expected a list of 1..{MAX_LEVELS} storage levels, found {show(levels)}"
        )
    freq = _num(src, "freq_mhz", data.get("freq_mhz", tech.FREQ_MHZ_DEFAULT))
    compute = _dict(src, "compute", data.get("compute", {}))
    _unknown(src, "compute", compute, _COMPUTE_KEYS)
    mac_bits = _num(src, "compute.bits", compute.get("bits", tech.WORD_BITS_DEFAULT), integer=True)
    mac_pj = _num(src, "compute.mac_pj", compute.get("mac_pj", float(tech.mac_energy_pj(mac_bits))), strict=False)
    mac_area = _num(
        src, "compute.mac_area_um2", compute.get("mac_area_um2", float(tech.mac_area_um2(mac_bits))), strict=False
    )

    n = MAX_LEVELS
    keep = np.zeros((n, 3), np.float32)
    cap = np.full(n, INF)
    buffers = np.ones(n)
    fx = np.ones(n)
    fy = np.ones(n)
    stages = np.zeros(n)
    rbw = np.full(n, INF)
    wbw = np.full(n, INF)
    wbits = np.full(n, 16.0)
    rpj = np.zeros(n)
    wpj = np.zeros(n)
    area = np.zeros(n)
    names: list[str] = []
    noc_level = -1
    noc = dict(width_bits=[64.0] * 4, links=[1.0] * 4, virtual=[1.0] * 4)
    dma = None
    for i, lv in enumerate(levels):
        f = f"levels[{i}]"
        lv = _dict(src, f, lv)
        _unknown(src, f, lv, _LEVEL_KEYS)
        name = lv.get("name", f"L{i}")
        if not isinstance(name, str) or not name or name in names:
            raise HierarchyError(f"{src}: field '{f}.name' expected a unique non-empty string, found {show(name)}")
        names.append(name)
        ks = lv.get("keep", list(OPERANDS))
        if not isinstance(ks, list) or any(k not in OPERANDS for k in ks) or len(set(ks)) != len(ks):
            raise HierarchyError(
                f"{src}: field '{f}.keep' expected a list of distinct operands from {OPERANDS}, found {show(ks)}"
            )
        if i == 0 and sorted(ks) != sorted(OPERANDS):
            raise HierarchyError(
                f"{src}: field '{f}.keep' expected the outermost level (DRAM) to keep "
                f"{list(OPERANDS)}, found {show(ks)}"
            )
        for k in ks:
            keep[i, OPERANDS.index(k)] = 1.0
        if i == 0:
            if "capacity_bytes" in lv:
                raise HierarchyError(
                    f"{src}: field '{f}.capacity_bytes' expected absent (DRAM is unlimited), "
                    f"found {show(lv['capacity_bytes'])}"
                )
        else:
            if "capacity_bytes" not in lv:
                raise HierarchyError(
                    f"{src}: field '{f}.capacity_bytes' expected a number of bytes per instance, found it missing"
                )
            cap[i] = _num(src, f"{f}.capacity_bytes", lv["capacity_bytes"])
        fan = lv.get("fanout", 1)
        fan = fan if isinstance(fan, list) else [fan, 1]
        if len(fan) != 2:
            raise HierarchyError(f"{src}: field '{f}.fanout' expected an int or [X, Y], found {show(lv.get('fanout'))}")
        fx[i] = _num(src, f"{f}.fanout[0]", fan[0], lo=1.0, strict=False, integer=True)
        fy[i] = _num(src, f"{f}.fanout[1]", fan[1], lo=1.0, strict=False, integer=True)
        if not isinstance(lv.get("xy_stages", False), bool):
            raise HierarchyError(f"{src}: field '{f}.xy_stages' expected true or false, found {show(lv['xy_stages'])}")
        stages[i] = 1.0 if lv.get("xy_stages", False) else 0.0
        buffers[i] = _num(src, f"{f}.buffers", lv.get("buffers", 1), lo=1.0, strict=False, integer=True)
        for key, arr in (("read_bandwidth_words", rbw), ("write_bandwidth_words", wbw)):
            if key in lv:
                arr[i] = _num(src, f"{f}.{key}", lv[key])
        wbits[i] = _num(src, f"{f}.word_bits", lv.get("word_bits", 16), integer=True)
        e_default, a_default = default_energy_area(i, cap[i], wbits[i])
        rpj[i] = _num(src, f"{f}.read_pj", lv.get("read_pj", e_default), strict=False)
        wpj[i] = _num(src, f"{f}.write_pj", lv.get("write_pj", e_default), strict=False)
        area[i] = _num(src, f"{f}.area_um2", lv.get("area_um2", a_default), strict=False)
        if "noc" in lv:
            if noc_level >= 0:
                raise HierarchyError(f"{src}: field '{f}.noc' expected one NoC per hierarchy, found a second")
            nd = _dict(src, f"{f}.noc", lv["noc"])
            _unknown(src, f"{f}.noc", nd, _NOC_KEYS)
            for key in _NOC_KEYS:
                if key not in nd:
                    raise HierarchyError(
                        f"{src}: field '{f}.noc.{key}' expected a number or 4 numbers, found it missing"
                    )
                v = nd[key] if isinstance(nd[key], list) else [nd[key]] * 4
                if len(v) != 4:
                    raise HierarchyError(f"{src}: field '{f}.noc.{key}' expected 4 values, found {show(nd[key])}")
                noc[key] = [_num(src, f"{f}.noc.{key}[{j}]", x, integer=key != "width_bits") for j, x in enumerate(v)]
            noc_level = i
        if "dma" in lv:
            if i != 0:
                raise HierarchyError(
                    f"{src}: field '{f}.dma' expected only on the outermost level, found it on '{name}'"
                )
            dd = _dict(src, f"{f}.dma", lv["dma"])
            _unknown(src, f"{f}.dma", dd, _DMA_KEYS)
            dma = (
                _num(src, f"{f}.dma.mb_per_s", dd.get("mb_per_s")),
                _num(src, f"{f}.dma.setup_cycles", dd.get("setup_cycles", 291.0), strict=False),
            )
    if noc_level >= 0:
        child = noc_level + 1
        if child >= len(levels) or keep[child].min() < 1:
            raise HierarchyError(
                f"{src}: field 'levels[{noc_level}].noc' expected the next level to keep every operand "
                f"(the NoC model's four streams end there), found "
                f"{'no next level' if child >= len(levels) else show(levels[child].get('keep'))}"
            )
        for j, links in enumerate(noc["links"]):
            if links > fx[noc_level] * fy[noc_level]:
                raise HierarchyError(
                    f"{src}: field 'levels[{noc_level}].noc.links[{j}]' expected at most the fan-out "
                    f"{fx[noc_level] * fy[noc_level]:g}, found {links:g}"
                )
    f32 = lambda x: jnp.asarray(np.asarray(x, np.float64), jnp.float32)  # noqa: E731
    width = np.asarray(noc["width_bits"])
    links = np.asarray(noc["links"])
    noc_fanout = float(fx[noc_level] * fy[noc_level]) if noc_level >= 0 else 1.0
    return Hierarchy(
        names=tuple(names),
        noc_level=noc_level,
        has_dma=dma is not None,
        keep=jnp.asarray(keep),
        capacity_bytes=f32(cap),
        buffers=f32(buffers),
        fanout_x=f32(fx),
        fanout_y=f32(fy),
        xy_stages=f32(stages),
        read_bw_words=f32(rbw),
        write_bw_words=f32(wbw),
        word_bits=f32(wbits),
        read_pj=f32(rpj),
        write_pj=f32(wpj),
        area_um2=f32(area),
        mac_pj=jnp.float32(mac_pj),
        mac_area_um2=jnp.float32(mac_area),
        freq_mhz=jnp.float32(freq),
        noc_width_bits=f32(width),
        noc_links=f32(links),
        noc_virtual=f32(noc["virtual"]),
        noc_pj_per_bit=jnp.float32(tech.noc_energy_pj_per_bit(noc_fanout) if noc_level >= 0 else 0.0),
        noc_area_mm2=jnp.float32(
            float(np.sum(np.asarray(tech.noc_area_mm2(width, links, noc_fanout)))) if noc_level >= 0 else 0.0
        ),
        dram_bytes_per_cycle=jnp.float32(dma[0] / freq if dma else INF),
        dma_setup_cycles=jnp.float32(dma[1] if dma else 0.0),
        dma_area_mm2=jnp.float32(tech.dma_area_mm2() if dma else 0.0),
        leakage_w_per_mm2=jnp.float32(tech.leakage_w_per_mm2()),
    )


@functools.lru_cache(maxsize=4096)
def default_energy_area(index: int, capacity_bytes: float, word_bits: float) -> tuple[float, float]:
    """Per-access energy (pJ per word) and area per instance (um^2) from technology.py (memoised:
    a design space asks for the same few sizes thousands of times).

    DRAM: ``dram_energy_pj_per_byte`` per byte, no on-chip area. Up to
    ``RF_MAX_BYTES``: the register-file law; above: the SRAM law.
    """
    if index == 0:
        return tech.dram_energy_pj_per_byte() * word_bits / 8.0, 0.0
    if capacity_bytes <= RF_MAX_BYTES:
        return float(tech.rf_energy_pj_per_access(capacity_bytes, word_bits)), float(tech.rf_area_um2(capacity_bytes))
    kib = capacity_bytes / 1024.0
    return float(tech.sram_energy_pj_per_access(kib, word_bits)), float(tech.sram_area_mm2(kib)) * 1e6


def load_hierarchy(path: str | Path) -> Hierarchy:
    """Read a hierarchy YAML/JSON file (schema: ``hierarchy_from_dict``)."""
    data = read_spec(path, "hierarchy file", HierarchyError)
    return hierarchy_from_dict(data, source=f"hierarchy file '{printable(path)}'")


def hierarchy_from_arch(arch: Arch) -> Hierarchy:
    """The Explainable-DSE template as a three-level hierarchy (traceable: ``arch`` may hold tracers).

    DRAM (DMA model) -> L2 global buffer (double-buffered, fan-out to
    ``num_pes`` PEs over the four-stream NoC) -> L1 per PE (single copy)
    -> one MAC. Energies and areas are technology.py's laws at the design's
    sizes for 16-bit words, as the template has always used.
    """
    pad = MAX_LEVELS - 3
    one, zero, inf = jnp.float32(1.0), jnp.float32(0.0), jnp.float32(INF)
    pes = jnp.asarray(arch.num_pes, jnp.float32)

    def padded(first3, fill):
        return jnp.stack([jnp.asarray(x, jnp.float32) for x in first3] + [jnp.asarray(fill, jnp.float32)] * pad)

    l2_pj = tech.sram_energy_pj_per_access(arch.l2_kib)
    l1_pj = tech.rf_energy_pj_per_access(arch.l1_bytes)
    dram_pj = tech.dram_energy_pj_per_byte() * 2.0
    keep = jnp.asarray([[1.0] * 3] * 3 + [[0.0] * 3] * pad, jnp.float32)
    return Hierarchy(
        names=("DRAM", "L2", "L1"),
        noc_level=1,
        has_dma=True,
        keep=keep,
        capacity_bytes=padded([inf, arch.l2_kib * 1024.0, arch.l1_bytes], inf),
        buffers=padded([one, 2.0, one], one),
        fanout_x=padded([one, pes, one], one),
        fanout_y=padded([one, one, one], one),
        xy_stages=padded([zero, zero, zero], zero),
        read_bw_words=padded([inf, inf, inf], inf),
        write_bw_words=padded([inf, inf, inf], inf),
        word_bits=padded([16.0, 16.0, 16.0], 16.0),
        read_pj=padded([dram_pj, l2_pj, l1_pj], zero),
        write_pj=padded([dram_pj, l2_pj, l1_pj], zero),
        area_um2=padded([zero, tech.sram_area_mm2(arch.l2_kib) * 1e6, tech.rf_area_um2(arch.l1_bytes)], zero),
        mac_pj=tech.mac_energy_pj(),
        mac_area_um2=tech.mac_area_um2(),
        freq_mhz=jnp.asarray(arch.freq_mhz, jnp.float32),
        noc_width_bits=arch.noc_width_bits,
        noc_links=arch.noc_links,
        noc_virtual=arch.noc_virtual,
        noc_pj_per_bit=tech.noc_energy_pj_per_bit(arch.num_pes),
        noc_area_mm2=jnp.sum(tech.noc_area_mm2(arch.noc_width_bits, arch.noc_links, arch.num_pes)),
        dram_bytes_per_cycle=arch.dram_bytes_per_cycle,
        dma_setup_cycles=jnp.asarray(arch.dma_setup_cycles, jnp.float32),
        dma_area_mm2=jnp.float32(tech.dma_area_mm2()),
        leakage_w_per_mm2=jnp.float32(tech.leakage_w_per_mm2()),
    )


_ARCH_DIR = Path(__file__).resolve().parent / "archs"
TEMPLATE_PRESETS: tuple[str, ...] = ("explainable_default", "eyeriss_template", "tiny")
"""Presets of the three-level Explainable-DSE template (``costmodels.preset``), as hierarchies too."""


def hierarchy_preset_names() -> list[str]:
    """Every preset that ``hierarchy_preset`` accepts."""
    return sorted(set(TEMPLATE_PRESETS) | {p.stem for p in _ARCH_DIR.glob("*.yaml")})


def hierarchy_preset(name: str) -> Hierarchy:
    """A named hierarchy: a template preset (``hierarchy_from_arch``) or ``costmodels/archs/NAME.yaml``."""
    if name in TEMPLATE_PRESETS:
        return hierarchy_from_arch(preset(name))
    path = _ARCH_DIR / f"{name}.yaml"
    if not isinstance(name, str) or not path.is_file():
        raise HierarchyError(
            f"hierarchy preset: field 'name' expected one of {hierarchy_preset_names()}, found {name!r}"
        )
    return load_hierarchy(path)


def is_template_preset(name: str) -> bool:
    return name in TEMPLATE_PRESETS
