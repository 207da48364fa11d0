"""Figures of an exploration (matplotlib).

Every function takes a ``Result`` or a ``RunData`` (``load_run(folder)``: a
saved run read back from ``result.json`` and ``trace.jsonl``) and a path, so
figures can be redrawn from any result folder. ``save_figures`` writes all
of ``FIGURES``; ``Result.save`` calls it.

- ``convergence.png``: objective of every evaluated design, best feasible so far,
  accepted steps ringed;
- ``breakdown.png``: per-layer compute / NoC / DMA time of the final design, side by side
  (a layer's latency is the longest of the three);
- ``budgets.png``: each constraint's used share of its budget (cost / limit)
  per evaluated design, accepted steps marked;
- ``design_space.png``: explored designs in latency-area-power space.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from jaxdse.codesign.saved import RunData, run_data

CMAP = "viridis"
OBJECTIVE_LABELS = {"latency": "latency (s)", "energy": "energy (J)", "edp": "energy x delay (J s)"}
"""Axis label of each objective (``jaxdse.codesign.evaluator``: sums over networks)."""
GROUP_COLORS = {"compute": "tab:green", "NoC": "tab:blue", "DMA": "tab:red"}
"""Latency groups of ``plot_breakdown``: compute, the slowest of the four NoCs, DMA."""


def _figure(nrows: int = 1, ncols: int = 1, figsize=(6, 3.5), **kw):
    """A figure with axes, made without pyplot: no global backend or figure
    registry is touched, so plotting is safe headless, in threads and next to a
    notebook's inline backend (matplotlib docs, "Embedding Matplotlib in a web
    application server": https://matplotlib.org/stable/gallery/user_interfaces/web_application_server_sgskip.html).
    """
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kw)


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def _columns(run: RunData) -> dict[str, np.ndarray]:
    """Per evaluated design (trace order): objective, latency, area, power, feasible, accepted."""
    t = run.trace
    return {
        "x": np.arange(1, len(t) + 1),
        "objective": np.array([float(e["total"]["objective"]) for e in t]),
        "latency_ms": np.array([float(e["total"]["latency_s"]) * 1e3 for e in t]),
        "area_mm2": np.array([float(e["total"]["area_mm2"]) for e in t]),
        "power_w": np.array([float(e["total"]["power_w"]) for e in t]),
        "feasible": np.array([bool(e["feasible"]) for e in t]),
        "accepted": np.array([bool(e["accepted"]) for e in t]),
    }


def plot_convergence(result, path: str | Path) -> Path:
    """Objective of every evaluated design, the best feasible so far, accepted steps ringed."""
    run = run_data(result)
    c = _columns(run)
    feas, acc = c["feasible"], c["accepted"]
    fig, ax = _figure(figsize=(6, 3.5))
    ax.scatter(c["x"][feas], c["objective"][feas], s=14, c="tab:blue", label="feasible")
    ax.scatter(c["x"][~feas], c["objective"][~feas], s=14, c="tab:red", marker="x", label="infeasible")
    ax.scatter(c["x"][acc], c["objective"][acc], s=70, facecolors="none", edgecolors="k", label="accepted step")
    best = np.asarray(run.best_so_far())
    if np.isfinite(best).any():
        ax.step(c["x"], np.where(np.isfinite(best), best, np.nan), where="post", c="k", label="best feasible")
    ax.set_yscale("log")
    ax.set_xlabel("evaluated designs")
    ax.set_ylabel(OBJECTIVE_LABELS.get(run.objective, run.objective))
    ax.set_title(f"{run.method} explorer")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_convergence_compare(results, path: str | Path) -> Path:
    """Best feasible objective vs evaluated designs, one line per run (e.g. per method).

    Args:
        results: A dict ``{label: Result | RunData}`` or a list of them
            (labelled by their method).
        path: PNG file to write.
    """
    if not isinstance(results, dict):
        results = {run_data(r).method: r for r in results}
    fig, ax = _figure(figsize=(6, 3.5))
    objective = ""
    for label, r in results.items():
        run = run_data(r)
        objective = run.objective
        best = np.asarray(run.best_so_far())
        x = np.arange(1, len(best) + 1)
        ax.step(x, np.where(np.isfinite(best), best, np.nan), where="post", label=f"{label} ({len(best)} designs)")
    ax.set_yscale("log")
    ax.set_xlabel("evaluated designs")
    ax.set_ylabel(f"best feasible {OBJECTIVE_LABELS.get(objective, objective)}")
    ax.legend(fontsize=8)
    return _save(fig, path)


def layer_groups(row: dict) -> dict[str, float]:
    """Cycles of one layer (a result.json ``layers`` row) per latency group.

    NoC is the slowest of the four NoCs: they run concurrently and the layer's
    latency is the max over all terms (``costmodels.model.latency``).
    """
    terms = row["terms_cycles"]
    return {
        "compute": float(terms.get("compute", 0.0)),
        "NoC": max((float(v) for k, v in terms.items() if k.startswith("noc_")), default=0.0),
        "DMA": float(terms.get("dma", 0.0)),
    }


def breakdown_ms(row: dict) -> dict[str, float]:
    """Time of each latency group of one layer x its count, in ms.

    The layer's latency is the max of its terms (``costmodels.model.latency``),
    so the binding group's time equals the layer's latency x count and the
    others show their slack below it; the terms do not add up.
    """
    groups = layer_groups(row)
    ms = float(row["latency_s"]) * float(row["count"]) * 1e3
    binding = max(groups.values())
    return {g: ms * v / binding if binding > 0 else 0.0 for g, v in groups.items()}


def breakdown_figure(result) -> Figure:
    """The figure of ``plot_breakdown``."""
    run = run_data(result)
    layers = run.summary["layers"]
    sizes = [len(rows) for rows in layers.values()]
    fig, axes = _figure(
        len(layers), 1, figsize=(8, 1.2 * len(layers) + 0.36 * sum(sizes)), squeeze=False, height_ratios=sizes
    )
    height = 0.8 / len(GROUP_COLORS)
    for ax, (name, rows) in zip(axes[:, 0], layers.items()):
        times = [breakdown_ms(r) for r in rows]
        lat_ms = np.array([max(t.values()) for t in times])
        y = np.arange(len(rows))
        for k, (g, color) in enumerate(GROUP_COLORS.items()):
            offset = (k - (len(GROUP_COLORS) - 1) / 2) * height
            ax.barh(y + offset, [t[g] for t in times], height=height, color=color, label=g)
        for yi, (ms, r) in enumerate(zip(lat_ms, rows)):
            ax.text(ms, yi, f" {r['bottleneck']}", va="center", fontsize=6)
        ax.set_yticks(y)
        ax.set_yticklabels([f"{r['name']} x{r['count']}" for r in rows], fontsize=6)
        ax.invert_yaxis()
        ax.set_xlim(0, max(lat_ms.max(), 1e-30) * 1.25)
        ax.set_title(f"{name}: {lat_ms.sum():.3f} ms (each layer: the longest of its three bars)", fontsize=9)
    axes[-1, 0].set_xlabel(
        "time x count (ms) of compute, NoC (slowest of four) and DMA, side by side: a layer takes the longest; "
        "label = bottleneck",
        fontsize=7,
    )
    axes[0, 0].legend(fontsize=7, ncol=3, loc="lower right")
    return fig


def plot_breakdown(result, path: str | Path) -> Path:
    """Per-layer compute, NoC and DMA time x count of the final design, side by side.

    A layer's latency is the max of the three (they overlap), not their sum:
    each layer gets three bars, the longest is its latency x count and the
    others show how much slack they have; the label names the bottleneck.
    """
    return _save(breakdown_figure(result), path)


def plot_budgets(result, path: str | Path) -> Path:
    """Each constraint's used share of its budget (cost / limit) per evaluated design.

    A value above 1 breaks the constraint. Accepted steps are filled markers.
    """
    run = run_data(result)
    c = _columns(run)
    names: list[str] = []
    for e in run.trace:
        names += [k for k in e["budgets"] if k not in names]
    fig, ax = _figure(figsize=(6.5, 3.5))
    acc = c["accepted"]
    for name in names:
        b = np.array([float(e["budgets"].get(name, np.nan)) for e in run.trace])
        (line,) = ax.plot(c["x"], b, lw=1, marker=".", ms=4, label=name)
        ax.scatter(c["x"][acc], b[acc], s=36, color=line.get_color(), edgecolors="k", zorder=3)
    ax.axhline(1.0, c="k", ls="--", lw=1, label="limit (budget 1)")
    ax.scatter([], [], s=36, c="w", edgecolors="k", label="accepted step")
    ax.set_yscale("log")
    ax.set_xlabel("evaluated designs")
    ax.set_ylabel("used share of budget (cost / limit)")
    ax.set_title("constraint budgets along the run")
    ax.legend(fontsize=7, loc="best")
    return _save(fig, path)


def plot_design_space(result, path: str | Path) -> Path:
    """Explored designs: latency vs area, coloured by peak power; the final design starred.

    Dashed lines: the area limit (horizontal) and, for one network, the
    latency its minimum throughput allows (vertical); the power limit is
    marked on the colour bar.
    """
    run = run_data(result)
    c = _columns(run)
    feas = c["feasible"]
    fig, ax = _figure(figsize=(6.5, 4))
    lo, hi = float(c["power_w"].min()), float(c["power_w"].max())
    power_limit = run.limits.get("power_w")
    if power_limit is not None:
        lo, hi = min(lo, float(power_limit)), max(hi, float(power_limit))
    norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1.0)
    common = {"cmap": CMAP, "norm": norm, "s": 30}
    lat, area, power = c["latency_ms"], c["area_mm2"], c["power_w"]
    ax.scatter(lat[feas], area[feas], c=power[feas], marker="o", label="feasible", **common)
    ax.scatter(lat[~feas], area[~feas], c=power[~feas], marker="x", label="infeasible", **common)
    t = run.summary["total"]
    ax.scatter(
        [t["latency_s"] * 1e3],
        [t["area_mm2"]],
        s=260,
        marker="*",
        facecolors="none",
        edgecolors="r",
        lw=1.5,
        label="final design" + ("" if run.summary["feasible"] else " (infeasible)"),
    )
    area_limit = run.limits.get("area_mm2")
    if area_limit is not None:
        ax.axhline(float(area_limit), c="k", ls="--", lw=1, label=f"area limit {float(area_limit):g} mm^2")
    rates = {k: v for k, v in (run.limits.get("min_per_s") or {}).items() if v}
    if len(rates) == 1 and len(run.summary["layers"]) == 1:
        ((net, rate),) = rates.items()
        ax.axvline(1e3 / float(rate), c="gray", ls=":", lw=1, label=f"{net} >= {float(rate):g}/s (latency limit)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("latency (ms, summed over networks)")
    ax.set_ylabel("area (mm^2)")
    ax.set_title(f"{len(c['x'])} explored designs")
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=CMAP), ax=ax)
    bar.set_label("peak power (W)")
    if power_limit is not None:
        bar.ax.axhline(float(power_limit), c="r", lw=2)
    ax.legend(fontsize=7, loc="best")
    return _save(fig, path)


FIGURES = {
    "convergence.png": plot_convergence,
    "breakdown.png": plot_breakdown,
    "budgets.png": plot_budgets,
    "design_space.png": plot_design_space,
}
"""File name -> figure function, in report order."""


def save_figures(result, out_dir: str | Path, names: list[str] | None = None) -> list[Path]:
    """Write ``FIGURES`` (or only ``names``) of a ``Result`` or ``RunData`` into a folder."""
    run = run_data(result)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [FIGURES[n](run, out / n) for n in (names if names is not None else FIGURES)]
