"""A result folder as a report: ``write_report(folder, fmt="md" | "html")``.

The report reads only ``result.json`` and ``trace.jsonl`` (``load_run``), so
it works on any saved run; figures missing from the folder are redrawn from
those two files (``plots.save_figures``). Sections: summary (design,
totals, feasibility, constraint budgets), per-layer costs of every network
(mapping, latency, energy, compute / NoC / DMA cycles, bottleneck), the
figures, every accepted step with its reason, and counts.

Markdown links the figures by relative path; HTML is self-contained: the
PNGs are inlined as base64 ``data:`` URIs (RFC 2397) and the style sheet
is in the page, so the file can be mailed or archived alone.
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass
from pathlib import Path

from jaxdse.codesign.checkpoint import atomic_write
from jaxdse.codesign.pareto_plot import plot_front
from jaxdse.codesign.plots import FIGURES, layer_groups, save_figures
from jaxdse.codesign.saved import TOTAL_KEYS, ReportError, RunData, load_run
from jaxdse.codesign.space import UNITS, links
from workloads.specfile import check_out_dir

FORMATS = ("md", "html")

CAPTIONS = {
    "convergence.png": "Objective of every evaluated design; the line is the best feasible so far, rings mark "
    "accepted steps.",
    "breakdown.png": "Final design: each layer's compute, NoC (slowest of the four) and DMA time x repeat count, "
    "side by side; they overlap, so the layer takes the longest of the three (the label names it) and the "
    "shorter bars show the others' slack.",
    "budgets.png": "Each constraint's used share of its budget (cost / limit) per evaluated design; above the "
    "dashed line the constraint is broken; filled markers are accepted steps.",
    "design_space.png": "Explored designs by latency and area, coloured by peak power (the red tick on the colour "
    "bar is the power limit); the star is the final design, the dashed line the area limit.",
}

FRONT_FIGURE = "front.png"
FRONT_CAPTION = (
    "Pareto front (multi-objective runs): latency vs energy of every evaluated design (grey; crosses infeasible); "
    "front points coloured by area, labelled by their evaluation number and what differs from the previous point."
)


# ------------------------------------------------------------ document model
@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Figure:
    path: Path
    caption: str


@dataclass(frozen=True)
class Items:
    items: tuple[str, ...]


def _yes(b: bool) -> str:
    return "yes" if b else "no"


def _design_text(design: dict, summary: dict) -> str:
    if isinstance(summary.get("design_text"), str):
        return summary["design_text"]
    return ", ".join(f"{k} {v:g}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in design.items())


def _constraint_rows(run: RunData) -> list[tuple[str, ...]]:
    s = run.summary
    total, limits = s["total"], run.limits
    by_net = total.get("latency_s_by_network") or {}
    rows = []
    for name, budget in s["constraints"]["budgets"].items():
        if name == "area_mm2":
            limit, value = f"<= {limits.get('area_mm2', float('nan')):g} mm^2", f"{total['area_mm2']:.3f} mm^2"
        elif name == "power_w":
            limit, value = f"<= {limits.get('power_w', float('nan')):g} W", f"{total['power_w']:.3f} W"
        elif name.startswith("throughput."):
            net = name.split(".", 1)[1]
            rate = (limits.get("min_per_s") or {}).get(net)
            limit = f">= {rate:g} /s" if rate else "?"
            value = f"{1.0 / by_net[net]:.2f} /s" if by_net.get(net) else "?"
        else:
            limit, value = "?", "?"
        rows.append((name, limit, value, f"{budget:.1%}", _yes(budget <= 1.0 + 1e-9)))
    return rows


def _layer_table(rows: list[dict]) -> Table:
    out = []
    for r in rows:
        g = layer_groups(r)
        scaling = r.get("bottleneck_scaling")
        bound = r["bottleneck"] + (f" ({scaling:.2f}x next)" if isinstance(scaling, (int, float)) else "")
        if r.get("legal") is False:
            bound += " ILLEGAL"
        util = r.get("utilisation")
        ratio = r.get("roofline_ratio")
        out.append(
            (
                r["name"],
                str(r["count"]),
                str(r.get("shape", "")),
                r["loop_nest"],
                f"{r['latency_s'] * 1e3:.4f}",
                f"{r['energy_j'] * 1e6:.2f}",
                f"{util:.1%}" if isinstance(util, (int, float)) else "",
                f"{ratio:.2f}x" if isinstance(ratio, (int, float)) else "",
                " / ".join(f"{g[k] / 1e3:.1f}" for k in ("compute", "NoC", "DMA")),
                bound,
            )
        )
    header = (
        "layer",
        "count",
        "shape",
        "mapping (outermost first)",
        "latency ms / instance",
        "energy uJ / instance",
        "util",
        "/roofline",
        "compute / NoC / DMA kcycles / instance",
        "bottleneck",
    )
    return Table(header, tuple(out))


def _step_text(e: dict, position: int) -> str:
    n = e.get("evaluation", position)
    worst = max(e["budgets"].items(), key=lambda kv: kv[1]) if e["budgets"] else None
    t = e["total"]
    outcome = (
        f"latency {t['latency_s'] * 1e3:.4g} ms, area {t['area_mm2']:.3g} mm^2, peak power {t['power_w']:.3g} W; "
        + ("feasible" if e["feasible"] else "infeasible")
    )
    if worst is not None:
        outcome += f" (largest used share of a limit: {worst[0]} at {worst[1]:.0%})"
    return f"Design {n}: {e['reason'].rstrip('. ')}. Outcome: {outcome}."


def _number(d, key: str) -> float:
    """``d[key]`` as a float, NaN when ``d`` is not a dict or the value is not a number."""
    v = d.get(key) if isinstance(d, dict) else None
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else float("nan")


def build_document(run: RunData, folder: Path) -> list:
    """The report's content as a list of blocks (``Heading``, ``Para``, ``Table``, ``Figure``, ``Items``)."""
    s, trace = run.summary, run.trace
    t = s["total"]
    n = len(trace)
    n_feas = sum(1 for e in trace if e["feasible"])
    accepted = [(i, e) for i, e in enumerate(trace, start=1) if e["accepted"]]
    nets = list(s["layers"])
    doc: list = [
        Heading(1, f"Codesign report: {', '.join(nets)}"),
        Para(
            f"{run.method} explorer, objective {run.objective}; {n} designs evaluated, {n_feas} feasible. "
            f"Read from {folder.name}/result.json and trace.jsonl."
        ),
        Heading(2, "Summary"),
    ]
    if s["feasible"]:
        doc.append(Para("The final design meets every constraint."))
    else:
        blocking = s.get("blocking_constraint") or "?"
        doc.append(Para(f"No feasible design was found; the closest design is blocked by {blocking}."))
        if s.get("closest_rule"):
            doc.append(Para(f"How the closest design was chosen: {s['closest_rule']}."))
    doc.append(Para(f"Final design: {_design_text(s['design'], s)}."))
    totals = [
        ("latency", f"{t['latency_s'] * 1e3:.4f} ms"),
        ("energy", f"{t['energy_j'] * 1e3:.4f} mJ"),
        ("area", f"{t['area_mm2']:.3f} mm^2"),
        ("peak power", f"{t['power_w']:.3f} W"),
        (f"objective ({run.objective})", f"{t['objective']:.6g}"),
    ]
    if len(nets) > 1:
        for net, lat in (t.get("latency_s_by_network") or {}).items():
            totals.append((f"latency {net}", f"{lat * 1e3:.4f} ms"))
    serving = s.get("serving")
    for net, sv in serving.items() if isinstance(serving, dict) else ():  # LLM passes (jaxdse.plan.serving_figures)
        prefill = isinstance(sv, dict) and sv.get("phase") == "prefill"
        first = "time_to_first_token_s" if prefill else "time_per_output_token_s"
        lat, rate, energy = (_number(sv, k) for k in (first, "tokens_per_s", "energy_per_token_j"))
        totals += [
            (f"{first[:-2].replace('_', ' ')} {net}", f"{lat * 1e3:.4f} ms"),
            (f"tokens/s {net}", f"{rate:.4g}"),
            (f"energy per token {net}", f"{energy * 1e3:.4f} mJ"),
        ]
    doc += [
        Table(("total", "value"), tuple(totals)),
        Heading(3, "Constraints"),
        Table(("constraint", "limit", "final design", "used share of the limit", "met"), tuple(_constraint_rows(run))),
        Para(BUDGET_NOTE),
        Heading(3, "Design parameters"),
        Table(("parameter", "value", "unit"), tuple(_design_rows(s["design"]))),
        Heading(2, "Per-layer costs on the final design"),
        Para(LAYER_NOTE),
    ]
    for net, rows in s["layers"].items():
        lat = sum(r["latency_s"] * r["count"] for r in rows)
        doc += [Heading(3, f"{net} ({len(rows)} unique layers, {lat * 1e3:.3f} ms in all)"), _layer_table(rows)]
    if isinstance(s.get("pareto"), list):
        doc += _front_section(run, folder)
    doc.append(Heading(2, "Figures"))
    doc += [Figure(folder / name, CAPTIONS[name]) for name in FIGURES]
    doc += [
        Heading(2, f"Accepted steps ({len(accepted)})"),
        Items(tuple(_step_text(e, i) for i, e in accepted)),
    ]
    if isinstance(s.get("explanation"), list) and s["explanation"]:
        doc += [Heading(2, "How the returned design was reached"), Items(tuple(str(x) for x in s["explanation"]))]
    pe = s.get("prediction_error")
    if isinstance(pe, dict) and pe.get("predictions"):
        doc.append(Para(
            f"Predicted latency changes were off by {_number(pe, 'median_abs_error_pts'):.1f} points (median) and "
            f"{_number(pe, 'worst_abs_error_pts'):.1f} points at worst over {pe['predictions']} predictions."
        ))  # fmt: skip
    doc += [
        Heading(2, "Counts"),
    ]
    best = run.best_so_far()
    first_best = next((i for i, b in enumerate(best, start=1) if b == best[-1]), None) if n_feas else None
    counts = [
        ("evaluated designs", str(n)),
        ("feasible designs", f"{n_feas} ({n_feas / n:.0%})"),
        ("accepted steps", str(len(accepted))),
        ("best feasible first reached at design", str(first_best) if first_best else "never"),
    ]
    if isinstance(s.get("wall_s"), (int, float)):
        counts.append(("search wall time", f"{s['wall_s']:.1f} s"))
    doc.append(Table(("count", "value"), tuple(counts)))
    doc += [Heading(2, "Run"), Table(("setting", "value"), tuple(_run_rows(s)))]
    return doc


