"""Image overlay: an explained image beside its attribution (LIME superpixels or a pixel heat map)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ..errors import InputError
from ..results import Attribution
from ._common import BLUE_WHITE_RED, RowPick, check_positive_int, method_label, row_meta, select_row_output

__all__ = ["image_overlay", "display_image", "heat_style"]

#: colour map of heat maps that are never negative (|gradient|, Grad-CAM)
SEQUENTIAL = "inferno"
#: brightness kept by the superpixels that are not highlighted
DIM = 0.3
OUTLINE = "#ffd400"
_PANEL_IN = 3.3


def image_overlay(attr: Attribution, image: Any = None, row: int = 0, output: int | str | None = None,
                  top: int = 5, channel_axis: int | None = None) -> Figure:
    """Draw an explained image next to its attribution.

    - LIME (the attribution's meta has `"segments"`, one (H, W) superpixel label
      map per row): the image, the image with its `top` most positive
      superpixels kept and outlined and every other pixel dimmed (to 30%
      brightness), and a map of every superpixel's weight (red positive, blue
      negative). A superpixel's weight is taken from `meta["segment_weights"]`
      when that lines up with the labels, else it is the sum of its pixels'
      values (LIME spreads a superpixel's weight over its pixels).
    - Any other image attribution (gradients, occlusion): the image, and the
      values summed over channels as a heat map over a grey copy of the image,
      opaque where |value| is largest and clear where it is 0.

    Arguments:
    - attr: an image Attribution, values shaped like the input: (n, H, W, C),
      (n, C, H, W) or (n, H, W) (a trailing outputs axis when there are several
      outputs), or one row `attr[i]`.
    - image: the image to draw, when `attr.data` does not hold it (one image,
      or the batch the rows came from).
    - row: which explained image to draw when `attr` has several.
    - output: index or name of the output (class); required when there are several.
    - top: how many of the most positive superpixels to highlight (LIME).
    - channel_axis: where the channels are in an image of three axes; by default
      the last axis when its size is 1, 3 or 4, else the first.

    The image is scaled for display: uint8-range integers divided by 255,
    floats already in [0, 1] kept, anything else stretched from its minimum to
    its maximum. Returns a matplotlib Figure; each panel's Axes is labelled
    ("image", "top_superpixels", "segment_weights", "heat") and so is its
    main AxesImage.
    """
    top = check_positive_int(top, "top")
    pick = select_row_output(attr, row, output, "image_overlay")
    one = pick.attr
    values = np.asarray(one.values, dtype=float)
    if values.ndim not in (2, 3):
        raise InputError(f"image_overlay draws one image's attribution of shape (H, W), (H, W, C) or (C, H, W); "
                         f"this row has values of shape {values.shape}")
    heat = _channels_last(values, channel_axis)
    if heat.ndim == 3:
        heat = heat.sum(axis=-1)
    shape = heat.shape
    img = _source_image(image, one, pick, channel_axis, shape)

    title = method_label(one.method or attr.method) or "attribution"
    if pick.output is not None:
        name = one.output_names if isinstance(one.output_names, str) else str(pick.output)
        title += f" for output {name!r}"
    segments = _segments(attr.meta, pick, heat)
    if segments is not None:
        return _draw_superpixels(img, heat, segments, _segment_weights(attr.meta, pick, segments, heat), top, title)
    return _draw_heat(img, heat, values.ndim == 3, title)


# --------------------------------------------------------------------------- arrays

def _channel_axis(shape: tuple[int, ...], channel_axis: int | None) -> int | None:
    if len(shape) == 2:
        return None
    if channel_axis is not None:
        if not -3 <= channel_axis < 3:
            raise InputError(f"channel_axis={channel_axis} does not fit an image of shape {shape}")
        return channel_axis % 3
    return 2 if shape[-1] in (1, 3, 4) else 0


def _channels_last(a: np.ndarray, channel_axis: int | None) -> np.ndarray:
    """(H, W) as it is; three axes with the channels moved last."""
    ca = _channel_axis(a.shape, channel_axis)
    return a if ca is None else np.moveaxis(a, ca, -1)


def display_image(image: Any, channel_axis: int | None = None) -> np.ndarray:
    """An image as floats in [0, 1] that `imshow` draws: (H, W) grey or (H, W, 3) colour.

    Channels are found as `image_overlay` finds them; one channel becomes grey, an alpha channel is
    dropped, and 2 or more than 4 channels are averaged into grey. Integers in 0..255 are divided by
    255, floats in [0, 1] kept, anything else stretched between its minimum and maximum; NaN shows as 0.
    """
    a = np.asarray(image)
    if a.dtype.kind not in "biuf":
        try:
            a = a.astype(float)
        except (TypeError, ValueError):
            raise InputError(f"the image must hold numbers, got dtype {a.dtype}") from None
    if a.ndim not in (2, 3):
        raise InputError(f"an image has shape (H, W), (H, W, C) or (C, H, W), got {a.shape}")
    integer = a.dtype.kind in "biu"
    a = _channels_last(a, channel_axis).astype(float)
    if a.ndim == 3:
        c = a.shape[-1]
        a = a[..., 0] if c == 1 else (a[..., :3] if c in (3, 4) else a.mean(axis=-1))
    finite = a[np.isfinite(a)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if integer and lo >= 0 and hi <= 255:
        a = a / 255.0
    elif not (lo >= 0 and hi <= 1):
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=0.0)


def _source_image(image: Any, one: Attribution, pick: RowPick, channel_axis: int | None,
                  shape: tuple[int, int]) -> np.ndarray | None:
    """The image to draw for the picked row (from `image`, else the attribution's data), or None."""
    if image is None:
        if one.data is None:
            return None
        return display_image(one.data, channel_axis)
    arr = np.asarray(image)
    candidates = [arr]
    if arr.ndim >= 3:
        if pick.n_rows is not None and arr.shape[0] == pick.n_rows:
            candidates.insert(0, arr[pick.row])
        elif arr.shape[0] == 1:
            candidates.insert(0, arr[0])
    for c in candidates:
        if c.ndim in (2, 3):
            shown = display_image(c, channel_axis)
            if shown.shape[:2] == shape:
                return shown
    raise InputError(f"the image of shape {arr.shape} does not match the attribution's {shape[0]} x {shape[1]} "
                     f"pixels; pass the explained image (or the batch it came from, with row=)")


# --------------------------------------------------------------------------- superpixels

def _constant_within(labels: np.ndarray, heat: np.ndarray) -> bool:
    """Do the values take one value per superpixel (as LIME's spread weights do)?"""
    _, inverse = np.unique(labels, return_inverse=True)
    inverse = inverse.ravel()
    k = int(inverse.max()) + 1
    hi = np.full(k, -np.inf)
    lo = np.full(k, np.inf)
    np.maximum.at(hi, inverse, heat.ravel())
    np.minimum.at(lo, inverse, heat.ravel())
    scale = float(np.abs(heat).max()) or 1.0
    return bool(np.all(hi - lo <= 1e-9 * scale))


def _label_maps(raw: Any) -> list[np.ndarray]:
    """Every (H, W) label map in `meta["segments"]`: one map, or a list (or stack) of them."""
    if isinstance(raw, np.ndarray):
        return [raw] if raw.ndim == 2 else [np.asarray(m) for m in raw]
    if isinstance(raw, (list, tuple)) and raw:
        if np.ndim(raw[0]) == 1:
            return [np.asarray(raw)]
        return [np.asarray(m) for m in raw]
    return []


def _segments(meta: dict, pick: RowPick, heat: np.ndarray) -> np.ndarray | None:
    """The picked row's (H, W) superpixel labels from `meta["segments"]`, or None when there are none."""
    raw = meta.get("segments")
    if raw is None:
        return None
    entry = row_meta(meta, "segments", pick)
    if entry is not None and np.ndim(entry) == 2 and np.shape(entry) == heat.shape:
        return np.asarray(entry)
    maps = _label_maps(raw)
    fits = [m for m in maps if m.shape == heat.shape and _constant_within(m, heat)]
    if fits and all(np.array_equal(fits[0], m) for m in fits[1:]):
        return fits[0]
    if pick.n_rows is None:
        raise InputError("meta['segments'] holds one superpixel map per explained row, and this single row "
                         "cannot tell which is its own; draw the whole attribution with image_overlay(attr, row=i)")
    raise InputError(f"meta['segments'] does not hold a {heat.shape[0]} x {heat.shape[1]} label map for row "
                     f"{pick.row}")


def _segment_weights(meta: dict, pick: RowPick, segments: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """Weight per pixel's superpixel, (H, W): from meta["segment_weights"] when it lines up, else summed values.

    The weights line up when there is one per label 0..max (indexed by label, as LIME writes them) or one per
    distinct label in sorted order; with several outputs they are (superpixels, outputs) or (outputs, superpixels).
    """
    labels, inverse = np.unique(segments, return_inverse=True)
    inverse = inverse.reshape(segments.shape)
    entry = row_meta(meta, "segment_weights", pick)
    if entry is not None:
        w = np.asarray(entry, dtype=float)
        if w.ndim == 2 and pick.output is not None:
            if w.shape[1] == pick.n_outputs:
                w = w[:, pick.output]
            elif w.shape[0] == pick.n_outputs:
                w = w[pick.output]
        if w.ndim == 1 and segments.dtype.kind in "iu" and labels[0] >= 0 and w.size == labels[-1] + 1:
            return w[segments]
        if w.ndim == 1 and w.size == labels.size:
            return w[inverse]
    return np.bincount(inverse.ravel(), weights=heat.ravel(), minlength=labels.size)[inverse]


def _outline(segments: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Pixel-edge line segments, (k, 2, 2) in imshow coordinates, around every superpixel that `keep` marks."""
    h, w = segments.shape
    parts = []
    on = (segments[:, :-1] != segments[:, 1:]) & (keep[:, :-1] | keep[:, 1:])   # between columns j, j+1
    i, j = np.nonzero(on)
    parts.append(np.stack([np.stack([j + 0.5, i - 0.5], -1), np.stack([j + 0.5, i + 0.5], -1)], 1))
    on = (segments[:-1] != segments[1:]) & (keep[:-1] | keep[1:])               # between rows i, i+1
    i, j = np.nonzero(on)
    parts.append(np.stack([np.stack([j - 0.5, i + 0.5], -1), np.stack([j + 0.5, i + 0.5], -1)], 1))
    for rows, x in ((np.nonzero(keep[:, 0])[0], -0.5), (np.nonzero(keep[:, -1])[0], w - 0.5)):
        parts.append(np.stack([np.stack([np.full(rows.size, x), rows - 0.5], -1),
                               np.stack([np.full(rows.size, x), rows + 0.5], -1)], 1))
    for cols, y in ((np.nonzero(keep[0])[0], -0.5), (np.nonzero(keep[-1])[0], h - 0.5)):
        parts.append(np.stack([np.stack([cols - 0.5, np.full(cols.size, y)], -1),
                               np.stack([cols + 0.5, np.full(cols.size, y)], -1)], 1))
    return np.concatenate(parts, axis=0).astype(float)


def _show(ax: Axes, a: np.ndarray, label: str, **kw: Any) -> None:
    if a.ndim == 2 and "cmap" not in kw:
        kw.update(cmap="gray", vmin=0.0, vmax=1.0)
    im = ax.imshow(a, interpolation="nearest", **kw)
    im.set_label(label)
    ax.set_label(label)
    ax.set_xticks([])
    ax.set_yticks([])


def _draw_superpixels(img: np.ndarray | None, heat: np.ndarray, segments: np.ndarray, weight_map: np.ndarray,
                      top: int, title: str) -> Figure:
    labels, first = np.unique(segments, return_index=True)
    seg_weight = weight_map.ravel()[first]
    positive = np.flatnonzero(seg_weight > 0)
    chosen = labels[positive[np.argsort(-seg_weight[positive], kind="stable")][:top]]
    keep = np.isin(segments, chosen)
    lines = _outline(segments, keep)

    n_panels = 3 if img is not None else 1
    fig = Figure(figsize=(_PANEL_IN * n_panels + 0.6, _PANEL_IN + 0.5), layout="constrained")
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    if img is not None:
        _show(axes[0], img, "image")
        axes[0].set_title("input", fontsize=10)
        dimmed = np.where(keep[..., None] if img.ndim == 3 else keep, img, DIM * img)
        _show(axes[1], dimmed, "top_superpixels")
        axes[1].add_collection(LineCollection(lines, colors=OUTLINE, linewidths=1.5))
        asked = f" (of {top} asked; the rest are not positive)" if chosen.size < top else ""
        axes[1].set_title(f"top {chosen.size} positive superpixels{asked}", fontsize=10)
    scale = float(np.abs(seg_weight).max()) or 1.0
    norm = Normalize(-scale, scale)
    ax = axes[-1]
    _show(ax, weight_map, "segment_weights", cmap=BLUE_WHITE_RED, norm=norm)
    ax.add_collection(LineCollection(lines, colors="#333333", linewidths=1.0))
    ax.set_title("superpixel weights (outlined: top)", fontsize=10)
    fig.colorbar(ScalarMappable(norm=norm, cmap=BLUE_WHITE_RED), ax=ax, shrink=0.8, label="weight")
    fig.suptitle(title, fontsize=11)
    return fig


def heat_style(heat: np.ndarray) -> tuple[Any, Normalize, np.ndarray]:
    """(colour map, norm, alpha) for a heat map: a diverging map centred on 0 for signed values, a
    sequential one from 0 for maps that are never negative (|gradient|, Grad-CAM); opacity grows with
    |value| so the image shows through where the attribution is 0."""
    finite = heat[np.isfinite(heat)]
    scale = float(np.abs(finite).max()) if finite.size else 1.0
    scale = scale or 1.0
    alpha = 0.85 * np.clip(np.nan_to_num(np.abs(heat) / scale), 0.0, 1.0)
    if finite.size and finite.min() >= 0:
        return SEQUENTIAL, Normalize(0.0, scale), alpha
    return BLUE_WHITE_RED, Normalize(-scale, scale), alpha


def grey(img: np.ndarray) -> np.ndarray:
    """A display image as grey levels (the backdrop of a heat map)."""
    return img if img.ndim == 2 else img @ np.array([0.299, 0.587, 0.114])


def _draw_heat(img: np.ndarray | None, heat: np.ndarray, summed: bool, title: str) -> Figure:
    cmap, norm, alpha = heat_style(heat)
    n_panels = 2 if img is not None else 1
    fig = Figure(figsize=(_PANEL_IN * n_panels + 0.6, _PANEL_IN + 0.5), layout="constrained")
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    ax = axes[-1]
    if img is not None:
        _show(axes[0], img, "image")
        axes[0].set_title("input", fontsize=10)
        _show(ax, grey(img), "image_grey")
        _show(ax, heat, "heat", cmap=cmap, norm=norm, alpha=alpha)
    else:
        _show(ax, heat, "heat", cmap=cmap, norm=norm)
    ax.set_label("heat")
    ax.set_title("attribution" + (" (summed over channels)" if summed else ""), fontsize=10)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.8, label="attribution")
    fig.suptitle(title, fontsize=11)
    return fig
