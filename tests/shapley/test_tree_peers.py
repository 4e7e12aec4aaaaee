"""Tree SHAP against the libraries' own SHAP values and shap's TreeExplainer (test-only peers)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (ExtraTreesRegressor, GradientBoostingClassifier, HistGradientBoostingRegressor,
                              RandomForestClassifier)

import whybox
from whybox.shapley.tree import TreeShap


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 6))
    y = (X[:, 0] * X[:, 1] + X[:, 2] > 0).astype(int)
    return X, y


@pytest.mark.parametrize("make", [
    lambda X, y: RandomForestClassifier(n_estimators=15, max_depth=6, random_state=0).fit(X, y),
    lambda X, y: GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X, y),
    lambda X, y: ExtraTreesRegressor(n_estimators=8, max_depth=8, random_state=0).fit(X, X[:, 0] * X[:, 1]),
    lambda X, y: HistGradientBoostingRegressor(max_iter=20).fit(X, X[:, 0] * X[:, 1]),
])
def test_sklearn_models_equal_shap_tree_explainer(data, make):
    shap = pytest.importorskip("shap")
    X, y = data
    model = make(X, y)
    ours = TreeShap(model).explain(X[:40])
    peer = np.asarray(shap.TreeExplainer(model).shap_values(X[:40]))
    np.testing.assert_allclose(ours.values, peer.reshape(ours.values.shape), atol=1e-9)


def test_explain_picks_tree_shap_for_tree_models(data):
    X, y = data
    model = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(X, y)
    attr = whybox.explain(model, X[:5])
    assert attr.meta["chosen_method"] == "tree" and attr.meta["mode"] == "path_dependent"
    np.testing.assert_allclose(attr.output, model.decision_function(X[:5]), atol=1e-9)
    inter = whybox.explain(model, X[:5], background=X[:20])
    assert inter.meta["mode"] == "interventional"
    np.testing.assert_allclose(inter.output, model.decision_function(X[:5]), atol=1e-9)
