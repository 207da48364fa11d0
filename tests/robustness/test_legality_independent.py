"""The exact model never calls a mapping legal that breaks a capacity or fan-out limit.

Checked independently: this test recomputes, in plain NumPy from the
``workloads.Layer`` and the integer factors, without any of costmodels'
capacity code,

* each operand's tile footprint at L1 (one PE's tile: the L1 factors) and
  at L2 (L2 x spatial x L1 factors, held twice: double buffering), from the
  index ranges the tile touches (the input window's rows and columns are
  enumerated, ``p * stride + r * dilation``, and the bounding box kept, as a
  buffer holds it);
* the PE fan-out (PEs used = product of the spatial factors);
* every NoC's workgroups by enumerating the PE grid and counting the
  distinct tile origins each operand needs (PEs that need the same data
  form one workgroup, Explainable-DSE's definition, Fig. 8);
* coverage of every loop bound,

and compares with ``costs.legal`` and the named violations of the exact
model on thousands of random mappings (exact splits, padded ones,
uncovered ones, oversized tiles and spatial unrollings) on presets, random
Table-1 designs, and designs whose capacities equal a mapping's exact need
(the ``<=`` boundary).
"""

from __future__ import annotations

from fractions import Fraction

import jax
import numpy as np
import pytest

import workloads
from costmodels import EXACT, Mapping, evaluate, layer_arrays, make_arch, preset_dict
from jaxdse.codesign.space import TABLE1

N, G, K, C, P, Q, R, S = range(8)  # workloads.DIMS order
PER_LAYER = 500


def _layers() -> list[workloads.Layer]:
    tiny = workloads.load(workloads.__path__[0] + "/examples/tiny_cnn.yaml").layers
    return (
        list(workloads.get("resnet18").layers[:5])
        + list(tiny)
        + [
            workloads.raw("dil", {"K": 6, "C": 4, "P": 9, "Q": 5, "R": 3, "S": 2}, stride=(2, 1), dilation=(2, 3)),
            workloads.raw("int4", {"N": 2, "G": 2, "K": 8, "C": 6, "P": 4, "Q": 4, "R": 3, "S": 3}, bits=(4, 8, 12)),
            workloads.matmul("attn", m=12, k=16, n=12, heads=3),
        ]
    )


LAYERS = _layers()


# --------------------------------------------------- independent recomputation
def _extent(n_out: int, n_filt: int, stride: int, dilation: int) -> int:
    """Rows (or cols) of the input window read by n_out outputs x n_filt filter taps: enumerated."""
    rows = np.arange(n_out)[:, None] * stride + np.arange(n_filt)[None, :] * dilation
    return int(rows.max() - rows.min() + 1)


def tile_bytes(layer: workloads.Layer, tile: np.ndarray) -> dict[str, Fraction]:
    """Bytes of each operand a tile of loop extents touches (exact fractions: 4-bit data)."""
    n, g, k, c, p, q, r, s = (int(x) for x in tile)
    h = _extent(p, r, layer.stride[0], layer.dilation[0])
    w = _extent(q, s, layer.stride[1], layer.dilation[1])
    elems = {"inputs": n * g * c * h * w, "weights": g * k * c * r * s, "outputs": n * g * k * p * q}
    return {op: Fraction(elems[op] * b, 8) for op, b in zip(("inputs", "weights", "outputs"), layer.bits)}


def workgroups(layer: workloads.Layer, factors: np.ndarray) -> dict[str, int]:
    """Distinct data tiles across the PE grid, per NoC stream (inputs, weights, psum_reads, output_writes)."""
    spatial, l1 = factors[2], factors[3]
    coords = np.indices(spatial).reshape(8, -1).T  # one row per PE: its index along each dim
    origin = coords * l1  # the first loop index of the PE's tile along each dim
    rows = origin[:, P] * layer.stride[0] + origin[:, R] * layer.dilation[0]
    cols = origin[:, Q] * layer.stride[1] + origin[:, S] * layer.dilation[1]
    need = {
        "inputs": np.stack([origin[:, N], origin[:, G], origin[:, C], rows, cols], 1),
        "weights": origin[:, [G, K, C, R, S]],
        "outputs": origin[:, [N, G, K, P, Q]],
    }
    wg = {op: len(np.unique(v, axis=0)) for op, v in need.items()}
    return {
        "inputs": wg["inputs"],
        "weights": wg["weights"],
        "psum_reads": wg["outputs"],  # partial sums travel per distinct output tile
        "output_writes": wg["outputs"],
    }