RUN_ROWS = (
    ("seed", "seed"),
    ("budget (designs)", "budget"),
    ("mapper budget (exact evaluations per layer)", "mapper_budget"),
    ("warm start (designs)", "warm_start"),
    ("command line", "command_line"),
    ("jaxdse version", "jaxdse_version"),
    ("date (UTC)", "date_utc"),
)
"""Rows of the report's "Run" table: label, key of result.json's ``run``."""


def _run_rows(summary: dict) -> list[tuple[str, str]]:
    info = summary.get("run") if isinstance(summary.get("run"), dict) else {}
    defaults = {"command_line": "(Python API)", "warm_start": "default share of the budget"}
    rows = []
    for label, key in RUN_ROWS:
        v = info.get(key)
        text = str(v) if v is not None else (defaults.get(key, "not recorded") if info else "not recorded")
        rows.append((label, text))
    return rows


def _design_rows(design: dict) -> list[tuple[str, str, str]]:
    """(parameter, value, unit) per design parameter; NoC links as physical links, as everywhere else."""
    rows = []
    for k, v in design.items():
        noc = k[len("links_") :] if k.startswith("links_") else None
        if noc is not None and isinstance(design.get("num_pes"), (int, float)) and isinstance(v, (int, float)):
            rows.append((k, f"{links(design, noc):g}", f"links (stored as i = {v:g}: max(1, floor(PEs x i / 64)))"))
        else:
            rows.append((k, f"{v:g}" if isinstance(v, (int, float)) else str(v), UNITS.get(k, "")))
    return rows


