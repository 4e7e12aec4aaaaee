"""Pictures of a `Dependence`: partial dependence with ICE curves, ALE with its rug, 2-feature surfaces."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..errors import InputError
from ..results import Dependence
from ._common import BLUE, BLUE_RED, GREY, RED, as_numeric, format_value, new_figure

__all__ = ["pdp", "ale", "heatmap"]

_MAX_TICKS = 12


def _require_dependence(dep: Any, plot: str, n_features: int) -> Dependence:
    if not isinstance(dep, Dependence):
        raise InputError(f"{plot} expects a whybox Dependence, got {type(dep).__name__}")
    if len(dep.features) != n_features:
        hint = "use heatmap for a pair of features" if n_features == 1 else "use pdp for a single feature"
        raise InputError(f"{plot} draws {n_features} feature(s), but this Dependence has "
                         f"{len(dep.features)} ({list(dep.features)}); {hint}")
    if dep.has_outputs:
        names = dep.output_names
        known = f" (outputs: {list(names)})" if isinstance(names, tuple) else ""
        raise InputError(f"{plot} draws one output, but this Dependence has {dep.average.shape[-1]} outputs"
                         f"{known}; compute it for a single output (output=...)")
    return dep


def _numeric_grid(grid: np.ndarray) -> np.ndarray | None:
    """The grid as floats, or None when it holds categories."""
    num = as_numeric(grid)
    if num is None or not np.all(np.isfinite(num)):
        return None
    return num


def _output_label(dep: Dependence, what: str) -> str:
    centred = dep.meta.get("centered") or dep.meta.get("centred")
    return f"{what} (centred)" if centred else what


def _thin_ticks(n: int) -> np.ndarray:
    step = max(1, int(np.ceil(n / _MAX_TICKS)))
    return np.arange(0, n, step)


def pdp(dep: Dependence, max_ice: int = 100, seed: int = 0) -> Figure:
    """Draw the partial dependence curve of one feature over its ICE curves.

    The average curve is drawn bold; the individual (ICE) curves, when the
    Dependence holds them, are drawn thin and translucent underneath, thinned
    to a seeded random sample of at most `max_ice` rows. A categorical grid is
    drawn as points at the category positions (labelled with the categories)
    rather than as a line.

    Arguments:
    - dep: a one-feature, one-output `Dependence` (e.g. from
      `whybox.effects.partial_dependence(model, X, "age")`).
    - max_ice: most ICE curves to draw (0 draws none; default 100).
    - seed: seeds the choice of which ICE curves are drawn.

    Returns a matplotlib Figure (never shown).
    """
    dep = _require_dependence(dep, "pdp", 1)
    if isinstance(max_ice, bool) or not isinstance(max_ice, (int, np.integer)) or max_ice < 0:
        raise InputError(f"max_ice must be a whole number >= 0, got {max_ice!r}")
    grid = dep.grid[0]
    average = np.asarray(dep.average, dtype=float)
    num = _numeric_grid(grid)
    categorical = num is None
    x = np.arange(len(grid), dtype=float) if categorical else num

    fig, ax = new_figure(7.0, 4.5)
    n_ice = 0
    if dep.individual is not None and max_ice > 0:
        ice = np.asarray(dep.individual, dtype=float)
        n_rows = ice.shape[0]
        if n_rows > max_ice:
            rows = np.sort(np.random.default_rng(seed).choice(n_rows, int(max_ice), replace=False))
            ice = ice[rows]
        n_ice = ice.shape[0]
        alpha = float(np.clip(6.0 / max(n_ice, 1), 0.08, 0.35))
        if categorical:
            ax.plot(x, ice.T, linestyle="none", marker="_", markersize=14, color=BLUE, alpha=alpha,
                    label="_ice", zorder=1)
        else:
            ax.plot(x, ice.T, color=BLUE, lw=0.6, alpha=alpha, label="_ice", zorder=1)
    if categorical:
        ax.plot(x, average, linestyle="none", marker="o", markersize=8, color=RED, label="average", zorder=3)
        ax.set_xticks(x, [format_value(v) for v in grid])
        ax.set_xlim(-0.5, len(grid) - 0.5)
    else:
        ax.plot(x, average, color=RED, lw=2.4, label="average", zorder=3)
    ax.set_xlabel(dep.features[0])
    ax.set_ylabel(_output_label(dep, "partial dependence"))
    if n_ice:
        rows_total = dep.individual.shape[0]
        shown = f"{n_ice} of {rows_total}" if n_ice < rows_total else f"{n_ice}"
        ax.set_title(f"average with {shown} ICE curves", fontsize=10, color="#555555")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(color="#eeeeee", linewidth=0.8)
    ax.set_axisbelow(True)
    return fig


def ale(dep: Dependence) -> Figure:
    """Draw an accumulated local effects curve with a strip of the rows per bin under it.

    Numeric feature: the curve runs through the bin edges (the Dependence's grid) and the strip below
    has one bar per bin, as wide as the bin and as tall as its row count (`dep.meta["counts"]`), so
    thinly populated stretches of the curve are easy to spot. Categorical feature: one point per
    category in the similarity order ALE chose (the grid), joined by a thin line since neighbours are
    the steps ALE accumulated over, and one bar of rows per category.

    Arguments:
    - dep: a one-feature, one-output `Dependence` from
      `whybox.effects.accumulated_local_effects`.

    Returns a matplotlib Figure (never shown).
    """
    dep = _require_dependence(dep, "ale", 1)
    edges = _numeric_grid(dep.grid[0])
    counts = dep.meta.get("counts")
    if counts is None:
        raise InputError('ale needs the rows per bin in dep.meta["counts"] (as accumulated_local_effects '
                         "stores them); for a partial dependence use pdp")
    counts = np.asarray(counts, dtype=float)
    categorical = edges is None
    n_grid = len(dep.grid[0])
    expected = n_grid if categorical else n_grid - 1
    if counts.shape != (expected,):
        what = f"{n_grid} categories" if categorical else f"{n_grid} bin edges"
        raise InputError(f"{what} need {expected} counts, got {counts.size}")
    average = np.asarray(dep.average, dtype=float)

    fig = Figure(figsize=(7.0, 5.0), layout="constrained")
    ax, rug = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [4, 1]})
    if categorical:
        x = np.arange(n_grid, dtype=float)
        ax.plot(x, average, color=RED, lw=0.8, ls=":", zorder=2)
        ax.plot(x, average, color=RED, ls="None", marker="o", markersize=7, label="ALE", zorder=3)
        rug.bar(x, counts, width=0.6, color=GREY, edgecolor="white", linewidth=0.5)
        rug.set_xticks(x, [format_value(v) for v in dep.grid[0]])
        rug.tick_params(axis="x", labelrotation=45 if n_grid > 6 else 0)
    else:
        ax.plot(edges, average, color=RED, lw=2.2, marker="o", markersize=3, label="ALE", zorder=3)
        rug.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color=GREY, edgecolor="white",
                linewidth=0.5)
    ax.axhline(0.0, color="#333333", lw=0.8, zorder=1)
    ax.set_ylabel("accumulated local effect")
    ax.grid(color="#eeeeee", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(axis="x", labelbottom=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    rug.set_ylabel("rows", fontsize=9)
    rug.set_xlabel(dep.features[0] + ("  (categories ordered by similarity)" if categorical else ""))
    rug.tick_params(axis="y", labelsize=8)
    for side in ("top", "right"):
        rug.spines[side].set_visible(False)
    return fig


def heatmap(dep: Dependence) -> Figure:
    """Draw a two-feature surface (partial dependence or second-order ALE) as a coloured image.

    The first feature runs along x, the second along y (so the image is
    `dep.average.T`); cells sit at the grid's positions (grid points for a PD,
    bin edges for an ALE), labelled with the grid values, and a colorbar gives
    the model output (PD) or the pure interaction effect (ALE).

    Arguments:
    - dep: a two-feature, one-output `Dependence` (e.g. from
      `whybox.effects.partial_dependence(model, X, ["age", "income"])` or
      `whybox.effects.accumulated_local_effects(model, X, ["age", "income"])`).

    Returns a matplotlib Figure (never shown).
    """
    dep = _require_dependence(dep, "heatmap", 2)
    g0, g1 = dep.grid
    surface = np.asarray(dep.average, dtype=float)

    fig, ax = new_figure(7.0, 5.5)
    im = ax.imshow(surface.T, origin="lower", aspect="auto", cmap=BLUE_RED, interpolation="nearest")
    for axis, g in ((ax.xaxis, g0), (ax.yaxis, g1)):
        ticks = _thin_ticks(len(g))
        axis.set_ticks(ticks, [format_value(g[i]) for i in ticks])
    ax.tick_params(axis="x", labelrotation=45 if len(g0) > 6 else 0)
    ax.set_xlabel(dep.features[0])
    ax.set_ylabel(dep.features[1])
    cbar = fig.colorbar(im, ax=ax)
    what = "second-order ALE" if dep.method == "accumulated_local_effects" else "partial dependence"
    cbar.set_label(_output_label(dep, what))
    return fig
