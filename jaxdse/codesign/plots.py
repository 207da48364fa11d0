"""Figures of an exploration (matplotlib, headless Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from costmodels import TERMS  # noqa: E402


def plot_convergence(result, path: Path) -> None:
    """Objective of every evaluated design and the best feasible so far."""
    entries = result.trace.entries
    x = np.arange(1, len(entries) + 1)
    obj = np.array([e.total["objective"] for e in entries])
    feas = np.array([e.feasible for e in entries])
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.scatter(x[feas], obj[feas], s=14, c="tab:blue", label="feasible")
    ax.scatter(x[~feas], obj[~feas], s=14, c="tab:red", marker="x", label="infeasible")
    best = result.best_so_far()
    if np.isfinite(best).any():
        ax.step(x, np.where(np.isfinite(best), best, np.nan), where="post", c="k", label="best feasible")
    ax.set_yscale("log")
    ax.set_xlabel("evaluated designs")
    ax.set_ylabel(result.objective)
    ax.set_title(f"{result.method} explorer")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_breakdown(result, path: Path) -> None:
    """Per-layer latency of the final design, stacked by dominant term share."""
    plans = result.best.plans
    n = len(plans)
    fig, axes = plt.subplots(
        n, 1, figsize=(8, 3 + 0.15 * max(len(p.network.layers) for p in plans.values())), squeeze=False
    )
    colors = {"compute": "tab:green", "dma": "tab:red"}
    for ax, (name, plan) in zip(axes[:, 0], plans.items()):
        terms = np.asarray(plan.costs.layers.terms_cycles)  # [L, 6]
        counts = np.asarray(plan.costs.counts)
        lat = np.asarray(plan.costs.layers.latency_cycles) * counts
        freq = float(np.asarray(plan.arch.freq_mhz)) * 1e6
        # each layer's bar: its latency, split in proportion to its terms
        share = terms / np.maximum(terms.sum(axis=1, keepdims=True), 1e-30)
        left = np.zeros(len(lat))
        y = np.arange(len(lat))
        for k, term in enumerate(TERMS):
            w = lat * share[:, k] / freq * 1e3
            ax.barh(y, w, left=left, color=colors.get(term), label=term)
            left += w
        ax.set_yticks(y)
        ax.set_yticklabels([layer.name for layer in plan.network.layers], fontsize=6)
        ax.invert_yaxis()
        ax.set_xlabel("latency x count (ms), split by term share")
        ax.set_title(name, fontsize=9)
    axes[0, 0].legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
