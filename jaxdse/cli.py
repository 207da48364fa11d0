"""Command-line interface: ``jaxdse evaluate | map | explore | report | list``.

Errors in user input (unknown model or preset, malformed workload or arch
file) print one line naming the field, what was expected and what was
found, and exit with status 2.
"""

from __future__ import annotations

import argparse
import inspect
import shlex
import sys
from pathlib import Path

from costmodels import ArchError, HierarchyError, MappingError, get_arch, preset_names
from costmodels.counts import check_counts
from jaxdse.codesign import EXPLORERS, ConstraintError, ExploreError, ResumeError, SpaceError, explore
from jaxdse.codesign.baselines import BaselineUnavailable
from jaxdse.codesign.constraints import DEFAULT_AREA_MM2, DEFAULT_POWER_W
from jaxdse.codesign.explorer_config import ConfigError
from jaxdse.codesign.saved import ReportError
from jaxdse.compile_cache import enable_compile_cache
from jaxdse.hierarchy_plan import HierarchyMapError
from jaxdse.interop.timeloop_io import TimeloopError
from jaxdse.mapper.api import METHODS, OBJECTIVES, MapperError
from jaxdse.mapspace import DEFAULT_MAX_PADDING
from workloads import Network, WorkloadError, get, load, names
from workloads.specfile import check_out_dir, printable

USER_ERRORS = (
    ConfigError,
    WorkloadError,
    ArchError,
    HierarchyError,
    HierarchyMapError,
    MappingError,
    MapperError,
    ReportError,
    ExploreError,
    SpaceError,
    ConstraintError,
    BaselineUnavailable,
    ResumeError,
    TimeloopError,
)


def _path(text: str) -> Path:
    """A file or folder argument; an empty one is refused (``Path("")`` is the current folder)."""
    if text == "":
        raise argparse.ArgumentTypeError("expected a path, found an empty string")
    return Path(text)


def _network(args: argparse.Namespace):
    if getattr(args, "timeloop_problem", None):
        if args.model or args.workload:
            raise TimeloopError("command line: expected one of --model, --workload, --timeloop-problem, found several")
        from jaxdse.interop import read_problem

        layers = tuple(read_problem(p) for p in args.timeloop_problem)
        return Network(name="timeloop", layers=layers, counts=(1,) * len(layers))
    if args.model and args.workload:
        raise WorkloadError("command line: expected one of --model or --workload, found both")
    if args.batch is not None and not args.model:
        raise WorkloadError(f"command line: field '--batch' expected with --model only, found --batch {args.batch}")
    if args.model:
        return get(args.model, batch=1 if args.batch is None else args.batch)
    if args.workload:
        return load(args.workload)
    raise WorkloadError("command line: expected --model NAME or --workload FILE, found neither")


def _add_workload_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("workload")
    g.add_argument("--model", help=f"built-in network: {', '.join(names())}")
    g.add_argument("--workload", type=_path, help="YAML/JSON workload file (see workloads/examples/)")
    g.add_argument("--batch", type=int, help="batch of a --model network (LLMs: sequences) [1]")
    p.add_argument(
        "--arch",
        default="explainable_default",
        help=f"arch preset ({', '.join(preset_names())}) or YAML/JSON arch file [explainable_default]",
    )


def _add_timeloop_args(p: argparse.ArgumentParser, command: str) -> None:
    g = p.add_argument_group("Timeloop interop (see README, 'Timeloop interop')")
    g.add_argument(
        "--timeloop-problem",
        type=_path,
        action="append",
        metavar="FILE",
        help="Timeloop problem YAML, one layer (repeat for several); instead of --model/--workload",
    )
    g.add_argument(
        "--timeloop-arch",
        type=_path,
        metavar="FILE",
        help="Timeloop architecture YAML (v0.2-v0.4) instead of --arch; what it cannot carry over is listed on stderr",
    )
    if command == "evaluate":
        g.add_argument(
            "--timeloop-mapping",
            type=_path,
            action="append",
            metavar="FILE",
            help="Timeloop mapping YAML per layer, in layer order: evaluate these mappings instead of searching",
        )
    else:
        g.add_argument(
            "--export-timeloop",
            type=_path,
            metavar="DIR",
            help="also write arch.yaml, one problem + mapping YAML per layer and index.yaml for timeloop-model",
        )


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _emit(plan, args, header: str) -> None:
    if args.out:
        path = plan.save(args.out)
        print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print(plan.to_json(indent=2))
        return
    print(header)
    print(plan.table())
    if getattr(args, "nests", False):
        print("\nloop nests (outermost first; spatial = across PEs):")
        print(plan.nests())


