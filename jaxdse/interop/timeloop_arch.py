"""Timeloop architecture files <-> ``costmodels.Arch``.

Formats read: the ``subtree``/``local`` tree of architecture versions 0.2
and 0.3 (Timeloop v3 input formats, "Architecture",
https://timeloop.csail.mit.edu/previous_versions/timeloop-accelergy-v3/timeloop/input-formats/design/architecture;
examples: timeloop-accelergy-exercises ``exercises/timeloop/06-mapper-convlayer-eyeriss/arch/eyeriss-256.arch.yaml``,
``baseline_designs/example_designs/eyeriss_like/arch/eyeriss_like.yaml``) and the ``nodes`` list with
``!Container``/``!Component``/``!Parallel`` of version 0.4 (NVlabs/timeloop
``workspace/example_designs/example_designs/eyeriss_like/arch.yaml``). Written: version 0.3,
primitive Accelergy classes (DRAM, SRAM, regfile, intmac) and the buffer
attributes timeloop-model parses (NVlabs/timeloop ``src/model/buffer.cpp``
``ParseSpecs``: ``word-bits``/``datawidth``, ``block-size``, ``width``,
``depth``/``entries``/``sizeKB``, ``read_bandwidth``/``write_bandwidth``,
``multiple-buffering``, ``meshX``).

What maps to what (the template, Explainable-DSE Table 1):

* outermost storage level (one instance) <-> DRAM; its ``read_bandwidth``
  (words/cycle) x word bits <-> ``dram_mb_per_s`` at the clock. Timeloop
  limits reads and writes separately; jaxdse's DMA bandwidth is shared, so
  the written file allows both directions at the full bandwidth.
* storage levels with one instance below DRAM <-> L2 (``l2_kib``, capacities
  summed if several; jaxdse writes one ``GlobalBuffer`` with
  ``multiple-buffering: 2``, since jaxdse's L2 holds two copies of each tile,
  ``costmodels.model.L2_BUFFERS``).
* storage levels with one instance per MAC <-> L1 (``l1_bytes`` per PE,
  capacities summed: Eyeriss's ifmap/weights/psum scratchpads become one L1).
* the MAC count <-> ``num_pes``; ``global_cycle_seconds`` <-> ``freq_mhz``.
* per-operand NoCs and the DMA setup cost have no Timeloop counterpart:
  jaxdse writes them as ``jaxdse_*`` attributes of the GlobalBuffer
  (Timeloop and Accelergy ignore keys they do not know, per the page above)
  and the NoCs' combined width x links as the buffer's read/write bandwidth.

Dropped on reading (listed in ``TimeloopArch.dropped``): levels whose
instance count lies between 1 and the MAC count (e.g. Eyeriss's
DummyBuffer; their spatial fanouts fold into the one PE array), mesh
shapes (jaxdse's array is a count), on-chip bandwidths of foreign files,
per-datatype level partitioning, embedded mapping constraints, component
classes and energy/area attributes (jaxdse uses ``costmodels.technology``),
components that are neither storage nor MACs. Values a foreign file does
not give (NoCs, DMA setup, clock, DRAM bandwidth) take the defaults below
and are listed too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from costmodels import NOCS, Arch, ArchError, make_arch
from costmodels.arch import DMA_SETUP_CYCLES_DEFAULT, NOC_FIELDS
from jaxdse.interop.timeloop_io import (
    TimeloopError,
    as_list,
    dump_yaml,
    load_section,
    positive_int,
    positive_number,
    show,
)

LEVEL_NAMES: dict[str, str] = {"dram": "DRAM", "l2": "GlobalBuffer", "l1": "RegisterFile", "compute": "MACC"}
"""Component names jaxdse writes (and its mappings target)."""
WORD_BITS_DEFAULT = 16
"""Word size written when none is given and assumed when a file has none (int16, Table 1)."""
FREQ_MHZ_DEFAULT = 500.0
"""Clock assumed when a file gives no ``global_cycle_seconds`` (Table 1's 500 MHz)."""
NOC_DEFAULTS = {"noc_width_bits": 64.0, "noc_virtual": 8.0}
"""NoC width and virtual unicast assumed for foreign files (the ``explainable_default`` preset);
links = num_pes x 4 / 64 (Table-1 option i = 4), at least 1."""

_SIZE_KEYS = ("entries", "depth", "memory_depth", "sizeKB", "size")
_JAXDSE_PREFIX = "jaxdse_"


@dataclass(frozen=True)
class TimeloopArch:
    """An architecture read from Timeloop, with what could not be carried over.

    Attributes:
        arch: The jaxdse design.
        levels: Storage level name -> role (``dram``, ``l2``, ``l1``, ``fanout``), outer to inner.
        compute: Name of the MAC component.
        dropped: One sentence per thing that was dropped, merged or assumed.
    """

    arch: Arch
    levels: dict[str, str]
    compute: str
    dropped: tuple[str, ...]


@dataclass
class _Component:
    name: str
    cls: str
    attrs: dict  # own attributes over the inherited ones (Accelergy's inheritance)
    own: dict
    instances: int
    field: str  # where it was defined, for messages


# ----------------------------------------------------------------- writing
def _integral(field: str, value: float) -> int:
    if abs(value - round(value)) > 1e-6 or round(value) < 1:
        raise TimeloopError(
            f"write_arch: field '{field}' expected a positive whole number for Timeloop, found {value:g}"
        )
    return int(round(value))


def write_arch(arch: Arch, word_bits: int = WORD_BITS_DEFAULT, names: dict[str, str] | None = None) -> dict:
    """A Timeloop v0.3 architecture (``{"architecture": ...}``) for one design.

    Args:
        arch: One design (no batch axis).
        word_bits: Bits per Timeloop word (every level); jaxdse counts bytes.
        names: Component names by role (default ``LEVEL_NAMES``).
    """
    n = {**LEVEL_NAMES, **(names or {})}
    if not isinstance(arch, Arch) or np.ndim(arch.num_pes) != 0:
        raise TimeloopError(
            f"write_arch: field 'arch' expected one costmodels.Arch (no batch axis), found {show(arch)}"
        )
    d = arch.to_dict()
    pes = _integral("num_pes", d["num_pes"])
    l1_words = _integral("l1_bytes (in words)", d["l1_bytes"] * 8 / word_bits)
    l2_words = _integral("l2_kib (in words)", d["l2_kib"] * 1024 * 8 / word_bits)
    block = 4 if l2_words % 4 == 0 else 1
    dram_words_per_cycle = d["dram_mb_per_s"] / d["freq_mhz"] * 8 / word_bits
    width_links = [w * k for w, k in zip(d["noc_width_bits"], d["noc_links"])]
    glb_attrs: dict[str, Any] = {
        "depth": l2_words // block,
        "width": word_bits * block,
        "block-size": block,
        "word-bits": word_bits,
        "multiple-buffering": 2,
        # the NoCs out of the buffer as its port limits (Timeloop has no per-operand NoC)
        "read_bandwidth": sum(width_links[:3]) / word_bits,
        "write_bandwidth": width_links[3] / word_bits,
    }
    for f in NOC_FIELDS:
        for noc, v in zip(NOCS, d[f]):
            glb_attrs[f"{_JAXDSE_PREFIX}{f}_{noc}"] = v
    glb_attrs[f"{_JAXDSE_PREFIX}dma_setup_cycles"] = d["dma_setup_cycles"]
    dram_attrs = {
        "type": "LPDDR4",
        "width": word_bits * 4,  # buffer.cpp requires width == word-bits x block-size for DRAM
        "block-size": 4,
        "word-bits": word_bits,
        "read_bandwidth": dram_words_per_cycle,
        "write_bandwidth": dram_words_per_cycle,
    }
    rf_attrs = {"depth": l1_words, "width": word_bits, "block-size": 1, "word-bits": word_bits, "meshX": pes}
    pe = {
        "name": f"PE[0..{pes - 1}]",
        "local": [
            {"name": n["l1"], "class": "regfile", "attributes": rf_attrs},
            {"name": n["compute"], "class": "intmac", "attributes": {"datawidth": word_bits, "meshX": pes}},
        ],
    }
    chip = {"name": "chip", "local": [{"name": n["l2"], "class": "SRAM", "attributes": glb_attrs}], "subtree": [pe]}
    system = {
        "name": "system",
        "attributes": {"technology": "45nm", "global_cycle_seconds": 1.0 / (d["freq_mhz"] * 1e6)},
        "local": [{"name": n["dram"], "class": "DRAM", "attributes": dram_attrs}],
        "subtree": [chip],
    }
    return {"architecture": {"version": 0.3, "subtree": [system]}}


def dump_arch(arch: Arch, path: str | Path, word_bits: int = WORD_BITS_DEFAULT) -> Path:
    """Write ``write_arch(arch)`` to ``path`` (YAML)."""
    return dump_yaml(write_arch(arch, word_bits), path)


# ----------------------------------------------------------------- reading
_RANGE = re.compile(r"^(.*)\[(\d+)\.\.(\d+)\]$")


def is_jaxdse_template(src: str | Path | dict) -> bool:
    """Whether an architecture is one ``write_arch`` wrote for jaxdse's three-level
    template (it carries ``jaxdse_*`` attributes). Such a file reads back as the
    template (``read_arch``); any other is read level by level
    (``timeloop_hierarchy.load_design``)."""
    content, _, _ = load_section(src, "architecture", "Timeloop architecture")

    def has(node: Any) -> bool:
        if isinstance(node, dict):
            return any(str(k).startswith(_JAXDSE_PREFIX) or has(v) for k, v in node.items())
        return isinstance(node, list) and any(has(v) for v in node)

    return has(content)


def _split_name(source: str, field: str, name: Any) -> tuple[str, int]:
    """``PE[0..167]`` -> ("PE", 168); a plain name counts once."""
    if not isinstance(name, str) or not name.strip():
        raise TimeloopError(f"{source}: field '{field}.name' expected a name, found {show(name)}")
    m = _RANGE.match(name.strip())
    if not m:
        return name.strip(), 1
    lo, hi = int(m.group(2)), int(m.group(3))
    if hi < lo:
        raise TimeloopError(f"{source}: field '{field}.name' expected a range [lo..hi] with hi >= lo, found {name!r}")
    return m.group(1), hi - lo + 1


def _attributes(source: str, field: str, value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TimeloopError(f"{source}: field '{field}.attributes' expected a mapping, found {show(value)}")
    return value


def _mesh(source: str, field: str, spatial: Any) -> int:
    if spatial is None:
        return 1
    if not isinstance(spatial, dict):
        raise TimeloopError(f"{source}: field '{field}.spatial' expected {{meshX, meshY}}, found {show(spatial)}")
    return positive_int(source, f"{field}.spatial.meshX", spatial.get("meshX", 1)) * positive_int(
        source, f"{field}.spatial.meshY", spatial.get("meshY", 1)
    )


def _component(source: str, field: str, node: dict, mult: int, inherited: dict) -> _Component:
    name, n = _split_name(source, field, node.get("name"))
    own = _attributes(source, field, node.get("attributes"))
    if "instances" in own:  # buffer.cpp: an explicit instance count overrides the tree's
        inst = positive_int(source, f"{field}.attributes.instances", own["instances"])
    else:
        inst = mult * n * _mesh(source, field, node.get("spatial"))
    return _Component(name, str(node.get("class", "")), {**inherited, **own}, own, inst, field)


def _walk_tree(source: str, node: Any, field: str, mult: int, inherited: dict, out: list) -> None:
    """Version 0.2/0.3: ``subtree`` nodes multiply instances by their name range."""
    if not isinstance(node, dict):
        raise TimeloopError(f"{source}: field '{field}' expected a mapping with name/local/subtree, found {show(node)}")
    _, count = _split_name(source, field, node.get("name"))
    attrs = {**inherited, **_attributes(source, field, node.get("attributes"))}
    for i, comp in enumerate(as_list(source, f"{field}.local", node.get("local"))):
        f = f"{field}.local[{i}]"
        if not isinstance(comp, dict):
            raise TimeloopError(f"{source}: field '{f}' expected a component mapping, found {show(comp)}")
        out.append(_component(source, f, comp, mult * count, attrs))
    for i, sub in enumerate(as_list(source, f"{field}.subtree", node.get("subtree"))):
        _walk_tree(source, sub, f"{field}.subtree[{i}]", mult * count, attrs, out)


def _walk_nodes(source: str, nodes: Any, field: str, mult: int, inherited: dict, out: list) -> None:
    """Version 0.4: a ``!Container`` scales every later node of its list by its ``spatial`` mesh."""
    attrs = dict(inherited)
    for i, node in enumerate(as_list(source, field, nodes)):
        f = f"{field}[{i}]"
        tag = node.get("!") if isinstance(node, dict) else None
        if tag == "Container":
            mult *= _mesh(source, f, node.get("spatial"))
            attrs = {**attrs, **_attributes(source, f, node.get("attributes"))}
        elif tag == "Component":
            out.append(_component(source, f, node, mult, attrs))
        elif tag in ("Parallel", "Hierarchical"):
            _walk_nodes(source, node.get("nodes"), f"{f}.nodes", mult, attrs, out)
        elif tag != "Nothing":
            raise TimeloopError(
                f"{source}: field '{f}' expected a node tagged !Container, !Component, !Parallel or "
                f"!Hierarchical, found {show(node)}"
            )


def _word_bits(source: str, c: _Component, notes: list) -> int:
    for key in ("word-bits", "word_width", "datawidth"):
        if key in c.attrs:
            return positive_int(source, f"{c.field}.attributes.{key}", c.attrs[key])
    notes.append(f"{c.name}: no word-bits given; assumed {WORD_BITS_DEFAULT} (Timeloop's default word size)")
    return WORD_BITS_DEFAULT


def _capacity_bytes(source: str, c: _Component, notes: list) -> float:
    """Bytes per instance, as buffer.cpp sizes a level: entries, depth x block-size, or sizeKB."""
    bits = _word_bits(source, c, notes)

    def num(key: str) -> float:
        return positive_number(source, f"{c.field}.attributes.{key}", c.attrs[key])

    block = num("block-size") if "block-size" in c.attrs else num("n_words") if "n_words" in c.attrs else 1.0
    for key in _SIZE_KEYS:
        if key in c.attrs:
            if key == "sizeKB":
                return num(key) * 1024
            return num(key) * (block if key in ("depth", "memory_depth") else 1.0) * bits / 8
    raise TimeloopError(
        f"{source}: field '{c.field}.attributes' expected a size (one of {list(_SIZE_KEYS)}), found {show(c.attrs)}"
    )


def _is_compute(c: _Component) -> bool:
    return "mac" in c.cls.lower() or c.cls.lower() == "compute"


def _is_storage(c: _Component) -> bool:
    return not _is_compute(c) and ("dram" in c.cls.lower() or any(k in c.attrs for k in _SIZE_KEYS))


def read_arch(src: str | Path | dict) -> TimeloopArch:
    """A jaxdse design from a Timeloop architecture (file path or parsed dict).

    Raises:
        TimeloopError: naming the field, what was expected and what was found.
    """
    content, source, doc = load_section(src, "architecture", "Timeloop architecture")
    # v0.4 keeps global_cycle_seconds under a top-level 'variables' key
    variables = doc.get("variables") if isinstance(doc, dict) and isinstance(doc.get("variables"), dict) else {}
    if not isinstance(content, dict):
        raise TimeloopError(f"{source}: field 'architecture' expected a mapping, found {show(content)}")
    comps: list[_Component] = []
    if "subtree" in content:
        for i, node in enumerate(as_list(source, "architecture.subtree", content["subtree"])):
            _walk_tree(source, node, f"architecture.subtree[{i}]", 1, {}, comps)
    elif "nodes" in content:
        _walk_nodes(source, content["nodes"], "architecture.nodes", 1, {}, comps)
    else:
        raise TimeloopError(
            f"{source}: field 'architecture' expected 'subtree' (v0.2/v0.3) or 'nodes' (v0.4), "
            f"found keys {show(list(content))}"
        )
    notes: list[str] = []
    computes = [c for c in comps if _is_compute(c)]
    if not computes:
        raise TimeloopError(
            f"{source}: field 'architecture' expected a MAC component (class intmac, fpmac, ...), found none"
        )
    mac = computes[-1]
    pes = mac.instances
    storage = [c for c in comps if _is_storage(c)]
    for c in comps:
        if c not in storage and c is not mac:
            notes.append(f"{c.name} (class {c.cls or 'none'}): neither storage nor the innermost MAC; dropped")
    if not storage:
        raise TimeloopError(f"{source}: field 'architecture' expected storage levels (DRAM, buffers), found none")
    dram, rest = storage[0], storage[1:]
    if dram.instances != 1:
        raise TimeloopError(
            f"{source}: field '{dram.field}' expected the outermost level (DRAM) to have 1 instance, "
            f"found {dram.instances}"
        )
    if "dram" not in dram.cls.lower():
        notes.append(f"{dram.name} (class {dram.cls or 'none'}): outermost level, treated as the off-chip DRAM")
    levels: dict[str, str] = {dram.name: "dram"}
    prev = 1
    for c in rest:
        if c.instances < prev or c.instances > pes or c.name in levels:
            raise TimeloopError(
                f"{source}: field '{c.field}' expected a uniquely named level with an instance count between "
                f"the previous level's {prev} and the MAC count {pes}, found '{c.name}' with {c.instances}"
            )
        prev = c.instances
        levels[c.name] = "l2" if c.instances == 1 else "l1" if c.instances == pes else "fanout"
    by_role = {r: [c for c in rest if levels[c.name] == r] for r in ("l2", "l1", "fanout")}
    wanted = {"l2": "a shared on-chip buffer (1 instance)", "l1": f"a per-PE buffer ({pes} instances, one per MAC)"}
    for role, what in wanted.items():
        if not by_role[role]:
            raise TimeloopError(
                f"{source}: field 'architecture' expected {what} for the template's {role.upper()}, found none"
            )
    l2_bytes = sum(_capacity_bytes(source, c, notes) for c in by_role["l2"])
    l1_bytes = sum(_capacity_bytes(source, c, notes) for c in by_role["l1"])
    for role in ("l2", "l1"):
        if len(by_role[role]) > 1:
            names = ", ".join(c.name for c in by_role[role])
            notes.append(
                f"{names}: merged into one {role.upper()} (capacities summed; per-datatype partitioning dropped)"
            )
    for c in by_role["fanout"]:
        notes.append(
            f"{c.name} ({c.instances} instances): dropped (no level between L2 and the PEs; its spatial "
            f"fanout folds into the PE array)"
        )
    jx = {k[len(_JAXDSE_PREFIX) :]: v for k, v in by_role["l2"][0].own.items() if str(k).startswith(_JAXDSE_PREFIX)}
    freq = _freq(source, comps, variables, notes)
    dram_mb_per_s = _dram_bytes_per_cycle(source, dram, notes) * freq
    noc = _nocs(source, jx, pes, notes)
    if not jx:
        notes.append(
            "on-chip bandwidths, mesh shapes, component classes and energy/area attributes: dropped "
            "(jaxdse uses its own NoC model and 45 nm tables, costmodels/technology.py)"
        )
    mb = [c.name for c in by_role["l2"] if c.attrs.get("multiple-buffering", 1) != 2]
    if mb:
        notes.append(
            f"{', '.join(mb)}: multiple-buffering is not 2; jaxdse's L2 is double-buffered "
            f"(tiles must fit in half of it)"
        )
    if "dma_setup_cycles" in jx:
        dma = positive_number(source, "jaxdse_dma_setup_cycles", jx["dma_setup_cycles"], minimum=-1e-30)
    else:
        dma = DMA_SETUP_CYCLES_DEFAULT
        notes.append(f"DMA setup cost: not in Timeloop's format; assumed {DMA_SETUP_CYCLES_DEFAULT:g} cycles per burst")
    try:
        arch = make_arch(
            num_pes=pes,
            l1_bytes=l1_bytes,
            l2_kib=l2_bytes / 1024,
            dram_mb_per_s=dram_mb_per_s,
            dma_setup_cycles=dma,
            freq_mhz=freq,
            source=source,
            **noc,
        )
    except ArchError as e:
        raise TimeloopError(str(e)) from e
    return TimeloopArch(arch=arch, levels=levels, compute=mac.name, dropped=tuple(notes))


def _freq(source: str, comps: list[_Component], variables: dict, notes: list) -> float:
    for scope in [variables] + [c.attrs for c in comps]:
        if "global_cycle_seconds" in scope:
            cycle_s = positive_number(source, "global_cycle_seconds", scope["global_cycle_seconds"])
            return 1.0 / (cycle_s * 1e6)
    notes.append(f"clock: no global_cycle_seconds given; assumed {FREQ_MHZ_DEFAULT:g} MHz")
    return FREQ_MHZ_DEFAULT


def _dram_bytes_per_cycle(source: str, dram: _Component, notes: list) -> float:
    """read_bandwidth words per cycle, else bandwidth / 2 (buffer.cpp's rule), else one access of ``width`` bits."""
    a, bits = dram.attrs, _word_bits(source, dram, notes)
    for key, share in (("read_bandwidth", 1.0), ("bandwidth", 0.5)):
        if key in a:
            return positive_number(source, f"{dram.field}.attributes.{key}", a[key]) * share * bits / 8
    if "width" in a:
        width = positive_number(source, f"{dram.field}.attributes.width", a["width"])
    else:
        block = a.get("block-size", 1)
        width = bits * positive_number(source, f"{dram.field}.attributes.block-size", block)
    notes.append(f"{dram.name}: no bandwidth given (unlimited in Timeloop); assumed one {width:g}-bit access per cycle")
    return width / 8


def _nocs(source: str, jx: dict, pes: int, notes: list) -> dict[str, list[float]]:
    assumed = {
        "noc_width_bits": NOC_DEFAULTS["noc_width_bits"],
        "noc_links": float(max(1, pes * 4 // 64)),
        "noc_virtual": NOC_DEFAULTS["noc_virtual"],
    }
    out, missing = {}, False
    for f in NOC_FIELDS:
        vals = []
        for noc in NOCS:
            key = f"{f}_{noc}"
            if key in jx:
                vals.append(positive_number(source, f"{_JAXDSE_PREFIX}{key}", jx[key]))
            else:
                vals.append(assumed[f])
                missing = True
        out[f] = vals
    if missing:
        notes.append(
            "per-operand NoCs: not in Timeloop's format; assumed "
            + ", ".join(f"{f}={assumed[f]:g}" for f in NOC_FIELDS)
            + " (explainable_default's width and virtual unicast, links = PEs x 4 / 64)"
        )
    return out
