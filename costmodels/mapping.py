"""A mapping of one layer onto the template, as fixed-shape arrays.

Loop nest, outer to inner (dMazeRunner / Explainable-DSE's template):

    for DRAM tiles   (temporal[0], loop order order[0])   tiles move DRAM -> L2
     for L2 tiles    (temporal[1], loop order order[1])   tiles move L2 -> PEs over the NoCs
      parallel-for   (spatial)                            across PEs
       for L1 tiles  (temporal[2], loop order order[2])   operands in each PE's L1
        MAC

``temporal[level, dim]`` and ``spatial[dim]`` are loop factors per dim in
``workloads.DIMS`` order; ``order[level]`` is a permutation of dim indices,
outermost first. The product of a dim's four factors must cover its bound;
a larger product pads the dim (padded work is costed). A batch of mappings
is the same pytree with leading axes, so it can be vmapped.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import struct

from workloads import DIMS, Layer
from workloads.layer import MAX_EXTENT
from workloads.specfile import show

LEVELS: tuple[str, ...] = ("dram", "l2", "l1")
"""Temporal levels of a mapping, outer to inner."""


class MappingError(ValueError):
    """A malformed mapping; the message names the field."""


@struct.dataclass(frozen=True)
class Mapping:
    """Tiling, spatial unrolling and loop orders of one layer.

    Attributes:
        temporal: f32[3, 8] temporal factors at DRAM, L2, L1 (``LEVELS``).
        spatial: f32[8] spatial factors across the PE array.
        order: i32[3, 8] loop order of each temporal level, outermost first,
            as indices into ``DIMS``.
    """

    temporal: Any
    spatial: Any
    order: Any

    @classmethod
    def from_factors(cls, factors: Any, order: Any) -> Mapping:
        """The inverse of ``factors``: a mapping from ``[..., 4, 8]`` factors
        (DRAM, L2, spatial, L1) and ``[..., 3, 8]`` loop orders.

        NumPy factors give float32 NumPy arrays (host side, any batch shape);
        JAX arrays and tracers stay JAX (inside jit), their dtype unchanged.
        """
        if isinstance(factors, np.ndarray):
            f = factors.astype(np.float32)
            return cls(temporal=f[..., [0, 1, 3], :], spatial=f[..., 2, :], order=order)
        f = jnp.asarray(factors)
        return cls(temporal=f[..., jnp.array([0, 1, 3]), :], spatial=f[..., 2, :], order=order)

    def factors(self) -> np.ndarray:
        """i64[4, 8]: DRAM, L2, spatial, L1 factors (host-side, one mapping)."""
        t = np.asarray(self.temporal)
        return np.rint(np.stack([t[0], t[1], np.asarray(self.spatial), t[2]])).astype(np.int64)

    def describe(self) -> str:
        """The loop nest, one line per level, e.g. ``DRAM: K2 C4 | L2: P7 ...``."""
        f = self.factors()
        order = np.asarray(self.order)
        parts = []
        for name, row, od in (
            ("DRAM", f[0], order[0]),
            ("L2", f[1], order[1]),
            ("spatial", f[2], range(len(DIMS))),
            ("L1", f[3], order[2]),
        ):
            loops = " ".join(f"{DIMS[d]}{row[d]}" for d in od if row[d] > 1)
            parts.append(f"{name}: {loops or '-'}")
        return " | ".join(parts)

    def to_dict(self) -> dict:
        f = self.factors()
        order = np.asarray(self.order)
        return {
            "dram": dict(zip(DIMS, f[0].tolist())),
            "l2": dict(zip(DIMS, f[1].tolist())),
            "spatial": dict(zip(DIMS, f[2].tolist())),
            "l1": dict(zip(DIMS, f[3].tolist())),
            "order": {lvl: "".join(DIMS[i] for i in order[j]) for j, lvl in enumerate(LEVELS)},
        }


def _order_row(spec: str | list | tuple | None, field: str) -> list[int]:
    """Dims listed outer to inner; unlisted dims are placed outermost."""
    if spec is None:
        return list(range(len(DIMS)))
    names = list(spec) if isinstance(spec, (str, list, tuple)) else None
    if names is None or not all(isinstance(d, str) and d in DIMS for d in names) or len(set(names)) != len(names):
        raise MappingError(
            f"mapping: field '{field}' expected a str or list of distinct dims from {DIMS}, found {show(spec)}"
        )
    rest = [d for d in DIMS if d not in names]
    return [DIMS.index(d) for d in rest + names]


def _factor_row(spec: dict | None, field: str) -> list[float]:
    spec = spec or {}
    if not isinstance(spec, dict):
        raise MappingError(f"mapping: field '{field}' expected a mapping of dim -> factor, found {show(spec)}")
    bad = _unknown(spec, DIMS)
    if bad:
        raise MappingError(f"mapping: field '{field}' expected keys among {DIMS}, found {bad}")
    row = []
    for d in DIMS:
        v = spec.get(d, 1)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= MAX_EXTENT:
            raise MappingError(
                f"mapping: field '{field}.{d}' expected a positive int (at most {MAX_EXTENT}), found {show(v)}"
            )
        row.append(float(v))
    return row


def _unknown(keys: Any, allowed: tuple[str, ...] | set[str]) -> list[str]:
    """Keys not in ``allowed``, sorted, shown as text (keys of any type)."""
    return sorted(k if isinstance(k, str) else show(k) for k in keys if k not in allowed)


def make_mapping(
    dram: dict | None = None,
    l2: dict | None = None,
    spatial: dict | None = None,
    l1: dict | None = None,
    order: dict | None = None,
) -> Mapping:
    """Build a Mapping from per-level ``{dim: factor}`` dicts (missing = 1).

    ``order`` maps a level name (``dram``, ``l2``, ``l1``) to a string of
    dims outermost first, e.g. ``{"l2": "KCPQ"}``; unlisted dims go outside.
    """
    order = order or {}
    if not isinstance(order, dict) or set(order) - set(LEVELS):
        raise MappingError(f"mapping: field 'order' expected a mapping with keys among {LEVELS}, found {show(order)}")
    temporal = [_factor_row(dram, "dram"), _factor_row(l2, "l2"), _factor_row(l1, "l1")]
    orders = [_order_row(order.get(lvl), f"order.{lvl}") for lvl in LEVELS]
    return Mapping(
        temporal=jnp.asarray(temporal, jnp.float32),
        spatial=jnp.asarray(_factor_row(spatial, "spatial"), jnp.float32),
        order=jnp.asarray(orders, jnp.int32),
    )


def mapping_from_dict(data: Any) -> Mapping:
    """Inverse of ``Mapping.to_dict``."""
    if not isinstance(data, dict):
        raise MappingError(f"mapping: expected a mapping with keys dram/l2/spatial/l1/order, found {show(data)}")
    allowed = {"dram", "l2", "spatial", "l1", "order"}
    bad = _unknown(data, allowed)
    if bad:
        raise MappingError(f"mapping: expected fields among {sorted(allowed)}, found unknown field(s) {bad}")
    return make_mapping(**data)


def validate_mapping(layer: Layer, mapping: Mapping) -> None:
    """Host-side shape and coverage checks of a user-supplied mapping.

    Raises MappingError naming the field. Capacity and fan-out limits depend
    on the hardware and are reported by the cost model as named violations.
    """
    if not isinstance(layer, Layer):
        raise MappingError(f"validate_mapping: field 'layer' expected a workloads.Layer, found {show(layer)}")
    if not isinstance(mapping, Mapping):
        raise MappingError(f"validate_mapping: field 'mapping' expected a costmodels.Mapping, found {show(mapping)}")
    try:
        t, s, o = (np.asarray(x, dtype=np.float64) for x in (mapping.temporal, mapping.spatial, mapping.order))
    except (TypeError, ValueError) as e:
        raise MappingError(f"mapping for '{layer.name}': expected numeric arrays, found error: {e}") from None
    if t.shape != (3, 8) or s.shape != (8,) or o.shape != (3, 8):
        raise MappingError(
            f"mapping for '{layer.name}': expected temporal (3, 8), spatial (8,), order (3, 8); "
            f"found {t.shape}, {s.shape}, {o.shape}"
        )
    for name, x in (("temporal", t), ("spatial", s)):
        if not (
            np.isfinite(x).all()
            and (x >= 1).all()
            and (x <= MAX_EXTENT).all()
            and (np.abs(x - np.rint(x)) <= 1e-6).all()
        ):
            raise MappingError(
                f"mapping for '{layer.name}': field '{name}' expected integer factors in 1..{MAX_EXTENT}, "
                f"found {show(x.tolist(), 200)}"
            )
    for j, lvl in enumerate(LEVELS):
        if sorted(o[j].tolist()) != list(range(8)):
            raise MappingError(
                f"mapping for '{layer.name}': field 'order.{lvl}' expected a permutation of 0..7, found {o[j].tolist()}"
            )
    prod = np.prod(np.rint(np.stack([t[0], t[1], s, t[2]])), axis=0)  # float64: exact up to 2**53, far above any bound
    for d, (p, n) in enumerate(zip(prod, layer.sizes)):
        if p < n:
            raise MappingError(
                f"mapping for '{layer.name}': field 'factors.{DIMS[d]}' expected a product >= {n} "
                f"(the loop bound), found {p:.0f}"
            )