def _hierarchy(args: argparse.Namespace):
    """The hierarchy named by --arch when it is not a three-level template design (else None)."""
    from costmodels.hierarchy import hierarchy_preset, hierarchy_preset_names, is_template_preset, load_hierarchy

    name = str(args.arch)
    if name in hierarchy_preset_names() and not is_template_preset(name):
        return hierarchy_preset(name)
    if name.endswith((".yaml", ".yml", ".json")) and Path(name).is_file():
        from workloads.specfile import read_spec

        data = read_spec(name, "arch file", ArchError)
        if isinstance(data, dict) and "levels" in data:
            return load_hierarchy(name)
    return None


def _map_on_hierarchy(args: argparse.Namespace, net, hier):
    """map on a general hierarchy: the nest search (``--method gradient``, the default) or random."""
    from jaxdse.hierarchy_plan import DEFAULT_SAMPLES, map_on_hierarchy
    from jaxdse.mapper.nest_search import NestSearchConfig

    if getattr(args, "timeloop_arch", None) or getattr(args, "timeloop_mapping", None):
        raise TimeloopError("command line: expected --timeloop-* files with a template --arch, found a hierarchy")
    if args.method not in ("gradient", "random"):
        raise MapperError(
            f"command line: field '--method' expected 'gradient' (the hierarchy mapper, a local search on the "
            f"exact model) or 'random' on the hierarchy '{args.arch}' (the pruned, exhaustive and default "
            f"mappers run on the three-level template presets only), found {args.method!r}"
        )
    method = "search" if args.method == "gradient" else "random"
    if not args.json:
        print(f"{args.arch}: {len(hier.names)} levels ({' -> '.join(hier.names)}); {method} mapper", file=sys.stderr)
    if method == "random":
        samples = args.budget or DEFAULT_SAMPLES
        return map_on_hierarchy(
            net,
            hier,
            objective=args.objective,
            samples=samples,
            seed=args.seed,
            method=method,
            tie_break=args.tie_break,
        )
    config = NestSearchConfig(budget=args.budget) if args.budget else None
    return map_on_hierarchy(
        net, hier, objective=args.objective, seed=args.seed, method=method, config=config, tie_break=args.tie_break
    )


def _check_out_dirs(args: argparse.Namespace) -> None:
    """A folder that cannot be written fails now, not after the work."""
    for flag in ("out", "export_timeloop"):
        if getattr(args, flag, None) is not None:
            check_out_dir(getattr(args, flag), f"command line: field '--{flag.replace('_', '-')}'", MapperError)


def _design(args: argparse.Namespace):
    """Checks of the output folders, then (network, hierarchy or None, Arch or None, Timeloop arch or None)."""
    _check_out_dirs(args)
    net = _network(args)
    hier = _hierarchy(args)
    if hier is not None:
        return net, hier, None, None
    arch, timeloop_arch = check_counts(get_arch(args.arch), f"arch '{printable(args.arch)}'"), None
    if getattr(args, "timeloop_arch", None):
        from jaxdse.interop import read_arch

        if args.arch != "explainable_default":
            raise TimeloopError("command line: expected one of --arch or --timeloop-arch, found both")
        timeloop_arch = read_arch(args.timeloop_arch)
        arch, args.arch = timeloop_arch.arch, str(args.timeloop_arch)
        for note in timeloop_arch.dropped:
            print(f"timeloop arch: {note}", file=sys.stderr)
    return net, None, arch, timeloop_arch


EVALUATE_SOURCES = ("--plan FILE", "--timeloop-mapping FILE ...", "--method default")
"""Where ``jaxdse evaluate`` takes its mappings from (exactly one)."""


