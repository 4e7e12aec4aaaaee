"""Integrated gradients: completeness, analytic cases, baselines, batching; the layer variant; SmoothGrad's
own noise."""

import json

import numpy as np
import pytest

import torch

from torch import nn  # noqa: E402

from whybox import Attribution  # noqa: E402
from whybox.gradients import IntegratedGradients, LayerIntegratedGradients, Saliency, SmoothGrad  # noqa: E402
from whybox.gradients.integrated import gaussian_blur, quadrature  # noqa: E402


@pytest.fixture(scope="module")
def x():
    return torch.randn(6, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def logit(model, inputs, targets):
    with torch.no_grad():
        out = model(torch.as_tensor(inputs, dtype=torch.float32))
    return out[torch.arange(out.shape[0]), torch.as_tensor(targets)].numpy()


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_trapezoid"])
def test_completeness_gap_under_one_percent_with_64_steps(cnn, x, method):
    attr = IntegratedGradients(cnn).explain(x, n_steps=64, method=method)
    fx = logit(cnn, x, attr.meta["target"])
    fb = logit(cnn, torch.zeros_like(x), attr.meta["target"])
    delta = fx - fb
    assert np.all(np.abs(delta) > 1e-3)
    gap = attr.values.reshape(6, -1).sum(1) - delta
    assert np.all(np.abs(gap) < 0.01 * np.abs(delta))
    np.testing.assert_allclose(attr.meta["completeness_gap"], gap, atol=1e-5)
    np.testing.assert_allclose(np.abs(attr.meta["relative_completeness_gap"]), np.abs(gap / delta), rtol=1e-3,
                               atol=1e-6)
    np.testing.assert_allclose(attr.base_values, fb, atol=1e-6)
    np.testing.assert_allclose(attr.output, fx, atol=0.01 * np.abs(delta).max())     # base + sum ~= f(x)
    np.testing.assert_allclose(attr.meta["output"], fx, atol=1e-6)
    assert attr.meta["model_evals"] == 6 * 64 + 6 + 6 and attr.meta["backward_evals"] == 6 * 64


def test_input_equal_to_baseline_gets_zero_attribution(cnn, x):
    attr = IntegratedGradients(cnn).explain(x, target=1, baseline=x, n_steps=8)
    assert np.all(attr.values == 0)
    assert np.all(np.asarray(attr.meta["completeness_gap"]) == 0)


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right",
                                    "riemann_middle"])
def test_linear_model_ig_is_x_minus_b_times_w(method):
    torch.manual_seed(0)
    lin = nn.Linear(10, 3)
    xs = torch.randn(4, 10)
    b = torch.randn(10)
    attr = IntegratedGradients(lin).explain(xs, target=2, baseline=b, n_steps=7, method=method)
    expected = (xs - b).numpy() * lin.weight[2].detach().numpy()
    np.testing.assert_allclose(attr.values, expected, atol=1e-6)
    np.testing.assert_allclose(attr.output, logit(lin, xs, [2] * 4), atol=1e-5)


class Quadratic(nn.Module):
    """f_0(x) = sum_i c_i x_i^2: from a zero baseline IG_i = c_i x_i^2 exactly; the path integrand
    2 c_i x_i^2 a is linear in a."""

    def __init__(self, c):
        super().__init__()
        self.c = nn.Parameter(torch.as_tensor(c, dtype=torch.float32))

    def forward(self, x):
        return (self.c * x * x).sum(1, keepdim=True)


def test_quadrature_rules_on_an_integrand_linear_in_alpha():
    c = np.array([0.5, -1.0, 2.0])
    xs = torch.tensor([[1.0, 2.0, -1.5], [0.3, -0.2, 0.7]])
    exact = c * xs.numpy() ** 2
    model = Quadratic(c)
    n = 8
    for method in ["gausslegendre", "riemann_trapezoid", "riemann_middle"]:      # exact for linear integrands
        got = IntegratedGradients(model).explain(xs, target=0, n_steps=n, method=method).values
        np.testing.assert_allclose(got, exact, rtol=1e-5)
    left = IntegratedGradients(model).explain(xs, target=0, n_steps=n, method="riemann_left").values
    np.testing.assert_allclose(left, exact * (n - 1) / n, rtol=1e-5)              # sum_s (s/n) / n
    right = IntegratedGradients(model).explain(xs, target=0, n_steps=n, method="riemann_right").values
    np.testing.assert_allclose(right, exact * (n + 1) / n, rtol=1e-5)


