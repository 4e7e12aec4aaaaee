"""Dependence (scatter) plot: one feature's attribution against that feature's value."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..errors import InputError
from ..results import Attribution
from ._common import BLUE, BLUE_RED, GREY, as_numeric, format_value, new_figure

__all__ = ["scatter", "dependence"]

_JITTER = 0.18  # half width of the jitter around a category's position


def scatter(attr_col: Attribution, color: Attribution | Any | None = None) -> Figure:
    """Draw a dependence plot: each row's attribution of one feature (y) against that feature's value (x).

    Numeric values are plotted as they are; categorical or text values at one
    position per category (sorted, tick-labelled with the category) with a
    little horizontal jitter so the dots do not pile up.

    Arguments:
    - attr_col: one feature of a single-output Attribution over many rows,
      `attr[:, "income"]` (for several outputs `attr[:, "income", "name"]`);
      it must carry the explained data.
    - color: optional values to colour the dots by, one per row: another
      feature's column `attr[:, "age"]` (its data is used) or any array-like.
      Numbers get the blue-to-red map with a colorbar (5th-95th percentile),
      categories distinct colours with a legend; missing values are grey.

    Returns a matplotlib Figure (never shown).
    """
    name, y, raw_x = _column(attr_col, "scatter", "attr_col")
    n = y.shape[0]
    x_num = as_numeric(raw_x)
    categories: list[str] | None = None
    if x_num is None:
        codes, categories = _categories(raw_x)
        rng = np.random.default_rng(0)
        x = codes + rng.uniform(-_JITTER, _JITTER, size=n)
    else:
        x = x_num

    fig, ax = new_figure(7.0, 4.8)
    ax.axhline(0.0, color="#999999", lw=0.8, zorder=1)
    kw = dict(s=16, linewidths=0, alpha=0.85, zorder=2)
    if color is None:
        ax.scatter(x, y, color=BLUE, **kw)
    else:
        c_name, c_raw = _colour_values(color, n)
        c_num = as_numeric(c_raw)
        if c_num is not None:
            _scatter_numeric_colour(fig, ax, x, y, c_num, c_name, kw)
        else:
            _scatter_categorical_colour(ax, x, y, c_raw, c_name, kw)

    if categories is not None:
        ax.set_xticks(np.arange(len(categories)), categories,
                      rotation=30 if max(map(len, categories), default=0) * len(categories) > 60 else 0,
                      ha="right" if max(map(len, categories), default=0) * len(categories) > 60 else "center")
        ax.set_xlim(-0.6, len(categories) - 0.4)
    ax.set_xlabel(name)
    ax.set_ylabel(f"attribution of {name}")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


#: shap's name for the same picture.
dependence = scatter


def _column(attr: Any, plot: str, arg: str) -> tuple[str, np.ndarray, np.ndarray]:
    """(name, values, data) of one feature over many rows; InputError with the fix otherwise."""
    if not isinstance(attr, Attribution):
        raise InputError(f"{plot} expects a whybox Attribution for {arg}, got {type(attr).__name__}")
    if not attr.has_rows:
        raise InputError(f"{plot} needs many explained rows of one feature, e.g. attr[:, 'income'], not one row")
    if attr.has_outputs:
        names = attr.output_names
        pick = repr(names[0]) if isinstance(names, tuple) and names else "0"
        raise InputError(f"{plot} draws one output, but {arg} has {attr.values.shape[-1]} outputs; "
                         f"pick one with attr[:, 'feature', {pick}]")
    if attr.feature_ndim != 0:
        raise InputError(f"{plot} draws one feature; pass one column, e.g. attr[:, 'income'] "
                         f"(got values of shape {attr.values.shape})")
    if attr.data is None:
        raise InputError(f"{plot} needs the feature's data to plot against, but {arg} has data=None")
    name = attr.feature_names if isinstance(attr.feature_names, str) else "feature"
    return name, np.asarray(attr.values, dtype=float), np.asarray(attr.data)


def _colour_values(color: Any, n: int) -> tuple[str, np.ndarray]:
    if isinstance(color, Attribution):
        name, _, raw = _column(color, "scatter", "color")
    else:
        name = getattr(color, "name", None) if isinstance(color, pd.Series) else None
        raw = np.asarray(color)
        if raw.ndim != 1:
            raise InputError(f"color must be one value per row (1-D), got shape {raw.shape}")
    if raw.shape[0] != n:
        raise InputError(f"color has {raw.shape[0]} values but the attribution has {n} rows")
    return str(name) if name is not None else "color", raw


def _categories(raw: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Integer positions of each row's category and the category labels (sorted; missing last)."""
    labels = np.array([format_value(v) for v in raw.ravel()], dtype=object)
    uniq = sorted(set(labels.tolist()) - {"missing"})
    if "missing" in set(labels.tolist()):
        uniq.append("missing")
    pos = {c: i for i, c in enumerate(uniq)}
    return np.array([pos[c] for c in labels], dtype=float), uniq


def _scatter_numeric_colour(fig: Figure, ax: Axes, x: np.ndarray, y: np.ndarray, c: np.ndarray,
                            name: str, kw: dict) -> None:
    finite = np.isfinite(c)
    if finite.any():
        lo, hi = np.percentile(c[finite], [5, 95])
        if hi <= lo:
            lo, hi = c[finite].min(), c[finite].max() + (1.0 if c[finite].max() == c[finite].min() else 0.0)
    else:
        lo, hi = 0.0, 1.0
    norm = Normalize(lo, hi, clip=True)
    if (~finite).any():
        ax.scatter(x[~finite], y[~finite], color=GREY, **kw)
    ax.scatter(x[finite], y[finite], c=c[finite], cmap=BLUE_RED, norm=norm, **kw)
    cbar = fig.colorbar(ScalarMappable(norm=norm, cmap=BLUE_RED), ax=ax, aspect=40, pad=0.01)
    cbar.set_label(name)
    cbar.outline.set_visible(False)


def _scatter_categorical_colour(ax: Axes, x: np.ndarray, y: np.ndarray, raw: np.ndarray, name: str,
                                kw: dict) -> None:
    codes, cats = _categories(raw)
    palette = colormaps["tab10" if len(cats) <= 10 else "tab20"]
    colours = [GREY if c == "missing" else palette(i % palette.N) for i, c in enumerate(cats)]
    ax.scatter(x, y, c=[colours[int(k)] for k in codes], **kw)
    handles = [Line2D([], [], marker="o", ls="", color=col, label=c) for c, col in zip(cats, colours)]
    ax.legend(handles=handles, title=name, frameon=False, fontsize=8, title_fontsize=9,
              loc="upper left", bbox_to_anchor=(1.01, 1.0))