def _evaluate(args: argparse.Namespace):
    """``jaxdse evaluate``: exact costs of given mappings; never searches."""
    from jaxdse.interop.timeloop_arch import is_jaxdse_template
    from jaxdse.plan import evaluate, load_mappings

    if args.timeloop_arch and args.timeloop_mapping and not is_jaxdse_template(args.timeloop_arch):
        if args.arch != "explainable_default" or args.plan or args.method == "default":
            raise TimeloopError(
                "command line: --timeloop-arch with --timeloop-mapping expected no --arch, --plan or --method default, "
                "found one"
            )
        _check_out_dirs(args)
        return _timeloop_levels(args, _network(args))
    net, hier, arch, timeloop_arch = _design(args)
    given = [
        flag for flag, on in zip(EVALUATE_SOURCES, (args.plan, args.timeloop_mapping, args.method == "default")) if on
    ]
    if len(given) != 1:
        raise MappingError(
            f"command line: jaxdse evaluate expected the mappings to evaluate from exactly one of "
            f"{', '.join(EVALUATE_SOURCES)}, found {', '.join(given) if given else 'none'} "
            f"(jaxdse map searches for mappings)"
        )
    if hier is not None:
        raise MapperError(
            f"command line: jaxdse evaluate expected a three-level template --arch, found the hierarchy "
            f"'{args.arch}' (jaxdse map --arch {args.arch} searches mappings on it)"
        )
    if args.plan:
        return net, evaluate(net, arch, load_mappings(args.plan, net), method=f"plan file {printable(args.plan)}")
    if args.timeloop_mapping:
        from jaxdse.interop import read_mapping

        if len(args.timeloop_mapping) != len(net.layers):
            raise TimeloopError(
                f"command line: field '--timeloop-mapping' expected one file per layer ({len(net.layers)}), "
                f"found {len(args.timeloop_mapping)}"
            )
        mappings = [read_mapping(m, layer, timeloop_arch) for m, layer in zip(args.timeloop_mapping, net.layers)]
        return net, evaluate(net, arch, mappings, method="Timeloop mapping files")
    return net, evaluate(net, arch, "default")


def _timeloop_levels(args: argparse.Namespace, net):
    """A Timeloop design read level by level (``load_design``): every storage level kept,
    nothing merged; one problem and one mapping file per layer."""
    from jaxdse.hierarchy_plan import evaluate_on_hierarchy
    from jaxdse.interop.timeloop_hierarchy import load_design

    if len(args.timeloop_mapping) != len(args.timeloop_problem or []):
        raise TimeloopError(
            f"command line: field '--timeloop-mapping' expected one file per --timeloop-problem "
            f"({len(args.timeloop_problem or [])}), found {len(args.timeloop_mapping)}"
        )
    designs = [load_design(args.timeloop_arch, m, p) for m, p in zip(args.timeloop_mapping, args.timeloop_problem)]
    hier = designs[0][0]
    layers = tuple(layer for _, _, layer in designs)
    timeloop_net = Network(name=net.name, layers=layers, counts=(1,) * len(layers))
    args.arch = str(args.timeloop_arch)
    if not args.json:
        print(
            f"{printable(args.timeloop_arch)}: {hier.depth} levels ({' -> '.join(hier.names)}), read level by level",
            file=sys.stderr,
        )
    return timeloop_net, evaluate_on_hierarchy(
        timeloop_net, hier, [m for _, m, _ in designs], method="Timeloop mapping files"
    )


def _search(args: argparse.Namespace):
    """``jaxdse map``: search mappings (``jaxdse.map_network``), or the default mapping with --method default."""
    from jaxdse.mapper.api import map_network
    from jaxdse.plan import evaluate

    net, hier, arch, _ = _design(args)
    if hier is not None:
        return net, _map_on_hierarchy(args, net, hier)
    if args.method == "default":
        if args.tie_break is not None:
            raise MapperError(
                "command line: field '--tie-break' expected a search method (--method default maps greedily, "
                f"with no ties to break), found --tie-break {args.tie_break} with --method default"
            )
        return net, evaluate(net, arch, "default")
    return net, map_network(
        net,
        arch,
        objective=args.objective,
        method=args.method,
        budget=args.budget,
        seed=args.seed,
        progress=None if args.json else _progress,
        max_padding=args.max_padding,
        tie_break=args.tie_break,
    )


def cmd_evaluate(args: argparse.Namespace) -> int:
    net, plan = _evaluate(args)
    _emit(plan, args, f"{net.summary()} on arch '{args.arch}'")
    return 0


def cmd_map(args: argparse.Namespace) -> int:
    args.nests = True
    net, plan = _search(args)
    if args.export_timeloop:
        from jaxdse.interop import export_plan

        print(f"wrote {export_plan(plan, args.export_timeloop)} (Timeloop inputs)", file=sys.stderr)
    _emit(plan, args, f"{net.summary()} mapped on arch '{args.arch}'")
    return 0


