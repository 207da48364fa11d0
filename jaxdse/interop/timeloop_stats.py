"""Timeloop's ``timeloop-model.stats.txt`` / ``timeloop-mapper.stats.txt`` as plain data.

The file is the text report written by NVlabs/timeloop (``src/model/topology.cpp``
prints "Buffer and Arithmetic Levels", then each level's ``SPECS``, ``MAPPING``
and ``STATS``, then "Networks", "Operational Intensity Stats" and "Summary
Stats"; ``src/model/buffer.cpp`` and ``src/model/arithmetic.cpp`` print the
level blocks). Timeloop prints the levels innermost first: ``Level 0`` is the
arithmetic (MAC) level and the highest index is the outermost storage (DRAM).
Levels whose stats are all zero are left out when ``TIMELOOP_HIDE_INCONSEQUENTIAL_STATS``
is set (the exercises' ``top.yaml.jinja2`` sets it), so the level indices have
gaps; those levels (``inter_*_spatial`` dummies) are still named in the
operational-intensity section and are returned as ``hidden_levels``.

``read_stats`` returns storage levels **outermost first** (the reverse of the
file) and keeps every numeric field of the file: keys are the printed labels in
snake case with their unit appended (``Energy (per-scalar-access) : 0.23 pJ``
-> ``energy_per_scalar_access_pj``; ``100.00%`` -> ``..._percent``), ``-``
(no limit / not applicable) reads as ``None``, and ``Instances : 168 (14*12)``
as ``instances`` 168 with ``mesh_x`` 14 and ``mesh_y`` 12 (Timeloop prints
meshX*meshY). Counts are per instance unless the key says ``total`` or
``per_cluster``; totals over the level are per-instance x ``utilized_instances_max``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jaxdse.interop.timeloop_io import TimeloopError

ORDER_NOTE = (
    "levels are outermost first (DRAM first); the stats file prints them innermost first "
    "as Level 0 (arithmetic) .. Level n (outermost)"
)

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_VALUE = re.compile(rf"^({_NUMBER})\s*(%|[A-Za-z^/0-9]+(?:/[A-Za-z]+)?)?$")
_INSTANCES = re.compile(r"^(\d+)\s*\((\d+)\*(\d+)\)$")
_LOOP = re.compile(r"^for (\w+) in \[(\d+):(\d+)(?:,(\d+))?\)(?: \(Spatial-([XY])\))?$")
_LEVEL = re.compile(r"^Level (\d+)$")
_NAME = re.compile(r"^=== (.+) ===$")
_UNITS = {
    "pJ": "pj",
    "fJ": "fj",
    "uJ": "uj",
    "um^2": "um2",
    "mm^2": "mm2",
    "words/cycle": "words_per_cycle",
    "%": "percent",
}


def snake(label: str) -> str:
    """A printed label as a key: ``Scalar reads (per-instance)`` -> ``scalar_reads_per_instance``."""
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def _value(where: str, label: str, text: str) -> tuple[str, Any]:
    """``(key, value)`` of one ``label : text`` field; the unit goes into the key."""
    key, text = snake(label), text.strip()
    if text == "-":
        return key, None
    m = _VALUE.match(text)
    if not m:
        return key, text  # a word (Technology: SRAM, energy source: ERT)
    num, unit = m.group(1), m.group(2)
    value: int | float = int(num) if re.fullmatch(r"[-+]?\d+", num) else float(num)
    if unit:
        if unit not in _UNITS:
            raise TimeloopError(f"{where}: expected a value in one of the units {sorted(_UNITS)}, found {text!r}")
        key = f"{key}_{_UNITS[unit]}"
    return key, value


class _Lines:
    """The file's lines with a cursor; messages name the file and line number."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.i = 0

    def where(self, i: int | None = None) -> str:
        return f"{self.path}:{(self.i if i is None else i) + 1}"

    def peek(self) -> str | None:
        return self.lines[self.i].strip() if self.i < len(self.lines) else None

    def next(self) -> str:
        line = self.peek()
        if line is None:
            raise TimeloopError(f"{self.path}: expected more lines, found the end of the file")
        self.i += 1
        return line

    def skip_blank(self) -> None:
        while self.peek() == "":
            self.i += 1

    def expect(self, pattern: str | re.Pattern, what: str) -> re.Match:
        self.skip_blank()
        where, line = self.where(), self.next()
        m = re.match(pattern, line) if isinstance(pattern, str) else pattern.match(line)
        if not m:
            raise TimeloopError(f"{where}: expected {what}, found {line!r}")
        return m

    def underline(self) -> None:
        self.expect(r"^-+$", "a line of dashes under the heading")

    def fields(self, out: dict, sep: str = ":", names: bool = False) -> None:
        """``label : value`` lines (until a blank line or a line without ``sep``) into ``out``.

        ``names``: the labels are level names, kept as printed (no snake case, no unit in the key).
        """
        while (line := self.peek()) and sep in line and not line.endswith(":"):
            where = self.where()
            self.i += 1
            label, _, text = line.partition(sep)
            if label.strip() == "Instances" and (m := _INSTANCES.match(text.strip())):
                out["instances"], out["mesh_x"], out["mesh_y"] = (int(g) for g in m.groups())
                continue
            key, value = _value(where, label, text)
            if names:
                key = label.strip()
            if key in out:
                raise TimeloopError(f"{where}: expected each field once in its block, found {label.strip()!r} again")
            out[key] = value