BUDGET_NOTE = (
    "Used share of a limit = cost / limit (area / area limit, peak power / power limit, throughput limit x "
    "latency): 97% means the final design uses 97% of what the limit allows; above 100% it is broken."
)
LAYER_NOTE = (
    "Latency, energy and cycles are for one instance of each unique layer; the layer runs count times, and the "
    "totals multiply by it. Bottleneck (N.NNx next): the latency term that sets the layer's latency, N.NN times "
    "the next-largest term."
)


def _front_section(run: RunData, folder: Path) -> list:
    """A multi-objective run's front: one row per point, its figure (drawn if missing)."""
    front = run.summary["pareto"]
    objs = ", ".join(run.summary.get("objectives") or [])
    rows = []
    for i, p in enumerate(front):
        where = f"result.json 'pareto[{i}]'"
        t = p.get("total") if isinstance(p, dict) else None
        if not isinstance(t, dict) or not all(isinstance(t.get(k), (int, float)) for k in TOTAL_KEYS):
            raise ReportError(f"{where}: expected key 'total' with {list(TOTAL_KEYS)}, found {t!r:.80}")
        rows.append(
            (
                str(p.get("evaluation", "?")),
                str(p.get("mapper_objective", "?")),
                f"{t['latency_s'] * 1e3:.4g}",
                f"{t['energy_j'] * 1e3:.4g}",
                f"{t['area_mm2']:.3g}",
                f"{t['power_w']:.3g}",
                str(p.get("differs_from_previous", "")),
                str(p.get("design_text", "")),
            )
        )
    path = folder / FRONT_FIGURE
    if not path.is_file():
        plot_front(run, path)
    header = ("design", "mapped for", "latency ms", "energy mJ", "area mm^2", "power W", "vs previous", "hardware")
    return [
        Heading(2, f"Pareto front ({len(front)} points over {objs})"),
        Para(
            "Every evaluated, feasible design that no other dominates, sorted by the first objective; "
            "'vs previous' is what differs from the point above. Each point's steps and mappings are in "
            "result.json 'pareto'."
        ),
        Table(header, tuple(rows)),
        Figure(path, FRONT_CAPTION),
    ]


