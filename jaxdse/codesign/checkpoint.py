"""Checkpoint and resume of an exploration: nothing computed is lost.

``explore(..., out=DIR)`` writes, besides ``trace.jsonl`` and ``result.json``:

- ``DIR/run.json``: everything that defines the run (networks as workload
  dicts, design space, constraints, objective, method, budget, seed, mapper
  budget, warm start, start design, the explainable explorer's
  ``ExplorerConfig``), written atomically before the search.
- ``DIR/evaluations.jsonl``: one line per evaluated design, appended and
  flushed as soon as the design is mapped: the design, and per network the
  mapping of every unique layer (factors and loop orders) with the mapper's
  provenance (exact evaluations spent, wall time).

``resume(DIR)`` re-runs the explorer from the start with the same settings.
Every explorer is deterministic given its seed and the evaluations it sees,
so it proposes the same designs in the same order; a design found in
``evaluations.jsonl`` is not mapped again but rebuilt from its stored
mappings (one exact evaluation per layer, no search), and the run carries on
past the last stored design. The final ``result.json`` equals that of an
uninterrupted run with the same seed (timings aside); a test interrupts a run
in a subprocess and checks this. A torn last line (the process was killed
while writing it) is ignored: that design is simply mapped again.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np

from costmodels import Mapping, MappingError, validate_mapping
from jaxdse.codesign.constraints import Constraints
from jaxdse.codesign.space import DesignSpace
from jaxdse.plan import evaluate as evaluate_plan
from workloads import Network, from_dict
from workloads.specfile import show

RUN_FILE = "run.json"
EVALS_FILE = "evaluations.jsonl"
TRACE_FILE = "trace.jsonl"
RESULT_FILE = "result.json"
RUN_FILES = (RUN_FILE, EVALS_FILE, TRACE_FILE, RESULT_FILE)
"""The files that make a folder hold a run: ``explore`` never overwrites them unasked."""
FORMAT_VERSION = 1


class ResumeError(ValueError):
    """A result folder that cannot be resumed; the message names the file and field."""


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half-written)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def run_settings(
    networks: list[Network],
    space: DesignSpace,
    constraints: Constraints,
    objective: str,
    method: str,
    budget: int,
    seed: int,
    mapper_budget: int,
    warm_start: int | None,
    start: dict[str, float] | None,
    command_line: str | None = None,
) -> dict:
    """The JSON-able settings that define a run (``run.json``)."""
    return {
        "format_version": FORMAT_VERSION,
        "networks": [n.to_dict() for n in networks],
        "space": {"values": {p: list(v) for p, v in space.values.items()}, "fixed": dict(space.fixed)},
        "constraints": asdict(constraints),
        "objective": objective,
        "method": method,
        "budget": budget,
        "seed": seed,
        "mapper_budget": mapper_budget,
        "warm_start": warm_start,
        "start": start,
        "command_line": command_line,
    }


def write_settings(out_dir: Path, settings: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / RUN_FILE, json.dumps(settings, indent=2))


def read_settings(out_dir: str | Path) -> dict[str, Any]:
    """``run.json`` of a result folder as keyword arguments of ``explore`` (objects rebuilt)."""
    path = Path(out_dir) / RUN_FILE
    if not path.is_file():
        raise ResumeError(f"resume: expected '{path}' (written by explore(out=...)), found no such file")
    try:
        s = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise ResumeError(f"resume: '{path}' expected JSON, found a malformed file ({type(e).__name__}: {e})") from None
    if not isinstance(s, dict):
        raise ResumeError(f"resume: '{path}' expected a JSON object, found {type(s).__name__}")
    if s.get("format_version") != FORMAT_VERSION:
        raise ResumeError(
            f"resume: '{path}' field 'format_version' expected {FORMAT_VERSION}, found {s.get('format_version')!r}"
        )
    need = ("networks", "space", "constraints", "objective", "method", "budget", "seed", "mapper_budget")
    missing = [k for k in need if k not in s]
    if missing:
        raise ResumeError(f"resume: '{path}' expected fields {list(need)}, missing {missing}")

    def shaped(key: str, ok: bool, expected: str) -> None:
        if not ok:
            raise ResumeError(f"resume: '{path}' field '{key}' expected {expected}, found {show(s[key])}")

    shaped("networks", isinstance(s["networks"], list), "a list of workload dicts")
    sp = s["space"]
    shaped(
        "space",
        isinstance(sp, dict) and isinstance(sp.get("values"), dict) and isinstance(sp.get("fixed", {}), dict),
        "{'values': {parameter: [values]}, 'fixed': {...}}",
    )
    shaped(
        "constraints",
        isinstance(s["constraints"], dict) and set(s["constraints"]) <= {f.name for f in fields(Constraints)},
        f"a dict with keys among {[f.name for f in fields(Constraints)]}",
    )
    key = "networks"
    try:
        nets = [from_dict(d, source=f"{path}: networks[{i}]") for i, d in enumerate(s["networks"])]
        key = "space"
        space = DesignSpace(
            values={p: tuple(float(x) for x in v) for p, v in sp["values"].items()},
            fixed={k: float(v) for k, v in sp.get("fixed", {}).items()},
        )
        key = "constraints"
        cons = Constraints(**s["constraints"])
    except (TypeError, KeyError, AttributeError, ValueError, OverflowError) as e:  # float("abc"), float(10**400)
        if isinstance(e, ValueError) and "expected" in str(e):  # the project's own errors name what they expected
            raise ResumeError(f"resume: '{path}' field '{key}': {e}") from None
        raise ResumeError(
            f"resume: '{path}' field '{key}' expected the form explore(out=...) writes, found a malformed value "
            f"({type(e).__name__}: {e})"
        ) from None
    return {
        "networks": nets,
        "space": space,
        "constraints": cons,
        "objective": s["objective"],
        "method": s["method"],
        "budget": s["budget"],
        "seed": s["seed"],
        "mapper_budget": s["mapper_budget"],
        "warm_start": s.get("warm_start"),
        "start": s.get("start"),
        "command_line": s["command_line"] if isinstance(s.get("command_line"), str) else None,
        "objectives": s.get("objectives"),  # multi-objective runs only (``jaxdse.codesign.pareto``)
        "pareto_config": s.get("pareto_config"),
        "explorer_config": s.get("explorer_config"),  # explainable runs (``ExplorerConfig``); None: older runs
    }


def _mapping_record(m: Mapping) -> list:
    f = m.factors()
    return [f.tolist(), np.asarray(m.order).astype(int).tolist()]


def _mapping_from_record(rec: list) -> Mapping:
    if not isinstance(rec, list) or len(rec) != 2:
        raise ValueError(f"expected [factors, order], found {show(rec)}")
    f = np.asarray(rec[0], dtype=np.float32)
    if f.shape != (4, 8):
        raise ValueError(f"expected factors of shape (4, 8), found shape {f.shape}")
    return Mapping.from_factors(f, np.asarray(rec[1], dtype=np.int32))


def check_record(record: dict, networks: list[Network]) -> None:
    """Check that a stored evaluation can rebuild every network's plan.

    Raises:
        ValueError: naming the network, the field and, for a mapping, the layer.
    """
    for n in networks:
        p = record["plans"].get(n.name)
        where = f"field 'plans.{n.name}"
        if not isinstance(p, dict):
            raise ValueError(f"{where}' expected a stored plan (dict), found {show(p)}")
        for key, kind in (("method", str), ("exact_evaluations", (int, float)), ("wall_s", (int, float))):
            if not isinstance(p.get(key), kind) or isinstance(p.get(key), bool):
                raise ValueError(f"{where}.{key}' expected a {kind}, found {show(p.get(key))}")
        maps = p.get("mappings")
        if not isinstance(maps, list) or len(maps) != len(n.layers):
            raise ValueError(f"{where}.mappings' expected one mapping per layer ({len(n.layers)}), found {show(maps)}")
        for j, (rec, layer) in enumerate(zip(maps, n.layers)):
            try:
                m = _mapping_from_record(rec)
                validate_mapping(layer, m)
            except (IndexError, KeyError, TypeError, ValueError, OverflowError) as e:
                msg = str(e) if isinstance(e, MappingError) else f"a malformed record ({type(e).__name__}: {e})"
                raise ValueError(
                    f"{where}.mappings[{j}]' expected [factors 4x8, order 3x8] for layer '{layer.name}', found {msg}"
                ) from None
    if not isinstance(record.get("wall_s"), (int, float)) or isinstance(record.get("wall_s"), bool):
        raise ValueError(f"field 'wall_s' expected a number, found {show(record.get('wall_s'))}")


def evaluation_record(design: dict[str, float], plans: dict, wall_s: float, elapsed_s: float = 0.0) -> dict:
    """One line of ``evaluations.jsonl``: a design and the mappings found on it.

    ``wall_s`` is the time spent mapping this design, ``elapsed_s`` the search's
    wall time (over every segment of a resumed run) when it was stored; a
    resumed run starts its clock there."""
    return {
        "design": design,
        "wall_s": wall_s,
        "elapsed_s": elapsed_s,
        "plans": {
            name: {
                "method": p.method,
                "exact_evaluations": p.exact_evaluations,
                "wall_s": p.wall_s,
                "mappings": [_mapping_record(m) for m in p.mappings],
            }
            for name, p in plans.items()
        },
    }


def plans_from_record(record: dict, networks: list[Network], arch) -> dict:
    """Rebuild the exact ``Plan`` of every network from a stored record (no mapping search)."""
    out = {}
    for n in networks:
        p = record["plans"][n.name]
        out[n.name] = evaluate_plan(
            n,
            arch,
            [_mapping_from_record(r) for r in p["mappings"]],
            method=p["method"],
            exact_evaluations=int(p["exact_evaluations"]),
            wall_s=float(p["wall_s"]),
        )
    return out


def append_record(path: Path, record: dict) -> None:
    """Append one JSON line and fsync it (``evaluations.jsonl``, ``trace.jsonl``)."""
    with open(path, "a") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_records(path: Path) -> list[dict]:
    """Stored evaluations; a torn (unparsable) last line is dropped, a torn line elsewhere is an error."""
    if not path.is_file():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ResumeError(f"resume: '{path}' expected a readable UTF-8 file, found error: {e}") from None
    out = []
    for i, line in enumerate(lines):
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict) or not all(isinstance(rec.get(k), dict) for k in ("design", "plans")):
                raise ValueError("missing 'design' or 'plans' (dicts)")
        except (ValueError, RecursionError) as e:  # RecursionError: nesting deeper than the parser's limit
            if i == len(lines) - 1:
                break  # the process died while writing this line: map the design again
            raise ResumeError(f"resume: '{path}' line {i + 1} expected a stored evaluation, found {e}") from None
        out.append(rec)
    return out


__all__ = [
    "EVALS_FILE",
    "RESULT_FILE",
    "RUN_FILE",
    "RUN_FILES",
    "TRACE_FILE",
    "ResumeError",
    "append_record",
    "atomic_write",
    "check_record",
    "evaluation_record",
    "plans_from_record",
    "read_records",
    "read_settings",
    "run_settings",
    "write_settings",
]
