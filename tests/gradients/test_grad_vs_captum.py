"""whybox.gradients against captum (the reference answers) on a seeded 3-conv CNN, 3x16x16 inputs.

Agreement is to 1e-5 of the largest attribution (float32 throughout).
"""

import numpy as np
import pytest

import torch
from captum import attr as captum_attr

from torch import nn  # noqa: E402

from whybox.gradients import (GradCam, InputXGradient, IntegratedGradients, LayerIntegratedGradients,  # noqa: E402
                              Saliency, SmoothGrad)

pytestmark = pytest.mark.filterwarnings("ignore:Input Tensor")


@pytest.fixture(scope="module")
def x():
    return torch.randn(5, 3, 16, 16, generator=torch.Generator().manual_seed(1))


TARGETS = [0, 1, 2, 3, 1]


def close(ours, ref, tol=1e-5):
    ref = ref.detach().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref)
    ours = np.asarray(ours)
    assert ours.shape == ref.shape
    scale = np.abs(ref).max()
    assert scale > 0
    np.testing.assert_allclose(ours, ref, rtol=0, atol=tol * scale)


@pytest.mark.parametrize("use_abs", [True, False])
def test_saliency_matches_captum(cnn, x, use_abs):
    ours = Saliency(cnn, abs=use_abs).explain(x, target=TARGETS)
    ref = captum_attr.Saliency(cnn).attribute(x, target=TARGETS, abs=use_abs)
    close(ours.values, ref)
    assert ours.method == "saliency" and ours.meta["target"] == TARGETS
    np.testing.assert_array_equal(ours.data, x.numpy())


def test_input_x_gradient_matches_captum(cnn, x):
    ours = InputXGradient(cnn).explain(x.numpy(), target=TARGETS)      # numpy in, same answer
    close(ours.values, captum_attr.InputXGradient(cnn).attribute(x, target=TARGETS))
    assert ours.method == "input_x_gradient"


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_left", "riemann_right", "riemann_middle"])
def test_integrated_gradients_matches_captum(cnn, x, method):
    steps = 32
    ours = IntegratedGradients(cnn).explain(x, target=TARGETS, n_steps=steps, method=method)
    ref = captum_attr.IntegratedGradients(cnn).attribute(x, target=TARGETS, n_steps=steps, method=method)
    close(ours.values, ref)


def test_integrated_gradients_trapezoid_is_captums_rescaled(cnn, x):
    """Same points a = linspace(0, 1, n); captum weights them 1/n (ends halved, sum 1 - 1/n), whybox by the
    composite trapezoid rule 1/(n-1) (sum 1), so whybox = captum * n / (n - 1) exactly."""
    steps = 20
    ours = IntegratedGradients(cnn).explain(x, target=TARGETS, n_steps=steps, method="riemann_trapezoid")
    ref = captum_attr.IntegratedGradients(cnn).attribute(x, target=TARGETS, n_steps=steps,
                                                         method="riemann_trapezoid")
    close(ours.values, ref * steps / (steps - 1))


