"""Text highlighting: each word of an explained text coloured by its weight, as HTML or as a figure,
for one explanation (`text_html`, `text`) or several side by side (`text_comparison_html`, `text_comparison`)."""

from __future__ import annotations

import html
import textwrap
from typing import Any, Callable, Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize, to_rgb
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Rectangle
from matplotlib.textpath import TextToPath

from ..errors import InputError
from ..results import Attribution
from ._common import BLUE, BLUE_WHITE_RED, RED, RowPick, method_label, number_formatter, select_row_output

__all__ = ["text_html", "text", "text_comparison", "text_comparison_html"]

_FONT_SIZE = 12.0       # points
_PAD = 3.0              # points of box around a word
_GAP = 4.0              # points between two boxes
_LINE = 2.1 * _FONT_SIZE
_WIDTH_IN = 8.0
_MARGIN_IN = 0.3
_LABEL_IN = 2.0         # inches of method names left of the words in text_comparison
_BAND_GAP_IN = 0.2      # inches between two methods' bands

_WORD_STYLE = "padding: 0.1em 0.2em; border-radius: 0.25em;"
_LABEL_STYLE = ("display: inline-block; min-width: 4em; margin-right: 0.5em; font-size: 0.75em; "
                "color: #555555; font-weight: bold;")
_OWN_SCALE_NOTE = ("each method coloured by its own scale (full colour at its own max|w|): "
                   "methods have different units")


# --------------------------------------------------------------------------- words and weights

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


def _picked_output_name(pick: RowPick) -> str | None:
    """The picked output's name (or its index as text), or None when there was no outputs axis."""
    if pick.output is None:
        return None
    return pick.attr.output_names if isinstance(pick.attr.output_names, str) else str(pick.output)


def _caption(pick: RowPick, method: str) -> str:
    what = f"{method_label(method)} weights" if method else "weights"
    name = _picked_output_name(pick)
    if name is not None:
        what += f" for output {name!r}"
    return what


def _output_name(attr: Attribution, k: int) -> str:
    """Output k's name, or its index as text when the outputs are not named."""
    names = attr.output_names
    return str(names[k]) if isinstance(names, tuple) and len(names) > k else str(k)


# --------------------------------------------------------------------------- HTML pieces

def _weight_attrs(w: float, scale: float, fmt: Callable[[float], str]) -> str:
    """The HTML attributes of one word's element: background rgba(RED or BLUE, |w| / scale), tooltip, exact weight."""
    style = _WORD_STYLE
    if np.isfinite(w) and w != 0 and scale > 0:
        r, g, b = (round(255 * c) for c in to_rgb(RED if w > 0 else BLUE))
        style = f"background-color: rgba({r}, {g}, {b}, {min(abs(w) / scale, 1.0):.3f}); " + style
    tip = html.escape(f"weight {fmt(w)}" if np.isfinite(w) else "weight n/a", quote=True)
    return f'style="{style}" title="{tip}" data-weight="{float(w)!r}"'


def _word_spans(words: list[str], weights: np.ndarray, scale: float) -> str:
    fmt = number_formatter(scale, signed=True)
    return " ".join(f'<span class="whybox-word" {_weight_attrs(w, scale, fmt)}>{html.escape(word, quote=True)}</span>'
                    for word, w in zip(words, weights))


def _legend(caption: str) -> str:
    return (f'<div class="whybox-legend" style="font-size: 0.8em; color: #555555; margin-bottom: 0.3em;">'
            f'{html.escape(caption, quote=True)}: <b style="color: {RED};">red</b> raises the output, '
            f'<b style="color: {BLUE};">blue</b> lowers it</div>')


