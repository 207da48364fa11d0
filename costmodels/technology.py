"""45 nm technology figures for the accelerator template: energy per access and area.

The template (Explainable-DSE, Dave et al. ASPLOS 2023, Table 1) is an array of PEs, each with one
int16 MAC and a private register file (L1, bytes per PE), a shared SRAM global buffer (L2, KiB), four
per-operand NoCs (data width in bits, number of physical unicast links) and a DMA engine to off-chip DRAM.
The paper obtained its figures from Accelergy at 45 nm (Aladdin plug-in for logic, CACTI for SRAM). No
code of it is public, so this module rebuilds the figures from published 45 nm data:

* M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, p. 10-14,
  energy/area table at 45 nm, 0.9 V (integer add/multiply, SRAM 64-bit reads, DRAM).
* Y.-H. Chen, J. Emer, V. Sze, "Eyeriss: a spatial architecture for energy-efficient dataflow for CNNs",
  ISCA 2016, Table IV (and Chen et al., JSSC 2017): energy per access normalised to one MAC,
  RF (0.5 kB) 1x, PE-to-PE/NoC 2x, global buffer (100-300 kB) 6x, DRAM 200x (65 nm).
* Aladdin (Shao et al., ISCA 2014) 40 nm component tables, as shipped with Accelergy in
  github.com/Accelergy-Project/hwcomponents-library, hwcomponents_library/library/aladdin.py
  (register: 5.98 um^2 and 0.009 pJ per bit read; adder/multiplier leakage and area).
* Intel 45 nm 6T SRAM cell 0.346 um^2 and the 153 Mbit / 119 mm^2 45 nm SRAM test chip
  (M. Bohr, Intel press briefing Jan 2006; Mistry et al., IEDM 2007).
* NanGate 45 nm Open Cell Library (FreePDK45): NAND2_X1 0.798 um^2, DFF_X1 4.522 um^2.
* FreePDK45 design rules (Stine et al., MSE 2007): intermediate metal (metal4-6) pitch 0.28 um.
* S. Park et al., "40.4 fJ/bit/mm low-swing on-chip signaling ... mesh NoC in 45 nm SOI", DATE 2013.

Every function is written with ``jax.numpy`` only and no Python branching on values, so it accepts
Python floats and JAX arrays alike and can be jitted, vmapped and differentiated. Inputs are not
validated here (this is inside the model); validate design parameters at the spec boundary.

Units are in the names: ``_pj`` picojoule, ``_um2`` square micrometre, ``_mm2`` square millimetre,
``l1_bytes`` bytes per PE, ``l2_kib`` kibibytes, ``word_bits``/``width_bits`` bits.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

Array = jax.Array

__all__ = [
    "FREQ_MHZ_DEFAULT",
    "WORD_BITS_DEFAULT",
    "SRAM_ENERGY_EXPONENT",
    "SRAM_ENERGY_PJ_PER_64B_AT_1KIB",
    "dma_area_mm2",
    "dram_energy_pj_per_byte",
    "leakage_w_per_mm2",
    "mac_area_um2",
    "mac_energy_pj",
    "noc_area_mm2",
    "noc_energy_pj_per_bit",
    "rf_area_um2",
    "rf_energy_pj_per_access",
    "sram_area_mm2",
    "sram_energy_pj_per_access",
]

# --------------------------------------------------------------------------------------------------
# Operating point
# --------------------------------------------------------------------------------------------------
FREQ_MHZ_DEFAULT = 500.0  # Explainable-DSE Table 1 (p. 9): 500 MHz clock.
WORD_BITS_DEFAULT = 16  # Explainable-DSE Table 1 (p. 9): int16 data.

# --------------------------------------------------------------------------------------------------
# Arithmetic (Horowitz ISSCC 2014 table, 45 nm, 0.9 V)
# --------------------------------------------------------------------------------------------------
INT_MULT_ENERGY_PJ = {8: 0.2, 32: 3.1}  # Horowitz 2014: 8-bit / 32-bit integer multiply.
INT_MULT_AREA_UM2 = {8: 282.0, 32: 3495.0}  # Horowitz 2014: multiplier area column.
INT_ADD_ENERGY_PJ = {8: 0.03, 16: 0.05, 32: 0.1}  # Horowitz 2014: 8/16/32-bit integer add.
INT_ADD_AREA_UM2 = {8: 36.0, 16: 67.0, 32: 137.0}  # Horowitz 2014: adder area column.

# --------------------------------------------------------------------------------------------------
# Register file (L1)
# --------------------------------------------------------------------------------------------------
# Eyeriss (Chen et al. ISCA 2016, Table IV): a 0.5 kB RF access costs 1x a MAC. Eyeriss measured the
# ratios in 65 nm; we apply them to the 45 nm Horowitz MAC (assumption: ratios roughly node-independent).
RF_ANCHOR_BYTES = 512.0
RF_ANCHOR_MAC_MULTIPLE = 1.0
# Capacity law: energy per access ~ sqrt(capacity). A square array's word- and bit-lines grow with
# sqrt(bits); Horowitz's own SRAM points show it (8 KB -> 32 KB: 4x capacity, 10 -> 20 pJ = 2x).
RF_ENERGY_CAPACITY_EXPONENT = 0.5
# Floor for tiny RFs: reading the word's flip-flops costs something however small the RF is.
# Aladdin 40 nm register read 0.009 pJ/bit (hwcomponents-library aladdin.py, AladdinRegister),
# scaled to 45 nm by 45/40 (assumption: switched capacitance ~ feature size at equal Vdd).
_SCALE_40_TO_45_ENERGY = 45.0 / 40.0
# Assumption: ideal (feature size)^2 area scaling between the nodes; the Stillmaker & Baas (Integration
# 2017) tables used by hwcomponents would give ~1.4x instead of 1.27x.
_SCALE_40_TO_45_AREA = (45.0 / 40.0) ** 2
RF_FLOOR_PJ_PER_BIT = 0.009 * _SCALE_40_TO_45_ENERGY
# Bit area: Aladdin 40 nm register 5.98 um^2/bit (hwcomponents-library aladdin.py) scaled by
# (45/40)^2 -> 7.57 um^2; cross-check: NanGate 45 nm DFF_X1 is 4.522 um^2, the rest is the
# write-enable mux a register-file bit needs.
RF_BIT_AREA_UM2 = 5.98 * _SCALE_40_TO_45_AREA
# Periphery (read-mux tree + write decoder) as a fixed fraction of the bit array. Assumption: about one
# 2:1 mux per bit for the read tree (NanGate MUX2_X1 ~1.86 um^2, commonly reported, not re-verified
# here) is ~25% of a bit; rounded up to 30% for the write decoder and enables.
RF_PERIPHERY_FRACTION = 0.30


# --------------------------------------------------------------------------------------------------
# SRAM global buffer (L2)
# --------------------------------------------------------------------------------------------------
# Horowitz 2014: SRAM read of 64 bits costs 10 pJ (8 KB), 20 pJ (32 KB), 100 pJ (1 MB). KB read as KiB.
SRAM_ENERGY_ANCHORS_KIB_PJ_PER_64B = ((8.0, 10.0), (32.0, 20.0), (1024.0, 100.0))
# Area: Intel 45 nm 153 Mbit SRAM test chip on 119 mm^2 (Bohr, Intel, Jan 2006) -> 0.742 um^2 per bit
# (Mbit taken as 2^20 bits) including decoders, sense amps, redundancy and I/O; its 6T cell is 0.346 um^2,
# so the array efficiency is 47%. CACTI's area grows linearly with capacity for fixed width (hwcomponents
# scaling.cacti_depth_area), so area = bits x 0.742 um^2: the periphery overhead is the fixed fraction
# 0.742/0.346 - 1 = 114% of the cell area. The test chip's pads and test logic make this a little
# pessimistic for an embedded macro of a few MB; tiny arrays, where periphery dominates, cost more per bit
# (CACTI 7, 45 nm, 1 KiB scratchpad: 0.028 mm^2 = 3.4 um^2/bit, VLSIDA/OpenRAM issue #184), but the L2
# sizes of the design space are 64 KiB - 4 MiB.
SRAM_CELL_AREA_UM2 = 0.346
SRAM_TESTCHIP_AREA_MM2 = 119.0
SRAM_TESTCHIP_BITS = 153.0 * 2.0**20
SRAM_AREA_UM2_PER_BIT = SRAM_TESTCHIP_AREA_MM2 * 1e6 / SRAM_TESTCHIP_BITS

# --------------------------------------------------------------------------------------------------
# Off-chip DRAM
# --------------------------------------------------------------------------------------------------
# Horowitz 2014: a 64-bit DRAM access costs 1.3-2.6 nJ. We take the low end, 1.3 nJ / 8 B = 162.5 pJ/B:
# the DMA moves long sequential bursts (row-buffer hits, no random activates), which we read as the low
# end of the range (assumption); it also keeps DRAM:MAC (366x per 16-bit word) nearest Eyeriss' 200x, where the
# high end would give 733x.
DRAM_ENERGY_PJ_PER_64B = 1300.0

# --------------------------------------------------------------------------------------------------
# Network-on-chip
# --------------------------------------------------------------------------------------------------
# Eyeriss (Chen et al. ISCA 2016, Table IV): moving a 16-bit word over the array costs 2x a MAC, for its
# 168-PE array. Wire length to reach a PE of a square array grows with its side, so per-bit energy is
# scaled by sqrt(num_pes / 168) (assumption: fixed PE pitch, energy dominated by wire length).
NOC_ANCHOR_PES = 168.0
NOC_ANCHOR_MAC_MULTIPLE = 2.0
NOC_ANCHOR_WORD_BITS = 16.0
# Published lower bound for on-chip wire energy at 45 nm: low-swing signalling, 40.4 fJ/bit/mm
# (Park et al., DATE 2013, 45 nm SOI). Full-swing repeated wires cost several times more; the
# Eyeriss-anchored value above is checked against this floor in the tests.
WIRE_ENERGY_LOW_SWING_PJ_PER_BIT_PER_MM = 0.0404
# Wire pitch of FreePDK45 intermediate metal (metal4-6: 140 nm width + 140 nm space; FreePDK45 design
# rules as commonly reported, not re-verified here).
WIRE_PITCH_UM = 0.28
# PE pitch used to turn a PE count into a wire length. Assumption: 0.1 mm, i.e. a PE of ~0.01 mm^2
# (a 16-bit MAC, ~1100 um^2, plus a 64-128 B RF at ~10 um^2/bit and control).
PE_PITCH_MM = 0.1
# Switches: each unicast link is distributed to the PEs by a multistage (butterfly-like) network of
# 2:1 muxes, log2(2 * links) levels per PE input bit (one level, the PE's tap, when there is a single
# broadcast link). Assumption, as is the 2:1 mux area (NanGate MUX2_X1 ~1.86 um^2 = 2.33 NAND2_X1,
# commonly reported, not re-verified here) and the placement utilisation.
NAND2_AREA_UM2 = 0.798  # NanGate 45 nm OCL NAND2_X1.
MUX2_AREA_UM2 = 2.33 * NAND2_AREA_UM2
STD_CELL_UTILIZATION = 0.7  # assumption: typical standard-cell placement density.

# --------------------------------------------------------------------------------------------------
# DMA engine
# --------------------------------------------------------------------------------------------------
# Assumption: ~50k NAND2-equivalent gates (descriptor queue, address generators, bus/DRAM-controller
# front end) at NanGate NAND2_X1 area and 70% utilisation, plus 4 KiB of burst buffers at SRAM density.
# The DRAM PHY and pads are not counted (off the accelerator's area budget).
DMA_LOGIC_GATE_EQUIVALENTS = 50_000.0
DMA_BUFFER_BYTES = 4096.0

# --------------------------------------------------------------------------------------------------
# Leakage
# --------------------------------------------------------------------------------------------------
# Aladdin 40 nm characterisation (hwcomponents-library aladdin.py): 32-bit multiplier leaks 80 uW on
# 6350 um^2 (12.6 mW/mm^2), 32-bit adder 2.4 uW on 278 um^2 (8.6 mW/mm^2). We take 10 mW/mm^2 for the
# whole die. Assumption: SRAM in a low-leakage flavour leaks less than this and CACTI's high-performance
# 45 nm cells far more; 10 mW/mm^2 is the middle of the published logic figures.
LEAKAGE_W_PER_MM2 = 0.010


def _as_float(x: ArrayLike) -> Array:
    """x as a floating array: keeps a float input's dtype, promotes ints to the default float dtype."""
    return jnp.asarray(x, dtype=jnp.result_type(x, float))


