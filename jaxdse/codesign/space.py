"""The hardware design space: legal values per parameter, snapping, YAML.

Default: Table 1 of Explainable-DSE (Dave et al., ASPLOS 2023, p. 9):

    num_pes        64, 128, ..., 4096                       (7 options)
    l1_bytes       8, 16, ..., 1024                         (8)
    l2_kib         64, 128, ..., 4096                       (7)
    dram_mb_per_s  1024 ... 51200                           (10)
    noc_width_bits 16 * i, i = 1..16                        (16, shared by the NoCs)
    links_{noc}    PEs * i / 64, i = 1..64, one per NoC     (stored as i)
    virtual_{noc}  1, 8, 64, 512, one per NoC

A design is a dict ``{parameter: value}``; links are stored as the index i
(links = max(1, floor(PEs * i / 64))) so they stay legal when the PE count moves.
int16, 500 MHz and the 291-cycle DMA setup are fixed (``costmodels.arch``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from costmodels import NOCS, Arch, make_arch
from workloads.specfile import printable, read_spec, show

NOC_KEYS = ("inputs", "weights", "psum", "writes")
"""Short names of the four NoCs in parameter names (``links_inputs`` ...)."""

TABLE1: dict[str, tuple[float, ...]] = {
    "num_pes": (64, 128, 256, 512, 1024, 2048, 4096),
    "l1_bytes": (8, 16, 32, 64, 128, 256, 512, 1024),
    "l2_kib": (64, 128, 256, 512, 1024, 2048, 4096),
    "dram_mb_per_s": (1024, 2048, 4096, 6400, 8192, 12800, 19200, 25600, 38400, 51200),
    "noc_width_bits": tuple(16 * i for i in range(1, 17)),
    **{f"links_{k}": tuple(range(1, 65)) for k in NOC_KEYS},
    **{f"virtual_{k}": (1, 8, 64, 512) for k in NOC_KEYS},
}

UNITS = {
    "num_pes": "PEs",
    "l1_bytes": "B",
    "l2_kib": "KiB",
    "dram_mb_per_s": "MB/s",
    "noc_width_bits": "bits",
    **{f"links_{k}": "index i: links = max(1, floor(PEs x i / 64))" for k in NOC_KEYS},
    **{f"virtual_{k}": "x" for k in NOC_KEYS},
}

PARAMS: tuple[str, ...] = tuple(TABLE1)

COUNT_PARAMS: tuple[str, ...] = (
    "num_pes",
    "l1_bytes",
    "noc_width_bits",
    *(f"links_{k}" for k in NOC_KEYS),
    *(f"virtual_{k}" for k in NOC_KEYS),
)
"""Parameters that count things: whole numbers only (``costmodels.counts``)."""


FIXED = ("dma_setup_cycles", "freq_mhz")
"""``costmodels.make_arch`` fields a space may hold constant."""

_F32_MAX = float(np.finfo(np.float32).max)
"""Largest value an ``Arch`` field (float32) holds."""


class SpaceError(ValueError):
    """A malformed design space or design; the message names the field."""


def _number_ok(v, low: float | None = None) -> bool:
    """A real number (not bool) that stays finite and > 0 (or >= ``low``) as
    float32, the dtype of ``costmodels.Arch`` (1e-50 would become 0)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        return False
    if not abs(v) <= _F32_MAX:  # also False for NaN; compares huge ints exactly
        return False
    v32 = float(np.float32(v))
    return v32 >= low if low is not None else v32 > 0