# ------------------------------------------------------------------ renderers
def _md_cell(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(doc: list, base: Path) -> str:
    """Markdown; figures linked relative to ``base`` (the report's folder)."""
    out = []
    for b in doc:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Table):
            lines = ["| " + " | ".join(_md_cell(h) for h in b.header) + " |", "|" + "---|" * len(b.header)]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("\n".join(lines))
        elif isinstance(b, Figure):
            rel = Path(os.path.relpath(b.path.resolve(), base.resolve())).as_posix()
            out.append(f"![{b.path.stem}]({rel})\n\n*{b.caption}*")
        elif isinstance(b, Items):
            out.append("\n".join(f"{i}. {_md_cell(item)}" for i, item in enumerate(b.items, start=1)) or "(none)")
    return "\n\n".join(out) + "\n"


STYLE = (
    "body{font-family:sans-serif;max-width:72em;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:0.8em 0;font-size:0.85em}"
    "th,td{border:1px solid #ccc;padding:0.2em 0.5em;text-align:left;vertical-align:top}"
    "th{background:#f0f0f0}figure{margin:1em 0}img{max-width:100%}figcaption{font-size:0.85em;color:#555}"
)


def render_html(doc: list) -> str:
    """A self-contained HTML page: inline style sheet, figures as base64 data URIs."""
    esc = html.escape
    title = next((b.text for b in doc if isinstance(b, Heading)), "jaxdse report")
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
    ]
    for b in doc:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{esc(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            out.append(f"<p>{esc(b.text)}</p>")
        elif isinstance(b, Table):
            out.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in b.header) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in b.rows]
            out.append("</table>")
        elif isinstance(b, Figure):
            data = base64.b64encode(b.path.read_bytes()).decode("ascii")
            out.append(
                f'<figure><img alt="{esc(b.path.stem)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{esc(b.caption)}</figcaption></figure>"
            )
        elif isinstance(b, Items):
            out.append(
                "<ol>" + "".join(f"<li>{esc(i)}</li>" for i in b.items) + "</ol>" if b.items else "<p>(none)</p>"
            )
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _hierarchy_result(folder: Path) -> dict | None:
    """``result.json`` of ``jaxdse explore --arch HIERARCHY``, or None for any other folder."""
    import json

    path = folder / "result.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None  # load_run reports it
    keys = ("arch", "space", "steps", "evaluations", "limits")
    return data if isinstance(data, dict) and all(k in data for k in keys) else None


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


