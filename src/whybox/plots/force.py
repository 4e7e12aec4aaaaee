"""Static force plot: one prediction as a tug of war along a single axis."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Polygon

from ..results import Attribution
from ._common import (BLUE, PALE_BLUE, PALE_RED, RED, check_max_display, feature_labels, format_value,
                      new_figure, number_formatter, other_label, require_single_row, top_and_rest)

__all__ = ["force"]

_H = 0.3            # half height of the band
_FONT = 9           # label font size (points)
_WIDTH_IN = 12.0    # figure width (inches)


def force(attr_row: Attribution, max_display: int = 10) -> Figure:
    """Draw one explained row as a static force plot along one horizontal axis.

    Red segments (features that push the output higher) are stacked left of
    f(x) and end there, largest next to f(x); blue segments (pushing lower)
    start at f(x) and run right. Red minus blue lengths take the base value
    E[f(X)] to f(x); both are marked above the band. The `max_display` largest
    features get their own segment, labelled "feature = value" below the band;
    the rest are drawn as one paler, unlabelled segment per direction.

    Arguments:
    - attr_row: one row of a single-output Attribution, e.g. `attr[0]`; for a
      model with several outputs pick one, `attr[0, ..., "name"]`.
    - max_display: how many features get their own labelled segment (default 10).

    Returns a matplotlib Figure (never shown).
    """
    attr = require_single_row(attr_row, "force")
    max_display = check_max_display(max_display)
    values = np.asarray(attr.values, dtype=float)
    base = float(attr.base_values)
    fx = base + float(values.sum())
    names = feature_labels(attr, values.shape[0])
    shown, rest = top_and_rest(values, max_display)

    # (label, value, colour, text or None); shown ones are most important first
    segs = [(names[i], float(values[i]), None, f"{names[i]} = {format_value(attr.data[i])}"
             if attr.data is not None else names[i]) for i in shown]
    pos_rest = [i for i in rest if values[i] > 0]
    neg_rest = [i for i in rest if values[i] < 0]
    if pos_rest:
        segs.append((other_label(len(pos_rest)), float(values[pos_rest].sum()), PALE_RED, None))
    if neg_rest:
        segs.append((other_label(len(neg_rest)), float(values[neg_rest].sum()), PALE_BLUE, None))

    reds = [s for s in segs if s[1] > 0]
    blues = [s for s in segs if s[1] < 0]
    pos_total = sum(s[1] for s in reds)
    neg_total = -sum(s[1] for s in blues)
    left, right = fx - pos_total, fx + neg_total
    span = right - left if right > left else max(abs(fx), 1.0)
    tip = 0.012 * span

    fig, ax = new_figure(_WIDTH_IN, 3.2)
    placed: list[tuple[float, str, float]] = []  # (segment centre, label text, |value|)
    # red: from f(x) leftwards, largest first (next to f(x)); blue: from f(x) rightwards
    end = fx
    for name, v, colour, text in sorted(reds, key=lambda s: (s[2] is not None, -s[1])):
        start = end - v
        ax.add_patch(_chevron(start, end, tip, pointing_right=True, colour=colour or RED, label=name))
        if text is not None:
            placed.append(((start + end) / 2, text, abs(v)))
        end = start
    start = fx
    for name, v, colour, text in sorted(blues, key=lambda s: (s[2] is not None, s[1])):
        stop = start - v
        ax.add_patch(_chevron(start, stop, tip, pointing_right=False, colour=colour or BLUE, label=name))
        if text is not None:
            placed.append(((start + stop) / 2, text, abs(v)))
        start = stop

    lo_x, hi_x = min(left, base) - 0.06 * span, max(right, base) + 0.06 * span
    ax.set_xlim(lo_x, hi_x)
    lowest = _draw_labels(ax, placed, lo_x, hi_x)

    # base value and f(x) above the band; the labels point away from each other
    vfmt = number_formatter(span)
    base_left = base <= fx
    ax.plot([base, base], [_H, _H + 0.22], color="#555555", lw=1)
    ax.text(base, _H + 0.26, f"base value = {vfmt(base)}", ha="right" if base_left else "left",
            va="bottom", fontsize=_FONT, color="#555555")
    ax.plot([fx, fx], [-_H - 0.05, _H + 0.22], color="#222222", lw=1.2)
    ax.text(fx, _H + 0.26, f"f(x) = {vfmt(fx)}", ha="left" if base_left else "right", va="bottom",
            fontsize=_FONT + 2, fontweight="bold", color="#222222")

    ax.set_ylim(lowest - 0.15, _H + 0.75)
    ax.set_yticks([])
    for side in ("left", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.xaxis.tick_top()
    ax.tick_params(axis="x", labelsize=8, colors="#666666")
    ax.legend(handles=[Patch(color=RED, label="pushes f(x) higher"), Patch(color=BLUE, label="pushes f(x) lower")],
              loc="upper left", frameon=False, fontsize=8, ncols=2, bbox_to_anchor=(0.0, 1.0))
    return fig


def _chevron(a: float, b: float, tip: float, pointing_right: bool, colour: str, label: str) -> Polygon:
    """One segment over [a, b] shaped as an arrow in the direction it pushes."""
    t = min(tip, abs(b - a) * 0.5)
    if pointing_right:
        pts = [(a, _H), (b - t, _H), (b, 0.0), (b - t, -_H), (a, -_H), (a + t, 0.0)]
    else:
        pts = [(b, _H), (a + t, _H), (a, 0.0), (a + t, -_H), (b, -_H), (b - t, 0.0)]
    poly = Polygon(pts, closed=True, facecolor=colour, edgecolor="white", linewidth=0.6, label=label)
    poly.set_gid("force-segment")
    return poly


def _draw_labels(ax: Axes, placed: list[tuple[float, str, float]], lo_x: float, hi_x: float) -> float:
    """Write the labels below the band on as many text lines as needed so that none overlap.

    Text widths are estimated from the font size, the figure width and the x
    range. Labels are placed largest feature first, each on the first line
    where it fits (nudged sideways a little if that helps) without covering
    another label or the vertical leader that joins a deeper label to its
    segment. Returns the lowest y used.
    """
    units_per_inch = (hi_x - lo_x) / (_WIDTH_IN * 0.95)
    char_w = _FONT * 0.58 / 72.0 * units_per_inch
    lines: list[list[tuple[float, float]]] = []   # label intervals per text line
    leaders: list[tuple[float, int]] = []         # (x, line) of each vertical leader
    lowest = -_H
    for centre, text, _ in sorted(placed, key=lambda p: -p[2]):
        half = 0.5 * (len(text) * char_w) + char_w
        level, x = _free_slot(centre, half, lines, leaders, lo_x, hi_x)
        if level == len(lines):
            lines.append([])
        lines[level].append((x - half, x + half))
        leaders.append((centre, level))
        y = -_H - 0.28 - 0.26 * level
        ax.plot([centre, centre, x], [-_H - 0.02, y + 0.1, y + 0.1], color="#b0b0b0", lw=0.7, zorder=0)
        ax.text(x, y, text, ha="center", va="top", fontsize=_FONT, color="#333333")
        lowest = min(lowest, y - 0.18)
    return lowest


def _free_slot(centre: float, half: float, lines: list[list[tuple[float, float]]],
               leaders: list[tuple[float, int]], lo_x: float, hi_x: float) -> tuple[int, float]:
    """The first text line and x where a label of half width `half` for a segment at `centre` fits."""
    def clear(level: int, x: float) -> bool:
        lo, hi = x - half, x + half
        if level < len(lines) and any(lo < b and a < hi for a, b in lines[level]):
            return False
        if any(a <= centre <= b for above in lines[:level] for a, b in above):
            return False  # our leader would cross a label on a line above
        return not any(lo <= lx <= hi for lx, l_level in leaders if l_level > level)

    level = 0
    while True:
        for shift in (0.0, -0.6, 0.6, -1.2, 1.2):
            x = min(max(centre + shift * half, lo_x + half), hi_x - half)
            if clear(level, x):
                return level, x
        if level >= len(lines):
            return level, min(max(centre, lo_x + half), hi_x - half)
        level += 1
