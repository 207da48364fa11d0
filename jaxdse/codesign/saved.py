"""A finished exploration as plain data: ``RunData``, from a ``Result`` or a result folder.

The figures (``jaxdse.codesign.plots``) and the report
(``jaxdse.codesign.report``) read only what a result folder holds, so they
work the same on a ``Result`` in memory and on any saved run:

- ``result.json`` (``Result.to_dict``): ``method``, ``objective``,
  ``design``, ``total`` (``latency_s``, ``energy_j``, ``area_mm2``,
  ``power_w``, ``objective``), ``feasible``, ``constraints`` (``limits``,
  ``budgets``) and ``layers`` (per network, one dict per unique layer with
  ``name``, ``count``, ``latency_s``, ``energy_j``, ``terms_cycles``,
  ``bottleneck``, ``loop_nest``);
- ``trace.jsonl``: one JSON object per evaluated design with ``design``,
  ``total``, ``budgets``, ``accepted`` and ``reason``.

``load_run(folder)`` checks every key the figures and the report use and
raises ``ReportError`` naming the file, the line and the key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULT_FILE = "result.json"
TRACE_FILE = "trace.jsonl"

TOTAL_KEYS = ("latency_s", "energy_j", "area_mm2", "power_w", "objective")
"""Keys of ``total`` read in result.json and in every trace line."""

LAYER_KEYS = ("name", "count", "latency_s", "energy_j", "terms_cycles", "bottleneck", "loop_nest")
"""Keys of each per-layer dict in result.json's ``layers``."""


class ReportError(ValueError):
    """A result folder that cannot be read; the message names the file and the key."""


@dataclass(frozen=True)
class RunData:
    """What a result folder holds, as plain Python data.

    Attributes:
        summary: The content of ``result.json`` (``Result.to_dict()``).
        trace: One dict per evaluated design, in evaluation order, each with
            ``design``, ``total``, ``budgets``, ``feasible``, ``accepted`` and
            ``reason`` (``TraceEntry.to_dict()``).
    """

    summary: dict
    trace: tuple[dict, ...]

    @property
    def method(self) -> str:
        return str(self.summary["method"])

    @property
    def objective(self) -> str:
        return str(self.summary["objective"])

    @property
    def limits(self) -> dict:
        """Constraint limits: ``area_mm2``, ``power_w`` (None: unconstrained), ``min_per_s``."""
        return self.summary["constraints"]["limits"]

    def best_so_far(self) -> list[float]:
        """Best feasible objective after each evaluated design (inf before the first feasible)."""
        out, best = [], float("inf")
        for e in self.trace:
            if e["feasible"]:
                best = min(best, float(e["total"]["objective"]))
            out.append(best)
        return out


def run_data(run: Any) -> RunData:
    """A ``RunData`` from a ``RunData`` (returned as is) or a ``jaxdse.codesign.Result`` (its
    ``run_data()``; this module does not import ``result``, which builds on it); TypeError otherwise."""
    if isinstance(run, RunData):
        return run
    convert = getattr(type(run), "run_data", None)
    if callable(convert):
        out = convert(run)
        if isinstance(out, RunData):
            return out
    raise TypeError(f"figures: argument 'run' expected a Result or RunData, found {type(run).__name__}")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _need(obj: Any, key: str, where: str, kind: str = "any") -> Any:
    """``obj[key]``, or ReportError naming ``where`` and the key when missing or of the wrong kind."""
    if not isinstance(obj, dict) or key not in obj:
        raise ReportError(f"{where}: expected key '{key}', found it missing")
    v = obj[key]
    ok = {
        "any": True,
        "number": _is_number(v),
        "bool": isinstance(v, bool),
        "str": isinstance(v, str),
        "dict": isinstance(v, dict),
        "list": isinstance(v, list),
    }[kind]
    if not ok:
        raise ReportError(f"{where}: key '{key}' expected a {kind}, found {v!r:.80}")
    return v


def _check_totals(total: Any, where: str) -> None:
    for k in TOTAL_KEYS:
        _need(total, k, f"{where} 'total'", "number")


