"""The side-by-side view of image explanations: one row per image, the input and then one column per method."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ..errors import InputError
from ..results import Attribution
from ._common import select_row_output
from .image import _channels_last, _show, _source_image, grey, heat_style

__all__ = ["comparison_grid"]

_CELL_IN = 2.2


def _heat(attr: Attribution, row: int, output: Any, channel_axis: int | None, label: str) -> tuple[np.ndarray, Any]:
    pick = select_row_output(attr, row, output, f"comparison_grid ({label})")
    values = np.asarray(pick.attr.values, dtype=float)
    if values.ndim not in (2, 3):
        raise InputError(f"comparison_grid: {label!r} has values of shape {values.shape} per image; an image "
                         "attribution has (H, W), (C, H, W) or (H, W, C)")
    heat = _channels_last(values, channel_axis)
    return (heat.sum(axis=-1) if heat.ndim == 3 else heat), pick


def comparison_grid(attributions: Mapping[str, Attribution], images: Any = None, rows: Sequence[int] | None = None,
                    output: int | str | None = None, channel_axis: int | None = None) -> Figure:
    """Draw several explanations of the same images side by side (e.g. Grad-CAM, IG, SHAP).

    Each cell is the method's attribution summed over channels, over a grey copy of the image, opaque
    where |value| is large: signed maps in a blue-white-red map centred on 0, never-negative maps
    (|gradient|, Grad-CAM) in a sequential map from 0. Each cell has its own scale (methods live in
    different units); a column per class is made by passing the same method twice, e.g.
    {"Grad-CAM circle": cam0, "Grad-CAM square": cam1}.

    Arguments:
    - attributions: column title -> image Attribution over the same batch of images
    - images: the explained images (n, ...) when the attributions do not hold them in `data`
    - rows: which images to draw (default: all, at most 8)
    - output: the output (class) to draw, for attributions with several outputs
    - channel_axis: where the channels are, as in `image_overlay`

    Returns a matplotlib Figure; each cell's Axes is labelled "image" or the column title.
    """
    if not isinstance(attributions, Mapping) or not attributions:
        raise InputError("comparison_grid takes a dict of column title -> Attribution, e.g. "
                         "{'Grad-CAM': cam, 'Integrated gradients': ig}")
    names = list(attributions)
    n_rows = {a.values.shape[0] for a in attributions.values() if isinstance(a, Attribution) and a.has_rows}
    if len(n_rows) != 1:
        raise InputError(f"comparison_grid needs attributions of the same batch (with their rows); got row counts "
                         f"{sorted(n_rows) or 'none'}")
    n = n_rows.pop()
    rows = list(range(min(n, 8))) if rows is None else [int(r) for r in rows]
    bad = [r for r in rows if not -n <= r < n]
    if bad or not rows:
        raise InputError(f"rows {bad or rows} are not among the {n} explained images")
    fig = Figure(figsize=(_CELL_IN * (len(names) + 1) + 0.3, _CELL_IN * len(rows) + 0.4), layout="constrained")
    axes = fig.subplots(len(rows), len(names) + 1, squeeze=False)
    for i, r in enumerate(rows):
        heats = {name: _heat(attributions[name], r, output, channel_axis, name) for name in names}
        shape = next(iter(heats.values()))[0].shape
        img = None
        for name, (heat, pick) in heats.items():
            if heat.shape != shape:
                raise InputError(f"comparison_grid: {name!r} has a {heat.shape} map, {names[0]!r} a {shape} one; "
                                 "explain the same images at the same size")
            if img is None:
                img = _source_image(images, pick.attr, pick, channel_axis, shape)
        if img is None:
            raise InputError("comparison_grid needs the images: pass images=, or attributions that hold them in data")
        _show(axes[i, 0], img, "image")
        axes[i, 0].set_ylabel(f"image {r}", fontsize=9)
        for j, name in enumerate(names, 1):
            heat = heats[name][0]
            cmap, norm, alpha = heat_style(heat)
            ax = axes[i, j]
            _show(ax, grey(img), "image_grey")
            _show(ax, heat, name, cmap=cmap, norm=norm, alpha=alpha)
            ax.set_label(name)
            if i == 0:
                ax.set_title(name, fontsize=10)
        if i == 0:
            axes[0, 0].set_title("input", fontsize=10)
    return fig
