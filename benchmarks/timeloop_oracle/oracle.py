"""Local Timeloop v3.0.3 oracle (timeloop-model, built without ISL/accelergy).

run_case(case) -> dict.  A case is plain JSON data:

{
  "problem": {"N":1,"C":8,"M":8,"P":12,"Q":6,"R":3,"S":1,
              "Wstride":1,"Hstride":1,"Wdilation":1,"Hdilation":1},
  "arch": {
    "word_bits": 16,
    # storage levels OUTERMOST first. depth in words (null = unbounded, DRAM).
    # instances = total instances of that level (must be non-decreasing and
    # each a multiple of the previous); meshX = total X extent of those instances.
    "levels": [
      {"name":"DRAM","class":"DRAM","depth":null,"instances":1,"meshX":1},
      {"name":"GlobalBuffer","class":"SRAM","depth":65536,"instances":1,"meshX":1},
      {"name":"RF","class":"regfile","depth":128,"instances":16,"meshX":4}],
    "mac": {"instances":16,"meshX":4}
  },
  # one entry per storage level, same order as arch.levels
  "mapping": [
    {"target":"DRAM","temporal":{"R":3,"Q":3},"permutation":"MRQNPSC"},
    {"target":"GlobalBuffer","temporal":{"M":8,"P":6,"Q":2},"permutation":"SMRQCPN",
     "spatial_x":{"C":2},"spatial_y":{"P":2},     # fanout from this level to the next
     "bypass":[]},                                 # tensors NOT kept at this level
    {"target":"RF","temporal":{"C":4},"permutation":"QRSNMCP","bypass":[]}],
  "link_transfers": true     # optional; false -> env TIMELOOP_DISABLE_LINK_TRANSFERS=1
}
Missing factors default to 1; permutation is Timeloop's string, innermost first
(missing dims are appended).  Spatial directive: permutation = X dims then Y dims
then the rest, split = number of X dims.

Result: {"ok":bool, "cycles":int, "computes":int, "mac_utilized_instances":int,
         "levels": {name: {tensor: {"utilized_instances","reads","fills","updates",
                                    "reads_total","fills_total","updates_total",
                                    "utilized_capacity","temporal_reductions"}}},
         "networks": {name: {tensor: {"link_transfers","spatial_reductions","ingresses",...}}},
         "env": {...}, "error": str (if not ok)}

Timeloop flags: env TIMELOOP_DISABLE_LINK_TRANSFERS=1 when link_transfers is False,
otherwise no TIMELOOP_* env var is set (defaults: link transfers ON, first-read
elision ON, updated-RMW OFF, temporal/spatial extrapolation ON).  No bandwidth
attributes are given (unlimited), block-size 1, width = word bits.
"""

import json
import os
import re
import subprocess
import tempfile

TIMELOOP_MODEL = os.environ.get("TIMELOOP_MODEL", "/work/timeloop-build/timeloop-model")
DIMS = ["C", "M", "R", "S", "N", "P", "Q"]
TENSORS = ["Weights", "Inputs", "Outputs"]

SHAPE_YAML = """  shape:
    name: CNN-Layer
    dimensions: [ C, M, R, S, N, P, Q ]
    coefficients:
    - name: Wstride
      default: 1
    - name: Hstride
      default: 1
    - name: Wdilation
      default: 1
    - name: Hdilation
      default: 1
    data-spaces:
    - name: Weights
      projection:
      - [ [C] ]
      - [ [M] ]
      - [ [R] ]
      - [ [S] ]
    - name: Inputs
      projection:
      - [ [N] ]
      - [ [C] ]
      - [ [R, Wdilation], [P, Wstride] ]
      - [ [S, Hdilation], [Q, Hstride] ]
    - name: Outputs
      projection:
      - [ [N] ]
      - [ [M] ]
      - [ [Q] ]
      - [ [P] ]
      read-write: True
"""


def problem_yaml(p):
    s = "problem:\n" + SHAPE_YAML + "  instance:\n"
    for d in DIMS:
        s += f"    {d}: {int(p.get(d, p.get('K', 1) if d == 'M' else 1))}\n"
    for c in ["Wstride", "Hstride", "Wdilation", "Hdilation"]:
        s += f"    {c}: {int(p.get(c, 1))}\n"
    return s


def _attrs(ind, d):
    s = f"{ind}attributes:\n"
    for k, v in d.items():
        s += f"{ind}  {k}: {v}\n"
    return s