def _loops(src: _Lines) -> list[dict]:
    src.expect(r"^Loop nest:$", "'Loop nest:'")
    loops = []
    while (line := src.peek()) and line.startswith("for "):
        where = src.where()
        m = _LOOP.match(src.next())
        if not m:
            raise TimeloopError(
                f"{where}: expected a loop 'for D in [a:b)' (optionally '(Spatial-X|Y)'), found {line!r}"
            )
        dim, lo, hi, residual, axis = m.groups()
        loop: dict[str, Any] = {"dim": dim, "start": int(lo), "end": int(hi), "spatial": axis}
        if residual is not None:
            loop["residual_end"] = int(residual)
        loops.append(loop)
    return loops


def _level(src: _Lines, index: int) -> dict:
    name = src.expect(_NAME, "'=== <level name> ==='").group(1)
    src.expect(r"^SPECS$", "'SPECS'")
    src.underline()
    specs: dict[str, Any] = {}
    src.fields(specs)
    level: dict[str, Any] = {"name": name, "level_index": index, "specs": specs}
    src.skip_blank()
    if src.peek() == "MAPPING":  # storage levels; the arithmetic level has none
        src.next()
        src.underline()
        level["loops"] = _loops(src)
    src.expect(r"^STATS$", "'STATS'")
    src.underline()
    stats: dict[str, Any] = {}
    src.fields(stats)
    level["stats"] = stats
    if "loops" in level:
        tensors: dict[str, dict] = {}
        while (line := src.peek()) and re.fullmatch(r"\w+:", line):
            tensor = src.next()[:-1]
            tensors[tensor] = {}
            src.fields(tensors[tensor])
        level["tensors"] = tensors
    return level


def _named_blocks(src: _Lines, stop: str) -> list[dict]:
    """``=== name ===`` blocks of fields up to the heading ``stop``."""
    blocks = []
    while True:
        src.skip_blank()
        line = src.peek()
        if line is None or line == stop:
            return blocks
        m = src.expect(_NAME, f"'=== <name> ===' or the heading {stop!r}")
        block: dict[str, Any] = {"name": m.group(1)}
        src.fields(block)
        blocks.append(block)


_NETWORK = re.compile(r"^Network (\d+)$")
_NET_FIELD = re.compile(rf"^([A-Za-z][^:@]*?)\s*:\s*({_NUMBER})$")


def _network_blocks(src: _Lines, stop: str) -> list[dict]:
    """timeloop-model's ``Network <n>`` blocks (``A <==> B``, SPECS, STATS per tensor) up to ``stop``.

    Each block: ``{"index", "name"`` (``"DRAM <==> L2"``), ``"tensors"``: tensor ->
    its numeric STATS fields (``link_transfers``, ``spatial_reductions``,
    ``ingresses``, ``fanout``, ``multicast_factor``, ...)``}``; the per-multicast
    breakdown lines (``@multicast 1 @scatter 1: ...``) and the SPECS are skipped.
    """
    blocks: list[dict] = []
    while True:
        src.skip_blank()
        line = src.peek()
        if line is None or line == stop:
            return blocks
        m = src.expect(_NETWORK, f"'Network <n>' or the heading {stop!r}")
        src.underline()
        block: dict[str, Any] = {"index": int(m.group(1)), "name": src.next(), "tensors": {}}
        tensor = None
        while (line := src.peek()) is not None and line != stop and not _NETWORK.match(line):
            src.next()
            if re.fullmatch(r"\w+:", line):
                tensor = block["tensors"].setdefault(line[:-1], {})
            elif tensor is not None and (f := _NET_FIELD.match(line)):
                num = f.group(2)
                tensor[snake(f.group(1))] = int(num) if re.fullmatch(r"[-+]?\d+", num) else float(num)
        blocks.append(block)