def _power_law(x: ArrayLike, x0: float, y0: float, x1: float, y1: float) -> Array:
    """y = y0 * (x / x0) ** k through the two anchors (x0, y0), (x1, y1): log-log interpolation."""
    k = math.log(y1 / y0) / math.log(x1 / x0)
    return y0 * (_as_float(x) / x0) ** k


def _int_mult(bits: ArrayLike, table: dict[int, float]) -> Array:
    # Horowitz gives 8 and 32 bits only. An array multiplier has bits^2 partial-product cells, so we
    # interpolate in log-log between the two anchors. The fitted exponents confirm the square law:
    # energy 1.98, area 1.82. 16-bit multiply: 0.787 pJ, 993 um^2 (interpolated, not measured).
    return _power_law(bits, 8.0, table[8], 32.0, table[32])


def _int_add(bits: ArrayLike, table: dict[int, float]) -> Array:
    # Piecewise log-log interpolation through Horowitz's 8/16/32-bit adders (exact at the anchors).
    low = _power_law(bits, 8.0, table[8], 16.0, table[16])
    high = _power_law(bits, 16.0, table[16], 32.0, table[32])
    return jnp.where(_as_float(bits) <= 16.0, low, high)


def mac_energy_pj(bits: ArrayLike = WORD_BITS_DEFAULT) -> Array:
    """Energy of one integer MAC: a ``bits`` x ``bits`` multiply plus a ``2*bits`` accumulate add, pJ.

    Horowitz ISSCC 2014 (45 nm): multiply 0.2 pJ (8 b) / 3.1 pJ (32 b), add 0.03/0.05/0.1 pJ (8/16/32 b).
    The 16-bit multiply is interpolated (square-of-width law, fitted exponent 1.98): 16-bit MAC =
    0.787 + 0.1 = 0.887 pJ.
    """
    return _int_mult(bits, INT_MULT_ENERGY_PJ) + _int_add(2.0 * _as_float(bits), INT_ADD_ENERGY_PJ)