def text_html(attr: Attribution, row: int = 0, output: int | str | None = None) -> str:
    """The explained text as HTML, each word on a background coloured by its weight.

    Every word is a `<span class="whybox-word">` in the text's order. Its
    background is red for a positive weight and blue for a negative one, with
    opacity |w| / max|w|, so the strongest word is the most intense; a word of
    weight 0 has no background. The exact weight is in the span's `title` (a
    tooltip) and `data-weight`. Words are HTML-escaped.

    The words of one output form a `<div class="whybox-line">`. When the
    attribution has several outputs (classes) and `output` is not given, there
    is one line per output, in the outputs' order, each with
    `data-output="NAME"` and starting with the output's name (or its index) in a
    small label; all lines share one scale, max|w| over every output of the row
    (the outputs' weights are in the same units), as the legend says. With
    `output` given, or a single output, there is one line scaled by its own max|w|.

    The words come from the attribution's data (or its feature names) and are
    joined by single spaces: punctuation that was not a feature is not shown.

    Arguments:
    - attr: a text Attribution (a padded batch with `mask`, or one row `attr[i]`).
    - row: which text to draw when `attr` has several.
    - output: index or name of the output (class) to draw alone; None draws every output.

    Returns an HTML fragment (a `<div>`), e.g. for `IPython.display.HTML`.
    """
    method = getattr(attr, "method", "")
    if (output is None and isinstance(attr, Attribution) and attr.has_outputs
            and attr.values.ndim >= 1 and attr.values.shape[-1] > 1):
        picks = [_words_and_weights(attr, row, k, "text_html") for k in range(attr.values.shape[-1])]
        scale = max(_scale(weights) for _, weights, _ in picks)
        lines = []
        for k, (words, weights, _) in enumerate(picks):
            name = html.escape(_output_name(attr, k), quote=True)
            lines.append(f'<div class="whybox-line" data-output="{name}">'
                         f'<span class="whybox-output" style="{_LABEL_STYLE}">{name}</span>'
                         f"{_word_spans(words, weights, scale)}</div>")
        what = f"{method_label(method)} weights" if method else "weights"
        caption = (f"{what}, one line per output, on one scale "
                   f"(full colour at max|w| = {number_formatter(scale)(scale)} over all outputs)")
        body = "".join(lines)
    else:
        words, weights, pick = _words_and_weights(attr, row, output, "text_html")
        name = _picked_output_name(pick)
        data_output = "" if name is None else f' data-output="{html.escape(name, quote=True)}"'
        caption = _caption(pick, method)
        body = f'<div class="whybox-line"{data_output}>{_word_spans(words, weights, _scale(weights))}</div>'
    return (f'<div class="whybox-text" style="font-family: sans-serif; line-height: 1.9;">{_legend(caption)}'
            f"{body}</div>")


# --------------------------------------------------------------------------- figure pieces

def _layout(words: list[str], avail: float) -> tuple[list[tuple[float, int, float]], int]:
    """(x, line, width) in points of each word's box, wrapping at `avail` points; and the number of lines."""
    measure = TextToPath()
    prop = FontProperties(size=_FONT_SIZE)
    boxes: list[tuple[float, int, float]] = []
    x, line = 0.0, 0
    for word in words:
        w = measure.get_text_width_height_descent(word, prop, ismath=False)[0] + 2 * _PAD
        w = max(w, _FONT_SIZE * 0.6)
        if x > 0 and x + w > avail:
            x, line = 0.0, line + 1
        boxes.append((x, line, w))
        x += w + _GAP
    return boxes, line + 1


def _draw_words(ax: Axes, words: list[str], weights: np.ndarray, boxes: list[tuple[float, int, float]],
                scale: float) -> None:
    """One Rectangle per word, in order, coloured BLUE_WHITE_RED(norm(w)) on [-scale, scale] (white at 0 or
    when not finite), with the word written on it."""
    norm = Normalize(-scale, scale)
    for word, wt, (bx, bl, bw) in zip(words, weights, boxes):
        colour = BLUE_WHITE_RED(norm(wt)) if np.isfinite(wt) and wt != 0 else (1.0, 1.0, 1.0, 1.0)
        top = bl * _LINE + 0.12 * _LINE
        ax.add_patch(Rectangle((bx, top), bw, 0.76 * _LINE, facecolor=colour, edgecolor="#d0d0d0", lw=0.5))
        strong = np.isfinite(wt) and abs(wt) / scale > 0.7
        ax.text(bx + _PAD, top + 0.38 * _LINE, word, ha="left", va="center_baseline", fontsize=_FONT_SIZE,
                color="white" if strong else "#222222", parse_math=False)


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

    avail = (_WIDTH_IN - 2 * _MARGIN_IN) * 72.0
    boxes, n_lines = _layout(words, avail)
    text_h = n_lines * _LINE / 72.0

    title_h, bar_h = 0.45, 0.85
    height = title_h + text_h + bar_h + 0.15
    fig = Figure(figsize=(_WIDTH_IN, height))
    ax = fig.add_axes((_MARGIN_IN / _WIDTH_IN, (bar_h + 0.15) / height, avail / 72.0 / _WIDTH_IN, text_h / height))
    ax.set_xlim(0, avail)
    ax.set_ylim(n_lines * _LINE, 0)
    ax.set_axis_off()
    _draw_words(ax, words, weights, boxes, scale)
    fig.text(_MARGIN_IN / _WIDTH_IN, 1 - 0.12 / height, _caption(pick, getattr(attr, "method", "")),
             ha="left", va="top", fontsize=11, color="#222222")

    cax = fig.add_axes((0.25, 0.5 / height, 0.5, 0.16 / height))
    cbar = fig.colorbar(ScalarMappable(norm=norm, cmap=BLUE_WHITE_RED), cax=cax, orientation="horizontal")
    cbar.set_label("weight: red raises the output, blue lowers it", fontsize=9)
    cbar.ax.tick_params(labelsize=8)
    return fig


