"""Pictures of interactions: pairwise H-statistic bars, and a tree surrogate as text."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..errors import InputError
from ..results import Interactions
from ._common import (RED, check_max_display, new_figure, number_formatter, order_by_magnitude, rows_height,
                      style_feature_axis)

__all__ = ["h_statistic_bars", "surrogate_tree"]


def h_statistic_bars(inter: Interactions, max_display: int = 10) -> Figure:
    """Draw the strongest pairwise interactions as horizontal bars, largest at the top.

    Each bar is one pair of features (labelled "a × b") with its off-diagonal
    H-statistic (or H², as `inter.meta["statistic"]` says); the diagonal (each
    feature's total interaction) is not drawn.

    Arguments:
    - inter: a global, one-output `Interactions` from `whybox.effects.h_statistic`.
    - max_display: how many pairs to draw (default 10).

    Returns a matplotlib Figure (never shown).
    """
    if not isinstance(inter, Interactions):
        raise InputError(f"h_statistic_bars expects a whybox Interactions, got {type(inter).__name__}")
    max_display = check_max_display(max_display)
    if inter.per_row:
        raise InputError("h_statistic_bars draws a global statistic (one M x M matrix); these are per-row "
                         "interaction values")
    if inter.has_outputs:
        names = inter.output_names
        known = f" (outputs: {list(names)})" if isinstance(names, tuple) else ""
        raise InputError(f"h_statistic_bars draws one output, but these interactions have "
                         f"{inter.values.shape[-1]} outputs{known}; compute them for a single output")
    if inter.method and inter.method != "h_statistic":
        raise InputError(f"h_statistic_bars draws an H-statistic, got method {inter.method!r}")
    values = np.asarray(inter.values, dtype=float)
    m = values.shape[0]
    if values.ndim != 2 or values.shape[1] != m:
        raise InputError(f"h_statistic_bars needs a square M x M matrix, got shape {values.shape}")
    if m < 2:
        raise InputError("h_statistic_bars needs at least two features")
    names = list(inter.feature_names) if inter.feature_names else [f"Feature {i}" for i in range(m)]

    a, b = np.triu_indices(m, k=1)
    pair_values = values[a, b]
    order = order_by_magnitude(pair_values)[:max_display]  # H >= 0: by magnitude is by value
    heights = pair_values[order]
    labels = [f"{names[a[k]]} × {names[b[k]]}" for k in order]
    n = len(heights)
    y = np.arange(n)[::-1]

    fig, ax = new_figure(8.0, rows_height(n))
    ax.barh(y, heights, height=0.65, color=RED, zorder=2)
    finite = heights[np.isfinite(heights)]
    span = float(np.abs(finite).max()) if finite.size else 1.0
    span = span if span > 0 else 1.0
    fmt = number_formatter(span)
    for yk, h in zip(y, heights):
        if np.isfinite(h):
            ax.text(h + 0.015 * span, yk, fmt(h), va="center", ha="left", fontsize=9, color="#333333", zorder=3)
    ax.set_xlim(min(0.0, float(finite.min()) if finite.size else 0.0), 1.2 * span)
    ax.axvline(0.0, color="#333333", lw=0.8, zorder=1)
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.6, n - 0.4)
    stat = inter.meta.get("statistic", "H")
    ax.set_xlabel(f"pairwise interaction strength ({stat}-statistic)")
    style_feature_axis(ax)
    return fig


def surrogate_tree(surrogate: Any) -> Figure:
    """Render a fitted tree surrogate's rules (`surrogate.to_text()`) as monospace text.

    Arguments:
    - surrogate: a fitted `whybox.surrogates.TreeSurrogate`.

    Returns a matplotlib Figure (never shown), sized to fit the text.
    """
    from ..surrogates import TreeSurrogate  # local: keeps `whybox.plots` light to import

    if not isinstance(surrogate, TreeSurrogate):
        raise InputError(f"surrogate_tree expects a whybox TreeSurrogate, got {type(surrogate).__name__}")
    text = surrogate.to_text()  # InputError when not fitted
    lines = text.splitlines() or [""]
    width = max(4.0, 0.085 * max(len(line) for line in lines) + 0.6)
    height = max(1.5, 0.2 * len(lines) + 0.6)
    fig = Figure(figsize=(width, height), layout="constrained")
    fig.text(0.02, 0.98, text, family="monospace", fontsize=10, va="top", ha="left", color="#222222")
    return fig