def mac_area_um2(bits: ArrayLike = WORD_BITS_DEFAULT) -> Array:
    """Area of one integer MAC (``bits`` multiplier + ``2*bits`` adder), um^2.

    Horowitz ISSCC 2014 area column: multiplier 282 / 3495 um^2 (8 / 32 b), adder 36/67/137 um^2.
    Same interpolation as :func:`mac_energy_pj` (fitted exponent 1.82): 16-bit MAC = 993 + 137 um^2.
    """
    return _int_mult(bits, INT_MULT_AREA_UM2) + _int_add(2.0 * _as_float(bits), INT_ADD_AREA_UM2)


def rf_energy_pj_per_access(l1_bytes: ArrayLike, word_bits: ArrayLike = WORD_BITS_DEFAULT) -> Array:
    """Energy to read or write one ``word_bits`` word of a per-PE register file of ``l1_bytes``, pJ.

    Law: E16(C) = E_floor + (E_mac16 - E_floor) * sqrt(C / 512 B), so that a 0.5 kB RF costs exactly one
    16-bit MAC (Eyeriss, Chen et al. ISCA 2016, Table IV) and a tiny RF tends to E_floor, the read of the
    word's own registers (Aladdin register 0.009 pJ/bit at 40 nm, scaled to 45 nm). The sqrt(capacity) law
    is the square-array bit/word-line law, matched by Horowitz's 8 KB -> 32 KB SRAM points. Per word the
    energy scales linearly with ``word_bits`` (more columns switched).
    """
    floor16 = RF_FLOOR_PJ_PER_BIT * 16.0
    anchor16 = RF_ANCHOR_MAC_MULTIPLE * mac_energy_pj(16)
    capacity = (_as_float(l1_bytes) / RF_ANCHOR_BYTES) ** RF_ENERGY_CAPACITY_EXPONENT
    return (floor16 + (anchor16 - floor16) * capacity) * (_as_float(word_bits) / 16.0)


