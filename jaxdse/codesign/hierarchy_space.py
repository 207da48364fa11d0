"""The design space of a general hierarchy, derived from the architecture.

Issue 15, section 2: the parameters are read off the ``Hierarchy`` itself,
not named template parts. For every on-chip storage level, its capacity per
instance; for every fan-out larger than one, its X and Y; for every level with
a finite read bandwidth (DRAM's included), that bandwidth. Each takes the
level's own value times a power of two, ``2**-span .. 2**span`` (the preset
stays in the space; integer counts only, issue 18), or the values a space
file gives (``values=``).

A level's capacity changes its per-access energy and its area along
``costmodels.technology``'s laws: the preset's figures are scaled by the
ratio of the law at the new and at the preset's capacity
(``hierarchy.default_energy_area``), so a preset's calibrated energies
(e.g. the Accelergy figures of a Timeloop design) keep their calibration and
a larger buffer costs area and energy as the technology says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from costmodels.hierarchy import Hierarchy, default_energy_area
from jaxdse.codesign.space import SpaceError

KINDS = ("capacity", "fanout_x", "fanout_y", "read_bw")
UNITS = {"capacity": "B", "fanout_x": "instances", "fanout_y": "instances", "read_bw": "words/cycle"}
FIELDS = {"capacity": "capacity_bytes", "fanout_x": "fanout_x", "fanout_y": "fanout_y", "read_bw": "read_bw_words"}


@dataclass(frozen=True)
class HierParam:
    """One parameter: a field of one level.

    Attributes:
        name: ``LEVEL.KIND`` (e.g. ``global_buffer.capacity``).
        level: Index of the level (0 = DRAM).
        kind: ``capacity`` (bytes per instance), ``fanout_x`` / ``fanout_y``
            (instances of the next level per instance) or ``read_bw`` (words
            per cycle per instance; the write bandwidth follows in proportion).
        values: Legal values, ascending.
    """

    name: str
    level: int
    kind: str
    values: tuple[float, ...]

    @property
    def unit(self) -> str:
        return UNITS[self.kind]

    def show(self, v: float) -> str:
        if self.kind == "capacity":
            return f"{v / 1024:g} KiB" if v >= 1024 else f"{v:g} B"
        return f"{v:g} {self.unit}" if self.kind == "read_bw" else f"{v:g}"


def _ladder(base: float, span: int, integer: bool) -> tuple[float, ...]:
    vals = [base * 2.0**k for k in range(-span, span + 1)]
    if integer:
        vals = [v for v in vals if v >= 1 and float(v).is_integer()]
    return tuple(sorted(set(float(v) for v in vals)))


class HierarchySpace:
    """Parameters of one hierarchy; a design is ``{param name: value}``."""

    def __init__(self, base: Hierarchy, span: int = 2, values: dict[str, list[float]] | None = None) -> None:
        if isinstance(span, bool) or not isinstance(span, int) or span < 0:
            raise SpaceError(f"hierarchy space: field 'span' expected a non-negative int, found {span!r}")
        self.base = base
        self.hardware_cache: dict[tuple, tuple[float, float]] = {}  # design key -> (area mm^2, peak W)
        params = []
        cap = np.asarray(base.capacity_bytes, np.float64)
        wbits = np.asarray(base.word_bits, np.float64)
        for lv, name in enumerate(base.names):
            if lv > 0 and math.isfinite(cap[lv]):
                word = wbits[lv] / 8.0
                vals = tuple(v for v in _ladder(cap[lv], span, True) if v >= word)
                params.append(HierParam(f"{name}.capacity", lv, "capacity", vals))
            for kind in ("fanout_x", "fanout_y"):
                f = float(np.asarray(getattr(base, kind))[lv])
                if f > 1:
                    params.append(HierParam(f"{name}.{kind}", lv, kind, _ladder(f, span, True)))
            bw = float(np.asarray(base.read_bw_words)[lv])
            if math.isfinite(bw) and bw > 0:
                params.append(HierParam(f"{name}.read_bw", lv, "read_bw", _ladder(bw, span, False)))
        by_name = {p.name: p for p in params}
        for key, vals in (values or {}).items():
            if key not in by_name:
                raise SpaceError(f"hierarchy space: field {key!r} expected one of {sorted(by_name)}, found no such")
            p = by_name[key]
            try:
                vv = tuple(sorted({float(v) for v in vals}))
            except (TypeError, ValueError):
                raise SpaceError(f"hierarchy space: field {key!r} expected a list of numbers, found {vals!r}") from None
            bad = [v for v in vv if not math.isfinite(v) or v <= 0 or (p.kind != "read_bw" and not v.is_integer())]
            if not vv or bad:
                what = "positive integers" if p.kind != "read_bw" else "positive numbers"
                raise SpaceError(f"hierarchy space: field {key!r} expected {what}, found {list(vals)!r}")
            by_name[key] = HierParam(p.name, p.level, p.kind, vv)
        self.params: tuple[HierParam, ...] = tuple(by_name[p.name] for p in params)
        if not self.params:
            raise SpaceError(
                "hierarchy space: field 'hierarchy' expected a level with a capacity or fan-out, found none"
            )
        self.by_name = {p.name: p for p in self.params}

    def base_design(self) -> dict[str, float]:
        """The preset's own values (the nearest legal value where a space file narrowed a parameter)."""
        out = {}
        for p in self.params:
            own = float(np.asarray(getattr(self.base, FIELDS[p.kind]))[p.level])
            out[p.name] = min(p.values, key=lambda v, own=own: (abs(math.log(v / own)), v))
        return out

    def validate(self, design: dict[str, float]) -> dict[str, float]:
        for p in self.params:
            if p.name not in design:
                raise SpaceError(f"hierarchy design: field {p.name!r} expected one of {list(p.values)}, found nothing")
            if float(design[p.name]) not in p.values:
                raise SpaceError(
                    f"hierarchy design: field {p.name!r} expected one of {list(p.values)}, found {design[p.name]!r}"
                )
        extra = sorted(set(design) - set(self.by_name))
        if extra:
            raise SpaceError(f"hierarchy design: field {extra[0]!r} expected one of {sorted(self.by_name)}, found it")
        return {p.name: float(design[p.name]) for p in self.params}

    def step(self, design: dict[str, float], name: str, steps: int) -> dict[str, float] | None:
        """``design`` with ``name`` moved ``steps`` places along its values (None past either end)."""
        p = self.by_name[name]
        i = p.values.index(float(design[name])) + steps
        if not 0 <= i < len(p.values):
            return None
        return {**design, name: p.values[i]}

    def key(self, design: dict[str, float]) -> tuple:
        return tuple(float(design[p.name]) for p in self.params)

    def to_hierarchy(self, design: dict[str, float]) -> Hierarchy:
        """The base hierarchy with the design's values; capacities rescale energy and area."""
        design = self.validate(design)
        b = self.base
        arrays = {
            f: np.array(np.asarray(getattr(b, f)), np.float32)
            for f in ("capacity_bytes", "fanout_x", "fanout_y", "read_bw_words", "write_bw_words")
        }
        arrays.update({f: np.array(np.asarray(getattr(b, f)), np.float32) for f in ("read_pj", "write_pj", "area_um2")})
        for p in self.params:
            v = design[p.name]
            lv = p.level
            if p.kind == "capacity":
                old = float(np.asarray(b.capacity_bytes)[lv])
                bits = float(np.asarray(b.word_bits)[lv])
                e_old, a_old = default_energy_area(lv, old, bits)
                e_new, a_new = default_energy_area(lv, v, bits)
                arrays["read_pj"][lv] *= e_new / e_old
                arrays["write_pj"][lv] *= e_new / e_old
                arrays["area_um2"][lv] *= a_new / a_old if a_old > 0 else 1.0
                arrays["capacity_bytes"][lv] = v
            elif p.kind == "read_bw":
                old = float(np.asarray(b.read_bw_words)[lv])
                arrays["read_bw_words"][lv] = v
                arrays["write_bw_words"][lv] *= v / old
            else:
                arrays[FIELDS[p.kind]][lv] = v
        return b.replace(**{k: np.asarray(a) for k, a in arrays.items()})

    def describe(self, design: dict[str, float]) -> str:
        return ", ".join(f"{p.name} {p.show(design[p.name])}" for p in self.params)

    def summary(self) -> str:
        """One line per parameter: name, unit and values."""
        return "\n".join(f"  {p.name:<28} {p.unit:<12} {', '.join(p.show(v) for v in p.values)}" for p in self.params)


__all__ = ["KINDS", "HierParam", "HierarchySpace"]