@dataclass(frozen=True)
class DesignSpace:
    """Legal values of every hardware parameter (ascending).

    Attributes:
        values: ``{parameter: tuple of legal values}`` for every name in ``PARAMS``.
        fixed: Values of ``costmodels.make_arch`` fields held constant
            (``dma_setup_cycles``, ``freq_mhz``).
    """

    values: dict[str, tuple[float, ...]]
    fixed: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.values, dict):
            raise SpaceError(
                f"design space: field 'values' expected a dict of parameter -> values, found {show(self.values)}"
            )
        missing = [p for p in PARAMS if p not in self.values]
        if missing:
            raise SpaceError(f"design space: expected every parameter, found {missing} missing")
        for p, vals in self.values.items():
            if p not in PARAMS:
                raise SpaceError(f"design space: unknown parameter {show(p)}; expected one of {list(PARAMS)}")
            ok = isinstance(vals, (tuple, list)) and all(_number_ok(v) for v in vals)
            if not ok or not vals or list(vals) != sorted(set(vals)):
                raise SpaceError(
                    f"design space: field '{p}' expected a non-empty ascending list of distinct finite numbers "
                    f"in (0, {_F32_MAX:.3g}], found {show(vals)}"
                )
        for p in COUNT_PARAMS:
            frac = [v for v in self.values[p] if float(v) != int(v)]
            if frac:
                raise SpaceError(f"design space: field '{p}' expected whole numbers (counts), found {show(frac)}")
        frac = [v for v in self.values["l2_kib"] if float(v) * 1024 != int(float(v) * 1024)]
        if frac:
            raise SpaceError(
                f"design space: field 'l2_kib' expected a whole number of bytes (l2_kib * 1024), found {show(frac)}"
            )
        if min(self.values["num_pes"]) < 1:
            raise SpaceError(
                f"design space: field 'num_pes' expected counts >= 1, found {list(self.values['num_pes'])}"
            )
        for p in (f"links_{k}" for k in NOC_KEYS):
            if max(self.values[p]) > 64:
                raise SpaceError(f"design space: field '{p}' expected indices i in 1..64 (links = PEs*i/64)")
        if not isinstance(self.fixed, dict):
            raise SpaceError(f"design space: field 'fixed' expected a dict, found {show(self.fixed)}")
        for k, v in self.fixed.items():
            if k not in FIXED or not _number_ok(v, low=0.0 if k == "dma_setup_cycles" else None):
                raise SpaceError(
                    f"design space: field 'fixed' expected keys {list(FIXED)} with finite numbers "
                    f"(dma_setup_cycles >= 0, freq_mhz > 0), found {show(k)}: {show(v)}"
                )

    @property
    def size(self) -> float:
        return float(np.prod([len(v) for v in self.values.values()], dtype=np.float64))

    def snap(self, param: str, value: float, up: bool = True) -> float:
        """The next legal value >= value (or <= with ``up=False``), clamped to the range."""
        vals = np.asarray(self.values[param], dtype=np.float64)
        if up:
            i = int(np.searchsorted(vals, value * (1 - 1e-9), side="left"))
        else:
            i = int(np.searchsorted(vals, value * (1 + 1e-9), side="right")) - 1
        return float(vals[min(max(i, 0), len(vals) - 1)])

    def step(self, param: str, value: float, k: int) -> float:
        """The legal value k positions away (clamped).

        For a value between two legal ones, k = 1 is the next legal value above
        it and k = -1 the next below (k = 0: the next above, as ``snap``)."""
        vals = list(self.values[param])
        if value in vals:
            i = vals.index(value) + k
        elif k > 0:
            i = int(np.searchsorted(vals, value, side="right")) + k - 1
        else:
            i = int(np.searchsorted(vals, value, side="left")) + k
        return float(vals[min(max(i, 0), len(vals) - 1)])

    def index(self, param: str, value: float) -> int:
        return list(self.values[param]).index(value)

    def validate(self, design: dict[str, float]) -> dict[str, float]:
        """Check a design has a legal value for every parameter; returns floats."""
        if not isinstance(design, dict):
            raise SpaceError(f"design: expected a dict of parameter -> value, found {show(design)}")
        out = {}
        for p in PARAMS:
            if p not in design:
                raise SpaceError(f"design: field '{p}' expected one of {list(self.values[p])}, found it missing")
            v = design[p]
            if not _number_ok(v) or float(v) not in self.values[p]:
                raise SpaceError(f"design: field '{p}' expected one of {list(self.values[p])}, found {show(v)}")
            out[p] = float(v)
        unknown = sorted(k if isinstance(k, str) else show(k) for k in design if k not in PARAMS)
        if unknown:
            raise SpaceError(f"design: expected parameters among {list(PARAMS)}, found unknown parameter(s) {unknown}")
        return out

    def default_design(self) -> dict[str, float]:
        """A small, cheap starting point (area- and power-safe): the low end of
        every range except virtual unicast (8) and NoC width (64 bits) where
        legal."""
        d = {p: float(v[0]) for p, v in self.values.items()}
        for k in NOC_KEYS:
            d[f"virtual_{k}"] = self.snap(f"virtual_{k}", 8)
            d[f"links_{k}"] = self.snap(f"links_{k}", 4)
        d["noc_width_bits"] = self.snap("noc_width_bits", 64)
        return d

    def random_design(self, rng: np.random.Generator) -> dict[str, float]:
        return {p: float(v[rng.integers(len(v))]) for p, v in self.values.items()}


def table1_space() -> DesignSpace:
    """Explainable-DSE's Table-1 space (about 2.7e14 designs with per-NoC links and virtual unicast)."""
    return DesignSpace(values={p: tuple(float(x) for x in v) for p, v in TABLE1.items()})


