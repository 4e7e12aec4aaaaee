"""Grad-CAM and Grad-CAM++: the paper's formulas written out in numpy, class-discriminative localisation,
layers by path or object, in-place activations and frozen parameters."""

import numpy as np
import pytest

import torch

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from whybox.gradients import GradCam, GradCamPlusPlus  # noqa: E402


class PoolHead(nn.Module):
    """conv1 -> ReLU -> conv2 (the explained layer, A) -> S = fc(mean_ij ReLU(A)): dS_c/dA_kij is
    W[c, k] * [A_kij > 0] / (h w), so the test can write every derivative down in numpy."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 5, 3, stride=2, padding=1)
        self.act = nn.ReLU(inplace=inplace)
        self.fc = nn.Linear(5, 3)

    def forward(self, x):
        return self.fc(self.act(self.conv2(F.relu(self.conv1(x)))).mean((2, 3)))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return PoolHead().eval()


@pytest.fixture(scope="module")
def x():
    return torch.randn(4, 3, 12, 12, generator=torch.Generator().manual_seed(2))


def numpy_maps(model, x, targets):
    """(activations A (n, K, h, w), dS/dA, S) in float64 numpy from the analytic derivative."""
    with torch.no_grad():
        acts = model.conv2(F.relu(model.conv1(x))).double().numpy()
    w = model.fc.weight.detach().double().numpy()
    b = model.fc.bias.detach().double().numpy()
    n, k, h, wd = acts.shape
    scores = np.maximum(acts, 0).mean((2, 3)) @ w.T + b
    grads = np.stack([w[t][:, None, None] * (acts[i] > 0) / (h * wd) for i, t in enumerate(targets)])
    s = scores[np.arange(n), targets]
    return acts, grads, s


def test_gradcam_is_the_paper_formula(model, x):
    targets = [0, 1, 2, 1]
    acts, grads, _ = numpy_maps(model, x, targets)
    weights = grads.mean((2, 3))                                   # alpha_k^c: spatial mean of gradients
    expected = np.maximum((weights[:, :, None, None] * acts).sum(1), 0)
    got = GradCam(model, "conv2", upsample=False).explain(x, target=targets)
    np.testing.assert_allclose(got.values, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())
    assert got.values.shape == (4, 6, 6) and got.meta["map_shape"] == [6, 6]


def test_gradcam_plus_plus_is_the_paper_formula(model, x):
    """Chattopadhyay et al. 2018, eqs. 19 and with Y = exp(S): dY/dA = exp(S) g, d2Y = exp(S) g^2,
    d3Y = exp(S) g^3; alpha = d2 / (2 d2 + sum_ab A_ab d3); w_k = sum_ij alpha_ij ReLU(dY/dA_ij);
    L = ReLU(sum_k w_k A_k). whybox leaves out the constant factor exp(S)."""
    targets = [2, 0, 1, 0]
    acts, grads, s = numpy_maps(model, x, targets)
    expected = []
    for i in range(len(targets)):
        y = np.exp(s[i])
        first, second, third = y * grads[i], y * grads[i] ** 2, y * grads[i] ** 3
        denom = 2 * second + acts[i].sum((1, 2), keepdims=True) * third
        alpha = np.divide(second, denom, out=np.zeros_like(denom), where=denom != 0)
        w = (alpha * np.maximum(first, 0)).sum((1, 2))
        expected.append(np.maximum((w[:, None, None] * acts[i]).sum(0), 0))
    expected = np.array(expected)
    got = GradCamPlusPlus(model, "conv2", upsample=False).explain(x, target=targets)
    scaled = got.values * np.exp(s)[:, None, None]
    np.testing.assert_allclose(scaled, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())
    assert got.method == "gradcam_plus_plus"
    assert not np.allclose(got.values, GradCam(model, "conv2", upsample=False).explain(x, target=targets).values)


class ColourDetector(nn.Module):
    """Layer "detect": channel 0 fires on red pixels, channel 1 on green ones, at half resolution;
    class 0 = mean red evidence, class 1 = mean green evidence."""

    def __init__(self) -> None:
        super().__init__()
        self.detect = nn.Conv2d(3, 2, 2, stride=2, bias=False)
        with torch.no_grad():
            self.detect.weight.zero_()
            self.detect.weight[0, 0] = 0.25
            self.detect.weight[1, 1] = 0.25

    def forward(self, x):
        return F.relu(self.detect(x)).mean((2, 3))


def test_gradcam_finds_the_region_each_class_reads():
    img = torch.zeros(1, 3, 16, 16)
    img[0, 0, 2:6, 2:6] = 1.0         # red square, top left
    img[0, 1, 10:14, 10:14] = 1.0     # green square, bottom right
    model = ColourDetector().eval()
    # the boxes grown by one pixel: bilinear upsampling of the half-resolution map spreads half a cell
    boxes = {"red": (slice(1, 7), slice(1, 7)), "green": (slice(9, 15), slice(9, 15))}
    for cls in (GradCam, GradCamPlusPlus):
        explainer = cls(model, "detect", labels=["red", "green"])
        for label, other in (("red", "green"), ("green", "red")):
            m = explainer.explain(img, target=label).values[0]
            assert m.shape == (16, 16)
            assert m[boxes[label]].sum() / m.sum() > 0.99, (cls.__name__, label)
            assert m[boxes[other]].sum() == 0


def test_upsampling_is_bilinear_interpolation_of_the_raw_map(model, x):
    raw = GradCam(model, "conv2", upsample=False).explain(x, target=0).values
    up = GradCam(model, "conv2").explain(x, target=0)
    ref = F.interpolate(torch.as_tensor(raw)[:, None], size=(12, 12), mode="bilinear", align_corners=False)[:, 0]
    np.testing.assert_allclose(up.values, ref.numpy(), atol=1e-6)
    assert up.data is None and np.all(up.base_values == 0) and up.meta["upsampled"]


def test_layer_by_object_inplace_relu_and_frozen_parameters(model, x):
    ref = GradCam(model, "conv2").explain(x, target=1).values
    torch.manual_seed(0)
    inplace = PoolHead(inplace=True).eval()
    inplace.load_state_dict(model.state_dict())
    for p in inplace.parameters():
        p.requires_grad_(False)
    got = GradCam(inplace, inplace.conv2).explain(x, target=1)
    np.testing.assert_allclose(got.values, ref, atol=1e-6)        # the maps read A before the in-place ReLU
    assert got.meta["layer"] == "conv2"
    assert all(not p.requires_grad for p in inplace.parameters())


def test_gradcam_on_a_layer_inside_sequential():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).eval()
    attr = GradCam(net, "2").explain(np.random.default_rng(0).normal(size=(3, 1, 8, 8)).astype("float32"))
    assert attr.values.shape == (3, 8, 8) and attr.meta["layer"] == "2"
    assert np.all(attr.values >= 0)
