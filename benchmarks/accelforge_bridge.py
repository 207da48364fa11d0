"""AccelForge bridge: map one layer with AccelForge's mapper, JSON in on stdin, JSON out on stdout.

Runs under its OWN interpreter (Python >= 3.12 with ``pip install accelforge``), never under
jaxdse's: ``benchmarks/peer_speed.py`` starts it as a subprocess. It imports nothing from jaxdse,
so it only needs the standard library, accelforge and graphviz's ``dot`` (AccelForge 1.0.467's
``map_workload_to_arch`` renders a mapping through it and fails without it).

AccelForge (Accelergy project, MIT / NVIDIA; PyPI ``accelforge``, docs
https://accelergy-project.github.io/accelforge/, source https://github.com/Accelergy-Project/accelforge)
is the successor of Timeloop + Accelergy. The architecture written here is jaxdse's template
(Explainable-DSE Table 1) in AccelForge's arch schema (``accelforge/frontend/arch/components.py``):

    DRAM (keeps I, W, O) -> L2 (keeps all three) -> PE container (one spatial dim X of ``num_pes``)
      -> L1 per PE (keeps all three) -> MAC

* energies are given per action (``bits_per_action`` = one word), in J, from the input JSON (the
  caller passes jaxdse's 45 nm figures), so no component model (CACTI etc.) is called: AccelForge's
  bundled CACTI binary needs a newer glibc than Debian 12's;
* one MAC per cycle per PE at ``freq_hz`` and DRAM at ``dram_words_per_cycle`` set AccelForge's latency
  (L2 and L1 unlimited: jaxdse's NoC cycles and DMA setup have no counterpart here); ``leak_power_w``
  (the whole design's leakage, jaxdse's ``leakage_w_per_mm2 x area``) sits on the L2 instance, so
  AccelForge's energy metric, which adds leakage power x latency, counts what jaxdse's does;
* L2 ``size`` is the L2 capacity divided by ``l2_buffers`` (jaxdse reserves two copies of every L2
  tile), L1 ``size`` the whole L1 (one copy);
* the spatial dim X carries ``loop_bounds`` ``product<=`` constraints (``accelforge/frontend/arch/
  constraints.py``) so that each operand reaches at most ``max_workgroups`` distinct-data PE groups,
  jaxdse's NoC limit ``links x virtual``;
* ``even: true`` (default) sets the mapper's ``_timeloop_style_even`` (``accelforge/frontend/mapper/ffm.py``:
  at most two storage-node positions per memory, as in Timeloop, where a tensor's node may sit above
  the innermost loops that do not index it). AccelForge's model refetches a tile on every iteration
  of any loop above its storage node, so that upper position is how it sees the reuse Timeloop-style
  models (jaxdse's included) give across those loops. Its mapper may still choose a loop between the
  two positions that DOES index a tensor stored above it (an "uneven" tile jaxdse cannot express);
  the translation then says ``exact: false``. ``even: false`` lets it place every node freely.

The chosen mapping is translated to jaxdse's levels: temporal loops above the lowest L2 storage node
-> ``dram``, temporal loops between it and the spatial loops -> ``l2``, spatial loops -> ``spatial``,
temporal loops below them -> ``l1``; per level, dims listed outermost first as they appear. AccelForge
writes each loop as the tile shape it leaves, so factor = tile above / tile below.

Input JSON::

    {"layer": {"name": str, "sizes": {"N": 1, "K": 768, "C": 768, "P": 128, "Q": 1, "R": 1, "S": 1},
               "stride": [1, 1], "bits": 16},
     "arch": {"num_pes": 256, "l1_bytes": 64, "l2_kib": 256, "l2_buffers": 2, "max_workgroups": 128,
              "word_bits": 16, "freq_hz": 5e8, "dram_words_per_cycle": 4.096, "leak_power_w": 0.0592,
              "energy_pj_per_word": {"mac": ..., "l1": ..., "l2": ..., "dram": ...}},
     "metric": "energy" | "latency" | "edp", "even": true, "n_jobs": 2}

Output JSON: ``accelforge_version``, ``energy_pj`` (AccelForge's model, total and ``energy_by_component_pj``),
``latency_cycles``, ``mapping`` (jaxdse ``make_mapping`` keyword dicts: ``dram``/``l2``/``spatial``/``l1``
factors, ``order`` strings), ``exact`` and ``notes`` (why the translation is not one to one, if not),
``loop_tree`` (AccelForge's chosen LoopTree, one line), ``wall_s``, ``cpu_s`` (this process and its
reaped worker processes), ``mappings_evaluated`` (AccelForge's ``total_mappings``), ``valid_mappings``.
On an error: ``{"error": "..."}`` and exit status 1.
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

DIMS = ("N", "K", "C", "P", "Q", "R", "S")
"""jaxdse's loop dims this bridge maps (a grouped layer, G > 1, is refused)."""
METRICS = ("energy", "latency", "edp")


