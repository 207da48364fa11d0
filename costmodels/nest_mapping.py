"""A mapping of one layer onto any storage hierarchy, as fixed-shape arrays.

Loop nest, outermost first, for levels ``0 .. MAX_LEVELS - 1`` (level 0 is
DRAM)::

    for level-0 temporal loops   (temporal[0], order[0])
     parallel-for level-0 fan-out (spatial[0, X], spatial[0, Y])
      for level-1 temporal loops (temporal[1], order[1])
       parallel-for ...
        MAC

``temporal[l, d]`` and ``spatial[l, axis, d]`` are loop factors per dim in
``workloads.DIMS`` order; ``order[l]`` lists dim indices outermost first.
A hierarchy shallower than ``MAX_LEVELS`` leaves the extra (inner) levels
at factor 1: they keep nothing and fan out to one instance, so one compiled
function serves every hierarchy up to ``MAX_LEVELS`` levels, and a batch of
mappings (leading axes) vmaps. Bypass is the architecture's (``keep``),
not the mapping's.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import struct

from costmodels.mapping import MappingError, _factor_row, _order_row
from workloads import DIMS

MAX_LEVELS = 6
"""Storage levels a mapping can describe (DRAM included)."""
AXES: tuple[str, ...] = ("X", "Y")


@struct.dataclass(frozen=True)
class NestMapping:
    """Tiling, loop orders and spatial unrolling of one layer on a hierarchy.

    Attributes:
        temporal: f32[MAX_LEVELS, 8] temporal factors per level.
        order: i32[MAX_LEVELS, 8] loop order per level, outermost first.
        spatial: f32[MAX_LEVELS, 2, 8] spatial factors of each level's
            fan-out to its child level (X, Y).
    """

    temporal: Any
    order: Any
    spatial: Any

    def factors(self) -> np.ndarray:
        """i64[MAX_LEVELS, 3, 8]: temporal, spatial X, spatial Y factors (host side, one mapping)."""
        t = np.asarray(self.temporal)
        s = np.asarray(self.spatial)
        return np.rint(np.stack([t, s[:, 0], s[:, 1]], axis=1)).astype(np.int64)

    def describe(self, level_names: tuple[str, ...] | list[str] | None = None) -> str:
        """The loop nest level by level, outermost first, as Timeloop's map.txt prints it."""
        f = self.factors()
        order = np.asarray(self.order)
        depth = len(level_names) if level_names else MAX_LEVELS
        names = list(level_names) if level_names else [f"L{i}" for i in range(depth)]
        lines = []
        indent = ""
        for lvl in range(depth):
            lines.append(f"{indent}{names[lvl]}")
            lines.append(f"{indent}{'-' * len(names[lvl])}")
            for d in order[lvl]:
                if f[lvl, 0, d] > 1:
                    lines.append(f"{indent}| for {DIMS[d]} in [0:{f[lvl, 0, d]})")
                    indent += "  "
            for axis, name in enumerate(AXES):
                for d in range(len(DIMS)):
                    if f[lvl, 1 + axis, d] > 1:
                        lines.append(f"{indent}| for {DIMS[d]} in [0:{f[lvl, 1 + axis, d]}) (Spatial-{name})")
                        indent += "  "
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"

    def to_dict(self, level_names: tuple[str, ...] | list[str] | None = None) -> list[dict]:
        """One entry per level: temporal and spatial factors (> 1 only) and the order string."""
        f = self.factors()
        order = np.asarray(self.order)
        depth = len(level_names) if level_names else MAX_LEVELS
        out = []
        for lvl in range(depth):
            entry: dict[str, Any] = {"level": level_names[lvl] if level_names else lvl}
            entry["temporal"] = {DIMS[d]: int(f[lvl, 0, d]) for d in range(len(DIMS)) if f[lvl, 0, d] > 1}
            entry["order"] = "".join(DIMS[d] for d in order[lvl])
            for axis, name in enumerate(AXES):
                sp = {DIMS[d]: int(f[lvl, 1 + axis, d]) for d in range(len(DIMS)) if f[lvl, 1 + axis, d] > 1}
                if sp:
                    entry[f"spatial_{name}"] = sp
            out.append(entry)
        return out


def nest_mapping(
    temporal: list[dict] | None = None,
    spatial_x: list[dict] | None = None,
    spatial_y: list[dict] | None = None,
    order: list[str | None] | None = None,
) -> NestMapping:
    """Build a ``NestMapping`` from per-level ``{dim: factor}`` dicts (missing = 1).

    ``order[l]`` is a string of dims outermost first (unlisted dims outside).
    Lists may be shorter than ``MAX_LEVELS``; missing levels are 1.
    """

    def rows(spec, name):
        spec = list(spec or [])
        if len(spec) > MAX_LEVELS:
            raise MappingError(f"nest mapping: field '{name}' expected at most {MAX_LEVELS} levels, found {len(spec)}")
        return [_factor_row(spec[i] if i < len(spec) else None, f"{name}[{i}]") for i in range(MAX_LEVELS)]

    t = rows(temporal, "temporal")
    sx = rows(spatial_x, "spatial_x")
    sy = rows(spatial_y, "spatial_y")
    order = list(order or [])
    if len(order) > MAX_LEVELS:
        raise MappingError(f"nest mapping: field 'order' expected at most {MAX_LEVELS} levels, found {len(order)}")
    o = [_order_row(order[i] if i < len(order) else None, f"order[{i}]") for i in range(MAX_LEVELS)]
    return NestMapping(
        temporal=jnp.asarray(t, jnp.float32),
        order=jnp.asarray(o, jnp.int32),
        spatial=jnp.asarray(np.stack([sx, sy], axis=1), jnp.float32),
    )


def nest_mapping_from_dict(levels: list[dict]) -> NestMapping:
    """The inverse of ``NestMapping.to_dict``: per-level ``temporal``, ``spatial_X``,
    ``spatial_Y`` and ``order`` entries (a stored plan's ``mapping``) back to a mapping."""
    if not isinstance(levels, list) or not all(isinstance(e, dict) for e in levels):
        raise MappingError(f"nest mapping: expected a list of per-level dicts, found {type(levels).__name__}")
    return nest_mapping(
        temporal=[e.get("temporal") for e in levels],
        spatial_x=[e.get(f"spatial_{AXES[0]}") for e in levels],
        spatial_y=[e.get(f"spatial_{AXES[1]}") for e in levels],
        order=[e.get("order") for e in levels],
    )
