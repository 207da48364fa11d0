"""The accelerator template and its design parameters.

The template is Explainable-DSE's (Dave et al., ASPLOS 2023, Table 1 and
Fig. 8; ``shared/reference/explainable-dse.md``):

* a PE array, one int16 MAC per PE per cycle;
* a private L1 register file per PE (``l1_bytes``);
* a shared L2 global buffer / scratchpad (``l2_kib``), double-buffered;
* four NoCs, one per operand stream, in ``NOCS`` order (inputs, weights,
  partial-sum reads, output writes); each has a data width in bits, a
  number of physical unicast links and a virtual-unicast (time-sharing)
  factor: PEs needing the same data form a workgroup served by broadcast,
  workgroups time-share the links, at most ``links * virtual`` workgroups;
* a DMA engine to off-chip DRAM with a bandwidth (MB/s, 1 MB = 1e6 bytes) and
  a setup cost per burst (dMazeRunner's arch spec: 291 cycles);
* a clock (500 MHz in Table 1).

``Arch`` is a pytree of float32 arrays, so a batch of designs is an Arch
with a leading axis and can be vmapped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import struct

from workloads.specfile import printable, read_spec, show

NOCS: tuple[str, ...] = ("inputs", "weights", "psum_reads", "output_writes")
"""The four per-operand NoCs (Explainable-DSE Table 1, "x4")."""

DMA_SETUP_CYCLES_DEFAULT = 291.0
"""Cycles to set up one DMA burst: dMazeRunner's arch spec (MPSLab-ASU/dMazeRunner)."""

SCALAR_FIELDS: tuple[str, ...] = ("num_pes", "l1_bytes", "l2_kib", "dram_mb_per_s", "dma_setup_cycles", "freq_mhz")
NOC_FIELDS: tuple[str, ...] = ("noc_width_bits", "noc_links", "noc_virtual")


class ArchError(ValueError):
    """A malformed architecture spec; the message names the field."""


@struct.dataclass(frozen=True)
class Arch:
    """Design parameters of one accelerator (or a batch, with a leading axis).

    Attributes:
        num_pes: Processing elements (one MAC each per cycle).
        l1_bytes: Register file bytes per PE.
        l2_kib: Global buffer size in KiB.
        dram_mb_per_s: Off-chip bandwidth in MB/s (1e6 bytes/s).
        noc_width_bits: f32[4], data width of each NoC in ``NOCS`` order.
        noc_links: f32[4], physical unicast links of each NoC.
        noc_virtual: f32[4], virtual unicast (time-sharing) factor of each NoC.
        dma_setup_cycles: Setup cycles per DMA burst.
        freq_mhz: Clock frequency in MHz.
    """

    num_pes: Any
    l1_bytes: Any
    l2_kib: Any
    dram_mb_per_s: Any
    noc_width_bits: Any
    noc_links: Any
    noc_virtual: Any
    dma_setup_cycles: Any
    freq_mhz: Any

    @property
    def dram_bytes_per_cycle(self):
        """Off-chip bytes per clock cycle: MB/s * 1e6 / (MHz * 1e6)."""
        return self.dram_mb_per_s / self.freq_mhz

    @property
    def l2_bytes(self):
        return self.l2_kib * 1024.0

    def to_dict(self) -> dict:
        """Plain Python values (one design; not for a batch)."""
        out: dict[str, Any] = {f: float(np.asarray(getattr(self, f))) for f in SCALAR_FIELDS}
        for f in NOC_FIELDS:
            out[f] = [float(v) for v in np.asarray(getattr(self, f)).reshape(-1)]
        return out


def make_arch(
    num_pes: float,
    l1_bytes: float,
    l2_kib: float,
    dram_mb_per_s: float,
    noc_width_bits: float | list[float],
    noc_links: float | list[float],
    noc_virtual: float | list[float],
    dma_setup_cycles: float = DMA_SETUP_CYCLES_DEFAULT,
    freq_mhz: float = 500.0,
    source: str = "arch",
) -> Arch:
    """Validate plain values and build an ``Arch`` of float32 arrays.

    A scalar NoC value applies to all four NoCs. Raises ``ArchError`` naming
    the field, what was expected and what was found.
    """
    values = dict(
        num_pes=num_pes,
        l1_bytes=l1_bytes,
        l2_kib=l2_kib,
        dram_mb_per_s=dram_mb_per_s,
        dma_setup_cycles=dma_setup_cycles,
        freq_mhz=freq_mhz,
    )
    fields: dict[str, Any] = {}
    for name, v in values.items():
        lo = 0.0 if name == "dma_setup_cycles" else None
        fields[name] = jnp.float32(_number(source, name, v, lo))
    for name, v in (("noc_width_bits", noc_width_bits), ("noc_links", noc_links), ("noc_virtual", noc_virtual)):
        if isinstance(v, (list, tuple)):
            if len(v) != len(NOCS):
                raise ArchError(f"{source}: field '{name}' expected {len(NOCS)} values {NOCS}, found {show(list(v))}")
            vals = [_number(source, f"{name}[{i}]", x) for i, x in enumerate(v)]
        else:
            vals = [_number(source, name, v)] * len(NOCS)
        fields[name] = jnp.asarray(vals, jnp.float32)
    for i, links in enumerate(np.asarray(fields["noc_links"])):
        if links > float(fields["num_pes"]):
            raise ArchError(
                f"{source}: field 'noc_links[{i}]' expected at most num_pes={float(fields['num_pes']):g}, "
                f"found {links:g}"
            )
    return Arch(**fields)


