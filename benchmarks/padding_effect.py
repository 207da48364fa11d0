"""What padded factorisations change, network by network: the gradient mapper
(seed 0, latency objective) with ``max_padding=0`` (exact factorisations only)
and with the default padding, on the same design.

Designs: ``explainable_default`` and, with ``--design FILE``, a Table-1 design
stored as JSON (a ``design`` dict of ``result.json``, or the dict itself),
e.g. the best design of an explorer run. Prints latency with each setting and
their ratio (> 1: the padded search ended worse).

    python benchmarks/padding_effect.py [--networks resnet18,vgg16] [--design FILE]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jaxdse
import workloads as w
from jaxdse.codesign.space import table1_space, to_arch
from jaxdse.compile_cache import enable_compile_cache
from jaxdse.mapspace import DEFAULT_MAX_PADDING


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", default="resnet18,vgg16,mobilenet_v2,resnet50,bert_base")
    ap.add_argument("--design", type=Path, default=None, help="JSON of a Table-1 design (or a result.json)")
    args = ap.parse_args()
    enable_compile_cache()
    archs = {"explainable_default": "explainable_default"}
    if args.design is not None:
        d = json.loads(args.design.read_text())
        d = d.get("best", d).get("design", d)
        archs[args.design.name] = to_arch({k: float(v) for k, v in d.items()}, table1_space().fixed)
    print(f"{'design':<22} {'network':<14} {'exact ms':>10} {'padded ms':>10} {'ratio':>7}")
    for label, arch in archs.items():
        for name in args.networks.split(","):
            net = w.get(name)
            lat = [
                jaxdse.map_network(net, arch, max_padding=pad, progress=False).total()["latency_s"] * 1e3
                for pad in (0.0, DEFAULT_MAX_PADDING)
            ]
            print(f"{label:<22} {name:<14} {lat[0]:>10.3f} {lat[1]:>10.3f} {lat[1] / lat[0]:>7.4f}", flush=True)


if __name__ == "__main__":
    main()