def independent(layer: workloads.Layer, factors: np.ndarray, arch: dict) -> dict:
    """Legality from first principles. factors: i64[4, 8] (DRAM, L2, spatial, L1)."""
    l1_need = sum(tile_bytes(layer, factors[3]).values())
    l2_need = 2 * sum(tile_bytes(layer, factors[1] * factors[2] * factors[3]).values())
    pes = int(np.prod(factors[2]))
    wg = workgroups(layer, factors)
    noc_cap = [links * virtual for links, virtual in zip(arch["noc_links"], arch["noc_virtual"])]
    covered = bool(np.all(np.prod(factors, axis=0) >= np.asarray(layer.sizes)))
    return {
        "l1_excess": max(l1_need - Fraction(arch["l1_bytes"]), 0),
        "l2_excess": max(l2_need - Fraction(arch["l2_kib"]) * 1024, 0),
        "pe_excess": max(pes - arch["num_pes"], 0),
        "noc_over": [w > cap for w, cap in zip(wg.values(), noc_cap)],
        "covered": covered,
        "legal": l1_need <= arch["l1_bytes"]
        and l2_need <= Fraction(arch["l2_kib"]) * 1024
        and pes <= arch["num_pes"]
        and all(w <= cap for w, cap in zip(wg.values(), noc_cap))
        and covered,
        # PEs at different (P, R) or (Q, S) coordinates may share an input window
        # origin; the template counts them as separate workgroups (conservative)
        "window_overlap": (factors[2][P] > 1 and factors[2][R] > 1) or (factors[2][Q] > 1 and factors[2][S] > 1),
    }


# ------------------------------------------------------------ random mappings
def _split(n: int, rng: np.random.Generator) -> np.ndarray:
    """Four factors (DRAM, L2, spatial, L1) whose product is exactly n, levels in random order."""
    f = np.ones(4, np.int64)
    rest = n
    for level in rng.permutation(4)[:3]:
        divs = [d for d in range(1, rest + 1) if rest % d == 0]
        d = divs[rng.integers(len(divs))] if rng.random() < 0.7 else divs[-1]
        f[level] = d
        rest //= d
    f[rng.integers(4)] *= rest
    return f


def random_factors(layer: workloads.Layer, rng: np.random.Generator) -> np.ndarray:
    """i64[4, 8]: exact splits, sometimes padded (product > bound) or short (product < bound)."""
    out = np.ones((4, 8), np.int64)
    for d, n in enumerate(layer.sizes):
        mode = rng.random()
        if mode < 0.7:
            target = n
        elif mode < 0.85:
            target = n + int(rng.integers(1, n + 1))  # padded
        else:
            target = max(1, n - int(rng.integers(1, n + 1)))  # uncovered (if n > 1)
        out[:, d] = _split(target, rng)
    while np.prod(out[2]) > 4096:  # keep the PE grid small enough to enumerate
        d = int(np.argmax(out[2]))
        out[0, d] *= out[2, d]
        out[2, d] = 1
    return out


def random_arch(rng: np.random.Generator) -> dict:
    kind = rng.integers(4)
    if kind < 3:
        a = preset_dict(["tiny", "explainable_default", "eyeriss_template"][kind])
    else:  # a random Table-1 design
        a = {k: float(rng.choice(TABLE1[k])) for k in ("num_pes", "l1_bytes", "l2_kib", "dram_mb_per_s")}
        a["noc_width_bits"] = float(rng.choice(TABLE1["noc_width_bits"]))
        a["noc_links"] = [max(1.0, a["num_pes"] * float(rng.integers(1, 65)) / 64) for _ in range(4)]
        a["noc_virtual"] = [float(rng.choice([1, 8, 64, 512])) for _ in range(4)]
    for key in ("noc_width_bits", "noc_links", "noc_virtual"):
        if not isinstance(a[key], list):
            a[key] = [float(a[key])] * 4
    return {k: (float(v) if not isinstance(v, list) else [float(x) for x in v]) for k, v in a.items()}