EXPLORE_DEFAULTS = {
    "area_mm2": DEFAULT_AREA_MM2,
    "power_w": DEFAULT_POWER_W,
    **{k: inspect.signature(explore).parameters[k].default for k in ("budget", "method", "seed", "objective")},
}
"""Defaults of ``jaxdse explore``'s run settings, taken from ``Constraints`` and ``jaxdse.explore``
(applied in ``cmd_explore`` rather than by argparse, so ``--resume`` can tell which flags were given)."""


def cmd_explore(args: argparse.Namespace) -> int:
    from jaxdse.codesign import Constraints, resume

    progress = None if args.json else _progress
    if args.arch is not None:
        return _explore_hierarchy(args, progress)
    if args.resume is not None:
        from jaxdse.codesign.hierarchy_explore import is_hierarchy_run

        if is_hierarchy_run(args.resume):
            return _explore_hierarchy(args, progress)
    settings = ["model", "workload", "batch", "space", "min_fps", "min_tokens_per_s", "objectives", "explorer_config",
                *EXPLORE_DEFAULTS]  # fmt: skip
    if args.resume is not None:
        given = [f"--{k.replace('_', '-')}" for k in settings if getattr(args, k) is not None]
        given += ["--force"] if args.force else []
        if given:
            raise ExploreError(
                f"command line: --resume takes every run setting from {args.resume}/run.json; expected none of "
                f"{given} with it, found them"
            )
        result = resume(args.resume, progress=progress)
        args.out = args.resume
    else:
        if args.objectives is not None and args.objective is not None:
            raise ExploreError(
                "command line: expected one of --objective (one objective) or --objectives (a Pareto front), found both"
            )
        if args.objectives is not None and args.method not in (None, "pareto"):
            raise ExploreError(
                f"command line: --objectives runs the 'pareto' method; expected no other --method, found {args.method}"
            )
        for k, v in EXPLORE_DEFAULTS.items():
            if getattr(args, k) is None:
                setattr(args, k, v)
        if args.batch is not None and not args.model:
            raise WorkloadError(f"command line: field '--batch' expected with --model only, found --batch {args.batch}")
        batch = 1 if args.batch is None else args.batch
        nets = [get(m, batch=batch) for m in args.model or []] + [load(w) for w in args.workload or []]
        if not nets:
            raise WorkloadError("command line: expected at least one --model NAME or --workload FILE, found none")
        cons = Constraints(
            area_mm2=args.area_mm2,
            power_w=args.power_w,
            min_per_s={n.name: args.min_fps for n in nets} if args.min_fps is not None else {},
            min_tokens_per_s=_tokens_limits(nets, args.min_tokens_per_s),
        )
        result = explore(
            nets,
            space=args.space,
            constraints=cons,
            objective=args.objective,
            method=args.method,
            budget=args.budget,
            seed=args.seed,
            out=args.out,
            progress=progress,
            force=args.force,
            command_line=shlex.join(["jaxdse", *args.argv]),
            objectives=args.objectives,
            explorer_config=_explorer_config(args.explorer_config),
        )
    return _print_result(
        args, result, result.explain(), "result.json, run.json, trace.jsonl, evaluations.jsonl and figures"
    )


def _explorer_config(text: str | None, cls=None):
    """``--explorer-config top_k=3,min_gain=0.01`` -> ``cls`` (``ExplorerConfig`` by default; the
    hierarchy explorer's ``HierarchyExplorerConfig`` with --arch); None when not given."""
    if text is None:
        return None
    from dataclasses import fields

    from jaxdse.codesign.explorer_config import ExplorerConfig

    cls = cls or ExplorerConfig
    types = {f.name: f.type for f in fields(cls)}
    values: dict = {}
    for item in text.split(","):
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq or key not in types:
            raise ConfigError(
                f"command line: field '--explorer-config' expected KEY=VALUE items with KEY among {sorted(types)}, "
                f"found {item!r}"
            )
        try:
            values[key] = int(raw) if types[key] in ("int", int) else float(raw)
        except ValueError:
            raise ConfigError(
                f"command line: field '--explorer-config' item {key!r} expected a {types[key]}, found {raw!r}"
            ) from None
    return cls.from_dict(values, where="command line: field '--explorer-config'")


