"""Timeloop architecture, mapping and problem files as neutral plain data (any depth of hierarchy).

Unlike ``timeloop_arch`` / ``timeloop_mapping``, which fold a Timeloop design
into jaxdse's three-level template, this module keeps every level Timeloop
sees, so a general-hierarchy cost model can be checked against Timeloop's
own statistics (``timeloop_stats.read_stats``).

Architectures:

* v0.4 ``nodes:`` lists (``!Container``, ``!Component``, ``!Parallel``,
  ``!Nothing``) are linearised as timeloopfe does before calling Timeloop
  (compare the exercises' ``parsed-processed-input.yaml``): components in
  list order, outermost first (``!Parallel`` siblings one after another, in
  their listed order); a ``!Container`` with ``spatial: {meshX, meshY}``
  becomes a storage level ``inter_<name>_spatial`` of class ``dummy_storage``
  (depth 1, width 1, datawidth 1; timeloopfe adds a constraint bypassing
  every data space there, left as ``arch_keep``/``arch_bypass`` None here) with the instance
  count *above* the container, and multiplies the instances, meshX and
  meshY of every later node. Container ``attributes`` are inherited by later
  nodes. ``!Nothing`` nodes are skipped (timeloopfe drops them).
* v0.2/v0.3 ``subtree``/``local`` trees: instances from the name ranges
  (``PE[0..167]``), meshX from the ``meshX`` attribute (meshY = instances /
  meshX); ``architecture_constraints`` next to the architecture (as in
  ``parsed-processed-input.yaml``) give the keep/bypass constraints.

Per storage level, the buffer specs follow NVlabs/timeloop
``src/model/buffer.cpp`` ``ParseSpecs``: word bits = ``word_bits`` |
``word_width`` | ``datawidth`` (else 16, ``kDefaultWordBits``); with ``width``
given, block size = ``width / word_bits / cluster_size`` when only the
cluster size is given, the cluster size = ``width / (word_bits x block_size)``
when only the block size is, else block size = ``width / word_bits`` and
cluster size 1; size in words = ``entries`` | ``depth x block_size`` |
``sizeKB x 8192 / word_bits``.

Fanout: level ``i``'s ``fanout`` is the spatial fan-out from it to the next
inner level (or to the compute units for the innermost storage):
``x = meshX(inner) / meshX(i)``, ``y = meshY(inner) / meshY(i)``,
``total = instances(inner) / instances(i)``.

Mappings (``mapping:`` lists of directives, Timeloop's own output format):
per target, temporal factors ``{dim: factor}`` and the permutation string as
written (innermost first); spatial factors split into X and Y by ``split``:
the dimension at index ``k`` of the permutation (innermost first, missing
dimensions appended in problem order) goes to X if ``k < split``, else to Y,
and ``split`` defaults to the number of dimensions (all X) (NVlabs/timeloop
``src/mapping/parser.cpp``, ``ParseAndConstruct``: ``user_split`` defaults to
``NumFlattenedDimensions``; ``loop.spacetime_dimension = idim < split ? SpaceX
: SpaceY``; commit 4cf6d4c). Loops of a spatial directive at target ``T`` sit
inside T's temporal loops and fan out from T to the next inner level.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jaxdse.interop.timeloop_arch import _attributes, _split_name
from jaxdse.interop.timeloop_io import TimeloopError, as_list, load_section, positive_int, show

DEFAULT_WORD_BITS = 16
"""Timeloop's ``Specs::kDefaultWordBits`` (buffer.cpp, arithmetic.cpp)."""
_FACTOR = re.compile(r"([A-Za-z_]+)\s*=?\s*(\d+)(?:,(\d+))?")
_COMPUTE_CLASSES = ("intmac", "fpmac", "mac", "compute")


def _is_compute(cls: str) -> bool:
    c = cls.lower()
    return any(k in c for k in _COMPUTE_CLASSES) and "storage" not in c


