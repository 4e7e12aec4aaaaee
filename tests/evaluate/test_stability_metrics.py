"""Stability metrics: local Lipschitz, max-sensitivity and seed variation against answers known without them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from whybox.errors import InputError
from whybox.evaluate.stability import (SeedVariation, _linf_noise, local_lipschitz, max_sensitivity,
                                       seed_variation)


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(6, 3)) * [1.0, 10.0, 0.1]


# --------------------------------------------------------------------------- local Lipschitz
@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_scaled_identity_explanation_has_lipschitz_exactly_c(rows, norm):
    # e(x) = c x  =>  |e(x) - e(x')| / |x - x'| = |c| for every neighbour
    L = local_lipschitz(lambda A: -2.5 * np.asarray(A), rows, norm=norm, n_samples=7)
    np.testing.assert_allclose(L, 2.5, rtol=1e-12)


def test_linear_shap_one_feature_equals_its_coefficient():
    # LinearShap of f(x) = w x + b on one feature is w (x - mean): Lipschitz |w| exactly
    from sklearn.linear_model import LinearRegression

    from whybox.shapley import LinearShap

    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 1))
    y = -4.0 * X[:, 0] + 1.0
    model = LinearRegression().fit(X, y)
    L = local_lipschitz(LinearShap(model, X[:50]), X[:5], data=X, n_samples=5)
    np.testing.assert_allclose(L, 4.0, rtol=1e-8)


def test_weighted_linear_explanation_is_bounded_by_max_weight_and_approaches_it(rows):
    # e(x) = w * x: the ratio |w * d| / |d| lies in [min|w|, max|w|]; its sup over the box is max|w|
    w = np.array([3.0, -0.5, 1.0])
    few = local_lipschitz(lambda A: w * np.asarray(A), rows, n_samples=3, seed=1)
    many = local_lipschitz(lambda A: w * np.asarray(A), rows, n_samples=2000, seed=1, data=np.ones((2, 3)) * [[0], [1]])
    assert np.all(few <= 3.0 + 1e-12) and np.all(many <= 3.0 + 1e-12)
    assert np.all(few >= 0.5 - 1e-12)
    assert np.all(many > 2.95)


def test_keep_prediction_drops_neighbours_across_the_decision_boundary():
    # model: class 1 when x > 0; explanation jumps by 1 at the boundary and is flat elsewhere
    def proba(A):
        return 1.0 / (1.0 + np.exp(-50 * np.asarray(A, dtype=float)[:, 0]))

    X = np.array([[0.001], [-0.002], [2.0]])
    ref = np.linspace(-1, 1, 50)[:, None]  # std ~0.58
    step = lambda A: (np.asarray(A)[:, :1] > 0).astype(float)  # noqa: E731
    L_all = local_lipschitz(step, X, data=ref, n_samples=50)
    L_kept = local_lipschitz(step, X, data=ref, n_samples=50, keep_prediction=proba)
    assert L_all[0] > 1 and L_all[1] > 1 and L_all[2] == 0
    np.testing.assert_array_equal(L_kept, 0.0)


def test_local_lipschitz_passes_dataframes_and_accepts_explainers():
    seen = []

    class Explainer:
        def explain(self, X):
            seen.append(type(X))
            return np.asarray(X, dtype=float) * 2

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [1.0, 3.0, 2.0]})
    np.testing.assert_allclose(local_lipschitz(Explainer(), X, n_samples=4), 2.0)
    assert set(seen) == {pd.DataFrame}


def test_local_lipschitz_errors(rows):
    f = lambda A: np.asarray(A)  # noqa: E731
    with pytest.raises(InputError, match="norm"):
        local_lipschitz(f, rows, norm="l1")
    with pytest.raises(InputError, match="epsilon"):
        local_lipschitz(f, rows, epsilon=0)
    with pytest.raises(InputError, match="n_samples"):
        local_lipschitz(f, rows, n_samples=0)
    with pytest.raises(InputError, match="one row"):
        local_lipschitz(f, rows[:1])
    with pytest.raises(InputError, match="non-numeric"):
        local_lipschitz(f, pd.DataFrame({"a": ["x", "y"]}))
    with pytest.raises(InputError, match="one explanation per input"):
        local_lipschitz(lambda A: np.zeros(2), rows)
    with pytest.raises(InputError, match="explain_fn"):
        local_lipschitz(42, rows)


# --------------------------------------------------------------------------- max-sensitivity
def test_max_sensitivity_matches_captum_on_the_same_perturbations():
    import torch
    from captum import metrics as captum_metrics
    from captum.attr import Saliency

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    sal = Saliency(lambda t: net(t)[:, 0])
    X = np.random.default_rng(3).normal(size=(5, 4))
    n, k, r, seed = 5, 12, 0.3, 7

    def explain_np(A):
        return sal.attribute(torch.tensor(np.asarray(A, dtype=float), requires_grad=True), abs=False).detach().numpy()

    ours = max_sensitivity(explain_np, X, radius=r, n_samples=k, seed=seed)
    noise = torch.tensor(_linf_noise(np.random.default_rng(seed), n, k, 4, r))

    def same_noise(inputs):  # captum repeats each row k times (repeat_interleave), as we do
        return inputs + noise

    theirs = captum_metrics.sensitivity_max(lambda t: sal.attribute(t, abs=False), torch.tensor(X),
                                            perturb_func=same_noise, n_perturb_samples=k)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10)


def test_max_sensitivity_raw_and_normalised_for_a_quadratic():
    # e(x) = x^2 elementwise, one feature: |e(x+u) - e(x)| = |2xu + u^2|, max over u in [-r, r] <= 2|x| r + r^2
    X = np.array([[1.0], [-3.0], [0.0]])
    raw = max_sensitivity(lambda A: np.asarray(A) ** 2, X, radius=0.1, n_samples=500, normalize=False)
    bound = 2 * np.abs(X[:, 0]) * 0.1 + 0.01
    assert np.all(raw <= bound + 1e-12) and np.all(raw > 0.97 * bound)
    normed = max_sensitivity(lambda A: np.asarray(A) ** 2, X, radius=0.1, n_samples=500)
    np.testing.assert_allclose(normed, raw / np.where(X[:, 0] ** 2 == 0, 1, X[:, 0] ** 2))
    with pytest.raises(InputError, match="radius"):
        max_sensitivity(lambda A: A, X, radius=-1)


# --------------------------------------------------------------------------- LIME: few samples vs many
@pytest.fixture(scope="module")
def credit_lime():
    from sklearn.linear_model import LogisticRegression

    import whybox.datasets as d
    from whybox.surrogates import Lime

    c = d.credit(600, seed=2)
    X = c.X[["income", "debt", "prior_defaults", "credit_age", "employment_years", "noise"]].astype(float)
    model = LogisticRegression(max_iter=500).fit(X, c.y)

    def lime(seed=0):
        return Lime(model, data=X, sampling="normal", feature_selection="none", num_features=None, seed=seed)

    return X, model, lime


def test_lime_with_few_samples_is_less_stable_than_with_many(credit_lime):
    X, model, lime = credit_lime
    rows = X.iloc[:6]
    e = lime()
    few = local_lipschitz(lambda A: e.explain(A, num_samples=20, labels=1), rows, data=X, n_samples=10,
                          epsilon=0.1, keep_prediction=model)
    many = local_lipschitz(lambda A: e.explain(A, num_samples=5000, labels=1), rows, data=X, n_samples=10,
                           epsilon=0.1, keep_prediction=model)
    assert np.nanmean(few) > 2 * np.nanmean(many)
    v_few = seed_variation(e, rows.iloc[:1], seeds=range(4), num_samples=20, labels=1)
    v_many = seed_variation(e, rows.iloc[:1], seeds=range(4), num_samples=5000, labels=1)
    assert v_few.mean_std > 10 * v_many.mean_std
    assert v_few.relative_std > v_many.relative_std


# --------------------------------------------------------------------------- seed variation
def test_seed_variation_factory_equals_seeded_explainer(credit_lime):
    X, _, lime = credit_lime
    a = seed_variation(lime(), X.iloc[:1], seeds=[0, 1, 2], num_samples=200, labels=1, top_k=3)
    b = seed_variation(lambda s: lime(s), X.iloc[:1], seeds=[0, 1, 2], num_samples=200, labels=1, top_k=3)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.mean_std == b.mean_std and a.jaccard == b.jaccard
    np.testing.assert_allclose(a.std, a.weights.std(axis=0, ddof=1))
    assert isinstance(a, SeedVariation)
    json.dumps(a.to_dict())


def test_seed_variation_of_a_deterministic_method_is_zero():
    from whybox.results import Attribution

    class Fixed:
        seed = 0

        def explain(self, x):
            v = np.array([[3.0, -1.0, 0.5, 2.0]])
            return Attribution(values=v, base_values=np.zeros(1), data=np.asarray(x, dtype=float),
                               feature_names=("a", "b", "c", "d"))

    v = seed_variation(Fixed(), np.ones((1, 4)), seeds=range(3), top_k=2)
    assert v.mean_std == 0 and v.jaccard == 1.0
    assert v.top_features[0] == ["a", "d"]
    with pytest.raises(InputError, match="factory"):
        seed_variation(42, np.ones((1, 4)))
    with pytest.raises(InputError, match="not an explainer"):
        seed_variation(lambda s: 42, np.ones((1, 4)))