def test_integrated_gradients_baseline_tensor_and_delta_match_captum(cnn, x):
    base = 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
    ours = IntegratedGradients(cnn).explain(x, target=TARGETS, baseline=base, n_steps=40)
    ref, delta = captum_attr.IntegratedGradients(cnn).attribute(x, baselines=base, target=TARGETS, n_steps=40,
                                                                return_convergence_delta=True)
    close(ours.values, ref)
    # captum's convergence delta is sum(attr) - (f(x) - f(b)): whybox's completeness gap
    np.testing.assert_allclose(ours.meta["completeness_gap"], delta.detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("kind", ["smoothgrad", "smoothgrad_sq", "vargrad"])
def test_noise_tunnel_with_fixed_noise_matches_captum(cnn, x, kind):
    """captum draws torch.normal(0, stdev) of shape (n * samples, ...) from the global generator and adds
    it to x.repeat_interleave(samples): re-seeding before each lets whybox receive the same noise."""
    samples, sd = 6, 0.2
    torch.manual_seed(11)
    noise = torch.normal(0, torch.full((x.shape[0] * samples, *x.shape[1:]), sd))
    torch.manual_seed(11)
    ref = captum_attr.NoiseTunnel(captum_attr.Saliency(cnn)).attribute(x, nt_type=kind, nt_samples=samples,
                                                                       stdevs=sd, target=TARGETS)
    ours = SmoothGrad(Saliency(cnn), n_samples=samples, kind=kind).explain(
        x, target=TARGETS, noise=noise.view(x.shape[0], samples, *x.shape[1:]))
    close(ours.values, ref)
    assert ours.method == "smoothgrad" and ours.meta["kind"] == kind and ours.meta["noise"] == "given"


def test_noise_tunnel_around_integrated_gradients_matches_captum(cnn, x):
    samples, sd = 3, 0.1
    torch.manual_seed(3)
    noise = torch.normal(0, torch.full((x.shape[0] * samples, *x.shape[1:]), sd))
    torch.manual_seed(3)
    ref = captum_attr.NoiseTunnel(captum_attr.IntegratedGradients(cnn)).attribute(
        x, nt_type="smoothgrad", nt_samples=samples, stdevs=sd, target=TARGETS, n_steps=10)
    ours = SmoothGrad(IntegratedGradients(cnn), n_samples=samples).explain(
        x, target=TARGETS, noise=noise.view(x.shape[0], samples, *x.shape[1:]), n_steps=10)
    close(ours.values, ref)


@pytest.mark.parametrize("relu,upsample", [(True, True), (False, False)])
def test_gradcam_matches_captum_layer_gradcam(cnn, x, relu, upsample):
    ours = GradCam(cnn, layer="conv3", relu=relu, upsample=upsample).explain(x, target=TARGETS)
    ref = captum_attr.LayerGradCam(cnn, cnn.conv3).attribute(x, target=TARGETS, relu_attributions=relu)
    if upsample:
        ref = captum_attr.LayerAttribution.interpolate(ref, (16, 16), "bilinear")
    close(ours.values, ref[:, 0])
    assert ours.values.shape == ((5, 16, 16) if upsample else (5, 8, 8))
    assert ours.meta["map_shape"] == [8, 8] and ours.meta["layer"] == "conv3"


class TinyText(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(30, 6, padding_idx=0)
        self.rnn_free = nn.Sequential(nn.Linear(6, 8), nn.Tanh())
        self.out = nn.Linear(8, 3)

    def forward(self, ids):
        return self.out(self.rnn_free(self.emb(ids)).mean(1))


def test_layer_integrated_gradients_matches_captum_on_token_ids():
    torch.manual_seed(2)
    model = TinyText().eval()
    ids = torch.randint(1, 30, (4, 7), generator=torch.Generator().manual_seed(4))
    pad = torch.zeros_like(ids)
    ours = LayerIntegratedGradients(model, "emb").explain(ids, target=[0, 1, 2, 0], baseline_ids=0, n_steps=30,
                                                         sum_last_axis=True)
    ref, delta = captum_attr.LayerIntegratedGradients(model, model.emb).attribute(
        ids, baselines=pad, target=[0, 1, 2, 0], n_steps=30, return_convergence_delta=True)
    close(ours.values, ref.sum(-1))
    np.testing.assert_allclose(ours.meta["completeness_gap"], delta.detach().numpy(), atol=1e-5)
    assert ours.values.shape == (4, 7)
    np.testing.assert_array_equal(ours.data, ids.numpy())


def test_layer_integrated_gradients_matches_captum_on_a_conv_layer(cnn, x):
    ref = captum_attr.LayerIntegratedGradients(cnn, cnn.conv2).attribute(x, target=TARGETS, n_steps=16,
                                                                         baselines=torch.zeros_like(x))
    # captum's baseline is the layer's output at a zero input; whybox's default is a zero activation, so
    # hand whybox the same baseline through baseline_ids (inputs whose layer output is the baseline)
    ours = LayerIntegratedGradients(cnn, cnn.conv2).explain(x, target=TARGETS, n_steps=16,
                                                           baseline_ids=torch.zeros_like(x))
    close(ours.values, ref)
    assert ours.values.shape == (5, 8, 8, 8) and ours.data is None
