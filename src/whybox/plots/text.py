"""Text highlighting: each word of an explained text coloured by its weight, as HTML or as a figure."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize, to_rgb
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Rectangle
from matplotlib.textpath import TextToPath

from ..errors import InputError
from ..results import Attribution
from ._common import BLUE, BLUE_WHITE_RED, RED, RowPick, method_label, number_formatter, select_row_output

__all__ = ["text_html", "text"]

_FONT_SIZE = 12.0       # points
_PAD = 3.0              # points of box around a word
_GAP = 4.0              # points between two boxes
_LINE = 2.1 * _FONT_SIZE
_WIDTH_IN = 8.0
_MARGIN_IN = 0.3


def _words_and_weights(attr: Any, row: Any, output: Any, plot: str) -> tuple[list[str], np.ndarray, RowPick]:
    """The picked row's words (from the data, else the feature names) and their weights."""
    pick = select_row_output(attr, row, output, plot)
    one = pick.attr
    if one.feature_ndim != 1:
        raise InputError(f"{plot} draws the words of one text, got values of shape {one.values.shape}")
    weights = np.asarray(one.values, dtype=float)
    if one.data is not None and one.data.dtype.kind in "OUS":
        words = ["" if w is None else str(w) for w in one.data.tolist()]
    elif isinstance(one.feature_names, tuple):
        words = list(one.feature_names)
    else:
        raise InputError(f"{plot} needs the words: the attribution has neither text data nor feature names")
    return words, weights, pick


def _scale(weights: np.ndarray) -> float:
    """max |w| over the finite weights (0 when there are none)."""
    finite = np.abs(weights[np.isfinite(weights)])
    return float(finite.max()) if finite.size else 0.0


def _caption(pick: RowPick, method: str) -> str:
    what = f"{method_label(method)} weights" if method else "weights"
    if pick.output is not None:
        name = pick.attr.output_names if isinstance(pick.attr.output_names, str) else str(pick.output)
        what += f" for output {name!r}"
    return what


def text_html(attr: Attribution, row: int = 0, output: int | str | None = None) -> str:
    """The explained text as HTML, each word on a background coloured by its weight.

    Every word is a `<span class="whybox-word">` in the text's order. Its
    background is red for a positive weight and blue for a negative one, with
    opacity |w| / max|w| over the text, so the strongest word is the most
    intense; a word of weight 0 has no background. The exact weight is in the
    span's `title` (a tooltip) and `data-weight`. Words are HTML-escaped.

    The words come from the attribution's data (or its feature names) and are
    joined by single spaces: punctuation that was not a feature is not shown.

    Arguments:
    - attr: a text Attribution (a padded batch with `mask`, or one row `attr[i]`).
    - row: which text to draw when `attr` has several.
    - output: index or name of the output (class); required when there are several.

    Returns an HTML fragment (a `<div>`), e.g. for `IPython.display.HTML`.
    """
    words, weights, pick = _words_and_weights(attr, row, output, "text_html")
    scale = _scale(weights)
    fmt = number_formatter(scale, signed=True)
    spans = []
    for word, w in zip(words, weights):
        style = "padding: 0.1em 0.2em; border-radius: 0.25em;"
        if np.isfinite(w) and w != 0 and scale > 0:
            r, g, b = (round(255 * c) for c in to_rgb(RED if w > 0 else BLUE))
            style = f"background-color: rgba({r}, {g}, {b}, {abs(w) / scale:.3f}); " + style
        tip = html.escape(f"weight {fmt(w)}" if np.isfinite(w) else "weight n/a", quote=True)
        spans.append(f'<span class="whybox-word" style="{style}" title="{tip}" data-weight="{float(w)!r}">'
                     f"{html.escape(word, quote=True)}</span>")
    caption = html.escape(_caption(pick, getattr(attr, "method", "")), quote=True)
    legend = (f'<div class="whybox-legend" style="font-size: 0.8em; color: #555555; margin-bottom: 0.3em;">'
              f'{caption}: <b style="color: {RED};">red</b> raises the output, '
              f'<b style="color: {BLUE};">blue</b> lowers it</div>')
    body = " ".join(spans)
    return (f'<div class="whybox-text" style="font-family: sans-serif; line-height: 1.9;">{legend}'
            f"<div>{body}</div></div>")


def text(attr: Attribution, row: int = 0, output: int | str | None = None) -> Figure:
    """Draw the explained text as a figure: the words left to right, wrapping into lines, each on a box
    coloured by its weight (white at 0, red positive, blue negative, full colour at max|w|), with a colour bar.

    Arguments:
    - attr: a text Attribution (a padded batch with `mask`, or one row `attr[i]`).
    - row: which text to draw when `attr` has several.
    - output: index or name of the output (class); required when there are several.

    The main Axes (`fig.axes[0]`) holds one Rectangle patch per word, in the
    text's order; the colour bar is `fig.axes[1]`. Returns a matplotlib Figure.
    """
    words, weights, pick = _words_and_weights(attr, row, output, "text")
    scale = _scale(weights) or 1.0
    norm = Normalize(-scale, scale)

    # lay the words out in points, wrapping at the width of the text area
    measure = TextToPath()
    prop = FontProperties(size=_FONT_SIZE)
    avail = (_WIDTH_IN - 2 * _MARGIN_IN) * 72.0
    boxes: list[tuple[float, float, float]] = []  # (x, line, width)
    x, line = 0.0, 0
    for word in words:
        w = measure.get_text_width_height_descent(word, prop, ismath=False)[0] + 2 * _PAD
        w = max(w, _FONT_SIZE * 0.6)
        if x > 0 and x + w > avail:
            x, line = 0.0, line + 1
        boxes.append((x, line, w))
        x += w + _GAP
    n_lines = line + 1
    text_h = n_lines * _LINE / 72.0

    title_h, bar_h = 0.45, 0.85
    height = title_h + text_h + bar_h + 0.15
    fig = Figure(figsize=(_WIDTH_IN, height))
    ax = fig.add_axes((_MARGIN_IN / _WIDTH_IN, (bar_h + 0.15) / height, avail / 72.0 / _WIDTH_IN, text_h / height))
    ax.set_xlim(0, avail)
    ax.set_ylim(n_lines * _LINE, 0)
    ax.set_axis_off()
    for word, wt, (bx, bl, bw) in zip(words, weights, boxes):
        colour = BLUE_WHITE_RED(norm(wt)) if np.isfinite(wt) and wt != 0 else (1.0, 1.0, 1.0, 1.0)
        top = bl * _LINE + 0.12 * _LINE
        ax.add_patch(Rectangle((bx, top), bw, 0.76 * _LINE, facecolor=colour, edgecolor="#d0d0d0", lw=0.5))
        strong = np.isfinite(wt) and abs(wt) / scale > 0.7
        ax.text(bx + _PAD, top + 0.38 * _LINE, word, ha="left", va="center_baseline", fontsize=_FONT_SIZE,
                color="white" if strong else "#222222", parse_math=False)
    fig.text(_MARGIN_IN / _WIDTH_IN, 1 - 0.12 / height, _caption(pick, getattr(attr, "method", "")),
             ha="left", va="top", fontsize=11, color="#222222")

    cax = fig.add_axes((0.25, 0.5 / height, 0.5, 0.16 / height))
    cbar = fig.colorbar(ScalarMappable(norm=norm, cmap=BLUE_WHITE_RED), cax=cax, orientation="horizontal")
    cbar.set_label("weight: red raises the output, blue lowers it", fontsize=9)
    cbar.ax.tick_params(labelsize=8)
    return fig