def _explore_hierarchy(args: argparse.Namespace, progress) -> int:
    """explore --arch HIERARCHY (or --resume of such a run): the hierarchy explorer
    (``jaxdse.codesign.hierarchy_explore``)."""
    from jaxdse.codesign.hierarchy_explore import explore_hierarchy, read_hierarchy_run, resume_hierarchy

    if args.resume is not None:
        run = read_hierarchy_run(args.resume)
        flags = ("arch", "model", "workload", "batch", "space", "budget", "objective", "method", "seed", "area_mm2",
                 "power_w", "min_fps", "min_tokens_per_s", "out")  # fmt: skip
        given = [f"--{k.replace('_', '-')}" for k in flags if getattr(args, k) is not None]
        if given or args.force:
            raise ExploreError(
                f"command line: --resume takes every run setting from {args.resume}/run.json; expected none of "
                f"{given + (['--force'] if args.force else [])} with it, found them"
            )
        args.arch, args.model, args.workload, args.batch = run["arch"], run["models"], run["workloads"], run["batch"]
        hier = _hierarchy(args)
        nets = _networks(args)
        args.out = args.resume
        result = resume_hierarchy(args.resume, nets, hier, progress=progress)
        return _print_result(args, result, result.summary(), "result.json, run.json and evaluations.jsonl")
    hier = _hierarchy(args)
    if hier is None:
        raise ExploreError(
            f"command line: field '--arch' expected a general hierarchy (eyeriss_like, simba_like, gemmini_like, "
            f"tpu_v1_like or a hierarchy YAML; the template designs are explored in the Table-1 space without "
            f"--arch), found {args.arch!r}"
        )
    from jaxdse.codesign.hierarchy_explore import METHODS as HIER_METHODS
    from jaxdse.codesign.hierarchy_explore import HierarchyExplorerConfig

    if args.objectives is not None and args.objective is not None:
        raise ExploreError(
            "command line: expected one of --objective (one objective) or --objectives (a Pareto front), found both"
        )
    if args.objectives is not None and args.method not in (None, "pareto"):
        raise ExploreError(
            f"command line: --objectives runs the 'pareto' method; expected no other --method, found {args.method}"
        )
    if args.objectives is None and args.method not in (None, *HIER_METHODS):
        raise ExploreError(
            f"command line: field '--method' expected one of {list(HIER_METHODS)} with --arch, found {args.method!r}"
        )
    held = [f for f in ("run.json", "result.json", "evaluations.jsonl") if args.out and (Path(args.out) / f).exists()]
    if held and not args.force:
        raise ExploreError(
            f"command line: --out {args.out} already holds a run ({', '.join(held)}); expected --resume "
            f"{args.out} to continue it or --force to replace it"
        )
    nets = _networks(args)
    values = None
    if args.space is not None:  # {parameter: [values]}: narrows or widens the space read off the hierarchy
        from workloads.specfile import read_spec

        values = read_spec(args.space, "hierarchy space file", SpaceError)
        if not isinstance(values, dict) or not all(isinstance(v, list) for v in values.values()):
            raise SpaceError(
                f"hierarchy space file {args.space}: expected a mapping of parameter name -> list of values, "
                f"found {type(values).__name__}"
            )
    settings = {
        "arch": str(Path(args.arch).resolve()) if Path(str(args.arch)).is_file() else str(args.arch),
        "models": args.model,
        "workloads": [str(Path(w).resolve()) for w in args.workload or []] or None,
        "batch": args.batch,
    }
    result = explore_hierarchy(
        nets,
        hier,
        values=values,
        arch_name=str(args.arch),
        budget=30 if args.budget is None else args.budget,
        objective=args.objective or "latency",
        method=args.method or "explainable",
        seed=0 if args.seed is None else args.seed,
        max_area_mm2=args.area_mm2,
        max_power_w=args.power_w,
        progress=progress,
        out=args.out,
        settings=settings,
        objectives=args.objectives,
        min_fps=args.min_fps,
        min_tokens_per_s=args.min_tokens_per_s,
        explorer_config=_explorer_config(args.explorer_config, HierarchyExplorerConfig),
    )
    files = "result.json, run.json, evaluations.jsonl" + (", trace.jsonl and front.png" if args.objectives else "")
    return _print_result(args, result, result.summary(), files)


