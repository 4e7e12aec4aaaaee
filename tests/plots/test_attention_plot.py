"""attention_heads and rollout draw exactly the arrays of the AttentionMaps they are given, with token labels."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from whybox import plots
from whybox.errors import InputError
from whybox.results import AttentionMaps

LAYERS, HEADS = 2, 3
TOKENS = [["[CLS]", "good", "[SEP]", ""], ["[CLS]", "not", "good", "[SEP]"]]


@pytest.fixture
def maps() -> AttentionMaps:
    """Two texts (3 and 4 tokens) with distinct random weights in every layer and head; padding is zero."""
    rng = np.random.default_rng(0)
    att = rng.random((2, LAYERS, HEADS, 4, 4))
    att[0, ..., 3, :] = 0
    att[0, ..., :, 3] = 0
    mask = np.array([[True, True, True, False], [True] * 4])
    rollout = rng.random((2, 4, 4))
    rollout[0, 3, :] = rollout[0, :, 3] = 0
    return AttentionMaps(attentions=att, mask=mask, tokens=np.array(TOKENS, dtype=object),
                         mean_heads=att.mean(axis=2), rollout=rollout, meta={"head_fusion": "mean", "residual": True})


def _images(fig: Figure):
    return [im for ax in fig.axes for im in ax.get_images()]


def _labels(ax, axis: str) -> list[str]:
    ticks = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [t.get_text() for t in ticks]


@pytest.mark.parametrize("row, layer", [(0, -1), (1, 0), (-1, 1)])
def test_attention_heads_draws_each_head_of_the_layer(maps, row, layer):
    fig = plots.attention_heads(maps, row=row, layer=layer)
    assert isinstance(fig, Figure)
    images = _images(fig)
    assert len(images) == HEADS
    r, lay = row % 2, layer % LAYERS
    t = int(maps.mask[r].sum())
    tokens = TOKENS[r][:t]
    for h, im in enumerate(images):
        np.testing.assert_allclose(im.get_array(), maps.attentions[r, lay, h, :t, :t])
        assert _labels(im.axes, "x") == tokens and _labels(im.axes, "y") == tokens
        assert im.axes.get_title() == f"head {h}"
    assert f"layer {lay}" in fig.get_suptitle()


def test_rollout_draws_the_rollout_of_the_row(maps):
    for row in (0, 1):
        fig = plots.rollout(maps, row=row)
        assert isinstance(fig, Figure)
        (im,) = _images(fig)
        t = int(maps.mask[row].sum())
        np.testing.assert_allclose(im.get_array(), maps.rollout[row, :t, :t])
        assert _labels(im.axes, "x") == TOKENS[row][:t] and _labels(im.axes, "y") == TOKENS[row][:t]
        assert "rollout" in im.axes.get_title().lower()


def test_attention_plot_errors(maps):
    with pytest.raises(InputError, match="AttentionMaps"):
        plots.attention_heads(np.zeros((2, 2)))
    with pytest.raises(InputError, match="row=2 is out of range"):
        plots.rollout(maps, row=2)
    with pytest.raises(InputError, match="layer=5 is out of range"):
        plots.attention_heads(maps, layer=5)
    with pytest.raises(InputError, match="max_tokens"):
        plots.attention_heads(maps, row=1, max_tokens=3)
    no_rollout = AttentionMaps(maps.attentions, maps.mask, maps.tokens, maps.mean_heads)
    with pytest.raises(InputError, match="rollout=True"):
        plots.rollout(no_rollout)


def test_attention_plots_on_minilm():
    from whybox.gradients import Attention
    from whybox.models import minilm
    model, tok = minilm()  # the text extra is part of `make test`: a missing one is an error
    m = Attention(model, tok).explain(["a fine film", "not good"])
    fig = plots.attention_heads(m, row=1)
    assert len(_images(fig)) == model.config.num_attention_heads
    (im,) = _images(plots.rollout(m, row=1))
    np.testing.assert_allclose(im.get_array().sum(-1), 1.0, atol=1e-6)
    assert _labels(im.axes, "x") == ["[CLS]", "not", "good", "[SEP]"]
