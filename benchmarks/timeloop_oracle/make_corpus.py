"""Random legal-mapping corpus for Timeloop v3.0.3 (via oracle.run_case).

python3 make_corpus.py            -> corpus.json       (DRAM -> GLB -> XxY PEs(RF) -> MAC)
python3 make_corpus.py --deep     -> corpus_deep.json  (Eyeriss-style W/I/O RFs per PE, and
                                                         Simba-style 2-level spatial)
Each entry: {"id", "seed", "kind", "case", "timeloop" (link transfers on = default),
             "timeloop_no_link" (TIMELOOP_DISABLE_LINK_TRANSFERS=1)}.
Perfect factorizations only; every kept tile fits its level's depth (sum over kept tensors).
"""

import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from oracle import DIMS, TENSORS, run_case  # noqa: E402


def primes(n):
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


def rand_problem(rng):
    small = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16]
    pq = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14]
    st = rng.choice([1, 1, 2])
    return {
        "N": rng.choice([1, 1, 2]),
        "C": rng.choice(small),
        "M": rng.choice(small + [24, 32]),
        "P": rng.choice(pq),
        "Q": rng.choice(pq),
        "R": rng.choice([1, 3]),
        "S": rng.choice([1, 3]),
        "Wstride": st,
        "Hstride": st if rng.random() < 0.8 else 3 - st,
        "Wdilation": 1,
        "Hdilation": 1,
    }


def tile_sizes(prob, ext):
    """ext: per-dim extent of the tile. Returns words per tensor."""
    w = ext["C"] * ext["M"] * ext["R"] * ext["S"]
    o = ext["N"] * ext["M"] * ext["P"] * ext["Q"]
    wi = (ext["P"] - 1) * prob["Wstride"] + (ext["R"] - 1) * prob["Wdilation"] + 1
    hi = (ext["Q"] - 1) * prob["Hstride"] + (ext["S"] - 1) * prob["Hdilation"] + 1
    i = ext["N"] * ext["C"] * wi * hi
    return {"Weights": w, "Inputs": i, "Outputs": o}


