"""The map space of one layer and the exact scoring every mapper shares.

A mapping splits each loop bound D_d into four factors (DRAM, L2, spatial,
L1) and picks a loop order per temporal level. Only orders that change
reuse matter (dMazeRunner's "maximal-reuse orders"; DOSA tries weight-,
input- and output-stationary orders): at a level, what counts is which
loops sit innermost, i.e. which operand stays resident. ``ORDER_TEMPLATES``
lists one order per stationarity; the mappers search the 3 x 3 pairs for
the DRAM and L2 levels (the L1 order changes nothing in this model: no
storage level lies below L1).

``score`` evaluates a batch of mappings with the exact model and turns the
chosen objective into one number per mapping (inf when illegal); every
mapper counts the mappings it scores as its exact evaluations.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from costmodels import Arch, Costs, Mapping, evaluate_batch, evaluate_sharded, layer_arrays
from costmodels.compile import jit
from costmodels.sharding import device_count
from workloads import DIMS, Layer
from workloads.specfile import show

OBJECTIVES: tuple[str, ...] = ("latency", "energy", "edp")

OBJECTIVE_UNITS: dict[str, tuple[str, float]] = {"latency": ("ms", 1e3), "energy": ("mJ", 1e3), "edp": ("ms*mJ", 1e6)}
"""Display unit and scale of each objective given in seconds and joules (``format_objective``)."""


def objective_of(objective: str, latency, energy):
    """The objective from latency and energy (any units, floats or arrays of one
    shape): latency, energy, or their product (edp). The one definition every
    mapper, explorer and evaluator uses."""
    if objective == "latency":
        return latency
    if objective == "energy":
        return energy
    return latency * energy


def log_objective(objective: str, latency, energy):
    """``log(objective_of(...))`` for the relaxed losses; edp as a sum of logs (no overflow of the product)."""
    if objective == "edp":
        return jnp.log(latency) + jnp.log(energy)
    return jnp.log(objective_of(objective, latency, energy))


def format_objective(objective: str, value: float) -> str:
    """An objective in seconds / joules as text with its unit: ``latency 4.58 ms``."""
    unit, scale = OBJECTIVE_UNITS[objective]
    return f"{objective} {value * scale:.4g} {unit}"


ORDER_TEMPLATES: dict[str, str] = {
    # outermost first; the innermost loops decide what stays resident
    "weight_stationary": "GKCRSNPQ",  # N, P, Q innermost: weights stay, inputs slide
    "output_stationary": "GNKPQCRS",  # C, R, S innermost: partial sums stay
    "input_stationary": "GNCPQRSK",  # K innermost: inputs stay
}
ORDER_ROWS = np.array([[DIMS.index(d) for d in o] for o in ORDER_TEMPLATES.values()], dtype=np.int32)
ORDER_PAIRS = np.array(list(itertools.product(range(len(ORDER_ROWS)), repeat=2)), dtype=np.int32)
"""i32[9, 2]: (DRAM template, L2 template) pairs."""


def order_array(dram: int, l2: int) -> np.ndarray:
    """i32[3, 8] loop orders for a (DRAM, L2) template pair; L1 uses output-stationary."""
    return np.stack([ORDER_ROWS[dram], ORDER_ROWS[l2], ORDER_ROWS[1]])


ALL_ORDERS = np.stack([order_array(a, b) for a, b in ORDER_PAIRS])
"""i32[9, 3, 8]: every candidate order combination."""


class MapperError(ValueError):
    """Bad input to a mapper (unknown method or objective, bad budget, space too large)."""


def check_objective(objective: str) -> str:
    if objective not in OBJECTIVES:
        raise MapperError(f"mapper: field 'objective' expected one of {OBJECTIVES}, found {objective!r}")
    return objective


def check_tie_break(tie_break, objective: str) -> str | None:
    """``tie_break``: None, or an objective other than ``objective`` that picks among the
    mappings tied at the best value (``map_layer``, ``nest_search``)."""
    if tie_break is not None and (tie_break not in OBJECTIVES or tie_break == objective):
        others = tuple(o for o in OBJECTIVES if o != objective)
        raise MapperError(
            f"mapper: field 'tie_break' expected None or another objective than {objective!r}, one of {others}, "
            f"found {show(tie_break)}"
        )
    return tie_break


def objective_value(costs: Costs, objective: str):
    """The objective of exact costs (inf where illegal), any batch shape."""
    v = objective_of(objective, costs.latency_cycles, costs.energy_total_pj)
    return jnp.where(costs.legal > 0, v, jnp.inf)


@jit(static_argnames=("objective",))
def _score(arch, layer, mappings, objective):
    c = evaluate_batch(arch, layer, mappings)
    return objective_value(c, objective), c.latency_cycles, c.energy_total_pj


def score(arch: Arch, layer: Layer, mappings: Mapping, objective: str) -> np.ndarray:
    """Exact objective of a batch of mappings (inf where illegal), as NumPy; split over the
    local devices when there are several (``costmodels.sharding``)."""
    if device_count() > 1:
        return np.asarray(objective_value(evaluate_sharded(arch, layer_arrays(layer), mappings), objective))
    return np.asarray(_score(arch, layer_arrays(layer), mappings, objective)[0])


def take(mappings: Mapping, idx) -> Mapping:
    """Select mappings from a batch (host-side), as copies: a view would keep the
    whole candidate batch alive (~4 MB per mapped ResNet-18 in an explorer's cache)."""
    return jax.tree_util.tree_map(lambda x: np.array(np.asarray(x)[idx]), mappings)


def concat(batches: list[Mapping]) -> Mapping:
    return jax.tree_util.tree_map(lambda *xs: np.concatenate([np.asarray(x) for x in xs]), *batches)


def batch_size(mappings: Mapping) -> int:
    return int(np.asarray(mappings.temporal).shape[0])


@dataclass(frozen=True)
class Candidates:
    """What a mapper method returns: scored mappings and its bookkeeping.

    Attributes:
        mappings: Batch of mappings (leading axis).
        objective: f64[n] exact objective values (inf when illegal).
        exact_evaluations: Exact cost-model evaluations the method spent.
        notes: Method-specific detail (e.g. thresholds used).
    """

    mappings: Mapping
    objective: np.ndarray
    exact_evaluations: int
    notes: str = ""

    def joined(self, other: Candidates, note: str) -> Candidates:
        """Both methods' candidates in one batch, both methods' exact evaluations counted."""
        mappings = jax.tree_util.tree_map(
            lambda a, b: np.concatenate([np.asarray(a), np.asarray(b)]), self.mappings, other.mappings
        )
        return Candidates(
            mappings,
            np.concatenate([np.asarray(self.objective, np.float64), np.asarray(other.objective, np.float64)]),
            self.exact_evaluations + other.exact_evaluations,
            (self.notes + "; " if self.notes else "") + note,
        )
