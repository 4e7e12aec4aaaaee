"""LIME bar chart: the weights of the local linear surrogate for one explained row."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..errors import InputError
from ..results import Attribution
from ._common import (RowPick, check_max_display, feature_labels, method_label, new_figure, number_formatter,
                      other_label, output_entry, row_label, row_meta, rows_height, select_row_output, sign_colours,
                      style_feature_axis, top_and_rest)

__all__ = ["lime_bar"]


def lime_bar(attr: Attribution, row: int = 0, output: int | str | None = None, max_display: int = 10) -> Figure:
    """Draw the LIME surrogate's weights for one explained row as horizontal bars.

    Only the features LIME selected (non-zero weight) get a bar; the largest
    |weight| is at the top, red raises the output, blue lowers it. A bar is
    labelled "feature = value" when the explained data is known (for a text,
    just the word). The title says which output is explained, the surrogate's
    local fidelity (weighted R² on the perturbed samples, `meta["local_fidelity"]`)
    and how many samples it was fitted on (`meta["num_samples"]`), so a poor
    local fit is visible next to the weights it produced.

    Arguments:
    - attr: a LIME Attribution of tables or texts: the whole batch (pick the row
      with `row`) or one row `attr[i]`. Per-row meta (the fidelity) can only be
      matched to its row when the whole batch is passed with `row=i`.
    - row: which explained row to draw when `attr` has several.
    - output: index or name of the output (class) to draw; required when the
      model has several outputs.
    - max_display: how many selected features get their own bar; the rest are
      summed into one "Sum of N other features" bar at the bottom (default 10).

    Returns a matplotlib Figure (never shown).
    """
    max_display = check_max_display(max_display)
    pick = select_row_output(attr, row, output, "lime_bar")
    one = pick.attr
    if one.feature_ndim != 1:
        raise InputError(f"lime_bar draws the weights of a table row or a text, got values of shape "
                         f"{one.values.shape}; for an image use image_overlay")
    values = np.asarray(one.values, dtype=float)
    names = feature_labels(one, values.shape[0])
    data = one.data
    selected = np.flatnonzero(np.isfinite(values) & (values != 0))

    shown, rest = top_and_rest(values[selected], max_display)
    # LIME's own features are statements about the row ("41.6 < income <= 57.2"): show them when known
    conditions = row_meta(attr.meta, "interpretable", pick)
    if isinstance(conditions, (list, tuple)) and len(conditions) == values.shape[0]:
        labels = [str(conditions[int(selected[k])]) for k in shown]
    else:
        labels = [_label(names, data, int(selected[k])) for k in shown]
    widths = [float(values[selected[k]]) for k in shown]
    if rest.size:
        labels.append(other_label(rest.size, summed=True))
        widths.append(float(values[selected[rest]].sum()))
    widths_arr = np.asarray(widths, dtype=float)
    n = len(widths)
    y = np.arange(n)[::-1]  # largest |weight| at the top

    fig, ax = new_figure(8.0, rows_height(max(n, 1)))
    ax.set_title(_title(attr, one, pick), loc="left", fontsize=10)
    ax.axvline(0.0, color="#333333", lw=0.8, zorder=1)
    ax.set_xlabel("LIME weight (coefficient of the local linear surrogate)")
    style_feature_axis(ax)
    if n == 0:
        ax.text(0.5, 0.5, "LIME selected no feature for this row (every weight is 0)", transform=ax.transAxes,
                ha="center", va="center", fontsize=10, color="#555555")
        ax.set_yticks([])
        return fig

    ax.barh(y, widths_arr, height=0.65, color=sign_colours(widths_arr), zorder=2)
    if rest.size:
        ax.patches[-1].set_alpha(0.55)
    span = float(np.abs(widths_arr).max()) or 1.0
    fmt = number_formatter(span, signed=True)
    pad = 0.015 * span
    for yk, w in zip(y, widths_arr):
        ax.text(w + (pad if w >= 0 else -pad), yk, fmt(w), va="center", ha="left" if w >= 0 else "right",
                fontsize=9, color="#333333", zorder=3)
    lo, hi = min(0.0, float(widths_arr.min())), max(0.0, float(widths_arr.max()))
    ax.set_xlim(lo - (0.2 * span if lo < 0 else 0.05 * span), hi + (0.2 * span if hi > 0 else 0.05 * span))
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.6, n - 0.4)
    return fig


def _label(names: list[str], data: np.ndarray | None, i: int) -> str:
    """ "feature = value", or just the word when the feature is a text's word (its name is its value)."""
    if data is not None and str(data[i]) == names[i]:
        return names[i]
    return row_label(names[i], data, i)


def format_fidelity(r2: Any) -> str:
    """A weighted R² as the title shows it: three decimals, or "n/a" when it is missing or not finite."""
    try:
        f = float(r2)
    except (TypeError, ValueError):
        return "n/a"
    return f"{f:.3f}" if math.isfinite(f) else "n/a"


def _title(passed: Attribution, one: Attribution, pick: RowPick) -> str:
    """Two lines: what is explained, then fidelity, samples and intercept."""
    head = f"{method_label(passed.method or 'lime')} weights"
    if pick.output is not None:
        name = one.output_names if isinstance(one.output_names, str) else str(pick.output)
        head += f" for output {name!r}"
    if pick.row is not None and pick.n_rows and pick.n_rows > 1:
        head += f" (row {pick.row})"
    parts = []
    fidelity = output_entry(row_meta(passed.meta, "local_fidelity", pick), pick)
    if fidelity is not None:
        parts.append(f"local fidelity (weighted R²) = {format_fidelity(fidelity)}")
    samples = row_meta(passed.meta, "num_samples", pick)
    if isinstance(samples, (int, float, np.integer, np.floating)) and not isinstance(samples, bool):
        parts.append(f"{int(samples):,} samples")
    base = np.asarray(one.base_values, dtype=float)
    if base.ndim == 0 and np.isfinite(base):
        parts.append(f"intercept {number_formatter(abs(float(base)) or 1.0)(float(base))}")
    return head + ("\n" + "  ·  ".join(parts) if parts else "")