def _fail(msg: str) -> None:
    json.dump({"error": msg}, sys.__stdout__)
    sys.__stdout__.write("\n")
    sys.exit(1)


def _need(d: dict, key: str, where: str, kind=(int, float)):
    if not isinstance(d, dict) or key not in d:
        found = sorted(d) if isinstance(d, dict) else repr(d)
        _fail(f"accelforge_bridge: field '{where}.{key}' is missing (found {found})")
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, kind):
        _fail(f"accelforge_bridge: field '{where}.{key}' expected {kind}, found {v!r}")
    return v


def workload_yaml(layer: dict) -> str:
    """The layer as one AccelForge Einsum (rank variables = jaxdse dims in lower case, size-1 dims dropped).

    Schema: AccelForge ``examples/workloads`` (list projections for a GEMM-like layer; dict projections
    with ``p*stride + r`` expressions for a convolution window, as in its MobileNet example).
    """
    sizes = _need(layer, "sizes", "layer", dict)
    for d in sizes:
        if d not in DIMS and not (d == "G" and sizes[d] == 1):
            _fail(f"accelforge_bridge: field 'layer.sizes' expected dims among {DIMS} (G only as 1), found {d!r}")
    size = {d: int(sizes.get(d, 1)) for d in DIMS}
    if any(v < 1 for v in size.values()):
        _fail(f"accelforge_bridge: field 'layer.sizes' expected positive sizes, found {sizes}")
    sy, sx = (int(v) for v in layer.get("stride", [1, 1]))
    bits = int(layer.get("bits", 16))
    live = [d for d in DIMS if size[d] > 1]
    if not live:
        _fail("accelforge_bridge: field 'layer.sizes' expected at least one dim larger than 1")
    v = {d: d.lower() for d in DIMS}
    shape = "\n".join(f"    {v[d]}: 0 <= {v[d]} < {size[d]}" for d in live)

    def rows(dims):
        return [v[d] for d in dims if size[d] > 1]

    window = size["R"] > 1 or size["S"] > 1 or sy != 1 or sx != 1
    w_proj = rows(("K", "C", "R", "S"))
    o_proj = rows(("N", "K", "P", "Q"))
    if not window:
        i_proj = "[" + ", ".join(rows(("N", "C", "P", "Q"))) + "]"
    else:

        def coord(out, filt, stride):
            terms = ([f"{stride}*{v[out]}" if stride != 1 else v[out]] if size[out] > 1 else []) + (
                [v[filt]] if size[filt] > 1 else []
            )
            return " + ".join(terms) or "0"

        parts = [f"N: {v['N']}"] if size["N"] > 1 else []
        parts += [f"C: {v['C']}"] if size["C"] > 1 else []
        parts += [f"H: {coord('P', 'R', sy)}", f"W: {coord('Q', 'S', sx)}"]
        i_proj = "{" + ", ".join(parts) + "}"
    return f"""workload:
  iteration_space_shape:
{shape}
  bits_per_value: {{All: {bits}}}
  einsums:
  - name: Layer
    tensor_accesses:
    - {{name: I, projection: {i_proj}}}
    - {{name: W, projection: [{", ".join(w_proj)}]}}
    - {{name: O, projection: [{", ".join(o_proj)}], output: True}}
"""


