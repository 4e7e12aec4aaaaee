import io
import numpy as np
import pytest

from whybox import Attribution, InputError
from whybox.plots import image_overlay
from whybox.plots.image import DIM, display_image

H, W = 12, 16
#: 3 x 4 blocks of 4 x 4 pixels, labelled 1..12 (as skimage's slic labels them)
SEGMENTS = (np.arange(H)[:, None] // 4) * 4 + (np.arange(W)[None, :] // 4) + 1
#: weights of segments 1..12: positive ones ranked 7 (0.9), 2 (0.8), 11 (0.5), 4 (0.3), 9 (0.1)
SEG_WEIGHTS = np.array([-0.4, 0.8, 0.0, 0.3, -0.9, -0.2, 0.9, -0.1, 0.1, -0.3, 0.5, -0.6])


def by_label(fig, label):
    (ax,) = [a for a in fig.axes if a.get_label() == label]
    (im,) = [i for i in ax.images if i.get_label() == label]
    return ax, np.asarray(im.get_array())


def lime_values(weights, channels_last=True):
    """Each pixel's share of its superpixel's weight, spread over 3 channels."""
    size = np.bincount(SEGMENTS.ravel())[SEGMENTS]
    per_pixel = weights[SEGMENTS - 1] / size / 3
    v = np.repeat(per_pixel[..., None], 3, axis=-1)
    return v if channels_last else np.moveaxis(v, -1, 0)


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(0).uniform(0.2, 1.0, size=(H, W, 3))


@pytest.fixture
def lime_images(rgb) -> Attribution:
    other = (np.arange(H)[:, None] // 4) * 5 + (np.arange(W)[None, :] + 2) // 4 + 1  # row 0: shifted blocks
    values = np.stack([lime_values(-SEG_WEIGHTS), lime_values(SEG_WEIGHTS)])
    return Attribution(values=values, base_values=np.zeros(2), data=np.stack([rgb, rgb]), method="lime",
                       meta={"segments": [other.tolist(), SEGMENTS.tolist()],
                             "segment_weights": [(-SEG_WEIGHTS).tolist(), SEG_WEIGHTS.tolist()],
                             "local_fidelity": [0.5, 0.6], "num_samples": 1000})


@pytest.mark.parametrize("top, expected", [(3, [7, 2, 11]), (1, [7]), (10, [7, 2, 11, 4, 9])])
def test_highlighted_pixels_are_the_top_positive_superpixels(lime_images, rgb, top, expected):
    fig = image_overlay(lime_images, row=1, top=top)
    _, shown = by_label(fig, "top_superpixels")
    kept = np.isclose(shown, rgb).all(axis=-1)
    assert np.array_equal(kept, np.isin(SEGMENTS, expected))
    assert np.allclose(shown[~kept], DIM * rgb[~kept])
    _, weights = by_label(fig, "segment_weights")
    assert np.allclose(weights, SEG_WEIGHTS[SEGMENTS - 1])
    _, original = by_label(fig, "image")
    assert np.allclose(original, rgb)


def test_outline_goes_round_the_highlighted_superpixels(lime_images):
    fig = image_overlay(lime_images, row=1, top=1)           # segment 7: rows 4..7, columns 8..11
    fig.savefig(io.BytesIO(), format="png")  # it renders
    ax, _ = by_label(fig, "top_superpixels")
    (lines,) = ax.collections
    pts = np.concatenate(lines.get_segments())
    assert pts[:, 0].min() == 7.5 and pts[:, 0].max() == 11.5
    assert pts[:, 1].min() == 3.5 and pts[:, 1].max() == 7.5
    assert len(lines.get_segments()) == 16                    # 4 sides of 4 pixel edges


def test_weights_from_values_when_meta_has_none_and_channels_first(rgb):
    values = lime_values(SEG_WEIGHTS, channels_last=False)[None]       # (1, 3, H, W)
    attr = Attribution(values=values, base_values=np.zeros(1), data=np.moveaxis(rgb, -1, 0)[None],
                       method="lime", meta={"segments": [SEGMENTS.tolist()]})
    fig = image_overlay(attr, top=2)
    _, shown = by_label(fig, "top_superpixels")
    assert np.array_equal(np.isclose(shown, rgb).all(axis=-1), np.isin(SEGMENTS, [7, 2]))
    _, weights = by_label(fig, "segment_weights")
    assert np.allclose(weights, SEG_WEIGHTS[SEGMENTS - 1])


def test_single_row_finds_its_own_superpixel_map(lime_images, rgb):
    fig = image_overlay(lime_images[1], top=2)   # the values are constant only on row 1's map
    _, shown = by_label(fig, "top_superpixels")
    assert np.array_equal(np.isclose(shown, rgb).all(axis=-1), np.isin(SEGMENTS, [7, 2]))


def test_multi_output_segment_weights_follow_the_output(rgb):
    """As Lime writes them: labels 0..s-1 and weights (superpixels, outputs) indexed by label."""
    v = np.stack([lime_values(-SEG_WEIGHTS), lime_values(SEG_WEIGHTS)], axis=-1)[None]
    weights = np.stack([-SEG_WEIGHTS, SEG_WEIGHTS], axis=1) * 2          # differ from the values' sums
    attr = Attribution(values=v, base_values=np.zeros((1, 2)), data=rgb[None], output_names=["cat", "dog"],
                       has_outputs=True, method="lime",
                       meta={"segments": [SEGMENTS - 1], "segment_weights": [weights.tolist()]})
    with pytest.raises(InputError, match="output="):
        image_overlay(attr)
    fig = image_overlay(attr, output="cat", top=2)
    _, shown = by_label(fig, "top_superpixels")
    assert np.array_equal(np.isclose(shown, rgb).all(axis=-1), np.isin(SEGMENTS, [5, 12]))
    _, drawn = by_label(fig, "segment_weights")
    assert np.allclose(drawn, weights[SEGMENTS - 1, 0])                 # the meta weights, not the sums
    _, drawn = by_label(image_overlay(attr, output=1), "segment_weights")
    assert np.allclose(drawn, weights[SEGMENTS - 1, 1])


def test_heat_map_is_the_channel_sum(rgb):
    rng = np.random.default_rng(1)
    values = rng.normal(size=(2, 3, H, W))
    images = (rng.uniform(size=(2, 3, H, W)) * 255).astype(np.uint8)
    attr = Attribution(values=values, base_values=np.zeros(2), data=images, method="saliency")
    fig = image_overlay(attr, row=1)
    fig.savefig(io.BytesIO(), format="png")  # it renders
    _, heat = by_label(fig, "heat")
    assert np.allclose(heat, values[1].sum(axis=0))
    _, original = by_label(fig, "image")
    assert np.allclose(original, np.moveaxis(images[1], 0, -1) / 255.0)


def test_heat_map_grey_image_given_separately():
    rng = np.random.default_rng(2)
    values = rng.normal(size=(3, H, W))
    batch = rng.normal(size=(3, H, W)) * 5 + 2          # grey images, not in [0, 1]: stretched
    attr = Attribution(values=values, base_values=np.zeros(3), method="gradient")
    fig = image_overlay(attr, image=batch, row=2)
    _, heat = by_label(fig, "heat")
    assert np.allclose(heat, values[2])
    _, original = by_label(fig, "image")
    assert original.min() == 0.0 and original.max() == 1.0
    assert np.allclose(original, (batch[2] - batch[2].min()) / np.ptp(batch[2]))
    # without any image only the heat map is drawn
    assert [a.get_label() for a in image_overlay(attr, row=2).axes if a.images] == ["heat"]
    with pytest.raises(InputError, match="does not match"):
        image_overlay(attr, image=np.zeros((5, 5)), row=0)


def test_display_image_channel_rules():
    assert display_image(np.zeros((5, 6, 3), dtype=np.uint8)).shape == (5, 6, 3)
    assert display_image(np.zeros((3, 5, 6))).shape == (5, 6, 3)
    assert display_image(np.zeros((5, 6, 1))).shape == (5, 6)
    assert display_image(np.zeros((5, 6, 4))).shape == (5, 6, 3)
    assert display_image(np.zeros((3, 5, 6)), channel_axis=-1).shape == (3, 5)   # 6 channels averaged
    with pytest.raises(InputError, match="top"):
        image_overlay(Attribution(values=np.zeros((1, 4, 4)), base_values=np.zeros(1)), top=0)


def test_single_row_that_cannot_tell_its_map_is_refused(rgb):
    values = np.stack([lime_values(SEG_WEIGHTS)] * 2)
    attr = Attribution(values=values, base_values=np.zeros(2), data=np.stack([rgb, rgb]), method="lime",
                       meta={"segments": [SEGMENTS[::-1].tolist(), SEGMENTS.tolist()]})  # same blocks, relabelled
    with pytest.raises(InputError, match=r"image_overlay\(attr, row=i\)"):
        image_overlay(attr[1])
    _, shown = by_label(image_overlay(attr, row=1, top=1), "top_superpixels")
    assert np.array_equal(np.isclose(shown, rgb).all(axis=-1), SEGMENTS == 7)
