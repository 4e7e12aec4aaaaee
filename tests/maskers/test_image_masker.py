import numpy as np
import pytest

from whybox import InputError
from whybox.maskers import ImageMasker
from whybox.maskers.image import image_channel_axis


def blocks(channels_last=True):
    """A 32 x 32 RGB image of four flat colour blocks."""
    img = np.zeros((32, 32, 3))
    img[:16, :16, 0] = 1.0
    img[:16, 16:, 1] = 1.0
    img[16:, :16, 2] = 1.0
    img[16:, 16:] = 0.5
    return img if channels_last else np.moveaxis(img, -1, 0)


def test_channel_axis_is_last_when_it_looks_like_channels_else_first():
    assert image_channel_axis((32, 32)) is None
    assert image_channel_axis((32, 32, 3)) == 2
    assert image_channel_axis((3, 32, 32)) == 0
    assert image_channel_axis((4, 32, 1)) == 2          # the last axis wins when both could be channels
    assert image_channel_axis((32, 32, 3), channel_axis=0) == 0
    with pytest.raises(InputError, match="pass channel_axis"):
        image_channel_axis((5, 32, 7))


@pytest.mark.parametrize("how", ["slic", "quickshift", "felzenszwalb"])
def test_superpixels_stay_inside_the_colour_blocks(how):
    seg = ImageMasker(how, n_segments=8).segment(blocks())
    assert seg.shape == (32, 32) and seg.min() == 0
    assert sorted(np.unique(seg)) == list(range(seg.max() + 1))          # consecutive labels
    block_id = (np.arange(32)[:, None] >= 16) * 2 + (np.arange(32)[None, :] >= 16)
    for s in np.unique(seg):
        assert len(np.unique(block_id[seg == s])) == 1, f"{how}: superpixel {s} crosses a block edge"


def test_grid_makes_near_square_cells_and_a_function_may_segment():
    seg = ImageMasker("grid", n_segments=16).segment(np.zeros((40, 20)))
    assert seg.max() + 1 == 18 and seg.shape == (40, 20)     # 6 rows x 3 columns of about 7 x 7 pixels
    assert np.bincount(seg.ravel()).min() >= 6 * 6

    def halves(image):
        return (np.arange(image.shape[0])[:, None] >= 10).repeat(image.shape[1], axis=1).astype(int) * 7

    seg = ImageMasker(halves).segment(np.zeros((20, 12)))
    assert sorted(np.unique(seg)) == [0, 1] and (seg[10:] == 1).all()
    with pytest.raises(InputError, match="must return"):
        ImageMasker(lambda im: np.zeros(3, dtype=int)).segment(np.zeros((20, 12)))


def test_fill_keeps_shown_superpixels_and_fills_the_others():
    img = blocks(channels_last=False)                        # (3, 32, 32): channels first
    m = ImageMasker("grid", n_segments=4, fill=-1.0)
    seg = m.segment(img)
    assert seg.max() + 1 == 4
    masks = np.array([[True, True, True, True], [False, True, True, True], [False, False, False, False]])
    out = m.fill(img, seg, masks)
    assert out.shape == (3,) + img.shape
    np.testing.assert_array_equal(out[0], img)
    off = np.broadcast_to(seg == 0, img.shape)
    assert (out[1][off] == -1).all() and np.array_equal(out[1][~off], img[~off])
    assert (out[2] == -1).all()


def test_mean_fill_keeps_each_superpixel_average_and_blur_smooths():
    rng = np.random.default_rng(0)
    img = rng.random((16, 16, 3))
    m = ImageMasker("grid", n_segments=4)
    seg = m.segment(img)
    out = m.fill(img, seg, np.zeros((1, 4), dtype=bool))[0]
    for s in range(4):
        np.testing.assert_allclose(out[seg == s].mean(axis=0), img[seg == s].mean(axis=0))
        assert np.ptp(out[seg == s], axis=0).max() < 1e-12                 # one flat colour
    blurred = ImageMasker("grid", n_segments=4, fill="blur").fill(img, seg, np.zeros((1, 4), dtype=bool))[0]
    assert blurred.std() < 0.5 * img.std()


def test_integer_images_keep_their_dtype_and_bad_arguments_are_refused():
    img = (blocks() * 255).astype(np.uint8)
    m = ImageMasker("grid", n_segments=4, fill=300.0)
    seg = m.segment(img)
    out = m.fill(img, seg, np.zeros((1, 4), dtype=bool))
    assert out.dtype == np.uint8 and (out == 255).all()       # clipped to the dtype's range
    with pytest.raises(InputError, match="masks have shape"):
        m.fill(img, seg, np.zeros((1, 5), dtype=bool))
    with pytest.raises(InputError, match="does not broadcast"):
        ImageMasker("grid", 4, fill=np.zeros(7)).fill(img, seg, np.zeros((1, 4), dtype=bool))
    with pytest.raises(InputError, match="unknown segmentation"):
        ImageMasker("watershed")
    with pytest.raises(InputError, match="unknown fill"):
        ImageMasker(fill="zeros")
    with pytest.raises(InputError, match="at least 2 x 2"):
        ImageMasker().segment(np.zeros((1, 30)))
    with pytest.raises(InputError, match="NaN"):
        ImageMasker().segment(np.full((8, 8), np.nan))
