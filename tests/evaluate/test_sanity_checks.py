"""Adebayo et al.'s sanity checks: model-parameter and label randomisation, and the SSIM they report."""

import json

import numpy as np
import pytest
from scipy import ndimage

import torch
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from whybox.errors import InputError  # noqa: E402
from whybox.evaluate import RandomizationCheck, randomization_check  # noqa: E402
from whybox.evaluate.sanity import parameter_layers, randomized_copy, ssim  # noqa: E402
from whybox.gradients import GradCam, IntegratedGradients, Saliency  # noqa: E402


class DigitsCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


def _fit(model: nn.Module, X: torch.Tensor, y: torch.Tensor, epochs: int, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(epochs):
        perm = torch.randperm(len(X))
        for i in range(0, len(X), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    X = torch.tensor(d.images[:, None] / 16.0, dtype=torch.float32)
    return X, torch.tensor(d.target)


@pytest.fixture(scope="module")
def trained(digits):
    X, y = digits
    torch.manual_seed(0)
    model = _fit(DigitsCNN(), X, y, epochs=4)
    assert (model(X).argmax(1) == y).float().mean() > 0.95      # it learned the digits
    return model


def sobel_edges(model, x, target):
    """An 'explanation' that ignores the model: the gradient magnitude of the image."""
    img = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=float)[:, 0]
    return np.stack([np.hypot(ndimage.sobel(i, 0), ndimage.sobel(i, 1)) for i in img])


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# --------------------------------------------------------------------------- SSIM

def test_ssim_of_a_map_with_itself_is_one_and_with_noise_near_zero():
    rng = np.random.default_rng(0)
    a = ndimage.gaussian_filter(rng.random((32, 32)), 2)
    a = (a - a.min()) / (a.max() - a.min())
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    b = rng.random((32, 32))
    assert abs(ssim(a, b)) < 0.1
    c = rng.random((32, 32))
    assert abs(ssim(b, c)) < 0.1


def test_ssim_matches_skimage_pixel_for_pixel():
    from skimage import metrics
    rng = np.random.default_rng(1)
    a, b = rng.random((24, 20)), rng.random((24, 20))
    b = 0.6 * a + 0.4 * b
    mean, full = ssim(a, b, full=True)
    ref_mean, ref = metrics.structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                                  use_sample_covariance=False, full=True)
    np.testing.assert_allclose(full, ref, atol=1e-10)
    assert mean == pytest.approx(full.mean())
    pad = 5                                       # skimage averages the interior only
    assert ref_mean == pytest.approx(full[pad:-pad, pad:-pad].mean(), abs=1e-10)


# --------------------------------------------------------------------------- model randomisation

@pytest.mark.parametrize("method, kwargs", [(GradCam, {"layer": "conv2"}),
                                            (IntegratedGradients, {"n_steps": 16})])
def test_gradient_methods_pass_cascading_randomisation(trained, digits, method, kwargs):
    x = digits[0][:32]
    r = randomization_check(method, trained, x, explain_kwargs=kwargs)
    assert isinstance(r, RandomizationCheck)
    assert r.steps == ("fc", "conv2", "conv1")
    assert r.randomized == (("fc",), ("fc", "conv2"), ("fc", "conv2", "conv1"))
    assert r.similarity["spearman"].shape == (3, 32)
    # measured on this model with every layer random: mean |rho| 0.19 (Grad-CAM), 0.12 (IG); seeds 1, 2 give
    # 0.16-0.27; the verdict threshold is 0.5
    assert r.score < 0.35
    assert r.full_mean["ssim"] < 0.3
    assert r.verdict == "passes" and r.passed


def test_integrated_gradients_keeps_its_magnitude_ranks_on_sparse_digits(trained, digits):
    """IG x input gives every blank pixel (about half of a digit) exactly zero, whatever the weights, so the
    ranks of |values| stay alike (measured 0.91) while the signed ranks do not: the stricter metric says so."""
    r = randomization_check(IntegratedGradients, trained, digits[0][:32], explain_kwargs={"n_steps": 16},
                            verdict_metric="spearman_abs")
    assert r.full_mean["spearman_abs"] > 0.7 > 0.3 > abs(r.full_mean["spearman"])
    assert r.verdict.startswith("fails")


def test_edge_detector_ignoring_the_model_fails(trained, digits):
    x = digits[0][:16]
    for mode in ("cascading", "independent"):
        r = randomization_check(sobel_edges, trained, x, mode=mode)
        for metric in ("spearman", "spearman_abs", "ssim"):
            np.testing.assert_allclose(r.similarity[metric], 1.0, atol=1e-12)
            np.testing.assert_allclose(r.full_similarity[metric], 1.0, atol=1e-12)
        assert r.verdict.startswith("fails")
        assert "barely depends" in str(r)


def test_user_model_untouched_and_same_seed_same_numbers(trained, digits):
    x = digits[0][:8]
    before = _state(trained)
    flags = [m.training for m in trained.modules()]
    rng_before = torch.random.get_rng_state()
    a = randomization_check(Saliency, trained, x, seed=3)
    b = randomization_check(Saliency, trained, x, seed=3)
    c = randomization_check(Saliency, trained, x, seed=4)
    assert torch.equal(torch.random.get_rng_state(), rng_before)      # the global random state is left alone
    for k, v in trained.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert flags == [m.training for m in trained.modules()]
    for metric in a.similarity:
        np.testing.assert_array_equal(a.similarity[metric], b.similarity[metric])
    assert not np.array_equal(a.similarity["spearman"], c.similarity["spearman"])


