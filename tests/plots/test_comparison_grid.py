"""The comparison grid draws each method's channel-summed map over the right image, in the right colours."""

import numpy as np
import pytest

from whybox import Attribution, InputError
from whybox.plots import comparison_grid, image_overlay


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(size=(3, 3, 8, 8))
    signed = Attribution(values=rng.normal(size=(3, 3, 8, 8)), base_values=np.zeros(3), data=images, method="ig")
    cam = Attribution(values=rng.uniform(size=(3, 8, 8)), base_values=np.zeros(3), method="gradcam")
    return images, signed, cam


def _image_of(ax, label):
    (im,) = [im for im in ax.images if im.get_label() == label]
    return im


def test_cells_hold_each_methods_map_for_each_row():
    images, signed, cam = _batch()
    fig = comparison_grid({"IG": signed, "Grad-CAM": cam}, rows=[2, 0])
    axes = np.array(fig.axes).reshape(2, 3)
    for i, r in enumerate([2, 0]):
        np.testing.assert_allclose(_image_of(axes[i, 0], "image").get_array(), np.moveaxis(images[r], 0, -1))
        ig = _image_of(axes[i, 1], "IG")
        np.testing.assert_allclose(ig.get_array(), signed.values[r].sum(axis=0))
        np.testing.assert_allclose(_image_of(axes[i, 2], "Grad-CAM").get_array(), cam.values[r])
        # signed: diverging map centred on 0; never negative: sequential from 0
        lim = np.abs(signed.values[r].sum(axis=0)).max()
        assert (ig.norm.vmin, ig.norm.vmax) == pytest.approx((-lim, lim))
        camimg = _image_of(axes[i, 2], "Grad-CAM")
        assert camimg.norm.vmin == 0 and camimg.get_cmap().name == "inferno"
    assert [ax.get_title() for ax in axes[0]] == ["input", "IG", "Grad-CAM"]


def test_overlay_of_a_never_negative_map_is_sequential():
    images, _, cam = _batch(1)
    fig = image_overlay(cam, image=images, row=1)
    (heat,) = [im for ax in fig.axes for im in ax.images if im.get_label() == "heat"]
    assert heat.get_cmap().name == "inferno" and heat.norm.vmin == 0
    np.testing.assert_allclose(heat.get_array(), cam.values[1])


def test_grid_errors():
    images, signed, cam = _batch()
    with pytest.raises(InputError, match="dict"):
        comparison_grid([signed])
    with pytest.raises(InputError, match="needs the images"):
        comparison_grid({"Grad-CAM": cam})
    small = Attribution(values=np.zeros((3, 4, 4)), base_values=np.zeros(3))
    with pytest.raises(InputError, match="same size"):
        comparison_grid({"IG": signed, "small": small})
    with pytest.raises(InputError, match="same batch"):
        comparison_grid({"IG": signed, "one": signed[[0]]})
