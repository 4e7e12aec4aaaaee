"""Bar plot: global feature importance, or the signed contributions of one row."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..errors import InputError
from ..results import Attribution, Importance
from ._common import (RED, check_max_display, feature_labels, new_figure, number_formatter, other_label,
                      require_single_row, row_label, rows_height, sign_colours, style_feature_axis,
                      top_and_rest)

__all__ = ["bar"]


def bar(attr: Attribution | Importance, max_display: int = 10) -> Figure:
    """Draw one horizontal bar per feature, largest magnitude at the top.

    - Several explained rows: the global importance mean |value| per feature
      (`attr.mean_abs()`; averaged over outputs too when there are several).
    - One explained row (`attr[0]`): that row's signed contributions, red up,
      blue down, labelled "feature = value" when the data is known.
    - An `Importance` (permutation importance, surrogate, ...): its scores,
      with its spread as error bars.

    Arguments:
    - attr: an Attribution (many rows or one row) or an Importance.
    - max_display: how many features get their own bar; the rest are summed
      into one "Sum of N other features" bar at the bottom (default 10).

    Returns a matplotlib Figure (never shown).
    """
    max_display = check_max_display(max_display)
    data_row = None
    spread = None
    if isinstance(attr, Importance):
        scores, names, spread = attr.scores, list(attr.feature_names), attr.spread
        xlabel = f"importance ({attr.method})" if attr.method else "importance"
        signed = bool((scores < 0).any())
    elif isinstance(attr, Attribution) and attr.has_rows:
        if attr.feature_ndim != 1:
            raise InputError(f"bar needs one feature axis (a table), got values of shape {attr.values.shape}")
        imp = attr.mean_abs()
        scores, names, spread = imp.scores, list(imp.feature_names), imp.spread
        outs = f", averaged over {attr.values.shape[-1]} outputs" if attr.has_outputs else ""
        xlabel = f"mean |attribution| over {attr.values.shape[0]} rows{outs}"
        signed = False
    elif isinstance(attr, Attribution):
        row = require_single_row(attr, "bar")
        scores = np.asarray(row.values, dtype=float)
        names = feature_labels(row, scores.shape[0])
        data_row = row.data
        xlabel = "attribution (contribution to this output)"
        signed = True
    else:
        raise InputError(f"bar expects a whybox Attribution or Importance, got {type(attr).__name__}")

    scores = np.asarray(scores, dtype=float)
    shown, rest = top_and_rest(scores, max_display)
    labels = [row_label(names[i], data_row, i) for i in shown]
    heights = [float(scores[i]) for i in shown]
    errs = [float(spread[i]) for i in shown] if spread is not None else None
    if rest.size:
        labels.append(other_label(rest.size, summed=True))
        heights.append(float(scores[rest].sum()))
        if errs is not None:
            errs.append(0.0)
    heights = np.asarray(heights)
    n = len(heights)
    y = np.arange(n)[::-1]  # first (largest) at the top

    fig, ax = new_figure(8.0, rows_height(n))
    colours = sign_colours(heights) if signed else [RED] * n
    ax.barh(y, heights, height=0.65, color=colours, zorder=2)
    if rest.size:
        ax.patches[-1].set_alpha(0.55)
    if errs is not None and np.any(np.asarray(errs) > 0):
        k = len(shown)  # the lumped bar has no spread of its own
        ax.errorbar(heights[:k], y[:k], xerr=np.asarray(errs[:k]), fmt="none", ecolor="#555555",
                    capsize=2, lw=0.8, zorder=3)

    span = float(np.abs(heights).max()) if n else 1.0
    span = span if span > 0 else 1.0
    fmt = number_formatter(span, signed=signed)
    pad = 0.015 * span
    for yk, h, e in zip(y, heights, errs if errs is not None else [0.0] * n):
        tip = h + (e if h >= 0 else -e)
        ax.text(tip + (pad if h >= 0 else -pad), yk, fmt(h), va="center", ha="left" if h >= 0 else "right",
                fontsize=9, color="#333333", zorder=3)
    lo = min(0.0, float((heights - (np.asarray(errs) if errs else 0)).min()))
    hi = max(0.0, float((heights + (np.asarray(errs) if errs else 0)).max()))
    ax.set_xlim(lo - (0.2 * span if lo < 0 else 0), hi + (0.2 * span if hi > 0 else 0.05 * span))
    ax.axvline(0.0, color="#333333", lw=0.8, zorder=1)
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlabel(xlabel)
    style_feature_axis(ax)
    return fig
