"""Explanations of a model fitted to credit() recover the planted truth: real drivers on top, noise near zero."""

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

import whybox
from whybox.datasets import credit


@pytest.fixture(scope="module")
def fitted():
    data = credit(n=7000, seed=1)
    X, y = data.X, data.y
    model = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_depth=3,
                                           categorical_features="from_dtype", random_state=0).fit(X[:6000], y[:6000])
    return data, model


def check_against_truth(attr, data):
    imp = attr.mean_abs().sorted()
    top = set(imp.feature_names[:3])
    assert top <= set(data.drivers[:4]), imp  # the three strongest true drivers (allowing one swap) lead
    assert imp["noise"] < 0.1 * imp.scores[0], imp  # the noise column is near zero
    assert list(imp.feature_names).index("noise") >= 5, imp


def test_tree_shap_of_a_fitted_model_finds_the_drivers(fitted):
    data, model = fitted
    X = data.X
    attr = whybox.explain(model, X[6000:6300], background=X[:100], output="log_odds")
    assert attr.meta["chosen_method"] == "tree"
    check_against_truth(attr, data)
    # attributions of the fitted model correlate with the true per-feature terms for the strong drivers
    terms = data.true_terms(X[6000:6300])
    for name in ("income", "prior_defaults"):
        r = np.corrcoef(attr[:, name].values, terms[name])[0, 1]
        assert r > 0.8, (name, r)


def test_model_agnostic_shapley_of_a_fitted_model_finds_the_drivers(fitted):
    data, model = fitted
    X = data.X
    attr = whybox.explain(model, X[6000:6040], background=X[:25], method="exact", output="log_odds")
    check_against_truth(attr, data)
