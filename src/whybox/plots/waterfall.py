"""Waterfall plot: how one prediction is built up from the base value, feature by feature."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..results import Attribution
from ._common import (BLUE, RED, check_max_display, feature_labels, new_figure, number_formatter,
                      other_label, require_single_row, row_label, rows_height, sign_colours,
                      style_feature_axis, top_and_rest)

__all__ = ["waterfall"]


def waterfall(attr_row: Attribution, max_display: int = 10) -> Figure:
    """Draw one explained row as a waterfall from the base value E[f(X)] to the output f(x).

    The bottom bar starts at E[f(X)]; each bar above it starts where the one
    below ended and is as long as one feature's contribution (red pushes the
    output up, blue down), so the top bar ends at f(x) = E[f(X)] + sum(values).
    The largest contribution is at the top. Rows are labelled "feature = value"
    from `attr_row.data` when it is there.

    Arguments:
    - attr_row: one row of a single-output Attribution, e.g. `attr[0]`; for a
      model with several outputs pick one, `attr[0, ..., "name"]`.
    - max_display: how many features get their own bar; the rest are summed
      into one "N other features" bar at the bottom (default 10).

    Returns a matplotlib Figure (never shown); save it with `fig.savefig(path)`.
    """
    attr = require_single_row(attr_row, "waterfall")
    max_display = check_max_display(max_display)
    values = np.asarray(attr.values, dtype=float)
    base = float(attr.base_values)
    fx = base + float(values.sum())
    names = feature_labels(attr, values.shape[0])
    shown, rest = top_and_rest(values, max_display)

    # rows listed top (largest |value|) to bottom, then drawn bottom-up from the base value
    labels = [row_label(names[i], attr.data, i) for i in shown]
    contrib = [float(values[i]) for i in shown]
    if rest.size:
        labels.append(other_label(rest.size))
        contrib.append(float(values[rest].sum()))
    labels, contrib = labels[::-1], np.asarray(contrib[::-1])
    n = len(contrib)
    y = np.arange(1, n + 1)
    starts = base + np.concatenate([[0.0], np.cumsum(contrib)[:-1]])
    ends = starts + contrib

    fig, ax = new_figure(8.0, rows_height(n + 1))
    ax.barh(y, contrib, left=starts, height=0.62, color=sign_colours(contrib), zorder=2)

    # thin connectors carry the running total from one bar to the next
    for k in range(n - 1):
        ax.plot([ends[k], ends[k]], [y[k] + 0.31, y[k + 1] - 0.31], color="#888888", lw=0.8, zorder=1)

    lo = min(base, fx, starts.min(), ends.min())
    hi = max(base, fx, starts.max(), ends.max())
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    fmt = number_formatter(np.abs(contrib).max() if n else span, signed=True)
    pad = 0.012 * span
    for yk, s, c in zip(y, starts, contrib):
        tip = s + c
        ax.text(tip + (pad if c >= 0 else -pad), yk, fmt(c), va="center",
                ha="left" if c >= 0 else "right", fontsize=9, color=RED if c >= 0 else BLUE, zorder=3)

    # E[f(X)] below the first bar, f(x) above the last
    value_fmt = number_formatter(span)
    ax.plot([base, base], [0.35, y[0] - 0.31], ls="--", color="#555555", lw=0.9)
    ax.text(base, 0.3, f"E[f(X)] = {value_fmt(base)}", ha="center", va="top", fontsize=9, color="#333333")
    ax.plot([fx, fx], [y[-1] + 0.31, n + 0.65], ls="--", color="#555555", lw=0.9)
    ax.text(fx, n + 0.7, f"f(x) = {value_fmt(fx)}", ha="center", va="bottom", fontsize=10,
            fontweight="bold", color="#333333")

    ax.set_yticks(y, labels)
    ax.set_ylim(-0.2, n + 1.25)
    ax.set_xlim(lo - 0.18 * span, hi + 0.18 * span)
    ax.set_xlabel("model output")
    style_feature_axis(ax)
    return fig
