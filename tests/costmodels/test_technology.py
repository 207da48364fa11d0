"""Tests for costmodels.technology: anchors, scaling laws, JAX-friendliness and sanity targets."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from costmodels import technology as tech

# Explainable-DSE Table 1 value grids.
PES = [64, 128, 256, 512, 1024, 2048, 4096]
L1_BYTES = [8, 16, 32, 64, 128, 256, 512, 1024]
L2_KIB = [64, 128, 256, 512, 1024, 2048, 4096]
NOC_WIDTH_BITS = [16 * i for i in range(1, 17)]
NUM_NOCS = 4


def _total_area_mm2(pes, l1_bytes, l2_kib, width_bits, links):
    """Chip area of the template from the technology functions (what the cost model will sum)."""
    pe_mm2 = pes * (tech.mac_area_um2(16) + tech.rf_area_um2(l1_bytes)) * 1e-6
    return (
        pe_mm2 + tech.sram_area_mm2(l2_kib) + NUM_NOCS * tech.noc_area_mm2(width_bits, links, pes) + tech.dma_area_mm2()
    )


# --------------------------------------------------------------------------------------------------
# Anchors
# --------------------------------------------------------------------------------------------------
def test_mac_energy_reproduces_horowitz_anchors():
    # 8-bit MAC = 8-bit multiply 0.2 + 16-bit add 0.05; 32-bit MAC = 3.1 + 64-bit add (0.1 * 2, the
    # 16->32-bit adder law extrapolated one octave).
    assert float(tech.mac_energy_pj(8)) == pytest.approx(0.2 + 0.05, rel=1e-5)
    assert float(tech.mac_energy_pj(32)) == pytest.approx(3.1 + 0.2, rel=1e-5)


def test_mac_energy_16bit_interpolation_by_hand():
    k = math.log(3.1 / 0.2) / math.log(32 / 8)  # log-log slope between Horowitz's 8/32-bit multipliers
    assert k == pytest.approx(2.0, abs=0.05)  # the square-of-width law
    mult16 = 0.2 * (16 / 8) ** k
    assert float(tech.mac_energy_pj(16)) == pytest.approx(mult16 + 0.1, rel=1e-5)  # + 32-bit accumulate
    # Both single-anchor square laws bracket it within 3%.
    assert mult16 == pytest.approx(0.2 * 4, rel=0.03)
    assert mult16 == pytest.approx(3.1 / 4, rel=0.03)


def test_mac_area_16bit_interpolation_by_hand():
    k = math.log(3495 / 282) / math.log(4)
    assert float(tech.mac_area_um2(16)) == pytest.approx(282 * 2**k + 137, rel=1e-5)
    assert float(tech.mac_area_um2(8)) == pytest.approx(282 + 67, rel=1e-5)


def test_sram_energy_reproduces_horowitz_within_15_percent():
    for kib, pj_per_64b in [(8, 10.0), (32, 20.0), (1024, 100.0)]:
        per_word = pj_per_64b * 16 / 64
        assert float(tech.sram_energy_pj_per_access(kib, 16)) == pytest.approx(per_word, rel=0.15), kib
        assert float(tech.sram_energy_pj_per_access(kib, 64)) == pytest.approx(pj_per_64b, rel=0.15), kib
    assert tech.SRAM_ENERGY_EXPONENT == pytest.approx(0.473, abs=0.005)


def test_rf_energy_anchor_is_one_mac_at_half_kilobyte():
    assert float(tech.rf_energy_pj_per_access(512)) == pytest.approx(float(tech.mac_energy_pj(16)), rel=1e-6)


def test_rf_energy_floor_for_tiny_rf():
    floor16 = tech.RF_FLOOR_PJ_PER_BIT * 16
    e8 = float(tech.rf_energy_pj_per_access(8))
    assert floor16 < e8 < 0.5 * float(tech.mac_energy_pj(16))
    # sqrt law above the floor: 4x capacity doubles the part above the floor.
    e128 = float(tech.rf_energy_pj_per_access(128))
    e512 = float(tech.rf_energy_pj_per_access(512))
    assert (e512 - floor16) == pytest.approx(2 * (e128 - floor16), rel=1e-5)


def test_energy_per_word_scales_linearly_with_word_bits():
    assert float(tech.rf_energy_pj_per_access(64, 32)) == pytest.approx(
        2 * float(tech.rf_energy_pj_per_access(64, 16)), rel=1e-6
    )
    assert float(tech.sram_energy_pj_per_access(256, 32)) == pytest.approx(
        2 * float(tech.sram_energy_pj_per_access(256, 16)), rel=1e-6
    )


def test_noc_energy_anchor_and_sqrt_law():
    mac16 = float(tech.mac_energy_pj(16))
    assert 16 * float(tech.noc_energy_pj_per_bit(168)) == pytest.approx(2 * mac16, rel=1e-6)
    assert float(tech.noc_energy_pj_per_bit(4 * 168)) == pytest.approx(
        2 * float(tech.noc_energy_pj_per_bit(168)), rel=1e-6
    )


def test_noc_energy_not_below_published_low_swing_wire_energy():
    # Park et al. DATE 2013: 40.4 fJ/bit/mm low-swing at 45 nm is a floor for moving a bit across the array.
    for pes in PES:
        span_mm = math.sqrt(pes) * tech.PE_PITCH_MM
        floor = tech.WIRE_ENERGY_LOW_SWING_PJ_PER_BIT_PER_MM * span_mm
        assert float(tech.noc_energy_pj_per_bit(pes)) > floor, pes


def test_dram_energy_inside_horowitz_range():
    assert 1300 / 8 <= tech.dram_energy_pj_per_byte() <= 2600 / 8


def test_areas_from_published_bit_areas():
    # RF: Aladdin register 5.98 um^2 at 40 nm -> 45 nm, plus 30% periphery.
    assert float(tech.rf_area_um2(1)) == pytest.approx(8 * 5.98 * (45 / 40) ** 2 * 1.3, rel=1e-5)
    # SRAM: Intel 45 nm 153 Mbit on 119 mm^2.
    assert float(tech.sram_area_mm2(153 * 128)) == pytest.approx(119.0, rel=1e-5)  # 153 Mbit = 153 x 128 KiB
    assert 4.0 < float(tech.sram_area_mm2(1024)) < 8.0  # 1 MiB at 45 nm: a few mm^2
    # Periphery overhead over the 0.346 um^2 6T cell is a fixed fraction, between 50% and 150%.
    assert 1.5 < tech.SRAM_AREA_UM2_PER_BIT / tech.SRAM_CELL_AREA_UM2 < 2.5


def test_noc_area_single_link_by_hand():
    # 16 bits, 1 link, 64 PEs: 16 tracks x 0.28 um x 0.8 mm + 16 x 64 x log2(2) muxes.
    wires = 16 * 0.28e-3 * math.sqrt(64) * tech.PE_PITCH_MM
    switches = 16 * 64 * 1 * tech.MUX2_AREA_UM2 / tech.STD_CELL_UTILIZATION * 1e-6
    assert float(tech.noc_area_mm2(16, 1, 64)) == pytest.approx(wires + switches, rel=1e-5)


def test_small_constants():
    assert 0.01 < tech.dma_area_mm2() < 1.0
    assert 0.0 < tech.leakage_w_per_mm2() < 0.1
    # Leakage of a die at the 75 mm^2 area limit must leave most of the 4 W power budget.
    assert 75 * tech.leakage_w_per_mm2() < 0.5 * 4.0
    assert tech.FREQ_MHZ_DEFAULT == 500.0
    assert tech.WORD_BITS_DEFAULT == 16


# --------------------------------------------------------------------------------------------------
# Monotonicity over the Table 1 grids
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fn, grid",
    [
        (tech.rf_energy_pj_per_access, L1_BYTES),
        (tech.rf_area_um2, L1_BYTES),
        (tech.sram_energy_pj_per_access, L2_KIB),
        (tech.sram_area_mm2, L2_KIB),
        (tech.noc_energy_pj_per_bit, PES),
        (tech.mac_energy_pj, [4, 8, 12, 16, 24, 32]),
        (tech.mac_area_um2, [4, 8, 12, 16, 24, 32]),
    ],
)
def test_strictly_increasing(fn, grid):
    values = np.asarray(fn(jnp.asarray(grid, dtype=jnp.float32)))
    assert np.all(np.diff(values) > 0), values


def test_noc_area_increasing_in_each_argument():
    width = np.asarray(tech.noc_area_mm2(jnp.asarray(NOC_WIDTH_BITS, dtype=jnp.float32), 16, 256))
    links = np.asarray(tech.noc_area_mm2(64, jnp.arange(1.0, 65.0) * 256 / 64, 256))
    pes = np.asarray(tech.noc_area_mm2(64, 16, jnp.asarray(PES, dtype=jnp.float32)))
    for values in (width, links, pes):
        assert np.all(np.diff(values) > 0), values


# --------------------------------------------------------------------------------------------------
# JAX: floats and arrays, jit, vmap, grad
# --------------------------------------------------------------------------------------------------
ALL_ARRAY_FNS = [
    (tech.mac_energy_pj, (16.0,)),
    (tech.mac_area_um2, (16.0,)),
    (tech.rf_energy_pj_per_access, (64.0, 16.0)),
    (tech.sram_energy_pj_per_access, (256.0, 16.0)),
    (tech.noc_energy_pj_per_bit, (256.0,)),
    (tech.rf_area_um2, (64.0,)),
    (tech.sram_area_mm2, (256.0,)),
    (tech.noc_area_mm2, (64.0, 16.0, 256.0)),
]


@pytest.mark.parametrize("fn, args", ALL_ARRAY_FNS)
def test_python_numbers_arrays_and_jit_agree(fn, args):
    eager_float = float(fn(*args))
    eager_int = float(fn(*(int(a) for a in args)))
    jitted = float(jax.jit(fn)(*(jnp.asarray(a) for a in args)))
    assert math.isfinite(eager_float) and eager_float > 0
    assert eager_int == pytest.approx(eager_float, rel=1e-6)
    assert jitted == pytest.approx(eager_float, rel=1e-6)


@pytest.mark.parametrize("fn, args", ALL_ARRAY_FNS)
def test_vmap_equals_python_loop(fn, args):
    scales = jnp.asarray([0.5, 1.0, 2.0, 4.0])
    batched = [jnp.asarray(a) * scales for a in args]
    vmapped = np.asarray(jax.vmap(fn)(*batched))
    looped = np.asarray([float(fn(*(float(b[i]) for b in batched))) for i in range(len(scales))])
    np.testing.assert_allclose(vmapped, looped, rtol=1e-6)


@pytest.mark.parametrize("fn, args", ALL_ARRAY_FNS)
def test_gradients_finite_and_positive(fn, args):
    grads = jax.grad(lambda *a: fn(*a), argnums=tuple(range(len(args))))(*args)
    for g in grads:
        assert math.isfinite(float(g)) and float(g) > 0, grads


def test_gradients_wrt_memory_sizes():
    def design_energy_and_area(l1_bytes, l2_kib):
        return (
            tech.rf_energy_pj_per_access(l1_bytes)
            + tech.sram_energy_pj_per_access(l2_kib)
            + tech.rf_area_um2(l1_bytes) * 1e-6
            + tech.sram_area_mm2(l2_kib)
        )

    for l1, l2 in [(8.0, 64.0), (64.0, 256.0), (1024.0, 4096.0)]:
        d_l1, d_l2 = jax.jit(jax.grad(design_energy_and_area, argnums=(0, 1)))(l1, l2)
        assert np.isfinite(d_l1) and np.isfinite(d_l2)
        assert d_l1 > 0 and d_l2 > 0


# --------------------------------------------------------------------------------------------------
# Sanity targets
# --------------------------------------------------------------------------------------------------
def test_largest_table1_point_busts_75_mm2():
    # Even with the cheapest NoCs (16 bits, PEs/64 links) the largest point is far over the limit.
    area = float(_total_area_mm2(4096, 1024, 4096, 16, 4096 // 64))
    assert area > 2 * 75.0, area


def test_mid_point_well_under_75_mm2():
    area = float(_total_area_mm2(256, 64, 256, 64, 16))
    assert 2.0 < area < 15.0, area


def test_smallest_table1_point_is_small():
    area = float(_total_area_mm2(64, 8, 64, 16, 1))
    assert 0.1 < area < 2.0, area


def test_energy_ordering_matches_eyeriss_within_3x():
    mac = float(tech.mac_energy_pj(16))
    rf = float(tech.rf_energy_pj_per_access(512))
    noc_168 = 16 * float(tech.noc_energy_pj_per_bit(168))
    noc_256 = 16 * float(tech.noc_energy_pj_per_bit(256))
    sram = float(tech.sram_energy_pj_per_access(256))
    dram = 2 * tech.dram_energy_pj_per_byte()
    ratios = {
        "rf": rf / mac,
        "noc@168": noc_168 / mac,
        "noc@256": noc_256 / mac,
        "sram": sram / mac,
        "dram": dram / mac,
    }
    eyeriss = {"rf": 1.0, "noc@168": 2.0, "noc@256": 2.0, "sram": 6.0, "dram": 200.0}
    msg = f"per-16-bit-word energy / MAC: {ratios}; Eyeriss: {eyeriss}"
    assert mac <= rf * 1.001 < noc_256 < sram < dram / 10, msg
    for name, ratio in ratios.items():
        assert eyeriss[name] / 3 <= ratio <= eyeriss[name] * 3, f"{name}: {msg}"