def arch_yaml(a):
    wb = a.get("word_bits", 16)
    levels = a["levels"]
    mac = a["mac"]
    # group consecutive levels with equal instance count into one subtree node
    nodes = []  # list of (instances, [components])
    for lv in levels:
        comp = ("storage", lv)
        if nodes and nodes[-1][0] == lv["instances"]:
            nodes[-1][1].append(comp)
        else:
            nodes.append((lv["instances"], [comp]))
    if nodes[-1][0] == mac["instances"]:
        nodes[-1][1].append(("mac", mac))
    else:
        nodes.append((mac["instances"], [("mac", mac)]))
    s = "architecture:\n  version: 0.3\n"
    ind = "  "
    prev = 1
    for i, (inst, comps) in enumerate(nodes):
        assert inst % prev == 0, "instances must divide"
        ratio = inst // prev
        name = f"L{i}" + (f"[0..{ratio - 1}]" if ratio > 1 else "")
        s += f"{ind}subtree:\n{ind}- name: {name}\n{ind}  local:\n"
        for kind, c in comps:
            s += f"{ind}  - name: {c.get('name', 'MAC')}\n"
            if kind == "storage":
                s += f"{ind}    class: {c.get('class', 'SRAM')}\n"
                at = {"word-bits": wb, "width": wb, "block-size": 1}
                if c.get("depth") is not None:
                    at["depth"] = int(c["depth"])
                if c.get("class") == "DRAM":
                    at["type"] = "LPDDR4"
            else:
                s += f"{ind}    class: intmac\n"
                at = {"datawidth": wb}
            if c.get("instances", 1) > 1:
                at["meshX"] = c.get("meshX", c["instances"])
            s += _attrs(ind + "    ", at)
        ind += "  "
        prev = inst
    return s


def _fac(d):
    return " ".join(f"{k}{int(d.get(k, 1))}" for k in DIMS)


def _perm(p):
    p = (p or "").replace(" ", "")
    return p + "".join(d for d in DIMS if d not in p)


def mapping_yaml(m):
    s = "mapping:\n"
    for e in m:
        t = e["target"]
        s += f"- target: {t}\n  type: temporal\n  factors: {_fac(e.get('temporal', {}))}\n"
        s += f"  permutation: {_perm(e.get('permutation'))}\n"
        if e.get("spatial_x") or e.get("spatial_y") or "spatial_x" in e:
            sx = e.get("spatial_x", {}) or {}
            sy = e.get("spatial_y", {}) or {}
            xd = [d for d in DIMS if sx.get(d, 1) > 1]
            yd = [d for d in DIMS if sy.get(d, 1) > 1]
            assert not set(xd) & set(yd), "dim split across X and Y not supported"
            rest = [d for d in DIMS if d not in xd and d not in yd]
            f = {d: sx.get(d, sy.get(d, 1)) for d in DIMS}
            s += f"- target: {t}\n  type: spatial\n  factors: {_fac(f)}\n"
            s += f"  permutation: {''.join(xd + yd + rest)}\n  split: {len(xd)}\n"
            if e.get("no_link_transfer"):
                s += f"  no_link_transfer: [{', '.join(e['no_link_transfer'])}]\n"
        byp = e.get("bypass", []) or []
        keep = [x for x in TENSORS if x not in byp]
        s += f"- target: {t}\n  type: bypass\n  keep: [{', '.join(keep)}]\n  bypass: [{', '.join(byp)}]\n"
    return s


_num = r"([-+0-9.eE]+|inf|nan)"


def _tensor_blocks(body):
    per, cur = {}, None
    for line in body.splitlines():
        mt = re.match(r"^\s+(Weights|Inputs|Outputs):\s*$", line)
        if mt:
            cur = per.setdefault(mt.group(1), {})
            continue
        kv = re.match(r"^\s+([^:@]+?)\s*:\s*" + _num + r"\b", line)
        if kv and cur is not None:
            try:
                cur[kv.group(1).strip()] = float(kv.group(2))
            except ValueError:
                pass
    return per


