"""Host-side legality of template mappings: the one place the mappers read it from.

The cost model's definition is ``costmodels.model.violations`` (JAX, inside
the jitted evaluation): the L1 tile (``L1_BUFFERS`` copies) within
``l1_bytes``, the L2 tile (spatial x L1 x L2 factors, ``L2_BUFFERS``
copies) within the L2, the active PEs within ``num_pes``, every NoC's
workgroups within ``links x virtual unicast``, and coverage. The mappers
must test the same limits on the host before anything reaches the device
(the snapper's repair, the exhaustive and pruned enumerations, the greedy
default mapping); they all call this module, and
``tests/jaxdse/test_legality.py`` checks it against ``violations`` on random
mappings, so the two cannot drift apart. Coverage is not tested here: every
mapper builds factors whose products cover the (padded) bounds.

One known difference, on the safe side: the inputs NoC's workgroups are
taken as the product of the inputs' spatial factors, where the model counts
distinct input windows (``costmodels.nest._distinct_tiles``: with P and R, or
Q and S, both unrolled, neighbouring PEs' windows can coincide, so fewer
groups). The host figure is an upper bound, so no mapping the model rejects
is ever accepted here, but a few legal ones with overlapping spatial windows
are never proposed by the mappers. Counting exact windows here changes which
mappings the mappers return, so it waits for the mapper tables to be re-run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costmodels import Arch
from costmodels.access import REL, operand_elems
from costmodels.model import L1_BUFFERS, L2_BUFFERS
from workloads import Layer

NOC_OPERAND = np.array([0, 1, 2, 2])
"""Operand carried by each NoC (``costmodels.NOCS``: inputs, weights, psum_reads, output_writes)."""


@dataclass(frozen=True)
class Limits:
    """One design's limits, as host floats."""

    num_pes: float
    noc_workgroups: np.ndarray  # f64[4] links x virtual unicast per NoC
    l1_bytes: float
    l2_bytes: float


def limits(arch: Arch) -> Limits:
    return Limits(
        num_pes=float(np.asarray(arch.num_pes)),
        noc_workgroups=np.asarray(arch.noc_links, np.float64) * np.asarray(arch.noc_virtual, np.float64),
        l1_bytes=float(np.asarray(arch.l1_bytes)),
        l2_bytes=float(np.asarray(arch.l2_kib)) * 1024.0,
    )


def tile_bytes(tiles: np.ndarray, layer: Layer) -> np.ndarray:
    """Bytes of one copy of every operand's tile, summed: f64[...] for tiles [..., 8]."""
    elems = operand_elems(
        np.asarray(tiles, np.float64), np.asarray(layer.stride, np.float64), np.asarray(layer.dilation, np.float64)
    )
    return elems @ (np.asarray(layer.bits, np.float64) / 8.0)


def noc_workgroups(spatial: np.ndarray) -> np.ndarray:
    """f64[..., 4]: distinct-data PE groups per NoC (product of the operand's relevant spatial factors)."""
    s = np.asarray(spatial, np.float64)[..., None, :]
    wg3 = np.prod(np.where(REL > 0, s, 1.0), axis=-1)  # [..., 3] per operand
    return wg3[..., NOC_OPERAND]


def spatial_ok(spatial: np.ndarray, lim: Limits) -> np.ndarray:
    """bool[...]: the PE count and every NoC's workgroups within the design's limits."""
    s = np.asarray(spatial, np.float64)
    return (s.prod(axis=-1) <= lim.num_pes) & np.all(noc_workgroups(s) <= lim.noc_workgroups, axis=-1)


def l1_bytes(l1_tiles: np.ndarray, layer: Layer) -> np.ndarray:
    """L1 footprint (every buffer copy) of per-PE tiles [..., 8]."""
    return L1_BUFFERS * tile_bytes(l1_tiles, layer)


def l2_bytes(l2_tiles: np.ndarray, layer: Layer) -> np.ndarray:
    """L2 footprint (every buffer copy) of L2 tiles [..., 8] (spatial x L1 x L2 factors)."""
    return L2_BUFFERS * tile_bytes(l2_tiles, layer)


def legal(layer: Layer, lim: Limits, factors: np.ndarray) -> np.ndarray:
    """bool[M]: factors i64[M, 4, 8] (DRAM, L2, spatial, L1) within every limit but coverage."""
    f = np.asarray(factors, np.float64)
    spatial, l1 = f[:, 2], f[:, 3]
    return (
        spatial_ok(spatial, lim)
        & (l1_bytes(l1, layer) <= lim.l1_bytes)
        & (l2_bytes(f[:, 1] * spatial * l1, layer) <= lim.l2_bytes)
    )


__all__ = [
    "NOC_OPERAND",
    "Limits",
    "l1_bytes",
    "l2_bytes",
    "legal",
    "limits",
    "noc_workgroups",
    "spatial_ok",
    "tile_bytes",
]