def _objective(data: dict, v: float) -> str:
    return f"{v * 1e3:.4f} ms" if data.get("objective") == "latency" else f"{v:.6g}"


def _hierarchy_front(data: dict, folder: Path | None) -> list:
    """A hierarchy front search's front: table and figure (``front.png``, drawn when missing)."""
    front = data["pareto"]
    rows = tuple(
        (
            str(f["evaluation"]),
            f["mapper_objective"],
            f"{f['total']['latency_s'] * 1e3:.4f}",
            f"{f['total']['energy_j'] * 1e3:.4f}",
            f"{f['total']['area_mm2']:.3f}",
            f"{f['total']['power_w']:.3f}",
            f["differs_from_previous"],
        )
        for f in front
    )
    doc: list = [
        Heading(2, f"Pareto front ({len(front)} points over {', '.join(data['objectives'])})"),
        Para(
            "Every evaluated, feasible design that no other dominates, sorted by the first objective; "
            "each point's steps and plans are in result.json 'pareto'."
        ),  # fmt: skip
        Table(("design", "mapped for", "latency ms", "energy mJ", "area mm^2", "power W", "vs previous"), rows),
    ]
    if folder is not None:
        path = folder / FRONT_FIGURE
        if not path.is_file() and (folder / "trace.jsonl").is_file():
            import json

            from jaxdse.codesign.pareto_plot import draw_front

            lines = (folder / "trace.jsonl").read_text(encoding="utf-8").splitlines()
            draw_front([json.loads(t) for t in lines if t.strip()], front, data["objectives"], path)
        if path.is_file():
            doc.append(Figure(path, FRONT_CAPTION))
    return doc