def _networks(args: argparse.Namespace) -> list[Network]:
    """The networks of --model / --workload (with --batch for --model)."""
    batch = 1 if args.batch is None else args.batch
    nets = [get(m, batch=batch) for m in args.model or []] + [load(w) for w in args.workload or []]
    if not nets:
        raise WorkloadError("command line: expected at least one --model NAME or --workload FILE, found none")
    return nets


def _print_result(args: argparse.Namespace, result, text: str, files: str) -> int:
    """An explore result: result.json on stdout with --json, else ``text`` and each network's table on the
    returned design; exit 0 when it is feasible, 3 when not."""
    if args.json:
        import json

        print(json.dumps(result.to_dict(), indent=2))
        return 0 if result.feasible else 3
    print(text)
    if result.best is not None:
        for name, plan in result.best.plans.items():
            print(f"\n{name} on the final design:")
            print(plan.table())
    if args.out:
        print(f"\nwrote {args.out}/{files}")
    return 0 if result.feasible else 3


def _tokens_limits(nets: list[Network], min_tokens_per_s: float | None) -> dict[str, float]:
    """``--min-tokens-per-s`` for every LLM prefill/decode network given."""
    if min_tokens_per_s is None:
        return {}
    llm = {n.name: min_tokens_per_s for n in nets if n.phase}
    if not llm:
        raise ConstraintError(
            "command line: field '--min-tokens-per-s' expected at least one LLM prefill/decode network "
            f"(e.g. --model llama2_7b_decode), found none among {[n.name for n in nets]}"
        )
    return llm