# --------------------------------------------------------------------------- several explanations of one text

def _first_difference(a: list[str], b: list[str]) -> int:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def _compared(attrs: Any, row: Any, output: Any, plot: str) -> tuple[list[str], list[str], list[np.ndarray]]:
    """The methods' names, the text's words, and each method's weights of them; checks that the words agree."""
    if not isinstance(attrs, Mapping) or not attrs:
        raise InputError(f"{plot} takes a dict of method name -> Attribution of the same text, e.g. "
                         "{'Partition SHAP': shap_attr, 'Integrated gradients': ig_attr}")
    if isinstance(output, Mapping):
        unknown = [k for k in output if k not in attrs]
        if unknown:
            raise InputError(f"{plot}: output= names {unknown}, which are not among the methods {list(attrs)}")
    names: list[str] = []
    words_of: list[list[str]] = []
    weights_of: list[np.ndarray] = []
    for key, attr in attrs.items():
        name = str(key)
        if isinstance(output, Mapping):
            out = output.get(key)
        else:  # one choice for all: methods without outputs (attention rollout, say) need none
            out = output if isinstance(attr, Attribution) and attr.has_outputs else None
        words, weights, _ = _words_and_weights(attr, row, out, f"{plot} ({name!r})")
        if words_of and words != words_of[0]:
            i = _first_difference(words_of[0], words)
            first, n0 = names[0], len(words_of[0])

            def at(ws: list[str]) -> str:
                return repr(ws[i]) if i < len(ws) else "nothing (its text has ended)"
            raise InputError(
                f"{plot}: {first!r} and {name!r} do not explain the same words: at position {i}, {first!r} has "
                f"{at(words_of[0])} and {name!r} has {at(words)} ({n0} and {len(words)} words in all). Every "
                "method must give one weight per word of the same text; token-level attributions must first be "
                "summed into words, e.g. with whybox.maskers.Text(tokenizer).word_attribution(...)")
        names.append(name)
        words_of.append(words)
        weights_of.append(weights)
    return names, words_of[0], weights_of


