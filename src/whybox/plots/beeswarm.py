"""Beeswarm plot: every attribution of every row as a dot, one row of dots per feature."""

from __future__ import annotations

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ..results import Attribution
from ._common import (BLUE_RED, GREY, as_numeric, check_max_display, colours_for, feature_labels, new_figure,
                      normalise_within, other_label, require_rows, rows_height, style_feature_axis,
                      top_and_rest)

__all__ = ["beeswarm"]


def swarm_offsets(x: np.ndarray, nbins: int = 100, half_width: float = 0.4) -> np.ndarray:
    """Vertical offsets that spread dots with nearly equal x into a swarm (deterministic).

    x is cut into `nbins` bins; within a bin the dots take turns above and below
    the centre line (0, +1, -1, +2, -2, ...), scaled so the widest pile fits
    in +-half_width.
    """
    x = np.asarray(x, dtype=float)
    n = x.shape[0]
    out = np.zeros(n)
    ok = np.isfinite(x)
    if ok.sum() < 2:
        return out
    xs = x[ok]
    lo, hi = xs.min(), xs.max()
    bins = np.round(nbins * (xs - lo) / (hi - lo)) if hi > lo else np.zeros_like(xs)
    order = np.lexsort((xs, bins))
    sorted_bins = bins[order]
    first = np.r_[True, sorted_bins[1:] != sorted_bins[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(order.size), 0))
    rank = np.arange(order.size) - group_start
    layer = np.ceil(rank / 2.0) * np.where(rank % 2 == 1, 1.0, -1.0)
    offs = np.empty_like(layer)
    offs[order] = layer
    biggest = np.abs(offs).max()
    if biggest > 0:
        offs *= half_width / max(biggest, 4.0)
    out[ok] = offs
    return out


def beeswarm(attr: Attribution, max_display: int = 10) -> Figure:
    """Draw every attribution value as a dot: one row per feature, x = the value.

    Rows are sorted by mean |value| (most important at the top). Dots with
    nearly equal values are spread vertically into a swarm. Each dot is
    coloured by that row's value of the feature, scaled within the feature
    (low blue to high red, 5th to 95th percentile, see the "feature value"
    colorbar); categorical or text features and missing values are grey.

    Arguments:
    - attr: a single-output Attribution with many rows (n, features); for
      several outputs pick one, `attr[..., "name"]`.
    - max_display: how many features get their own row; the rest are summed
      per explained row into one grey "Sum of N other features" row at the
      bottom (default 10).

    Returns a matplotlib Figure (never shown).
    """
    attr = require_rows(attr, "beeswarm")
    max_display = check_max_display(max_display)
    values = np.asarray(attr.values, dtype=float)
    n_rows, n_feat = values.shape
    names = feature_labels(attr, n_feat)
    shown, rest = top_and_rest(np.abs(values).mean(axis=0) if n_rows else np.zeros(n_feat), max_display)

    rows = [(names[i], values[:, i], _colour_norm(attr.data, i, n_rows)) for i in shown]
    if rest.size:
        rows.append((other_label(rest.size, summed=True), values[:, rest].sum(axis=1), np.full(n_rows, np.nan)))
    n = len(rows)
    fig, ax = new_figure(8.0, rows_height(n, per_row=0.5))
    ax.axvline(0.0, color="#999999", lw=0.8, zorder=1)
    any_coloured = False
    for k, (name, x, norm) in enumerate(rows):
        yk = n - 1 - k
        any_coloured |= bool(np.isfinite(norm).any())
        # grey (unknown colour) dots first so the coloured ones sit on top of them
        order = np.argsort(np.isfinite(norm), kind="stable")
        ax.scatter(x[order], yk + swarm_offsets(x)[order], c=colours_for(norm[order]), s=14,
                   linewidths=0, alpha=0.9, zorder=2, label=name, rasterized=n_rows > 2000)

    ax.set_yticks(np.arange(n)[::-1], [r[0] for r in rows])
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlabel("attribution (impact on model output)")
    style_feature_axis(ax)
    ax.grid(False)
    for yk in range(n):
        ax.axhline(yk, color="#ececec", lw=0.8, zorder=0)
    if any_coloured:
        cbar = fig.colorbar(ScalarMappable(norm=Normalize(0.0, 1.0), cmap=BLUE_RED), ax=ax,
                            ticks=[0.0, 1.0], aspect=40, pad=0.01)
        cbar.ax.set_yticklabels(["Low", "High"])
        cbar.set_label("feature value", labelpad=-6)
        cbar.outline.set_visible(False)
    else:
        ax.text(1.0, 1.0, "no numeric feature values to colour by", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=8, color=GREY)
    return fig


def _colour_norm(data: np.ndarray | None, i: int, n_rows: int) -> np.ndarray:
    """0..1 colour position of every row's value of feature i; NaN where no colour applies."""
    if data is None or data.ndim != 2:
        return np.full(n_rows, np.nan)
    column = as_numeric(data[:, i])
    if column is None:
        return np.full(n_rows, np.nan)
    return normalise_within(column)