def _read_text(path: Path) -> str:
    """A file's text, or ReportError for bytes that are not UTF-8 or a file that cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ReportError(
            f"{path}: expected UTF-8 text, found a byte that is not ({e.reason} at byte {e.start})"
        ) from None
    except OSError as e:
        raise ReportError(f"{path}: expected a readable file, found error: {e.strerror or e}") from None


def _read_json(path: Path) -> Any:
    text = _read_text(path)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:  # ValueError: an int past the parser's digit limit
        if not isinstance(e, json.JSONDecodeError):
            raise ReportError(f"{path}: expected JSON, found a value the parser rejects ({type(e).__name__})") from None
        raise ReportError(f"{path}: expected JSON, found a syntax error at line {e.lineno}: {e.msg}") from None


def check_summary(summary: Any, where: str) -> dict:
    """Check result.json's keys used by the figures and the report; returns it."""
    if not isinstance(summary, dict):
        raise ReportError(f"{where}: expected a JSON object, found {type(summary).__name__}")
    _need(summary, "method", where, "str")
    _need(summary, "objective", where, "str")
    _need(summary, "design", where, "dict")
    _need(summary, "feasible", where, "bool")
    _check_totals(_need(summary, "total", where, "dict"), where)
    cons = _need(summary, "constraints", where, "dict")
    _need(cons, "limits", f"{where} 'constraints'", "dict")
    for k, v in _need(cons, "budgets", f"{where} 'constraints'", "dict").items():
        if not _is_number(v):
            raise ReportError(f"{where} 'constraints.budgets': key '{k}' expected a number, found {v!r:.80}")
    layers = _need(summary, "layers", where, "dict")
    if not layers:
        raise ReportError(f"{where}: key 'layers' expected at least one network, found none")
    for net, rows in layers.items():
        if not isinstance(rows, list) or not rows:
            raise ReportError(f"{where} 'layers': key '{net}' expected a non-empty list of layers, found {rows!r:.80}")
        for i, row in enumerate(rows):
            w = f"{where} 'layers.{net}[{i}]'"
            for k in LAYER_KEYS:
                _need(row, k, w, {"name": "str", "loop_nest": "str", "bottleneck": "str"}.get(k, "any"))
            for k in ("count", "latency_s", "energy_j"):
                _need(row, k, w, "number")
            _need(row, "terms_cycles", w, "dict")
    return summary


def check_trace_line(entry: Any, where: str) -> dict:
    """Check one trace line; fills ``feasible`` from the budgets when absent (every budget <= 1)."""
    if not isinstance(entry, dict):
        raise ReportError(f"{where}: expected a JSON object, found {type(entry).__name__}")
    _need(entry, "design", where, "dict")
    _check_totals(_need(entry, "total", where, "dict"), where)
    budgets = _need(entry, "budgets", where, "dict")
    for k, v in budgets.items():
        if not _is_number(v):
            raise ReportError(f"{where} 'budgets': key '{k}' expected a number, found {v!r:.80}")
    _need(entry, "accepted", where, "bool")
    _need(entry, "reason", where, "str")
    if "feasible" not in entry:
        # the same test as DesignEval.feasible
        entry = {**entry, "feasible": all(v <= 1.0 + 1e-9 for v in budgets.values())}
    _need(entry, "feasible", where, "bool")
    return entry


def load_run(folder: str | Path) -> RunData:
    """Read ``result.json`` and ``trace.jsonl`` of a result folder.

    Raises:
        ReportError: The folder or a file is missing, a file is not JSON
            (JSON Lines), or a key the figures and the report use is missing
            or of the wrong kind; the message names the file, line and key.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(f"result folder: expected a directory holding {RESULT_FILE}, found no directory '{folder}'")
    paths = {name: folder / name for name in (RESULT_FILE, TRACE_FILE)}
    for name, path in paths.items():
        if not path.is_file():
            raise ReportError(f"result folder '{folder}': expected file '{name}', found it missing")
    summary = check_summary(_read_json(paths[RESULT_FILE]), str(paths[RESULT_FILE]))
    trace = []
    for n, line in enumerate(_read_text(paths[TRACE_FILE]).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{paths[TRACE_FILE]} line {n}"
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError) as e:
            msg = e.msg if isinstance(e, json.JSONDecodeError) else f"a value the parser rejects ({type(e).__name__})"
            raise ReportError(f"{where}: expected one JSON object, found {msg}") from None
        trace.append(check_trace_line(entry, where))
    if not trace:
        raise ReportError(f"{paths[TRACE_FILE]}: expected one line per evaluated design, found no lines")
    return RunData(summary=summary, trace=tuple(trace))
