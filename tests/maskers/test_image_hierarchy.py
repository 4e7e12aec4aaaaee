"""The rectangle hierarchy partition SHAP walks, table hierarchies, and the fills added for it
(the image's mean colour, OpenCV inpainting)."""

import numpy as np
import pytest
from scipy.cluster.hierarchy import linkage

from whybox import InputError
from whybox.maskers import ImageMasker
from whybox.maskers.hierarchy import as_hierarchy, cluster_features, from_linkage, from_nested, rectangles


def check_tree(tree):
    """Depth-first leaves: each node owns start:stop, its children split that run in two."""
    for node in range(tree.n_nodes):
        left, right = tree.left[node], tree.right[node]
        assert (left < 0) == (right < 0)
        if left < 0:
            assert tree.stop[node] - tree.start[node] == 1
        else:
            assert tree.start[left] == tree.start[node] and tree.stop[left] == tree.start[right]
            assert tree.stop[right] == tree.stop[node] and left > node and right > node
    assert tree.start[0] == 0 and tree.stop[0] == tree.n_leaves == (tree.n_nodes + 1) // 2


@pytest.mark.parametrize("shape,min_size", [((32, 32), 1), ((12, 20), 3), ((7, 5), 2), ((1, 9), 4)])
def test_rectangles_halve_the_longer_side_down_to_min_size(shape, min_size):
    h, w = shape
    tree = rectangles(h, w, min_size)
    check_tree(tree)
    assert tree.labels.shape == shape and tree.sizes.sum() == h * w
    assert sorted(np.unique(tree.labels)) == list(range(tree.n_leaves))
    for node in range(tree.n_nodes):
        y0, y1, x0, x1 = tree.boxes[node]
        region = np.zeros(shape, bool)
        region[y0:y1, x0:x1] = True
        # a node's box is exactly the pixels of its leaves
        assert np.array_equal(region, (tree.labels >= tree.start[node]) & (tree.labels < tree.stop[node]))
        if tree.left[node] < 0:
            assert max(y1 - y0, x1 - x0) <= min_size
            assert tree.sizes[tree.start[node]] == (y1 - y0) * (x1 - x0)
        else:
            ly0, ly1, lx0, lx1 = tree.boxes[tree.left[node]]
            assert (ly1 - ly0 < y1 - y0) == (y1 - y0 >= x1 - x0)      # the longer side (rows on ties) is cut
    if shape == (32, 32):
        assert tree.n_leaves == 1024 and tree.depth() == 10


def test_spread_shares_credit_by_leaf_size_and_keeps_the_total():
    tree = rectangles(3, 4, 2)                 # leaves of 1 x 2 and 2 x 2 pixels
    leaf = tree.spread(np.array([0, tree.left[0], tree.left[0]]), np.array([[12.0], [1.0], [2.0]]))
    assert leaf.sum() == pytest.approx(15.0)
    per_pixel = (leaf[:, 0] / tree.sizes)[tree.labels]
    y0, y1, x0, x1 = tree.boxes[tree.left[0]]
    np.testing.assert_allclose(per_pixel[y0:y1, x0:x1], 1.0 + 3.0 / ((y1 - y0) * (x1 - x0)))
    outside = np.ones((3, 4), bool)
    outside[y0:y1, x0:x1] = False
    np.testing.assert_allclose(per_pixel[outside], 1.0)