def test_batchnorm_model_in_training_mode_is_left_exactly_as_it_was(digits):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 64, 10)).train()
    before = _state(model)
    r = randomization_check(Saliency, model, digits[0][:4])
    assert r.steps == ("4", "1", "0")                 # BatchNorm has parameters and reset_parameters too
    for k, v in model.state_dict().items():           # running stats included
        assert torch.equal(v, before[k]), k
    assert all(m.training for m in model.modules())


def _recorder(trained):
    """An explain_fn that notes which layers of the model it is handed differ from the trained ones."""
    ref = _state(trained)
    seen: list = []

    def fn(model, x, target):
        changed = sorted({k.rsplit(".", 1)[0] for k, v in model.state_dict().items() if not torch.equal(v, ref[k])})
        seen.append(tuple(changed))
        xg = torch.as_tensor(x).clone().requires_grad_(True)
        out = model(xg)
        g, = torch.autograd.grad(out[torch.arange(len(xg)), torch.as_tensor(target)].sum(), xg)
        return g.abs()
    return fn, seen


def test_independent_mode_randomises_exactly_one_layer_per_step(trained, digits):
    fn, seen = _recorder(trained)
    r = randomization_check(fn, trained, digits[0][:4], mode="independent")
    # original, one call per layer (top down), then the fully random model the verdict reads
    assert seen == [(), ("fc",), ("conv2",), ("conv1",), ("conv1", "conv2", "fc")]
    assert r.randomized == (("fc",), ("conv2",), ("conv1",))
    fn, seen = _recorder(trained)
    randomization_check(fn, trained, digits[0][:4], mode="cascading")
    assert seen == [(), ("fc",), ("conv2", "fc"), ("conv1", "conv2", "fc")]


def test_a_layer_gets_the_same_random_weights_in_both_modes(trained):
    one = randomized_copy(trained, ["conv2"], seed=5)
    every = randomized_copy(trained, ["fc", "conv2", "conv1"], seed=5)
    assert torch.equal(one.conv2.weight, every.conv2.weight)
    assert not torch.equal(one.conv2.weight, trained.conv2.weight)
    assert torch.equal(one.conv1.weight, trained.conv1.weight)


def test_layers_in_forward_order_and_named_subset(trained, digits):
    class Reordered(nn.Module):          # defined fc first, runs last
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Linear(4, 3)
            self.body = nn.Linear(64, 4)

        def forward(self, x):
            return self.head(torch.relu(self.body(x.flatten(1))))
    m = Reordered()
    assert parameter_layers(m) == ["head", "body"]
    assert parameter_layers(m, digits[0][:2]) == ["body", "head"]
    r = randomization_check(Saliency, trained, digits[0][:4], layers=["conv1", "fc"])
    assert r.steps == ("fc", "conv1")


def test_clear_errors(trained, digits):
    x = digits[0][:2]
    with pytest.raises(InputError, match="conv1, conv2, fc"):
        randomization_check(Saliency, trained, x, layers=["conv9"])
    with pytest.raises(InputError, match="mode"):
        randomization_check(Saliency, trained, x, mode="sideways")
    with pytest.raises(InputError, match="similarity"):
        randomization_check(Saliency, trained, x, similarity=("pearson",))
    with pytest.raises(InputError, match="explainer object"):
        randomization_check(Saliency(trained), trained, x)
    with pytest.raises(InputError, match="train_fn"):
        randomization_check(Saliency, trained, x, labels=np.arange(3))


def test_result_serialises_and_prints(trained, digits):
    r = randomization_check(GradCam, trained, digits[0][:4], explain_kwargs={"layer": "conv2"}, mode="independent")
    d = json.loads(json.dumps(r.to_dict()))
    assert d["type"] == "RandomizationCheck" and d["verdict"] == r.verdict
    assert len(d["similarity"]["ssim"]) == 3 and len(d["similarity"]["ssim"][0]) == 4
    text = str(r)
    assert "only conv1" in text and "all layers" in text and "verdict" in text
    assert r.mean["spearman"].shape == (3,)


# --------------------------------------------------------------------------- label randomisation

def test_label_randomisation_lowers_similarity(digits):
    X, y = digits
    Xtr, ytr = X[:600], y[:600]

    def train(labels):
        torch.manual_seed(0)
        return _fit(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), Xtr, torch.as_tensor(labels), epochs=5)

    model = train(ytr.numpy())
    x = X[1000:1016]
    same = randomization_check(Saliency, model, x, train_fn=train, labels=ytr.numpy(), seed=0)
    # the trained model against itself (train_fn on the true labels: same seed, same model): similarity 1
    itself = randomization_check(Saliency, model, x, train_fn=lambda _: train(ytr.numpy()), labels=ytr.numpy())
    assert itself.label_score == pytest.approx(1.0)
    assert same.label_score < 0.5 < itself.label_score
    assert same.label_mean["ssim"] < itself.label_mean["ssim"] - 0.3
    assert same.label_verdict == "passes"
    assert "labels permuted" in str(same)