def _number(source: str, field: str, v: Any, lo: float | None = None) -> float:
    """A finite number > 0 (or >= lo) that stays so as float32, the Arch's dtype."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ArchError(f"{source}: field '{field}' expected a number, found {show(v)}")
    with np.errstate(over="ignore"):
        as_f32 = float(np.float32(v)) if abs(v) <= _F32_MAX else float("inf")
    if not np.isfinite(as_f32) or (as_f32 < lo if lo is not None else as_f32 <= 0):
        want = f">= {lo:g}" if lo is not None else "> 0"
        raise ArchError(f"{source}: field '{field}' expected a finite number {want} (in float32), found {show(v)}")
    return float(v)


_F32_MAX = float(np.finfo(np.float32).max)


# --------------------------------------------------------------------- presets
_PRESETS: dict[str, dict[str, Any]] = {
    # A mid point of Explainable-DSE's Table 1 space: 256 PEs, 64 B L1,
    # 256 kB L2, 4096 MB/s, 64-bit NoCs with PEs*4/64 = 16 links and 8-way
    # virtual unicast (Table 1 options i=4 and 2^(3*1)).
    "explainable_default": dict(
        num_pes=256,
        l1_bytes=64,
        l2_kib=256,
        dram_mb_per_s=4096,
        noc_width_bits=64,
        noc_links=16,
        noc_virtual=8,
    ),
    # Eyeriss on the template (Chen et al., JSSC 2017, Table I; the level-by-level
    # Eyeriss is the hierarchy preset eyeriss_like, costmodels/archs): 168 PEs (12 x 14),
    # 0.5 kB of scratchpads per PE, 108 kB global buffer, 64-bit buses with
    # one link per PE row (12) and multicast to every PE of a row (V = 14
    # rounded up to the Table-1 option 64). Bandwidth: 64-bit DRAM interface
    # at the 500 MHz template clock would be 4000 MB/s; 4096 is the nearest
    # Table-1 option.
    "eyeriss_template": dict(
        num_pes=168,
        l1_bytes=512,
        l2_kib=108,
        dram_mb_per_s=4096,
        noc_width_bits=64,
        noc_links=12,
        noc_virtual=64,
    ),
    # A small array for hand-checkable tests and quick runs.
    "tiny": dict(
        num_pes=16,
        l1_bytes=64,
        l2_kib=64,
        dram_mb_per_s=1024,
        noc_width_bits=32,
        noc_links=4,
        noc_virtual=8,
    ),
}


def preset_names() -> list[str]:
    return sorted(_PRESETS)


def preset(name: str) -> Arch:
    """A named architecture (see ``preset_names()``)."""
    if name not in _PRESETS:
        raise ArchError(f"arch preset: field 'name' expected one of {preset_names()}, found {name!r}")
    return make_arch(**_PRESETS[name], source=f"preset '{name}'")


def preset_dict(name: str) -> dict[str, Any]:
    if name not in _PRESETS:
        raise ArchError(f"arch preset: field 'name' expected one of {preset_names()}, found {name!r}")
    return dict(_PRESETS[name])


_ALLOWED = set(SCALAR_FIELDS) | set(NOC_FIELDS) | {"name", "notes"}


def arch_from_dict(data: Any, source: str = "arch") -> Arch:
    """Build an Arch from a mapping (the YAML/JSON arch-file schema).

    Keys: ``num_pes, l1_bytes, l2_kib, dram_mb_per_s, noc_width_bits,
    noc_links, noc_virtual`` (required; NoC fields a number or a list of 4 in
    ``NOCS`` order), ``dma_setup_cycles, freq_mhz, name, notes`` (optional).
    """
    if not isinstance(data, dict):
        raise ArchError(f"{source}: expected a mapping of arch fields, found {type(data).__name__}")
    unknown = sorted(k if isinstance(k, str) else show(k) for k in data if k not in _ALLOWED)
    if unknown:
        raise ArchError(f"{source}: expected fields among {sorted(_ALLOWED)}, found unknown field(s) {unknown}")
    required = ("num_pes", "l1_bytes", "l2_kib", "dram_mb_per_s") + NOC_FIELDS
    missing = [f for f in required if f not in data]
    if missing:
        raise ArchError(f"{source}: expected the required field(s) {missing}, found them missing")
    kwargs = {k: v for k, v in data.items() if k not in ("name", "notes")}
    return make_arch(**kwargs, source=source)


def load_arch(path: str | Path) -> Arch:
    """Read an arch YAML/JSON file (schema: ``arch_from_dict``)."""
    data = read_spec(path, "arch file", ArchError)
    return arch_from_dict(data, source=f"arch file '{printable(path)}'")


def get_arch(spec: str | Path | Arch) -> Arch:
    """A preset name, a path to an arch file, or an Arch (returned as is)."""
    if isinstance(spec, Arch):
        return spec
    if not isinstance(spec, (str, os.PathLike)):
        raise ArchError(
            f"arch: expected an Arch, a preset name {preset_names()} or a .yaml/.json file, found {show(spec)}"
        )
    spec_s = str(spec)
    if spec_s in _PRESETS:
        return preset(spec_s)
    if Path(spec_s).suffix.lower() in (".yaml", ".yml", ".json") or _is_file(spec_s):
        return load_arch(spec_s)
    raise ArchError(f"arch: expected a preset name {preset_names()} or a .yaml/.json file, found {show(spec_s)}")


def _is_file(path: str) -> bool:
    """Whether ``path`` names an existing file; False for names the OS rejects (NUL, too long)."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False