def _constraint_lists(source: str, field: str, node: dict) -> dict[str, list[str]]:
    cons = node.get("constraints") or {}
    ds = cons.get("dataspace") or {} if isinstance(cons, dict) else {}
    if not isinstance(ds, dict):
        raise TimeloopError(f"{source}: field '{field}.constraints.dataspace' expected keep/bypass, found {show(ds)}")
    return {
        k: None if ds.get(k) is None else [str(x) for x in as_list(source, f"{field}.constraints.dataspace.{k}", ds[k])]
        for k in ("keep", "bypass")
    }


def _entry(name: str, cls: str, attrs: dict, instances: int, mesh_x: int, mesh_y: int, field: str) -> dict:
    return {
        "name": name,
        "class": cls,
        "attrs": attrs,
        "instances": instances,
        "mesh_x": mesh_x,
        "mesh_y": mesh_y,
        "field": field,
        "arch_keep": None,
        "arch_bypass": None,
    }


def _walk_nodes(source: str, nodes: Any, field: str, state: dict, out: list) -> None:
    for i, node in enumerate(as_list(source, field, nodes)):
        f = f"{field}[{i}]"
        tag = node.get("!") if isinstance(node, dict) else None
        if tag == "Container":
            name = str(node.get("name"))
            spatial = node.get("spatial")
            state["attrs"] = {**state["attrs"], **_attributes(source, f, node.get("attributes"))}
            if spatial is not None:
                if not isinstance(spatial, dict):
                    raise TimeloopError(
                        f"{source}: field '{f}.spatial' expected {{meshX, meshY}}, found {show(spatial)}"
                    )
                mx = positive_int(source, f"{f}.spatial.meshX", spatial.get("meshX", 1))
                my = positive_int(source, f"{f}.spatial.meshY", spatial.get("meshY", 1))
                dummy = _entry(
                    f"inter_{name}_spatial",
                    "dummy_storage",
                    {"width": 1, "depth": 1, "datawidth": 1},
                    state["n"],
                    state["x"],
                    state["y"],
                    f,
                )
                dummy["dummy"] = True
                out.append(dummy)
                state["n"] *= mx * my
                state["x"] *= mx
                state["y"] *= my
        elif tag == "Component":
            name, count = _split_name(source, f, node.get("name"))
            if count != 1:
                raise TimeloopError(f"{source}: field '{f}.name' expected a plain name in a v0.4 file, found {name!r}")
            e = _entry(
                name,
                str(node.get("class", "")),
                {**state["attrs"], **_attributes(source, f, node.get("attributes"))},
                state["n"],
                state["x"],
                state["y"],
                f,
            )
            if node.get("subclass"):
                e["subclass"] = str(node["subclass"])
            lists = _constraint_lists(source, f, node)
            e["arch_keep"], e["arch_bypass"] = lists["keep"], lists["bypass"]
            out.append(e)
        elif tag in ("Parallel", "Hierarchical"):
            _walk_nodes(source, node.get("nodes"), f"{f}.nodes", state, out)
        elif tag != "Nothing":
            raise TimeloopError(
                f"{source}: field '{f}' expected a node tagged !Container, !Component, !Parallel, "
                f"!Hierarchical or !Nothing, found {show(node)}"
            )


