"""datasets.shortcut_images: the stated marker/class agreement per split, shapes where the masks say."""

import numpy as np
import pytest

from whybox.datasets import ShortcutImages, marker_pattern, shortcut_images


@pytest.fixture(scope="module")
def train():
    return shortcut_images(2000, seed=0, split="train")


@pytest.fixture(scope="module")
def held_out():
    return shortcut_images(2000, seed=0, split="test")


def test_arrays_have_the_stated_shapes_and_ranges(train):
    assert isinstance(train, ShortcutImages)
    assert train.X.shape == (2000, 3, 32, 32) and train.X.dtype == np.float32
    assert 0.0 <= train.X.min() and train.X.max() <= 1.0
    assert train.y.dtype == np.int64 and np.bincount(train.y).tolist() == [1000, 1000]
    assert train.marker.shape == (2000,) and train.marker.dtype == bool
    assert train.masks.shape == (2000, 32, 32) and train.masks.dtype == bool
    assert train.marker_box == (1, 9, 1, 9) and train.box_mask.sum() == 64     # 6.25 % of the image
    assert train.class_names == ("circle", "square")
    small = shortcut_images(10, seed=1, size=16)
    assert small.X.shape == (10, 3, 16, 16) and small.box_mask.sum() == 16


def test_the_marker_agrees_with_the_class_in_train_and_is_random_in_test(train, held_out):
    agree = np.mean(train.marker == (train.y == 1))
    assert abs(agree - 0.95) < 0.02
    assert abs(np.mean(held_out.marker == (held_out.y == 1)) - 0.5) < 0.05
    assert abs(held_out.marker.mean() - 0.5) < 0.05
    control = shortcut_images(2000, seed=0, marker_agreement=0.5)
    assert abs(np.mean(control.marker == (control.y == 1)) - 0.5) < 0.05
    always = shortcut_images(200, seed=0, marker_agreement=1.0)
    assert np.array_equal(always.marker, always.y == 1)


def test_shapes_lie_where_the_masks_say_and_the_marker_in_its_box(train):
    X, masks, box = train.X, train.masks, train.box_mask
    for i in range(0, 2000, 97):
        inside = X[i][:, masks[i]]                         # (3, pixels): one flat colour
        assert np.ptp(inside, axis=1).max() < 1e-6
        assert not (masks[i] & box).any()                  # the shape never covers the marker box
        y0, y1, x0, x1 = train.marker_box
        corner = X[i][:, y0:y1, x0:x1]
        assert np.all(corner == marker_pattern(y1 - y0)) == bool(train.marker[i])
    # circles and squares of one draw have the same area, so size does not give the class away
    area = masks.sum(axis=(1, 2))
    assert abs(area[train.y == 0].mean() / area[train.y == 1].mean() - 1) < 0.05
    # a square fills its bounding box, a circle about pi / 4 of it
    fill = []
    for i in range(200):
        rows, cols = np.flatnonzero(masks[i].any(axis=1)), np.flatnonzero(masks[i].any(axis=0))
        fill.append(area[i] / ((rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1)))
    fill = np.array(fill)
    assert fill[train.y[:200] == 1].min() > 0.95 and fill[train.y[:200] == 0].max() < 0.9


def test_the_marker_is_a_white_x_on_black():
    p = marker_pattern(8)
    assert p.shape == (8, 8) and set(np.unique(p)) == {0.0, 1.0} and p.sum() == 16
    assert np.array_equal(p, p[::-1]) and np.array_equal(p, p.T) and np.all(np.diag(p) == 1.0)
    assert marker_pattern(5).sum() == 9                    # odd sides share the centre pixel


def test_same_seed_same_images_and_the_splits_differ():
    a, b = shortcut_images(50, seed=3), shortcut_images(50, seed=3)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.X, shortcut_images(50, seed=3, split="test").X)
    assert not np.array_equal(a.X, shortcut_images(50, seed=4).X)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="split"):
        shortcut_images(10, split="valid")
    with pytest.raises(ValueError, match="probability"):
        shortcut_images(10, marker_agreement=1.5)
    with pytest.raises(ValueError, match="size"):
        shortcut_images(10, size=8)