def hierarchy_document(data: dict, folder: Path | None = None) -> list:
    """The report of a hierarchy explorer run (``jaxdse.codesign.hierarchy_explore``) from its result.json."""
    try:
        lim = data["limits"]
        doc: list = [
            Heading(1, f"Hierarchy codesign on {data['arch']}: {', '.join(data['networks'])}"),
            Para(
                f"Method {data['method']}, objective {data['objective']}, {len(data['evaluations'])} designs "
                f"evaluated in {data['wall_s']:.1f} s; {data['stopped']}. Limits: area {lim['area_mm2']:.3f} mm^2, "
                f"peak power {lim['power_w']:.3f} W"
                + "".join(f", {n} at least {v:g} inferences/s" for n, v in (data.get("min_per_s") or {}).items())
                + "."
            ),
            Heading(2, "Steps (each accepted design and why)"),
            Table(
                ("design", "objective", "reason"),
                tuple((str(st["evaluation"]), _objective(data, st["objective"]), st["reason"]) for st in data["steps"]),
            ),
            Heading(2, "Design space (read off the hierarchy)"),
            Table(
                ("parameter", "unit", "values"),
                tuple((k, v["unit"], "; ".join(_num(x) for x in v["values"])) for k, v in data["space"].items()),
            ),
        ]
        if data.get("pareto") is not None:
            doc += _hierarchy_front(data, folder)
        best = data.get("best")
        if not best:
            doc.append(Para("No feasible design was found."))
            return doc
        base = data["evaluations"][0]["design"]
        over = {k: v for k, v in best.get("budgets", {}).items() if v > 1.0 + 1e-9}
        if data.get("feasible") is False and over:
            doc.append(
                Para(
                    "No design met every limit. The design below is the closest: area and power held, the least "
                    "excess on the rest (" + ", ".join(f"{k} budget {v:.3f}" for k, v in over.items()) + ")."
                )
            )
        doc += [
            Heading(2, f"{'Best' if data.get('feasible', True) else 'Closest'} design (design {best['index']})"),
            Para(
                f"latency {best['latency_s'] * 1e3:.4f} ms, energy {best['energy_j'] * 1e3:.4f} mJ, area "
                f"{best['area_mm2']:.3f} mm^2, peak power {best['power_w']:.3f} W."
            ),
            Table(
                ("parameter", "base", "best"),
                tuple((k, _num(base[k]), _num(v)) for k, v in best["design"].items()),
            ),
        ]
        for net, plan in best.get("plans", {}).items():
            doc.append(Heading(3, f"{net} on the best design (per instance of each layer)"))
            doc.append(
                Table(
                    ("layer", "count", "latency ms", "energy uJ", "util %", "bound by"),
                    tuple(
                        (
                            r["name"],
                            str(r["count"]),
                            f"{r['latency_s'] * 1e3:.4f}",
                            f"{r['energy_j'] * 1e6:.2f}",
                            f"{r['utilisation'] * 100:.1f}",
                            r["bound"],
                        )  # fmt: skip
                        for r in plan["layers"]
                    ),
                )
            )
        return doc
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ReportError(f"report: result.json of a hierarchy run expected its fields, found a problem: {e}") from None


def write_report(result_dir: str | Path, fmt: str = "md", out: str | Path | None = None) -> Path:
    """Turn a result folder into a Markdown or self-contained HTML report.

    Args:
        result_dir: A folder written by ``explore(..., out=DIR)`` or
            ``Result.save(DIR)``: ``result.json`` and ``trace.jsonl`` are
            read; figures missing there are drawn from them into the folder.
        fmt: ``"md"`` (figures linked by relative path) or ``"html"``
            (figures inlined, no external references).
        out: Report file (default ``DIR/report.md`` or ``DIR/report.html``).

    Returns:
        The path of the report written.

    Raises:
        ReportError: Unknown format, or a missing / malformed file or key
            (the message names it).
    """
    if fmt not in FORMATS:
        raise ReportError(f"report: field 'fmt' expected one of {list(FORMATS)}, found {fmt!r}")
    folder = Path(result_dir)
    hier = _hierarchy_result(folder)
    run = None if hier is not None else load_run(folder)
    target = Path(out) if out is not None else folder / f"report.{fmt}"
    if target.is_dir():
        raise ReportError(f"report: field 'out' expected a file path, found the directory '{target}'")
    check_out_dir(target.parent, "report: field 'out'", ReportError)
    missing = [] if run is None else [name for name in FIGURES if not (folder / name).is_file()]
    try:
        if missing:
            save_figures(run, folder, missing)
        target.parent.mkdir(parents=True, exist_ok=True)
        doc = build_document(run, folder) if run is not None else hierarchy_document(hier, folder)
        atomic_write(target, render_markdown(doc, target.parent) if fmt == "md" else render_html(doc))
    except OSError as e:  # a read-only folder, a full disk: checked above where it can be, caught here where not
        where = e.filename or target
        raise ReportError(f"report: expected a writable place for '{where}', found error: {e.strerror or e}") from None
    return target