def _summary(src: _Lines) -> dict:
    out: dict[str, Any] = {}
    src.fields(out)
    m = src.expect(r"^Computes = (\d+)$", "'Computes = <count>'")
    out["computes"] = int(m.group(1))
    m = src.expect(r"^([fp])J/Compute$", "'fJ/Compute' or 'pJ/Compute'")
    table: dict[str, float] = {}
    src.fields(table, sep="=", names=True)
    out[f"energy_per_compute_{m.group(1)}j"] = table
    return out


def parse_stats(text: str, source: str = "<text>") -> dict:
    """``read_stats`` on text already read (``source`` names it in messages)."""
    src = _Lines(source, text)
    src.expect(r"^Buffer and Arithmetic Levels$", "the heading 'Buffer and Arithmetic Levels'")
    src.underline()
    printed: list[dict] = []
    while True:
        src.skip_blank()
        if src.peek() == "Networks":
            break
        index = int(src.expect(_LEVEL, "'Level <n>' or the heading 'Networks'").group(1))
        src.underline()
        printed.append(_level(src, index))
    if not printed or "loops" in printed[0]:
        raise TimeloopError(f"{source}: expected 'Level 0' to be the arithmetic level (no MAPPING), found none")
    src.next()
    src.underline()
    src.skip_blank()
    if src.peek() is not None and _NETWORK.match(src.peek()):  # timeloop-model v3.0.3 prints its networks
        networks = _network_blocks(src, "Operational Intensity Stats")
    else:
        networks = _named_blocks(src, "Operational Intensity Stats")
    src.next()
    src.underline()
    intensity: dict[str, Any] = {}
    src.fields(intensity)
    per_level = _named_blocks(src, "Summary Stats")
    src.next()
    src.underline()
    summary = _summary(src)
    src.skip_blank()
    if src.peek() is not None:
        raise TimeloopError(f"{src.where()}: expected the end of the file after the summary, found {src.peek()!r}")
    storage = {lv["name"]: lv for lv in printed[1:]}
    hidden = []
    for block in per_level:
        name = block.pop("name")
        if name in storage:
            storage[name].update(block)
        elif block:
            raise TimeloopError(
                f"{source}: expected operational-intensity stats only for printed levels, found {name!r}"
            )
        else:
            hidden.append(name)
    return {
        "order": ORDER_NOTE,
        "levels": list(reversed(printed[1:])),
        "arithmetic": printed[0],
        "hidden_levels": list(reversed(hidden)),
        "networks": networks,
        "operational_intensity": intensity,
        "summary": summary,
    }


def read_stats(path: str | Path) -> dict:
    """A Timeloop stats file as plain data (dicts, lists, numbers, strings, None).

    Returns:
        ``{"order", "levels", "arithmetic", "hidden_levels", "networks",
        "operational_intensity", "summary"}``. ``levels``: storage levels,
        outermost first, each ``{"name", "level_index"`` (Timeloop's ``Level n``),
        ``"specs"`` (``word_bits``, ``block_size``, ``cluster_size``, ``instances``,
        ``mesh_x``, ``mesh_y``, ``read_bandwidth``, ``write_bandwidth``, ... as
        printed), ``"loops"`` (the level's loop nest, outermost first, ``end``
        exclusive, ``spatial`` ``"X"``/``"Y"``/None), ``"stats"`` (``cycles``,
        ``bandwidth_throttling``), ``"tensors"`` (data-space name -> its fields:
        ``utilized_capacity``, ``utilized_instances_max``, ``utilized_clusters_max``,
        ``scalar_reads_per_instance``, ``scalar_fills_per_instance``,
        ``scalar_updates_per_instance``, ``temporal_reductions_per_instance``,
        ``address_generations_per_cluster``, ``energy_per_scalar_access_pj``, ...),
        ``"total_scalar_accesses"`` and ``"op_per_byte"`` (summed over tensors and
        instances, from the operational-intensity section)}``. ``arithmetic``: the
        MAC level (``specs.instances``, ``stats.computes_total``, ``stats.cycles``,
        ``stats.energy_total_pj``). ``summary``: ``cycles``, ``energy_uj``,
        ``utilization_percent``, ``computes`` and the per-compute energy table
        (``energy_per_compute_fj`` or ``_pj``: level name -> energy, with ``Total``).

    Raises:
        TimeloopError: naming the file and line, what was expected and what was found.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TimeloopError(f"{p}: expected a readable UTF-8 Timeloop stats file, found error: {e}") from e
    return parse_stats(text, str(p))