def test_quadrature_weights_sum_to_one():
    for method in ["gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle"]:
        a, w = quadrature(method, 13)
        assert abs(w.sum() - 1) < 1e-12 and a.min() >= 0 and a.max() <= 1


def test_several_baselines_average_their_ig(cnn, x):
    ig = IntegratedGradients(cnn)
    b1 = torch.zeros_like(x)
    b2 = torch.full_like(x, 0.5)
    both = ig.explain(x, target=0, baseline=[b1, 0.5], n_steps=16)
    one = ig.explain(x, target=0, baseline=b1, n_steps=16)
    two = ig.explain(x, target=0, baseline=b2, n_steps=16)
    np.testing.assert_allclose(both.values, (one.values + two.values) / 2, atol=1e-6)
    np.testing.assert_allclose(both.base_values, (one.base_values + two.base_values) / 2, atol=1e-6)
    assert both.meta["n_baselines"] == 2


def test_blur_and_uniform_baselines(cnn, x):
    ig = IntegratedGradients(cnn, seed=3)
    blur = ig.explain(x, target=0, baseline="blur", blur_sigma=2.0, n_steps=32)
    np.testing.assert_allclose(blur.base_values, logit(cnn, gaussian_blur(x, 2.0), [0] * 6), atol=1e-5)
    assert np.all(np.abs(blur.meta["relative_completeness_gap"]) < 0.05)
    blurred = gaussian_blur(x, 2.0)
    assert blurred.shape == x.shape and blurred.std() < x.std()
    np.testing.assert_allclose(gaussian_blur(torch.ones(1, 1, 5, 5), 1.5).numpy(), 1.0, atol=1e-6)
    u1 = ig.explain(x, target=0, baseline="uniform", n_steps=8)
    u2 = IntegratedGradients(cnn, seed=3).explain(x, target=0, baseline="uniform", n_steps=8)
    u3 = IntegratedGradients(cnn, seed=4).explain(x, target=0, baseline="uniform", n_steps=8)
    np.testing.assert_array_equal(u1.values, u2.values)
    assert not np.allclose(u1.values, u3.values)


def test_batch_size_does_not_change_the_answer(cnn, x):
    ig = IntegratedGradients(cnn)
    big = ig.explain(x, target=[0, 1, 2, 3, 0, 1], n_steps=10)
    small = ig.explain(x, target=[0, 1, 2, 3, 0, 1], n_steps=10, batch_size=7)
    np.testing.assert_allclose(big.values, small.values, atol=1e-6)
    assert big.meta["model_evals"] == small.meta["model_evals"]


def test_without_multiplying_by_inputs(cnn, x):
    plain = IntegratedGradients(cnn, multiply_by_inputs=False).explain(x, target=2, n_steps=12)
    full = IntegratedGradients(cnn).explain(x, target=2, n_steps=12)
    np.testing.assert_allclose(plain.values * x.numpy(), full.values, atol=1e-6)
    assert "completeness_gap" not in plain.meta and np.all(plain.base_values == 0)


def test_ig_of_a_model_in_float64_and_a_row_slice(cnn, x, small_cnn_class):
    model64 = small_cnn_class().double().eval()
    attr = IntegratedGradients(model64).explain(x.numpy(), target=1, n_steps=64)
    assert attr.values.dtype == np.float64
    assert np.all(np.abs(attr.meta["relative_completeness_gap"]) < 0.01)
    row = attr[2]
    assert row.values.shape == (3, 16, 16) and row.meta["completeness_gap"] == [attr.meta["completeness_gap"][2]]
    back = Attribution.from_dict(json.loads(json.dumps(attr.to_dict())))      # the store's JSON round trip
    np.testing.assert_array_equal(back.values, attr.values)
    assert back.meta["completeness_gap"] == attr.meta["completeness_gap"] and back.method == attr.method


class TextModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(50, 8, padding_idx=0)
        self.mix = nn.Linear(8, 8)
        self.head = nn.Linear(8, 2)

    def forward(self, ids):
        return self.head(torch.tanh(self.mix(self.emb(ids))).mean(1))


def test_layer_ig_over_token_embeddings():
    torch.manual_seed(0)
    model = TextModel().eval()
    ids = torch.randint(1, 50, (3, 9), generator=torch.Generator().manual_seed(0))
    lig = LayerIntegratedGradients(model, "emb", labels=["neg", "pos"])
    attr = lig.explain(ids, target="pos", n_steps=64, sum_last_axis=True)
    assert attr.values.shape == (3, 9) and attr.method == "layer_integrated_gradients"
    np.testing.assert_array_equal(attr.data, ids.numpy())
    assert np.all(np.abs(attr.meta["relative_completeness_gap"]) < 0.01)
    assert attr.meta["target_name"] == ["pos"] * 3 and attr.meta["layer_shape"] == [9, 8]
    # a zero activation is the embedding of the pad token (padding_idx=0): the same baseline both ways
    by_ids = lig.explain(ids, target="pos", n_steps=64, sum_last_axis=True, baseline_ids=0)
    np.testing.assert_allclose(by_ids.values, attr.values, atol=1e-6)
    full = lig.explain(ids, target=1, n_steps=64)
    assert full.values.shape == (3, 9, 8)
    np.testing.assert_allclose(full.values.sum(-1), attr.values, atol=1e-6)
    # base value: the model with the embedding output set to zero
    with torch.no_grad():
        f_base = model.head(torch.tanh(model.mix(torch.zeros(1, 9, 8))).mean(1))[0, 1]
    np.testing.assert_allclose(attr.base_values, float(f_base), atol=1e-6)


def test_smoothgrad_is_seeded_and_independent_of_batching(cnn, x):
    sg = SmoothGrad(Saliency(cnn), n_samples=5, stdev=0.1, seed=7)
    a = sg.explain(x, target=0)
    b = sg.explain(x, target=0, batch_size=4)
    np.testing.assert_allclose(a.values, b.values, atol=1e-7)
    c = SmoothGrad(Saliency(cnn), n_samples=5, stdev=0.1, seed=8).explain(x, target=0)
    assert not np.allclose(a.values, c.values)
    # relative sigma: a fraction of each input's range
    rng = x.reshape(6, -1).max(1).values - x.reshape(6, -1).min(1).values
    np.testing.assert_allclose(a.meta["sigma"], 0.1 * rng.numpy(), rtol=1e-6)
    assert a.meta["model_evals"] == 6 + 6 * 5
    # the first row alone gets the same noise as in the batch
    first = sg.explain(x[:1], target=0)
    np.testing.assert_allclose(first.values[0], a.values[0], atol=1e-7)
    # zero noise is the plain method
    zero = SmoothGrad(Saliency(cnn), n_samples=2, stdev=0.0).explain(x, target=0)
    np.testing.assert_allclose(zero.values, Saliency(cnn).explain(x, target=0).values, atol=1e-7)


def test_smoothgrad_of_ig_keeps_base_values(cnn, x):
    attr = SmoothGrad(IntegratedGradients(cnn), n_samples=3, stdev=0.05).explain(x, target=1, n_steps=16)
    np.testing.assert_allclose(attr.base_values, logit(cnn, torch.zeros_like(x), [1] * 6), atol=1e-6)
    assert attr.meta["inner_method"] == "integrated_gradients" and attr.meta["n_steps"] == 16


def test_smoothgrad_hands_per_row_baselines_to_each_noisy_copy(cnn, x):
    base = torch.randn(x.shape, generator=torch.Generator().manual_seed(9))
    ig = IntegratedGradients(cnn)
    plain = ig.explain(x, target=[0, 1, 2, 3, 0, 1], baseline=base, n_steps=8)
    smooth = SmoothGrad(ig, n_samples=2, stdev=0.0).explain(x, target=[0, 1, 2, 3, 0, 1], baseline=base, n_steps=8)
    np.testing.assert_allclose(smooth.values, plain.values, atol=1e-6)
    np.testing.assert_allclose(smooth.base_values, plain.base_values, atol=1e-6)