def _sram_energy_fit() -> tuple[float, float]:
    """Least-squares power law E64(C) = a * C_kib ** k through Horowitz's three SRAM read energies.

    Returns (a, k): a = pJ per 64-bit read at 1 KiB, k = 0.473 (close to the sqrt law; the fit is within
    3% of all three anchors: 10.2 / 19.6 / 100.7 pJ at 8 KiB / 32 KiB / 1 MiB).
    """
    xs = [math.log(c) for c, _ in SRAM_ENERGY_ANCHORS_KIB_PJ_PER_64B]
    ys = [math.log(e) for _, e in SRAM_ENERGY_ANCHORS_KIB_PJ_PER_64B]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    k = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return math.exp(my - k * mx), k


SRAM_ENERGY_PJ_PER_64B_AT_1KIB, SRAM_ENERGY_EXPONENT = _sram_energy_fit()


def sram_energy_pj_per_access(l2_kib: ArrayLike, word_bits: ArrayLike = WORD_BITS_DEFAULT) -> Array:
    """Energy to read or write one ``word_bits`` word of a global-buffer SRAM of ``l2_kib`` KiB, pJ.

    E64 = a * l2_kib ** 0.473 (power law fitted to Horowitz ISSCC 2014: 64-bit reads of 8 KB 10 pJ,
    32 KB 20 pJ, 1 MB 100 pJ; see ``_sram_energy_fit``), per word = E64 * word_bits / 64.
    """
    e64 = SRAM_ENERGY_PJ_PER_64B_AT_1KIB * _as_float(l2_kib) ** SRAM_ENERGY_EXPONENT
    return e64 * _as_float(word_bits) / 64.0