def cmd_report(args: argparse.Namespace) -> int:
    from jaxdse.codesign.report import write_report

    path = write_report(args.dir, fmt=args.format, out=args.out)
    print(f"wrote {path}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    del args
    print("models: " + ", ".join(names()))
    from costmodels.hierarchy import hierarchy_preset_names, is_template_preset

    print("arch presets (three-level template; map and explore): " + ", ".join(preset_names()))
    general = [n for n in hierarchy_preset_names() if not is_template_preset(n)]
    print("hierarchy presets (any depth; map with the hierarchy mapper): " + ", ".join(general))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxdse", description="Explainable codesign of DNN accelerators in JAX")
    sub = parser.add_subparsers(dest="command", required=True)

    for name, func, text in (
        (
            "evaluate",
            cmd_evaluate,
            "exact latency/energy/area of given mappings on one design (--plan, --timeloop-mapping or "
            "--method default; no search)",
        ),
        ("map", cmd_map, "search the best mapping of every layer on one design, with loop nests"),
    ):
        p = sub.add_parser(name, help=text)
        _add_workload_args(p)
        if name == "evaluate":
            p.add_argument(
                "--plan",
                type=_path,
                metavar="FILE",
                help="plan.json written by jaxdse map --out: evaluate its mappings (same workload)",
            )
            p.add_argument(
                "--method",
                choices=["default"],
                help="'default': evaluate the greedy default mapping of jaxdse.heuristic",
            )
        else:
            p.add_argument(
                "--method",
                default="gradient",
                choices=list(METHODS) + ["default"],
                help="mapping method; 'default' = greedy heuristic, no search [gradient]",
            )
            p.add_argument("--objective", default="latency", choices=list(OBJECTIVES), help="[latency]")
            p.add_argument(
                "--tie-break",
                choices=list(OBJECTIVES),
                help="another objective that picks among the mappings tied at the best value "
                "(e.g. the least energy of the fastest) [none: the method's own order]",
            )
            p.add_argument("--budget", type=int, help="per-layer search size (see jaxdse.mapper.api)")
            p.add_argument("--seed", type=int, default=0, help="[0]")
            p.add_argument(
                "--max-padding",
                type=float,
                default=DEFAULT_MAX_PADDING,
                help="largest padding per dim the mapper may add (imperfect factorisation; 0 = exact only) "
                f"[{DEFAULT_MAX_PADDING}]",
            )
        p.add_argument("--json", action="store_true", help="print JSON (keys: layers, total) instead of a table")
        p.add_argument("--out", type=_path, help="also write DIR/plan.json")
        _add_timeloop_args(p, name)
        p.set_defaults(func=func)

    p = sub.add_parser("explore", help="codesign: search hardware and mappings together under constraints")
    p.add_argument("--model", action="append", help=f"zoo network (repeat for several): {', '.join(names())}")
    p.add_argument("--workload", action="append", type=_path, help="YAML/JSON workload file (repeat for several)")
    p.add_argument("--space", type=_path, help="YAML/JSON design-space file (default: Explainable-DSE Table 1)")
    p.add_argument("--objective", choices=list(OBJECTIVES), help="[latency]")
    p.add_argument(
        "--objectives",
        metavar="A,B[,...]",
        help="search the Pareto front of two or more of latency, energy, edp, area, power (e.g. latency,energy)",
    )
    p.add_argument(
        "--arch",
        help="explore around a general hierarchy (eyeriss_like, simba_like, gemmini_like, tpu_v1_like or a "
        "hierarchy YAML): its levels' capacities, fan-outs and bandwidths [none: the Table-1 template space]",
    )
    p.add_argument("--area-mm2", type=float, help="area limit [75; with --arch: the base design's own]")
    p.add_argument("--power-w", type=float, help="peak power limit [4; with --arch: the base design's own]")
    p.add_argument("--min-fps", type=float, help="minimum inferences/s for every model (default: per-model, reference)")
    p.add_argument(
        "--min-tokens-per-s",
        type=float,
        help="minimum tokens/s for every LLM prefill (prompt tokens) / decode (new tokens) network [none]",
    )
    p.add_argument("--batch", type=int, help="batch of every --model network (LLMs: sequences) [1]")
    p.add_argument("--budget", type=int, help="designs to evaluate [50]")
    p.add_argument("--method", choices=sorted([*EXPLORERS, "pareto"]), help="[explainable; pareto with --objectives]")
    p.add_argument("--seed", type=int, help="[0]")
    p.add_argument(
        "--explorer-config",
        metavar="KEY=VALUE,...",
        help="the explainable explorer's tunables (jaxdse.codesign.ExplorerConfig), e.g. top_k=3,min_gain=0.01; "
        "with --arch the hierarchy explorer's (HierarchyExplorerConfig), e.g. layers_tried=5; recorded in run.json",
    )
    p.add_argument("--json", action="store_true", help="print result.json to stdout instead of text")
    p.add_argument(
        "--out",
        type=_path,
        help="write run.json, trace.jsonl and evaluations.jsonl (streamed), result.json and figures to DIR",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace a run already saved in --out DIR (without it such a folder is refused; see --resume)",
    )
    p.add_argument(
        "--resume",
        type=_path,
        metavar="DIR",
        help="continue an interrupted run saved in DIR (settings from DIR/run.json; mapped designs are not redone)",
    )
    p.set_defaults(func=cmd_explore)

    p = sub.add_parser("report", help="turn a result folder (jaxdse explore --out DIR) into a Markdown or HTML report")
    p.add_argument("dir", type=_path, metavar="DIR", help="folder holding result.json and trace.jsonl")
    p.add_argument("--format", default="md", choices=["md", "html"], help="md links figures, html inlines them [md]")
    p.add_argument("--out", type=_path, help="report file [DIR/report.md or DIR/report.html]")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("list", help="built-in models and arch presets")
    p.set_defaults(func=cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded with an explore run
    enable_compile_cache()  # a second jaxdse process reuses what the first compiled
    try:
        return args.func(args)
    except USER_ERRORS as e:
        print("jaxdse: error: " + " ".join(str(e).splitlines()), file=sys.stderr)  # always one line
        return 2
    except OSError as e:  # the environment, not the code: a folder that turned read-only, a full disk
        where = f" ('{printable(e.filename)}')" if e.filename else ""
        print(
            f"jaxdse: error: expected files that can be read and written, found {e.strerror or e}{where}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(_interrupted(args), file=sys.stderr)
        return 130  # 128 + SIGINT, as a shell reports it


def _interrupted(args: argparse.Namespace) -> str:
    """The one line printed on Ctrl-C: how to continue when a run folder holds what was done."""
    from jaxdse.codesign.checkpoint import RUN_FILE

    folder = (getattr(args, "resume", None) or getattr(args, "out", None)) if args.command == "explore" else None
    if folder is not None and (Path(folder) / RUN_FILE).is_file():
        cmd = f"jaxdse explore --resume {shlex.quote(str(folder))}"
        return f"jaxdse: interrupted; every design evaluated so far is saved, continue with: {cmd}"
    return "jaxdse: interrupted"


if __name__ == "__main__":
    sys.exit(main())