def _walk_tree(source: str, node: Any, field: str, mult: int, inherited: dict, out: list) -> None:
    if not isinstance(node, dict):
        raise TimeloopError(f"{source}: field '{field}' expected a mapping with name/local/subtree, found {show(node)}")
    _, count = _split_name(source, field, node.get("name"))
    attrs = {**inherited, **_attributes(source, field, node.get("attributes"))}
    for i, comp in enumerate(as_list(source, f"{field}.local", node.get("local"))):
        f = f"{field}.local[{i}]"
        if not isinstance(comp, dict):
            raise TimeloopError(f"{source}: field '{f}' expected a component mapping, found {show(comp)}")
        name, n = _split_name(source, f, comp.get("name"))
        own = _attributes(source, f, comp.get("attributes"))
        a = {**attrs, **own}
        inst = mult * count * n
        mx = positive_int(source, f"{f}.attributes.meshX", a.get("meshX", 1))  # inherited as Accelergy does
        if inst % mx:
            raise TimeloopError(f"{source}: field '{f}.attributes.meshX' expected a divisor of {inst}, found {mx}")
        e = _entry(name, str(comp.get("class", "")), a, inst, mx, inst // mx, f)
        if comp.get("subclass"):
            e["subclass"] = str(comp["subclass"])
        if e["class"] == "dummy_storage":
            e["dummy"] = True
        out.append(e)
    for i, sub in enumerate(as_list(source, f"{field}.subtree", node.get("subtree"))):
        _walk_tree(source, sub, f"{field}.subtree[{i}]", mult * count, attrs, out)


def _specs(source: str, e: dict) -> dict:
    """Buffer specs as NVlabs/timeloop src/model/buffer.cpp ParseSpecs derives them."""
    a, f = e["attrs"], e["field"]

    def get(*keys: str) -> Any:
        for k in keys:
            for kk in (k, k.replace("_", "-")):
                if kk in a:
                    return a[kk]
        return None

    def whole(key: str, v: Any) -> int | None:
        return None if v is None else positive_int(source, f"{f}.attributes.{key}", v)

    word_bits = whole("datawidth", get("word_bits", "word_width", "datawidth")) or DEFAULT_WORD_BITS
    block = whole("block_size", get("block_size", "n_words"))
    cluster = whole("cluster_size", get("cluster_size"))
    width = whole("width", get("width", "memory_width", "data_storage_width"))
    if width is not None:
        if block is not None and cluster is None:
            cluster = width // (word_bits * block)
        elif block is None:
            block = width // (cluster or 1) // word_bits
        if block < 1 or width % (word_bits * block):
            raise TimeloopError(
                f"{source}: field '{f}.attributes.width' expected a multiple of word bits x block size "
                f"({word_bits} x {block}), found {width}"
            )
    block, cluster = block or 1, cluster or 1
    depth = whole("depth", get("depth", "memory_depth", "data_storage_depth"))
    entries = whole("entries", get("entries"))
    size_kb = get("sizeKB")
    size = entries if entries is not None else depth * block if depth is not None else None
    if size is None and size_kb is not None:
        size = int(size_kb * 1024 * 8 // word_bits)
    out: dict[str, Any] = {
        "depth": depth,
        "width": width,
        "block_size": block,
        "cluster_size": cluster,
        "word_bits": word_bits,
        "datawidth": get("datawidth"),
        "size_words": size,
    }
    for key in ("read_bandwidth", "write_bandwidth", "shared_bandwidth", "multiple_buffering"):
        out[key] = get(key)
    return out


def read_arch_tree(src: str | Path | dict) -> dict:
    """Storage levels (outermost first) and the compute level of a Timeloop architecture.

    Returns:
        ``{"storage": [...], "compute": {...}}``; each storage level has ``name``,
        ``class`` (and ``subclass``), ``dummy`` (a container's spatial level),
        ``instances``, ``mesh_x``, ``mesh_y``, ``fanout`` (``x``, ``y``, ``total``,
        ``to``: to the next inner level), the specs (see the module docstring) and
        ``arch_keep``/``arch_bypass`` (the constraints' data-space lists, None if not
        given). ``compute``: ``name``, ``class``, ``instances``, ``mesh_x``, ``mesh_y``,
        ``word_bits``.

    Raises:
        TimeloopError: naming the field, what was expected and what was found.
    """
    content, source, doc = load_section(src, "architecture", "Timeloop architecture")
    if not isinstance(content, dict):
        raise TimeloopError(f"{source}: field 'architecture' expected a mapping, found {show(content)}")
    entries: list[dict] = []
    if "nodes" in content:
        _walk_nodes(source, content["nodes"], "architecture.nodes", {"n": 1, "x": 1, "y": 1, "attrs": {}}, entries)
    elif "subtree" in content:
        for i, node in enumerate(as_list(source, "architecture.subtree", content["subtree"])):
            _walk_tree(source, node, f"architecture.subtree[{i}]", 1, {}, entries)
        _tree_constraints(source, doc, entries)
    else:
        raise TimeloopError(
            f"{source}: field 'architecture' expected 'nodes' (v0.4) or 'subtree' (v0.2/v0.3), "
            f"found {show(list(content))}"
        )
    computes = [e for e in entries if _is_compute(e["class"]) and not e.get("subclass")]
    if len(computes) != 1 or entries[-1] is not computes[0]:
        raise TimeloopError(
            f"{source}: field 'architecture' expected one compute component (class intmac, ...) as the innermost "
            f"node, found {[e['name'] for e in computes]}"
        )
    mac = computes[0]
    storage = []
    for e in entries[:-1]:
        level = {"name": e["name"], "class": e["class"]}
        if "subclass" in e:
            level["subclass"] = e["subclass"]
        level.update(dummy=bool(e.get("dummy")), instances=e["instances"], mesh_x=e["mesh_x"], mesh_y=e["mesh_y"])
        level.update(_specs(source, e))
        level.update(arch_keep=e["arch_keep"], arch_bypass=e["arch_bypass"])
        storage.append(level)
    inner = storage[1:] + [mac]
    for lv, nxt in zip(storage, inner):
        if nxt["instances"] % lv["instances"] or nxt["mesh_x"] % lv["mesh_x"] or nxt["mesh_y"] % lv["mesh_y"]:
            raise TimeloopError(
                f"{source}: level '{nxt['name']}' expected instances and meshX/meshY multiples of the outer level "
                f"'{lv['name']}' ({lv['instances']}, {lv['mesh_x']}x{lv['mesh_y']}), found {nxt['instances']}, "
                f"{nxt['mesh_x']}x{nxt['mesh_y']}"
            )
        lv["fanout"] = {
            "to": nxt["name"],
            "x": nxt["mesh_x"] // lv["mesh_x"],
            "y": nxt["mesh_y"] // lv["mesh_y"],
            "total": nxt["instances"] // lv["instances"],
        }
    wb = mac["attrs"].get("word_bits", mac["attrs"].get("datawidth", DEFAULT_WORD_BITS))
    compute = {
        "name": mac["name"],
        "class": mac["class"],
        "instances": mac["instances"],
        "mesh_x": mac["mesh_x"],
        "mesh_y": mac["mesh_y"],
        "word_bits": positive_int(source, f"{mac['field']}.attributes.datawidth", wb),
    }
    return {"storage": storage, "compute": compute}


def _tree_constraints(source: str, doc: Any, entries: list[dict]) -> None:
    """``architecture_constraints.targets`` of type bypass/datatype (v0.3 files) into arch_keep/arch_bypass."""
    cons = doc.get("architecture_constraints") if isinstance(doc, dict) else None
    if not isinstance(cons, dict):
        return
    by_name = {e["name"]: e for e in entries}
    for i, t in enumerate(as_list(source, "architecture_constraints.targets", cons.get("targets"))):
        if not isinstance(t, dict) or t.get("type") not in ("bypass", "datatype"):
            continue
        e = by_name.get(t.get("target"))
        if e is None:
            raise TimeloopError(
                f"{source}: field 'architecture_constraints.targets[{i}].target' expected a level name, "
                f"found {show(t.get('target'))}"
            )
        for k in ("keep", "bypass"):
            e[f"arch_{k}"] = [str(x) for x in as_list(source, f"architecture_constraints.targets[{i}].{k}", t.get(k))]


def _factors(source: str, field: str, text: Any) -> dict[str, int]:
    if text is None:
        return {}
    if not isinstance(text, str):
        raise TimeloopError(
            f"{source}: field '{field}' expected a string like 'C1 M8' or 'C=1 M=8', found {show(text)}"
        )
    if _FACTOR.sub("", text).strip(" ,"):
        raise TimeloopError(f"{source}: field '{field}' expected 'DIM factor' items, found {text!r}")
    out: dict[str, int] = {}
    for m in _FACTOR.finditer(text):
        if m.group(3):
            raise TimeloopError(f"{source}: field '{field}' expected perfect factors, found {m.group(0)!r}")
        out[m.group(1)] = int(m.group(2))
    return out


def read_mapping_tree(src: str | Path | dict | list, dims: list[str]) -> dict:
    """A Timeloop mapping per target: temporal and spatial loops and keep/bypass lists.

    Args:
        src: The mapping file or parsed data.
        dims: The problem's dimensions in its order (pads permutations as parser.cpp does).

    Returns:
        ``{target: {"temporal": {"factors", "permutation"}, "spatial": {"factors",
        "permutation", "split", "x", "y"}, "keep": [...], "bypass": [...]}}`` in the
        file's first-appearance order; ``x``/``y`` hold the spatial factors per axis.
    """
    content, source, _ = load_section(src, "mapping", "Timeloop mapping")
    out: dict[str, dict] = {}
    for i, d in enumerate(as_list(source, "mapping", content)):
        f = f"mapping[{i}]"
        if not isinstance(d, dict) or not isinstance(d.get("target"), str):
            raise TimeloopError(f"{source}: field '{f}' expected a directive with a target, found {show(d)}")
        entry = out.setdefault(d["target"], {})
        kind = d.get("type")
        if kind in ("datatype", "bypass"):
            entry["keep"] = [str(x) for x in as_list(source, f"{f}.keep", d.get("keep"))]
            entry["bypass"] = [str(x) for x in as_list(source, f"{f}.bypass", d.get("bypass"))]
            continue
        if kind not in ("temporal", "spatial"):
            raise TimeloopError(
                f"{source}: field '{f}.type' expected temporal, spatial or datatype, found {show(kind)}"
            )
        factors = _factors(source, f"{f}.factors", d.get("factors"))
        perm = str(d.get("permutation", ""))
        for name in list(factors) + list(perm):
            if name not in dims:
                raise TimeloopError(f"{source}: field '{f}' expected dimensions among {dims}, found {name!r}")
        loop: dict[str, Any] = {"factors": {k: factors.get(k, 1) for k in dims}, "permutation": perm}
        if kind == "spatial":
            split = positive_int(source, f"{f}.split", d["split"] + 1) - 1 if "split" in d else len(dims)
            order = list(perm) + [k for k in dims if k not in perm]  # parser.cpp pads in dimension order
            loop["split"] = split
            loop["x"] = {k: factors.get(k, 1) for k in order[:split]}
            loop["y"] = {k: factors.get(k, 1) for k in order[split:]}
        if kind in entry:
            raise TimeloopError(f"{source}: field '{f}' expected one {kind} directive per target, found a second")
        entry[kind] = loop
    return out


def read_problem_tree(src: str | Path | dict) -> dict:
    """The problem as plain data: dimensions with bounds, coefficients (instance over defaults), data spaces."""
    content, source, _ = load_section(src, "problem", "Timeloop problem")
    if not isinstance(content, dict) or not isinstance(content.get("shape"), dict):
        raise TimeloopError(f"{source}: field 'problem' expected 'shape' and 'instance', found {show(content)}")
    shape, inst = content["shape"], content.get("instance") or {}
    dims = [str(x) for x in as_list(source, "problem.shape.dimensions", shape.get("dimensions"))]
    bounds = {k: positive_int(source, f"problem.instance.{k}", inst.get(k, 1)) for k in dims}
    coeffs = {}
    for i, c in enumerate(as_list(source, "problem.shape.coefficients", shape.get("coefficients"))):
        name = c.get("name") if isinstance(c, dict) else None
        if not isinstance(name, str):
            raise TimeloopError(f"{source}: field 'problem.shape.coefficients[{i}]' expected a name, found {show(c)}")
        coeffs[name] = inst.get(name, c.get("default", 1))
    spaces = []
    key = "data_spaces" if "data_spaces" in shape else "data-spaces"
    for i, s in enumerate(as_list(source, f"problem.shape.{key}", shape.get(key))):
        if not isinstance(s, dict) or "name" not in s:
            raise TimeloopError(
                f"{source}: field 'problem.shape.{key}[{i}]' expected a name and projection, found {show(s)}"
            )
        spaces.append(
            {"name": s["name"], "projection": s.get("projection"), "read_write": bool(s.get("read_write", False))}
        )
    return {
        "name": shape.get("name"),
        "dimensions": dims,
        "bounds": bounds,
        "coefficients": coeffs,
        "data_spaces": spaces,
        "instance": dict(inst),
    }