def arch_yaml(arch: dict) -> str:
    """jaxdse's template as an AccelForge architecture (see the module docstring)."""
    e = _need(arch, "energy_pj_per_word", "arch", dict)
    pj = {k: float(_need(e, k, "arch.energy_pj_per_word")) for k in ("mac", "l1", "l2", "dram")}
    word = int(_need(arch, "word_bits", "arch", int))
    num_pes = int(_need(arch, "num_pes", "arch", int))
    l1_bits = int(_need(arch, "l1_bytes", "arch")) * 8
    l2_bits = int(_need(arch, "l2_kib", "arch") * 1024 * 8 / float(arch.get("l2_buffers", 1)))
    groups = int(_need(arch, "max_workgroups", "arch", int))
    freq = float(_need(arch, "freq_hz", "arch"))
    dram_rate = float(arch.get("dram_words_per_cycle", "inf")) * freq  # words per second
    leak_w = float(arch.get("leak_power_w", 0.0))

    def mem(name, size, pj_word, keep, rate="inf", leak=0.0):
        j = pj_word * 1e-12
        return f"""  - !Memory
    name: {name}
    size: {size}
    leak_power: {leak!r}
    area: 0
    bits_per_action: {word}
    tensors:
      keep: {keep}
    actions:
    - {{name: read, energy: {j!r}, throughput: {rate}}}
    - {{name: write, energy: {j!r}, throughput: {rate}}}
"""

    # distinct-data PE groups per operand <= links x virtual (jaxdse's NoC limit; rank variables of
    # each tensor, as in workload_yaml)
    bounds = "\n".join(
        f'      - {{expression: "{expr}", operator: "product<=", value: {groups}}}'
        for expr in ("n | c | p | q | r | s", "k | c | r | s", "n | k | p | q")
    )
    return (
        "arch:\n  nodes:\n"
        + mem("DRAM", "inf", pj["dram"], "All", "inf" if math.isinf(dram_rate) else repr(dram_rate))
        + mem("L2", l2_bits, pj["l2"], "All", leak=leak_w)  # the whole design's leakage, on one instance
        + f"""  - !Container
    name: PE
    spatial:
    - name: X
      fanout: {num_pes}
      loop_bounds:
{bounds}
"""
        + mem("L1", l1_bits, pj["l1"], "All")
        + f"""  - !Compute
    name: MAC
    leak_power: 0
    area: 0
    actions:
    - {{name: compute, energy: {pj["mac"] * 1e-12!r}, throughput: {freq!r}}}
"""
    )


def loop_tree(mapping) -> list[tuple]:
    """AccelForge's chosen LoopTree as plain tuples, outermost first: ``("store", component, tensors)``,
    ``("temporal", rank_variable, tile_shape)``, ``("spatial", rank_variable, tile_shape)``."""
    from accelforge.frontend.mapping import Spatial, Storage, Temporal

    out: list[tuple] = []
    for n in mapping.nodes:
        if isinstance(n, Storage):
            out.append(("store", str(n.component), tuple(str(t) for t in n.tensors)))
        elif isinstance(n, (Temporal, Spatial)):
            kind = "spatial" if isinstance(n, Spatial) else "temporal"
            out.append((kind, str(n.rank_variable), int(n.tile_shape)))
    return out