def test_table_hierarchies_from_nested_lists_linkage_and_clustering():
    names = ["a", "b", "c", "d", "e"]
    tree = from_nested([["b", "a"], ["c", ["e", 3]]], names)
    check_tree(tree)
    assert tree.order.tolist() == [1, 0, 2, 4, 3]
    assert from_nested(["a", "b", "c", "d", "e"], names).depth() == 3        # long lists are halved
    with pytest.raises(InputError, match="unknown column 'z'"):
        from_nested([["a", "z"], ["b", "c", "d", "e"]], names)
    with pytest.raises(InputError, match="columns twice: \\[0\\], columns missing: \\[4\\]"):
        from_nested([["a", "b"], ["c", "d", "a"]], names)

    rng = np.random.default_rng(0)
    z = rng.normal(size=(200, 3))
    data = np.column_stack([z[:, 0], z[:, 1], z[:, 0] + 0.05 * rng.normal(size=200), z[:, 2],
                            z[:, 1] + 0.05 * rng.normal(size=200)])
    Z = linkage(data.T, method="average", metric="correlation")
    for tree in (from_linkage(Z, 5), cluster_features(data)):
        check_tree(tree)
        leaves_of = {node: set(tree.order[tree.start[node]:tree.stop[node]]) for node in range(tree.n_nodes)}
        assert {0, 2} in leaves_of.values() and {1, 4} in leaves_of.values()     # correlated columns pair up
    assert as_hierarchy(None, names, data).n_leaves == 5
    with pytest.raises(InputError, match="linkage joins 5 columns but the data has 4"):
        from_linkage(Z, 4)
    with pytest.raises(InputError, match="hierarchy must be None"):
        as_hierarchy("abc", names)


def smooth_image():
    yy, xx = np.mgrid[0:16, 0:20] / 20.0
    return np.stack([yy, xx, 0.5 + 0 * yy], axis=0)          # (3, 16, 20): channels first


def test_regions_and_the_image_mean_fill():
    img = smooth_image()
    m = ImageMasker(fill="image_mean")
    tree = m.regions(img)                       # default: max(1, 20 // 32) = 1 pixel leaves
    assert tree.n_leaves == 16 * 20
    assert ImageMasker(min_region=4).regions(img).n_leaves == 4 * 8       # 20 columns: 10, 5, then 2 + 3
    assert m.regions(img, min_region=8).n_leaves == 2 * 4
    out = m.fill(img, tree.labels, np.zeros((1, tree.n_leaves), bool))[0]
    np.testing.assert_allclose(out, np.broadcast_to(img.mean(axis=(1, 2))[:, None, None], img.shape))
    with pytest.raises(InputError, match="min_region"):
        ImageMasker(min_region=0)
    with pytest.raises(InputError, match="inpaint_radius"):
        ImageMasker(inpaint_radius=0)


@pytest.mark.parametrize("fill", ["inpaint", "inpaint_ns"])
def test_inpainting_fills_a_hole_from_the_kept_pixels(fill):
    import cv2  # noqa: F401  (the inpainting fills need OpenCV: a missing one is an error)
    img = smooth_image()
    m = ImageMasker(fill=fill)
    assert m.per_coalition
    tree = m.regions(img, min_region=4)
    assert m.replacement(img, tree.labels) is None
    keep = np.ones((3, tree.n_leaves), bool)
    hole_leaf = tree.labels[6, 8]
    keep[0, hole_leaf] = False                 # one 4 x 4 hole in a smooth ramp
    keep[2] = False                            # nothing kept: the mean colour
    out = m.fill(img, tree.labels, keep)
    hole = tree.labels == hole_leaf
    assert out.shape == (3,) + img.shape and out.dtype == img.dtype
    np.testing.assert_array_equal(out[0][:, ~hole], img[:, ~hole])       # kept pixels are exact
    assert np.abs(out[0][:, hole] - img[:, hole]).max() < 0.15           # the ramp continues into the hole
    np.testing.assert_array_equal(out[1], img)
    np.testing.assert_allclose(out[2], np.broadcast_to(img.mean(axis=(1, 2))[:, None, None], img.shape))
    grey = m.fill(img[0], tree.labels, keep[:1])[0]                      # (H, W) images too
    np.testing.assert_allclose(grey, out[0][0])


def test_unknown_fill_lists_the_choices():
    with pytest.raises(InputError, match="image_mean"):
        ImageMasker(fill="smudge")