def rand_mapping(rng, prob, levels, bypass):
    """levels: arch levels outermost first (with instances, meshX). Returns mapping list or None."""
    L = len(levels)
    # spatial fanouts below each level
    fan = []
    for i in range(L):
        nxt_inst = levels[i + 1]["instances"] if i + 1 < L else MAC["instances"]
        nxt_mx = levels[i + 1]["meshX"] if i + 1 < L else MAC["meshX"]
        f = nxt_inst // levels[i]["instances"]
        fx = nxt_mx // levels[i]["meshX"]
        fan.append((fx, f // fx if fx else 1))
    slots = []  # (level, kind)
    for i in range(L):
        slots.append((i, "t"))
        if fan[i][0] > 1:
            slots.append((i, "x"))
        if fan[i][1] > 1:
            slots.append((i, "y"))
    wts = [3.0 if k != "t" else (1.0 if i > 0 else 1.2) for i, k in slots]
    fac = {s: {d: 1 for d in DIMS} for s in slots}
    for d in DIMS:
        for p in primes(prob[d]):
            s = rng.choices(slots, weights=wts)[0]
            fac[s][d] *= p
    # legality of spatial: products within fanout; a dim on only one of x/y per level
    for i in range(L):
        fx, fy = fan[i]
        for k, lim in (("x", fx), ("y", fy)):
            if (i, k) in fac:
                prod = 1
                for d in DIMS:
                    prod *= fac[(i, k)][d]
                if prod > lim:
                    return None
        if (i, "x") in fac and (i, "y") in fac:
            if any(fac[(i, "x")][d] > 1 and fac[(i, "y")][d] > 1 for d in DIMS):
                return None
    # capacity
    for i in range(L):
        if levels[i].get("depth") is None:
            continue
        ext = {d: 1 for d in DIMS}
        for (j, _k), f in fac.items():
            if j >= i:
                for d in DIMS:
                    ext[d] *= f[d]
        ts = tile_sizes(prob, ext)
        need = sum(ts[t] for t in TENSORS if t not in bypass.get(levels[i]["name"], []))
        if need > levels[i]["depth"]:
            return None
    mp = []
    for i, lv in enumerate(levels):
        perm = DIMS[:]
        rng.shuffle(perm)
        e = {
            "target": lv["name"],
            "temporal": {d: v for d, v in fac[(i, "t")].items() if v > 1},
            "permutation": "".join(perm),
            "bypass": bypass.get(lv["name"], []),
        }
        if fan[i][0] * fan[i][1] > 1:
            e["spatial_x"] = {d: v for d, v in fac.get((i, "x"), {}).items() if v > 1}
            e["spatial_y"] = {d: v for d, v in fac.get((i, "y"), {}).items() if v > 1}
        mp.append(e)
    return mp


MAC = None


def arch_flat(rng):
    X = rng.choice([2, 4, 8])
    n = X * X
    levels = [
        {"name": "DRAM", "class": "DRAM", "depth": None, "instances": 1, "meshX": 1},
        {"name": "GlobalBuffer", "class": "SRAM", "depth": rng.choice([2048, 8192, 65536]), "instances": 1, "meshX": 1},
        {"name": "RF", "class": "regfile", "depth": rng.choice([16, 32, 64, 128, 256]), "instances": n, "meshX": X},
    ]
    byp_opts = [
        {},
        {},
        {},
        {"GlobalBuffer": ["Weights"]},
        {"RF": ["Inputs"]},
        {"RF": ["Outputs"]},
        {"GlobalBuffer": ["Inputs"]},
        {"RF": ["Weights"]},
        {"GlobalBuffer": ["Weights"], "RF": ["Inputs"]},
        {"GlobalBuffer": ["Outputs"]},
    ]
    return f"flat{X}x{X}", levels, {"instances": n, "meshX": X}, rng.choice(byp_opts)


def arch_deep(rng):
    if rng.random() < 0.5:  # Eyeriss-style: separate W/I/O RFs per PE
        X = rng.choice([2, 4])
        Y = rng.choice([2, 4])
        n = X * Y
        levels = [
            {"name": "DRAM", "class": "DRAM", "depth": None, "instances": 1, "meshX": 1},
            {"name": "GlobalBuffer", "class": "SRAM", "depth": rng.choice([8192, 65536]), "instances": 1, "meshX": 1},
            {"name": "WeightRF", "class": "regfile", "depth": rng.choice([32, 64, 192]), "instances": n, "meshX": X},
            {"name": "InputRF", "class": "regfile", "depth": rng.choice([12, 16, 32]), "instances": n, "meshX": X},
            {"name": "OutputRF", "class": "regfile", "depth": rng.choice([8, 16, 24]), "instances": n, "meshX": X},
        ]
        byp = {"WeightRF": ["Inputs", "Outputs"], "InputRF": ["Weights", "Outputs"], "OutputRF": ["Weights", "Inputs"]}
        if rng.random() < 0.3:
            byp["GlobalBuffer"] = ["Weights"]
        return f"eyeriss{X}x{Y}", levels, {"instances": n, "meshX": X}, byp
    # Simba-style: DRAM -> GLB -> PX x PY PEs (PEBuffer) -> 4x4 MACs each with a register
    PX, PY = rng.choice([(2, 2), (4, 1), (2, 1)])
    npe = PX * PY
    levels = [
        {"name": "DRAM", "class": "DRAM", "depth": None, "instances": 1, "meshX": 1},
        {"name": "GlobalBuffer", "class": "SRAM", "depth": rng.choice([8192, 65536]), "instances": 1, "meshX": 1},
        {"name": "PEBuffer", "class": "SRAM", "depth": rng.choice([256, 1024, 4096]), "instances": npe, "meshX": PX},
        {"name": "Reg", "class": "regfile", "depth": rng.choice([1, 4, 16]), "instances": npe * 16, "meshX": PX * 4},
    ]
    byp = rng.choice(
        [
            {},
            {"Reg": ["Inputs", "Outputs"]},
            {"Reg": ["Inputs"]},
            {"GlobalBuffer": ["Weights"], "Reg": ["Inputs", "Outputs"]},
            {"PEBuffer": ["Outputs"]},
        ]
    )
    return f"simba{PX}x{PY}_4x4", levels, {"instances": npe * 16, "meshX": PX * 4}, byp


def main():
    global MAC
    deep = "--deep" in sys.argv
    n_target = int(next((a.split("=")[1] for a in sys.argv if a.startswith("--n=")), 150))
    out = str(Path(__file__).resolve().parent / ("corpus_deep.json" if deep else "corpus.json"))
    seed0 = 20261203 + (1000 if deep else 0)
    corpus, tries, fails = [], 0, 0
    t0 = time.time()
    k = 0
    while len(corpus) < n_target:
        seed = seed0 + k
        k += 1
        rng = random.Random(seed)
        kind, levels, MAC, byp = (arch_deep if deep else arch_flat)(rng)
        prob = rand_problem(rng)
        mp = None
        for _ in range(400):
            tries += 1
            mp = rand_mapping(rng, prob, levels, byp)
            if mp is not None:
                break
        if mp is None:
            continue
        case = {"problem": prob, "arch": {"word_bits": 16, "levels": levels, "mac": MAC}, "mapping": mp}
        r1 = run_case(dict(case, link_transfers=True))
        if not r1["ok"]:
            fails += 1
            print("timeloop rejected seed", seed, r1["error"][-300:].replace("\n", " | "))
            continue
        r0 = run_case(dict(case, link_transfers=False))
        corpus.append(
            {"id": len(corpus), "seed": seed, "kind": kind, "case": case, "timeloop": r1, "timeloop_no_link": r0}
        )
    meta = {
        "timeloop": "NVlabs/timeloop v3.0.3, timeloop-model, no ISL, no accelergy",
        "notes": "timeloop = default env (link transfers on); timeloop_no_link = "
        "TIMELOOP_DISABLE_LINK_TRANSFERS=1. Totals = per-instance x utilized instances.",
        "n": len(corpus),
        "timeloop_rejections": fails,
    }
    json.dump({"meta": meta, "entries": corpus}, open(out, "w"), indent=1)
    nl = sum(
        1 for e in corpus if any(d["link_transfers"] for n in e["timeloop"]["networks"].values() for d in n.values())
    )
    print(
        f"wrote {out}: {len(corpus)} entries, {fails} rejected by timeloop, "
        f"{nl} with nonzero link transfers, {time.time() - t0:.0f}s"
    )


if __name__ == "__main__":
    main()
