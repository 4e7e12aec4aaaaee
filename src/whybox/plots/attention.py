"""Pictures of `AttentionMaps`: a grid of one layer's attention heads, and the attention rollout matrix.

Both draw one text's real tokens only (its padding is cut off); rows are queries, columns are keys.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..errors import InputError
from ..results import AttentionMaps
from ._common import new_figure

__all__ = ["attention_heads", "rollout"]

_CMAP = "Blues"


def _require_maps(maps: Any, plot: str) -> AttentionMaps:
    if not isinstance(maps, AttentionMaps):
        raise InputError(f"{plot} expects whybox AttentionMaps (from whybox.gradients.Attention(...).explain), "
                         f"got {type(maps).__name__}")
    return maps


def _pick(value: Any, n: int, what: str, plot: str) -> int:
    """An index into n items, negative counting from the end, or an InputError naming the range."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{plot}: {what} must be an integer, got {value!r}")
    if not -n <= value < n:
        raise InputError(f"{plot}: {what}={value} is out of range for {n} {what}s")
    return int(value) % n


def _label_axes(ax: Axes, tokens: list[str], fontsize: float) -> None:
    ticks = np.arange(len(tokens))
    ax.set_xticks(ticks, tokens, rotation=90, fontsize=fontsize)
    ax.set_yticks(ticks, tokens, fontsize=fontsize)
    ax.tick_params(length=0)


def attention_heads(maps: AttentionMaps, row: int = 0, layer: int = -1, *, max_tokens: int = 60) -> Figure:
    """One text's attention in one layer, one heatmap per head (T x T, queries down, keys across).

    Arguments:
      maps        AttentionMaps from `Attention.explain`
      row         which text of the batch
      layer       which layer (negative counts from the last)
      max_tokens  refuse texts longer than this (the labels would not be readable)
    """
    maps = _require_maps(maps, "attention_heads")
    i = _pick(row, len(maps), "row", "attention_heads")
    layer_i = _pick(layer, maps.n_layers, "layer", "attention_heads")
    keep = maps.mask[i]
    tokens = maps.row_tokens(i)
    if len(tokens) > max_tokens:
        raise InputError(f"attention_heads: this text has {len(tokens)} tokens, more than max_tokens={max_tokens}; "
                         "raise max_tokens or explain a shorter text")
    heads = maps.attentions[i, layer_i][:, keep][:, :, keep]
    n_heads = heads.shape[0]
    cols = math.ceil(math.sqrt(n_heads))
    grid_rows = math.ceil(n_heads / cols)
    side = max(2.2, 0.16 * len(tokens) + 1.2)
    fig = Figure(figsize=(cols * side, grid_rows * side + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(grid_rows, cols, squeeze=False)).ravel()
    vmax = float(heads.max()) if heads.size and heads.max() > 0 else 1.0
    fontsize = 7 if len(tokens) <= 20 else 5
    image = None
    for h, ax in enumerate(axes):
        if h >= n_heads:
            ax.set_axis_off()
            continue
        image = ax.imshow(heads[h], cmap=_CMAP, vmin=0.0, vmax=vmax, interpolation="nearest")
        _label_axes(ax, tokens, fontsize)
        ax.set_title(f"head {h}", fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=list(axes[:n_heads]), shrink=0.6, label="attention weight")
    fig.suptitle(f"Attention of layer {layer_i} (of {maps.n_layers}), text {i}")
    return fig


def rollout(maps: AttentionMaps, row: int = 0, *, max_tokens: int = 80) -> Figure:
    """One text's attention rollout as a T x T heatmap: row q is how much output token q draws on each input token.

    Arguments:
      maps        AttentionMaps from `Attention.explain(..., rollout=True)`
      row         which text of the batch
      max_tokens  refuse texts longer than this (the labels would not be readable)
    """
    maps = _require_maps(maps, "rollout")
    if maps.rollout is None:
        raise InputError("rollout: these attention maps hold no rollout; explain with rollout=True")
    i = _pick(row, len(maps), "row", "rollout")
    keep = maps.mask[i]
    tokens = maps.row_tokens(i)
    if len(tokens) > max_tokens:
        raise InputError(f"rollout: this text has {len(tokens)} tokens, more than max_tokens={max_tokens}; "
                         "raise max_tokens or explain a shorter text")
    matrix = maps.rollout[i][keep][:, keep]
    side = max(4.0, 0.28 * len(tokens) + 1.8)
    fig, ax = new_figure(side + 1.0, side)
    image = ax.imshow(matrix, cmap=_CMAP, vmin=0.0, interpolation="nearest")
    _label_axes(ax, tokens, 8 if len(tokens) <= 30 else 6)
    ax.set_xlabel("input token")
    ax.set_ylabel("output token")
    fusion = maps.meta.get("head_fusion", "mean")
    residual = ", residual" if maps.meta.get("residual", True) else ""
    ax.set_title(f"Attention rollout, text {i}\n({fusion} over heads{residual})", fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.8, label="rollout weight")
    return fig