def parse_stats(txt):
    res = {"levels": {}, "networks": {}}
    main, _, rest = txt.partition("\nNetworks\n--------")
    sections = re.split(r"^=== (.+) ===\s*$", main, flags=re.M)
    for name, body in zip(sections[1::2], sections[2::2]):
        if "STATS" not in body or name == "MAC":
            continue
        per = _tensor_blocks(body.split("STATS", 1)[1])
        lv = {}
        for t, d in per.items():
            ui = int(d.get("Utilized instances (max)", 0))
            r, f_, u = (
                int(d.get(k, 0))
                for k in ("Scalar reads (per-instance)", "Scalar fills (per-instance)", "Scalar updates (per-instance)")
            )
            lv[t] = {
                "utilized_instances": ui,
                "reads": r,
                "fills": f_,
                "updates": u,
                "reads_total": r * ui,
                "fills_total": f_ * ui,
                "updates_total": u * ui,
                "utilized_capacity": int(d.get("Utilized capacity", 0)),
                "temporal_reductions": int(d.get("Temporal reductions (per-instance)", 0)),
            }
        res["levels"][name] = lv
    rest = rest.split("Operational Intensity Stats")[0]
    nets = re.split(r"^Network \d+\s*\n-+\s*\n(.+?)\s*$", rest, flags=re.M)
    for name, body in zip(nets[1::2], nets[2::2]):
        if "STATS" not in body:
            continue
        per = _tensor_blocks(body.split("STATS", 1)[1])
        res["networks"][name.strip()] = {
            t: {
                "link_transfers": int(d.get("Link transfers", 0)),
                "spatial_reductions": int(d.get("Spatial reductions", 0)),
                "ingresses": d.get("Ingresses", 0),
                "fanout": int(d.get("Fanout", 0)),
                "multicast_factor": d.get("Multicast factor", 0),
                "avg_hops": d.get("Average number of hops", 0),
            }
            for t, d in per.items()
        }
    m = re.search(r"^Cycles: (\d+)", txt, flags=re.M)
    res["cycles"] = int(m.group(1)) if m else None
    m = re.search(r"^Computes = (\d+)", txt, flags=re.M)
    res["computes"] = int(m.group(1)) if m else None
    m = re.search(r"=== MAC ===.*?Utilized instances\s*:\s*(\d+)", txt, flags=re.S)
    res["mac_utilized_instances"] = int(m.group(1)) if m else None
    return res


def run_case(case, keep_dir=None, timeout=120):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELOOP_")}
    used = {}
    if not case.get("link_transfers", True):
        used["TIMELOOP_DISABLE_LINK_TRANSFERS"] = "1"
    env.update(used)
    d = keep_dir or tempfile.mkdtemp(prefix="tlo_")
    os.makedirs(d, exist_ok=True)
    files = {
        "arch.yaml": arch_yaml(case["arch"]),
        "problem.yaml": problem_yaml(case["problem"]),
        "map.yaml": mapping_yaml(case["mapping"]),
    }
    for k, v in files.items():
        with open(os.path.join(d, k), "w") as fh:
            fh.write(v)
    p = subprocess.run(
        [TIMELOOP_MODEL, "arch.yaml", "problem.yaml", "map.yaml"],
        cwd=d,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    sp = os.path.join(d, "timeloop-model.stats.txt")
    out = {"env": used}
    if p.returncode != 0 or not os.path.exists(sp):
        out.update(ok=False, error=(p.stdout[-2000:] + p.stderr[-2000:]))
    else:
        out.update(parse_stats(open(sp).read()))
        out["ok"] = True
    if keep_dir is None:
        subprocess.run(["rm", "-rf", d])
    return out


def simple_case(prob, X, Y, rf_depth, glb_depth, maps, link_transfers=True):
    """Convenience: DRAM -> GLB -> XxY PEs(RF) -> MAC.
    maps = dict(dram=(factors, perm), glb=(factors, perm), sx={}, sy={}, rf=(factors, perm),
                bypass={"GlobalBuffer": [...], "RF": [...]})"""
    n = X * Y
    arch = {
        "word_bits": 16,
        "levels": [
            {"name": "DRAM", "class": "DRAM", "depth": None, "instances": 1, "meshX": 1},
            {"name": "GlobalBuffer", "class": "SRAM", "depth": glb_depth, "instances": 1, "meshX": 1},
            {"name": "RF", "class": "regfile", "depth": rf_depth, "instances": n, "meshX": X},
        ],
        "mac": {"instances": n, "meshX": X},
    }
    byp = maps.get("bypass", {})
    mapping = [
        {"target": "DRAM", "temporal": maps["dram"][0], "permutation": maps["dram"][1], "bypass": byp.get("DRAM", [])},
        {
            "target": "GlobalBuffer",
            "temporal": maps["glb"][0],
            "permutation": maps["glb"][1],
            "spatial_x": maps.get("sx", {}),
            "spatial_y": maps.get("sy", {}),
            "bypass": byp.get("GlobalBuffer", []),
        },
        {"target": "RF", "temporal": maps["rf"][0], "permutation": maps["rf"][1], "bypass": byp.get("RF", [])},
    ]
    return {"problem": prob, "arch": arch, "mapping": mapping, "link_transfers": link_transfers}


if __name__ == "__main__":
    import sys

    c = json.load(open(sys.argv[1]))
    print(json.dumps(run_case(c), indent=1))
