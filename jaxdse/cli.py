"""Command-line interface: ``jaxdse evaluate | list``.

Errors in user input (unknown model or preset, malformed workload or arch
file) print one line naming the field, what was expected and what was
found, and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from costmodels import ArchError, MappingError, get_arch, preset_names
from workloads import WorkloadError, get, load, names

USER_ERRORS = (WorkloadError, ArchError, MappingError)


def _network(args: argparse.Namespace):
    if args.model and args.workload:
        raise WorkloadError("command line: expected one of --model or --workload, found both")
    if args.model:
        return get(args.model)
    if args.workload:
        return load(args.workload)
    raise WorkloadError("command line: expected --model NAME or --workload FILE, found neither")


def _add_workload_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("workload")
    g.add_argument("--model", help=f"built-in network: {', '.join(names())}")
    g.add_argument("--workload", type=Path, help="YAML/JSON workload file (see workloads/examples/)")
    p.add_argument(
        "--arch",
        default="explainable_default",
        help=f"arch preset ({', '.join(preset_names())}) or YAML/JSON arch file [explainable_default]",
    )


def cmd_evaluate(args: argparse.Namespace) -> int:
    from jaxdse.plan import evaluate

    net = _network(args)
    arch = get_arch(args.arch)
    plan = evaluate(net, arch)
    if args.out:
        path = plan.save(args.out)
        print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print(plan.to_json(indent=2))
    else:
        print(f"{net.summary()} on arch '{args.arch}'")
        print(plan.table())
        print(
            "note: mappings come from the greedy default mapper (no search); "
            "per-layer latency is max(compute, 4 NoCs, DMA) of the exact model."
        )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    del args
    print("models: " + ", ".join(names()))
    print("arch presets: " + ", ".join(preset_names()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxdse", description="Explainable codesign of DNN accelerators in JAX")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("evaluate", help="exact latency/energy/area of a network on one design")
    _add_workload_args(p)
    p.add_argument("--json", action="store_true", help="print JSON (keys: layers, total) instead of a table")
    p.add_argument("--out", type=Path, help="also write DIR/plan.json")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("list", help="built-in models and arch presets")
    p.set_defaults(func=cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as e:
        print(f"jaxdse: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
