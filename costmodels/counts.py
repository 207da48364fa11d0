"""Counts of things in an ``Arch`` are whole numbers.

``make_arch`` checks that every field is a finite positive number; a PE
count of 3.5 or 0.5 NoC links passes that check yet describes no hardware,
and the exact model would cost it anyway (3.5 PEs give a utilisation no
design reaches). ``check_counts`` is the boundary check for those fields,
run on every user-supplied arch by ``jaxdse`` (``map_network``,
``map_layer``, ``jaxdse.evaluate``, the CLI) before any work starts.

Counts: ``num_pes``, ``l1_bytes``, ``noc_width_bits``, ``noc_links``,
``noc_virtual``; the L2 holds a whole number of bytes (``l2_kib * 1024``).
Bandwidth, DMA setup and frequency are rates and may be fractional.
"""

from __future__ import annotations

import numpy as np

from costmodels.arch import Arch, ArchError

COUNT_FIELDS: tuple[str, ...] = ("num_pes", "l1_bytes", "noc_width_bits", "noc_links", "noc_virtual")
"""``Arch`` fields that count things (must be integers)."""


def _whole(x: np.ndarray) -> bool:
    return bool(np.all(np.abs(x - np.rint(x)) <= 1e-6 * np.maximum(1.0, np.abs(x))))


def check_counts(arch: Arch, source: str = "arch") -> Arch:
    """Raise ``ArchError`` naming the first count field that is not a whole number.

    Args:
        arch: A concrete (not traced) ``Arch``.
        source: Where the arch came from, the start of messages.

    Returns:
        ``arch`` unchanged.
    """
    for name in COUNT_FIELDS:
        v = np.asarray(getattr(arch, name), np.float64)
        if not _whole(v):
            shown = f"{float(v):g}" if v.ndim == 0 else "[" + ", ".join(f"{x:g}" for x in v) + "]"
            raise ArchError(f"{source}: field '{name}' expected a whole number (a count), found {shown}")
    l2_bytes = np.asarray(arch.l2_kib, np.float64) * 1024
    if not _whole(l2_bytes):
        raise ArchError(
            f"{source}: field 'l2_kib' expected a whole number of bytes (l2_kib * 1024), "
            f"found {float(arch.l2_kib):g} KiB = {float(l2_bytes):g} B"
        )
    return arch


__all__ = ["COUNT_FIELDS", "check_counts"]
