"""shap (a test-only peer) computes the same interventional Shapley values."""

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import Ridge
from sklearn.neural_network import MLPRegressor

from whybox.shapley import ExactShapley, LinearShap

import shap


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    y = X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + 0.5 * X[:, 3] ** 2
    return X, y


def test_exact_equals_shap_exact_on_mlp(data):
    X, y = data
    mlp = MLPRegressor(hidden_layer_sizes=(16,), max_iter=300, random_state=0).fit(X, y)
    bg = X[:20]
    ours = ExactShapley(mlp, bg).explain(X[200:205])
    peer = shap.ExactExplainer(mlp.predict, shap.maskers.Independent(bg, max_samples=len(bg)))(X[200:205])
    np.testing.assert_allclose(ours.values, peer.values, atol=1e-8)
    np.testing.assert_allclose(ours.base_values, peer.base_values, atol=1e-8)


def test_exact_equals_shap_exact_on_classifier_probabilities(data):
    X, y = data
    clf = GradientBoostingClassifier(n_estimators=15, random_state=0).fit(X, y > np.median(y))
    bg = X[:15]
    ours = ExactShapley(clf, bg).explain(X[150:153])
    peer = shap.ExactExplainer(clf.predict_proba, shap.maskers.Independent(bg, max_samples=len(bg)))(X[150:153])
    np.testing.assert_allclose(ours.values, peer.values, atol=1e-8)


def test_linear_equals_shap_linear_explainer(data):
    X, y = data
    reg = Ridge().fit(X, y)
    bg = X[:50]
    ours = LinearShap(reg, bg).explain(X[100:110])
    peer = shap.LinearExplainer(reg, shap.maskers.Independent(bg, max_samples=len(bg)))(X[100:110])
    np.testing.assert_allclose(ours.values, peer.values, atol=1e-9)
