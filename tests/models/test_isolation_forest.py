"""IsolationForest explained exactly in its mean path length E[h(x)].

References, all computed here from scikit-learn's public API and not from whybox's reading of the trees:
  - E[h] = -c(psi) * log2(-score_samples(x)), with c written out below from the Isolation Forest paper;
  - brute-force interventional Shapley values (ExactShapley, all 2^5 coalitions) of that function;
  - shap.TreeExplainer's path-dependent values for IsolationForest;
  - decision_function = -2 ** (-E[h] / c(psi)) - offset_.
"""

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import make_pipeline

import whybox
from whybox.models.trees import TreeEnsemble
from whybox.shapley import ExactShapley
from whybox.shapley.tree import TreeShap

CONFIGS = {
    "default": dict(),
    "feature_subsets": dict(max_features=3),            # each tree sees 3 of the 5 columns, in its own order
    "small_subsample": dict(max_samples=40),             # leaves cut off at depth 6 hold several rows: c(n) > 0
    "bootstrap_fraction": dict(max_samples=0.3, bootstrap=True, max_features=0.8),
    "contamination": dict(contamination=0.1),             # moves offset_, not score_samples
}


def c(n):
    """Average path length of an unsuccessful binary-search-tree search over n items (Liu et al. 2008)."""
    n = float(n)
    if n <= 1:
        return 0.0
    if n == 2:
        return 1.0
    return 2.0 * (np.log(n - 1.0) + 0.5772156649015329) - 2.0 * (n - 1.0) / n


def mean_path_length(model, X):
    return -c(model.max_samples_) * np.log2(-model.score_samples(X))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 5))
    X[:20] *= 4.0                                         # some outliers
    X[rng.random(X.shape) < 0.05] = np.nan               # IsolationForest takes NaN
    return pd.DataFrame(X, columns=["amount", "hour", "distance", "velocity", "age"])


@pytest.fixture(scope="module", params=list(CONFIGS), ids=list(CONFIGS))
def forest(request, data):
    return IsolationForest(n_estimators=25, random_state=0, **CONFIGS[request.param]).fit(data)


def test_parsed_output_is_the_mean_path_length_of_score_samples(forest, data):
    ens = TreeEnsemble.from_model(forest)
    assert ens.output_names == ("mean_path_length",) and ens.n_features == 5
    np.testing.assert_allclose(ens.predict_raw(data)[:, 0], mean_path_length(forest, data), rtol=1e-12, atol=1e-12)


def test_interventional_values_equal_brute_force(forest, data):
    background, rows = data.iloc[100:130], data.iloc[:12]
    tree = TreeShap(forest, background).explain(rows)
    brute = ExactShapley(lambda X: mean_path_length(forest, X), background).explain(rows)
    np.testing.assert_allclose(tree.values, brute.values, atol=1e-9)
    np.testing.assert_allclose(tree.base_values, brute.base_values, atol=1e-9)


def test_path_dependent_values_equal_shap(forest, data):
    # held-out rows: a training row can lie exactly on a random split's threshold (the extremes isolation trees
    # cut at), where shap 0.51 goes the other way from scikit-learn and misses score_samples by whole path steps
    rng = np.random.default_rng(7)
    rows = pd.DataFrame(rng.normal(size=(40, 5)) * 1.5, columns=data.columns)
    rows[rng.random(rows.shape) < 0.05] = np.nan
    ours = TreeShap(forest).explain(rows)
    theirs = shap.TreeExplainer(forest)
    np.testing.assert_allclose(ours.values, theirs.shap_values(rows), atol=1e-9)
    if not forest.bootstrap:
        # with bootstrap=True shap averages its base over distinct rows (n_node_samples) but weighs paths by the
        # drawn counts (weighted_n_node_samples), so its own base + values miss score_samples; whybox uses the
        # counts for both (its additivity is tested below)
        np.testing.assert_allclose(ours.base_values, np.asarray(theirs.expected_value).reshape(-1)[0], atol=1e-9)


def test_additive_against_score_samples_and_decision_function(forest, data):
    rows = data.iloc[:60]
    attr = TreeShap(forest).explain(rows)
    total = attr.base_values + attr.values.sum(axis=1)
    np.testing.assert_allclose(total, mean_path_length(forest, rows), rtol=1e-12, atol=1e-12)
    psi = c(forest.max_samples_)
    np.testing.assert_allclose(-(2.0 ** (-total / psi)), forest.score_samples(rows), rtol=1e-12)
    np.testing.assert_allclose(-(2.0 ** (-total / psi)) - forest.offset_, forest.decision_function(rows),
                               rtol=1e-12, atol=1e-12)
    assert attr.meta["additivity_gap"] < 1e-9 and "score_samples" in attr.meta["additivity_reference"]
    assert attr.feature_names == tuple(data.columns)


def test_outliers_have_shorter_paths_explained_by_their_extreme_columns(data):
    forest = IsolationForest(n_estimators=50, random_state=0).fit(data)
    rng = np.random.default_rng(0)
    normal = pd.DataFrame(rng.normal(size=(5, 5)) * 0.1, columns=data.columns)
    odd = normal.copy()
    odd["distance"] = 9.0                                 # only this column is unusual
    attr = TreeShap(forest, data.iloc[:50]).explain(pd.concat([normal, odd], ignore_index=True))
    assert np.all(attr.values[5:, 2] < attr.values[:5, 2])
    assert np.all(np.argmin(attr.values[5:], axis=1) == 2)


def test_auto_explain_and_pipeline(data):
    forest = IsolationForest(n_estimators=10, random_state=1).fit(data)
    attr = whybox.explain(forest, data.iloc[:5])
    assert attr.meta["chosen_method"] == "tree"
    np.testing.assert_allclose(attr.base_values + attr.values.sum(axis=1), mean_path_length(forest, data.iloc[:5]),
                               atol=1e-10)
    pipe = make_pipeline("passthrough", IsolationForest(n_estimators=10, random_state=1)).fit(data)
    attr = TreeShap(pipe).explain(data.iloc[:5])
    assert "Pipeline.score_samples" in attr.meta["additivity_reference"]
    np.testing.assert_allclose(attr.base_values + attr.values.sum(axis=1),
                               -c(pipe[-1].max_samples_) * np.log2(-pipe.score_samples(data.iloc[:5])), atol=1e-10)
