"""The front figure of a multi-objective run: ``front.png``.

Latency vs energy (log-log) of every evaluated design, greyed (crosses:
infeasible); the front points coloured by area, joined in order of latency
and each labelled by what differs from its neighbour (the previous point
along latency: hardware parameters and mapper objective). Reads only
``result.json``'s ``pareto`` list and ``trace.jsonl`` (``RunData``), so it
redraws from any saved multi-objective run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from jaxdse.codesign.plots import CMAP, _figure, _save
from jaxdse.codesign.saved import run_data

MAX_LABEL = 48
"""Longest label drawn next to a front point (characters)."""


def plot_front(result, path: str | Path) -> Path:
    """Latency-energy front with area as colour; evaluated designs greyed (a saved Table-1 run)."""
    run = run_data(result)
    objectives = run.summary.get("objectives") or [run.objective]
    return draw_front(run.trace, run.summary.get("pareto") or [], objectives, path)


def draw_front(trace: list[dict], front: list[dict], objectives, path: str | Path) -> Path:
    """The figure from ``trace.jsonl`` entries (``total``, ``feasible``) and ``pareto`` records
    (``total``, ``evaluation``, ``differs_from_previous``) of any front search."""
    fig, ax = _figure(figsize=(7.5, 5))
    lat = np.array([float(e["total"]["latency_s"]) * 1e3 for e in trace])
    en = np.array([float(e["total"]["energy_j"]) * 1e3 for e in trace])
    feas = np.array([bool(e["feasible"]) for e in trace], dtype=bool)
    fin = np.isfinite(lat) & np.isfinite(en)  # an unmappable design has no latency to draw
    ax.scatter(lat[feas & fin], en[feas & fin], s=12, c="0.75", label="evaluated, feasible")
    ax.scatter(lat[~feas & fin], en[~feas & fin], s=12, c="0.75", marker="x", label="evaluated, infeasible")
    if front:
        fl = np.array([p["total"]["latency_s"] * 1e3 for p in front])
        fe = np.array([p["total"]["energy_j"] * 1e3 for p in front])
        fa = np.array([p["total"]["area_mm2"] for p in front])
        order = np.argsort(fl, kind="stable")
        norm = Normalize(vmin=float(fa.min()), vmax=float(fa.max()) if fa.max() > fa.min() else float(fa.min()) + 1)
        ax.plot(fl[order], fe[order], c="k", lw=0.8, drawstyle="steps-post", zorder=2)
        ax.scatter(fl, fe, c=fa, cmap=CMAP, norm=norm, s=45, edgecolors="k", zorder=3, label="Pareto front")
        for x, y, p in zip(fl, fe, front):
            text = f"#{p['evaluation']}: {p.get('differs_from_previous', '')}"
            text = text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 3] + "..."
            ax.annotate(text, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=6)
        fig.colorbar(ScalarMappable(norm=norm, cmap=CMAP), ax=ax).set_label("area (mm^2)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("latency (ms, summed over networks)")
    ax.set_ylabel("energy (mJ, summed over networks)")
    objs = ", ".join(objectives)
    ax.set_title(f"Pareto front over {objs}: {len(front)} of {len(trace)} designs", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    return _save(fig, path)


__all__ = ["draw_front", "plot_front"]