def samples(seed: int):
    """(layer, factors, order, arch dict) tuples: PER_LAYER per layer, a tenth fitted to the boundary."""
    rng = np.random.default_rng(seed)
    out = []
    for layer in LAYERS:
        for i in range(PER_LAYER):
            f = random_factors(layer, rng)
            arch = random_arch(rng)
            if i % 10 == 0:  # capacities exactly at (or one byte under) this mapping's need
                l1 = sum(tile_bytes(layer, f[3]).values())
                l2 = 2 * sum(tile_bytes(layer, f[1] * f[2] * f[3]).values())
                short = float(rng.integers(0, 2))
                arch["l1_bytes"] = max(float(l1) - short, 0.5)
                arch["l2_kib"] = max(float(l2) - short, 0.5) / 1024.0
                arch["num_pes"] = float(max(np.prod(f[2]), *arch["noc_links"]))
            order = np.stack([rng.permutation(8) for _ in range(3)])
            out.append((layer, f, order, arch))
    return out


@jax.jit
def _exact(arch, layer, mapping):
    return jax.vmap(lambda a, la, m: evaluate(a, la, m, EXACT))(arch, layer, mapping)


def model_costs(batch):
    archs = [make_arch(**a) for _, _, _, a in batch]
    arch = jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *archs)
    lays = [layer_arrays(layer) for layer, _, _, _ in batch]
    layer = jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *lays)
    f = np.stack([s[1] for s in batch]).astype(np.float32)
    mapping = Mapping(
        temporal=np.stack([f[:, 0], f[:, 1], f[:, 3]], axis=1),
        spatial=f[:, 2],
        order=np.stack([s[2] for s in batch]).astype(np.int32),
    )
    return jax.tree_util.tree_map(np.asarray, _exact(arch, layer, mapping))


@pytest.fixture(scope="module")
def checked():
    batch = samples(0)
    return batch, model_costs(batch), [independent(layer, f, a) for layer, f, _, a in batch]


def test_model_never_calls_an_illegal_mapping_legal(checked):
    batch, costs, ind = checked
    model_legal = costs.legal > 0.5
    wrong = [i for i in range(len(batch)) if model_legal[i] and not ind[i]["legal"]]
    assert not wrong, [(batch[i][0].name, batch[i][1].tolist(), ind[i]) for i in wrong[:3]]
    # the sample really holds both kinds, and every kind of violation
    assert 0.1 < model_legal.mean() < 0.9, model_legal.mean()
    for key in ("l1_excess", "l2_excess", "pe_excess"):
        assert sum(d[key] > 0 for d in ind) > 50, key
    assert sum(any(d["noc_over"]) for d in ind) > 50 and sum(not d["covered"] for d in ind) > 50


def test_model_legal_matches_independent_legal(checked):
    """Both directions: the only disagreement allowed is the template's conservative
    count of input workgroups when PEs split both P and R (or Q and S)."""
    batch, costs, ind = checked
    for i, d in enumerate(ind):
        if bool(costs.legal[i] > 0.5) != d["legal"]:
            assert d["window_overlap"] and not any(d["noc_over"]), (batch[i][0].name, batch[i][1].tolist(), d)


def test_violations_equal_the_independent_excesses(checked):
    batch, costs, ind = checked
    l1 = np.asarray([float(d["l1_excess"]) for d in ind])
    l2 = np.asarray([float(d["l2_excess"]) for d in ind])
    pe = np.asarray([float(d["pe_excess"]) for d in ind])
    np.testing.assert_allclose(costs.l1_excess_bytes, l1, rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(costs.l2_excess_bytes, l2, rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(costs.pe_excess, pe, rtol=0, atol=0)
    covered = np.asarray([d["covered"] for d in ind])
    assert np.all((costs.coverage_deficit.max(axis=-1) > 0) == ~covered)
    noc_over = np.asarray([d["noc_over"] for d in ind])
    overlap = np.asarray([d["window_overlap"] for d in ind])
    model_over = costs.noc_excess > 0
    assert np.all(model_over[noc_over])  # the model never misses an overloaded NoC
    assert np.all(model_over[~overlap] == noc_over[~overlap])


def test_capacity_boundary_is_inclusive(checked):
    """A tile that fills L1 exactly is legal at L1; one byte more is not."""
    batch, costs, ind = checked
    fitted = [i for i in range(0, len(batch), 10)]
    exact_fit = [i for i in fitted if ind[i]["l1_excess"] == 0 and float(costs.l1_excess_bytes[i]) == 0.0]
    over = [i for i in fitted if ind[i]["l1_excess"] > 0]
    assert len(exact_fit) > 20 and len(over) > 20
    assert all(float(costs.l1_excess_bytes[i]) > 0 for i in over)