def translate(nodes: list[tuple], sizes: dict[str, int]) -> tuple[dict, bool, list[str], str]:
    """A ``loop_tree`` -> jaxdse ``make_mapping`` keywords, exactness flag, notes, one-line tree.

    Level of a loop: temporal loops above the lowest L2 storage node -> ``dram``; temporal loops below
    it and above the lowest L1 storage node -> ``l2`` (innermost; AccelForge may put them below the
    spatial loops, jaxdse's template has its L2 loops outside them); spatial loops -> ``spatial``;
    temporal loops below the lowest L1 storage node -> ``l1``. A loop between two storage nodes of one
    memory leaves the tensors stored above it a tile that spans it; that is jaxdse's tile only when the
    loop does not index those tensors (then both models reuse them across it). Otherwise, and for an
    imperfect factor, two loops of one dim at one level or a temporal loop moved above the spatial
    loops, ``exact`` is False and ``notes`` say why.
    """
    rel = {"I": {"n", "c", "p", "q", "r", "s"}, "W": {"k", "c", "r", "s"}, "O": {"n", "k", "p", "q"}}
    low = {}
    for i, n in enumerate(nodes):
        if n[0] == "store":
            low[n[1]] = i
    tile = {d.lower(): sizes.get(d, 1) for d in DIMS}
    levels: dict[str, dict[str, int]] = {k: {} for k in ("dram", "l2", "spatial", "l1")}
    order: dict[str, list[str]] = {k: [] for k in ("dram", "l2", "l1")}
    above: dict[str, set[str]] = {"L2": set(), "L1": set()}  # tensors whose node of that memory is seen
    notes: list[str] = []
    tree: list[str] = []
    seen_spatial = False
    for i, n in enumerate(nodes):
        if n[0] == "store":
            tree.append(f"[{','.join(n[2])} in {n[1]}]")
            if n[1] in above:
                above[n[1]].update(n[2])
            continue
        kind, rv, below = n
        if tile[rv] % below:
            notes.append(f"loop {rv} leaves a tile of {below} from {tile[rv]} (imperfect factor, rounded up)")
        f = -(-tile[rv] // below)
        tile[rv] = below
        tree.append(f"{'S' if kind == 'spatial' else 'T'}-{rv}{f}")
        if f == 1:
            continue
        if kind == "spatial":
            lvl, seen_spatial = "spatial", True
        else:
            mem = "L2" if i < low.get("L2", -1) else "L1" if i < low.get("L1", -1) else None
            lvl = {"L2": "dram", "L1": "l2", None: "l1"}[mem]
            span = sorted(t for t in above.get(mem, ()) if rv in rel[t])
            if span:
                notes.append(f"{mem} tile of {','.join(span)} spans loop {rv}{f} (uneven tiles)")
            if lvl == "l2" and seen_spatial:
                notes.append(f"temporal loop {rv}{f} below the spatial loops moved above them (jaxdse's L2 level)")
        d = rv.upper()
        if d in levels[lvl]:
            notes.append(f"two {d} loops at level {lvl} merged into one")
        levels[lvl][d] = levels[lvl].get(d, 1) * f
        if lvl != "spatial" and d not in order[lvl]:
            order[lvl].append(d)
    tree.append("MAC")
    out = dict(levels)
    out["order"] = {k: "".join(v) for k, v in order.items()}
    return out, not notes, notes, " ".join(tree)


def main() -> None:
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    sys.stdout = sys.stderr  # AccelForge prints progress; only the JSON answer goes to stdout
    try:
        req = json.load(sys.stdin)
    except json.JSONDecodeError as e:
        _fail(f"accelforge_bridge: stdin expected a JSON object, found invalid JSON ({e})")
    layer, arch = _need(req, "layer", "request", dict), _need(req, "arch", "request", dict)
    metric = req.get("metric", "energy")
    if metric not in METRICS:
        _fail(f"accelforge_bridge: field 'metric' expected one of {METRICS}, found {metric!r}")
    even = bool(req.get("even", True))
    n_jobs = int(req.get("n_jobs", os.cpu_count() or 1))

    from importlib.metadata import version

    arch_text, workload_text = arch_yaml(arch), workload_yaml(layer)  # input errors before the import

    import accelforge as af

    af.set_n_parallel_jobs(n_jobs)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "arch.yaml").write_text(arch_text)
        (tmp / "workload.yaml").write_text(workload_text)
        spec = af.Spec.from_yaml(str(tmp / "arch.yaml"), str(tmp / "workload.yaml"))
        spec.mapper._timeloop_style_even = even  # at most two storage-node positions per memory
        spec.mapper.metrics = {
            "energy": af.mapper.Metrics.ENERGY,
            "latency": af.mapper.Metrics.LATENCY,
            "edp": af.mapper.Metrics.ENERGY_DELAY_PRODUCT,
        }[metric]
        cwd = os.getcwd()
        os.chdir(tmp)  # map_workload_to_arch writes mapping.svg into the working folder
        try:
            t_map_wall, t_map_cpu = time.perf_counter(), time.process_time()
            res = spec.map_workload_to_arch()
            map_wall = time.perf_counter() - t_map_wall
            map_cpu_self = time.process_time() - t_map_cpu
        finally:
            os.chdir(cwd)
    try:  # reap joblib's loky workers so that their CPU time shows in RUSAGE_CHILDREN
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)
    except Exception as e:  # noqa: BLE001 - CPU accounting only
        print(f"accelforge_bridge: could not shut the worker pool down ({e})", file=sys.stderr)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    sizes = {d: int(layer["sizes"].get(d, 1)) for d in DIMS}
    m, exact, notes, tree = translate(loop_tree(res.mapping()), sizes)
    energy_j = float(res.energy())
    by_comp = {str(k): float(v) * 1e12 for k, v in res.energy(per_component=True).items()}
    freq = float(arch["freq_hz"])
    json.dump(
        dict(
            accelforge_version=version("accelforge"),
            metric=metric,
            even=even,
            n_jobs=n_jobs,
            energy_pj=energy_j * 1e12,
            energy_by_component_pj=by_comp,
            latency_cycles=float(res.latency()) * freq,
            freq_hz=freq,
            mapping=m,
            exact=exact,
            notes=notes,
            loop_tree=tree,
            map_wall_s=map_wall,
            map_cpu_self_s=map_cpu_self,
            wall_s=time.perf_counter() - t_wall,
            cpu_s=time.process_time() - t_cpu + children.ru_utime + children.ru_stime,
            mappings_evaluated=float(res.total_mappings),
            valid_mappings=float(res.valid_mappings),
        ),
        sys.__stdout__,
    )
    sys.__stdout__.write("\n")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - any AccelForge failure is reported as JSON to the caller
        import traceback

        traceback.print_exc()
        _fail(f"accelforge_bridge: AccelForge failed: {type(e).__name__}: {str(e)[:2000]}")