def links(design: dict[str, float], noc: str) -> float:
    """Physical links of a NoC: max(1, floor(PEs * i / 64)), a whole number
    (exactly PEs * i / 64 when PEs is a multiple of 64, as in Table 1)."""
    return float(max(1, (int(design["num_pes"]) * int(design[f"links_{noc}"])) // 64))


def to_arch(design: dict[str, float], fixed: dict[str, float] | None = None) -> Arch:
    """The ``costmodels.Arch`` of a design."""
    return make_arch(
        num_pes=design["num_pes"],
        l1_bytes=design["l1_bytes"],
        l2_kib=design["l2_kib"],
        dram_mb_per_s=design["dram_mb_per_s"],
        noc_width_bits=design["noc_width_bits"],
        noc_links=[links(design, k) for k in NOC_KEYS],
        noc_virtual=[design[f"virtual_{k}"] for k in NOC_KEYS],
        source="design",
        **(fixed or {}),
    )


def describe(design: dict[str, float]) -> str:
    """One line: ``256 PEs, L1 64 B, L2 256 KiB, 4096 MB/s, NoC 64 b, links 16/16/16/16, V 8/8/8/8``."""
    lk = "/".join(f"{links(design, k):g}" for k in NOC_KEYS)
    vu = "/".join(f"{design[f'virtual_{k}']:g}" for k in NOC_KEYS)
    return (
        f"{design['num_pes']:g} PEs, L1 {design['l1_bytes']:g} B, L2 {design['l2_kib']:g} KiB, "
        f"{design['dram_mb_per_s']:g} MB/s, NoC {design['noc_width_bits']:g} b, links {lk}, virtual {vu}"
    )


_DESCRIBED = re.compile(
    r"(?P<num_pes>[\d.]+) PEs, L1 (?P<l1_bytes>[\d.]+) B, L2 (?P<l2_kib>[\d.]+) KiB, "
    r"(?P<dram_mb_per_s>[\d.]+) MB/s, NoC (?P<noc_width_bits>[\d.]+) b, "
    r"links (?P<links>[\d./]+), virtual (?P<virtual>[\d./]+)"
)


def parse_described(text: str) -> dict[str, float]:
    """The design ``describe`` wrote into ``text`` (e.g. a baseline's trace reason),
    its physical links turned back into indices (i = links x 64 / PEs, exact for the
    PE counts of Table 1, multiples of 64). Raises ``SpaceError`` naming what is missing."""
    m = _DESCRIBED.search(text)
    if m is None:
        raise SpaceError(f"expected a design as describe() writes it ('N PEs, L1 ... virtual a/b/c/d'), found {text!r}")
    d = {k: float(m[k]) for k in ("num_pes", "l1_bytes", "l2_kib", "dram_mb_per_s", "noc_width_bits")}
    for part in ("links", "virtual"):
        vals = m[part].split("/")
        if len(vals) != len(NOC_KEYS):
            raise SpaceError(f"{part}: expected {len(NOC_KEYS)} values a/b/c/d, found {m[part]!r} in {text!r}")
        for k, v in zip(NOC_KEYS, vals):
            d[f"{part}_{k}"] = float(v)
    for k in NOC_KEYS:
        i = d[f"links_{k}"] * 64 / d["num_pes"]
        if i != int(i) or i < 1:
            n, pes = d[f"links_{k}"], d["num_pes"]
            raise SpaceError(f"links_{k}: {n:g} links on {pes:g} PEs is not PEs x i / 64 for a whole i >= 1")
        d[f"links_{k}"] = float(i)
    return d


def load_space(path: str | Path) -> DesignSpace:
    """A YAML/JSON space file: ``{parameter: [legal values]}``; parameters left
    out keep their Table-1 values; optional ``fixed: {dma_setup_cycles, freq_mhz}``."""
    if not isinstance(path, (str, os.PathLike)):
        raise SpaceError(f"load_space: field 'path' expected a YAML/JSON file path, found {show(path)}")
    path = Path(path)
    data = read_spec(path, "design-space file", SpaceError)
    where = printable(path)
    if not isinstance(data, dict):
        raise SpaceError(f"space file '{where}': expected a mapping of parameter -> list, found {type(data).__name__}")
    fixed = data.pop("fixed", {}) or {}
    if not isinstance(fixed, dict) or any(k not in FIXED for k in fixed):
        raise SpaceError(f"space file '{where}': field 'fixed' expected keys among {list(FIXED)}, found {show(fixed)}")
    values = {p: tuple(float(x) for x in v) for p, v in TABLE1.items()}
    for p, v in data.items():
        if p not in PARAMS:
            raise SpaceError(f"space file '{where}': unknown parameter {show(p)}; expected one of {list(PARAMS)}")
        if not isinstance(v, list) or not all(_number_ok(x) for x in v):
            raise SpaceError(
                f"space file '{where}': field '{p}' expected a list of finite positive numbers, found {show(v)}"
            )
        values[p] = tuple(sorted(float(x) for x in v))
    try:
        return DesignSpace(
            values=values, fixed={k: float(v) if _number_ok(v, low=0.0) else v for k, v in fixed.items()}
        )
    except SpaceError as e:
        raise SpaceError(f"space file '{where}': {e}") from None


__all__ = [
    "NOCS",
    "NOC_KEYS",
    "PARAMS",
    "TABLE1",
    "UNITS",
    "DesignSpace",
    "SpaceError",
    "describe",
    "links",
    "load_space",
    "parse_described",
    "table1_space",
    "to_arch",
]