def dram_energy_pj_per_byte() -> float:
    """Off-chip DRAM energy per byte moved, pJ: 1.3 nJ per 64-bit access (Horowitz ISSCC 2014, low end of
    1.3-2.6 nJ, chosen for streaming DMA bursts) / 8 bytes = 162.5 pJ/B."""
    return DRAM_ENERGY_PJ_PER_64B / 8.0


def noc_energy_pj_per_bit(num_pes: ArrayLike) -> Array:
    """Energy to deliver one bit from the global buffer to a PE over an operand NoC, pJ per bit.

    Eyeriss (Chen et al. ISCA 2016, Table IV): a 16-bit word over the 168-PE array costs 2x a MAC, i.e.
    2 * 0.887 / 16 = 0.111 pJ/bit at 45 nm; scaled with wire length ~ sqrt(num_pes / 168) (assumption:
    fixed PE pitch, wire-dominated energy).
    """
    per_bit_anchor = NOC_ANCHOR_MAC_MULTIPLE * mac_energy_pj(16) / NOC_ANCHOR_WORD_BITS
    return per_bit_anchor * jnp.sqrt(_as_float(num_pes) / NOC_ANCHOR_PES)


def rf_area_um2(l1_bytes: ArrayLike) -> Array:
    """Area of one PE's register file of ``l1_bytes`` bytes, um^2.

    bits x 7.57 um^2 (Aladdin 40 nm register, 5.98 um^2/bit, scaled (45/40)^2) x (1 + 0.30) periphery
    (read-mux tree and write decoder, assumption) = 9.84 um^2 per bit.
    """
    bits = 8.0 * _as_float(l1_bytes)
    return bits * RF_BIT_AREA_UM2 * (1.0 + RF_PERIPHERY_FRACTION)


def sram_area_mm2(l2_kib: ArrayLike) -> Array:
    """Area of a global-buffer SRAM of ``l2_kib`` KiB, mm^2.

    Linear in capacity (CACTI's depth law) at 0.742 um^2 per bit: the Intel 45 nm 153 Mbit / 119 mm^2 SRAM
    (0.346 um^2 6T cell, 47% array efficiency, i.e. periphery = 114% of the cell area). 1 MiB = 6.2 mm^2.
    """
    bits = _as_float(l2_kib) * 1024.0 * 8.0
    return bits * SRAM_AREA_UM2_PER_BIT * 1e-6


def noc_area_mm2(width_bits: ArrayLike, links: ArrayLike, num_pes: ArrayLike) -> Array:
    """Area of ONE operand NoC with ``links`` unicast links of ``width_bits`` bits to ``num_pes`` PEs, mm^2.

    wires:    width_bits * links tracks at the FreePDK45 intermediate-metal pitch (0.28 um), each spanning
              the array side sqrt(num_pes) * 0.1 mm (PE pitch assumption). Counted as if the tracks used
              the die area beneath them (conservative: no over-the-cell credit).
    switches: width_bits * num_pes * log2(2 * links) 2:1 mux bits (multistage distribution network,
              assumption) at ~1.86 um^2 each and 70% placement utilisation.
    Multiply by the number of NoCs (four in the template) at the call site.
    """
    width = _as_float(width_bits)
    n_links = _as_float(links)
    pes = _as_float(num_pes)
    span_mm = jnp.sqrt(pes) * PE_PITCH_MM
    wires_mm2 = width * n_links * (WIRE_PITCH_UM * 1e-3) * span_mm
    mux_bits = width * pes * jnp.log2(2.0 * n_links)
    switches_mm2 = mux_bits * MUX2_AREA_UM2 / STD_CELL_UTILIZATION * 1e-6
    return wires_mm2 + switches_mm2


def dma_area_mm2() -> float:
    """Area of the DMA engine / DRAM-controller front end, mm^2 (assumption, see DMA_* constants): 50k
    NAND2-eq at 0.798 um^2 / 0.7 utilisation + 4 KiB buffers at SRAM density = 0.081 mm^2."""
    logic_um2 = DMA_LOGIC_GATE_EQUIVALENTS * NAND2_AREA_UM2 / STD_CELL_UTILIZATION
    buffer_um2 = DMA_BUFFER_BYTES * 8.0 * SRAM_AREA_UM2_PER_BIT
    return (logic_um2 + buffer_um2) * 1e-6


def leakage_w_per_mm2() -> float:
    """Static power density at 45 nm, W/mm^2: 0.010 (Aladdin 40 nm multiplier 12.6 and adder 8.6 mW/mm^2,
    hwcomponents-library aladdin.py; a die-wide average, assumption)."""
    return LEAKAGE_W_PER_MM2