def text_comparison(attrs: Mapping[str, Attribution], row: int = 0,
                    output: int | str | Mapping[str, int | str | None] | None = None) -> Figure:
    """Draw several explanations of one text as bands, one per method, top to bottom in the mapping's order.

    Each band shows the method's name and its scale on the left, then the text's words left to right
    (wrapping into lines) on boxes coloured colour(w) = BLUE_WHITE_RED(0.5 + 0.5 * w / max|w|_method),
    white at 0, where max|w|_method is over that method's words only: methods have different units, so
    colours compare the words within a band, and the ranking of words across bands. The words sit at the
    same places in every band, so a column reads one word down all methods.

    Arguments:
    - attrs: method name -> text Attribution of the same text, e.g. {"Partition SHAP": a1, "LIME": a2}.
      All must have the same words in the same order (sum token-level attributions into words first).
    - row: which text to draw, for attributions that hold several (a single row `attr[i]` ignores it).
    - output: index or name of the output (class), for every method that has several outputs (methods
      without an outputs axis, e.g. attention rollout, ignore it); or a dict method name -> output.

    `fig.axes[k]` is method k's band (its label, `get_label()`, is the method's name): one Rectangle
    patch per word in the text's order, facecolor colour(w), and the words as its texts. The last Axes,
    `fig.axes[len(attrs)]`, is the colour bar, from -max|w| to +max|w| of each method. Returns a
    matplotlib Figure.
    """
    names, words, weights_of = _compared(attrs, row, output, "text_comparison")
    width = _LABEL_IN + _WIDTH_IN
    avail = (_WIDTH_IN - 2 * _MARGIN_IN) * 72.0
    boxes, n_lines = _layout(words, avail)
    text_h = n_lines * _LINE / 72.0
    labels = [textwrap.wrap(name, 24) or [""] for name in names]
    bands = [max(text_h, (len(lines) * 13 + 11) / 72.0 + 0.1) for lines in labels]

    title_h, bar_h = 0.6, 0.85
    height = title_h + sum(bands) + _BAND_GAP_IN * (len(bands) - 1) + bar_h + 0.15
    fig = Figure(figsize=(width, height))
    left = (_MARGIN_IN + _LABEL_IN) / width
    top = height - title_h
    for name, lines, weights, band_h in zip(names, labels, weights_of, bands):
        scale = _scale(weights)
        ax = fig.add_axes((left, (top - band_h) / height, avail / 72.0 / width, band_h / height))
        ax.set_xlim(0, avail)
        ax.set_ylim(band_h * 72.0, 0)
        ax.set_axis_off()
        ax.set_label(name)
        _draw_words(ax, words, weights, boxes, scale or 1.0)
        y = top - 0.12 * _LINE / 72.0
        fig.text(_MARGIN_IN / width, y / height, "\n".join(lines), ha="left", va="top", fontsize=10,
                 fontweight="bold", color="#222222", linespacing=1.1)
        y -= len(lines) * 13 / 72.0 + 0.03
        fig.text(_MARGIN_IN / width, y / height, f"max|w| = {number_formatter(scale)(scale)}", ha="left", va="top",
                 fontsize=8, color="#555555")
        top -= band_h + _BAND_GAP_IN

    fig.text(_MARGIN_IN / width, 1 - 0.1 / height, f"{len(names)} explanations of one text", ha="left", va="top",
             fontsize=11, color="#222222")
    fig.text(_MARGIN_IN / width, 1 - 0.33 / height, _OWN_SCALE_NOTE[0].upper() + _OWN_SCALE_NOTE[1:],
             ha="left", va="top", fontsize=8.5, color="#555555")
    cax = fig.add_axes((0.3, 0.5 / height, 0.4, 0.16 / height))
    cbar = fig.colorbar(ScalarMappable(norm=Normalize(-1.0, 1.0), cmap=BLUE_WHITE_RED), cax=cax,
                        orientation="horizontal", ticks=[-1.0, 0.0, 1.0])
    cbar.ax.set_xticklabels(["-max|w|", "0", "+max|w|"])
    cbar.set_label("weight, each method on its own scale: red raises the output, blue lowers it", fontsize=9)
    cbar.ax.tick_params(labelsize=8)
    return fig


def text_comparison_html(attrs: Mapping[str, Attribution], row: int = 0,
                         output: int | str | Mapping[str, int | str | None] | None = None) -> str:
    """Several explanations of one text as an HTML table: one row per method, one column per word.

    A `<table class="whybox-comparison">` holds one `<tr data-method="NAME">` per method, in the
    mapping's order: a `<th>` with the method's name and its max|w|, then one `<td class="whybox-word">`
    per word, its background rgba(RED or BLUE, |w| / max|w|_method) where max|w|_method is over that
    method's words only (methods have different units), its `title` the weight and `data-weight` the
    exact float. Words and names are HTML-escaped. The table sits in a `<div>` that scrolls sideways.

    Arguments are those of `text_comparison`: attrs (method name -> Attribution of the same words),
    row, and output (one index or name for all methods that have outputs, or a dict per method).
    """
    names, words, weights_of = _compared(attrs, row, output, "text_comparison_html")
    escaped = [html.escape(word, quote=True) for word in words]
    rows = []
    for name, weights in zip(names, weights_of):
        scale = _scale(weights)
        fmt = number_formatter(scale, signed=True)
        cells = "".join(f'<td class="whybox-word" {_weight_attrs(w, scale, fmt)}>{word}</td>'
                        for word, w in zip(escaped, weights))
        label = html.escape(name, quote=True)
        rows.append(f'<tr data-method="{label}"><th class="whybox-method" scope="row" '
                    f'style="text-align: left; padding-right: 0.8em; white-space: nowrap;">{label}<br>'
                    f'<span style="font-size: 0.75em; color: #555555; font-weight: normal;">'
                    f"max|w| = {number_formatter(scale)(scale)}</span></th>{cells}</tr>")
    caption = (f'<caption style="caption-side: top; text-align: left; font-size: 0.8em; color: #555555;">'
               f"{html.escape(_OWN_SCALE_NOTE, quote=True)}; <b style=\"color: {RED};\">red</b> raises the output, "
               f'<b style="color: {BLUE};">blue</b> lowers it</caption>')
    return (f'<div class="whybox-text" style="font-family: sans-serif; overflow-x: auto;">'
            f'<table class="whybox-comparison" style="border-collapse: separate; border-spacing: 0.15em 0.3em;">'
            f"{caption}{''.join(rows)}</table></div>")
