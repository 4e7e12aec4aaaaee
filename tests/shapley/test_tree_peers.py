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
    import shap
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


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(1)
    n = 800
    X = pd.DataFrame(rng.normal(size=(n, 5)), columns=list("abcde"))
    X["g"] = pd.Categorical(rng.choice(["p", "q", "r", "s"], n))
    X.loc[rng.random(n) < 0.1, "a"] = np.nan
    X.loc[rng.random(n) < 0.1, "b"] = np.nan
    z = X[["a", "b"]].fillna(0).to_numpy()
    y = (z[:, 0] * z[:, 1] + X["c"] + (X["g"] == "q") - 0.5 * (X["g"] == "s") > 0).astype(int).to_numpy()
    return X, y


def test_xgboost_equals_pred_contribs_and_interactions(mixed):
    import xgboost as xgb
    X, y = mixed
    model = xgb.XGBClassifier(n_estimators=30, max_depth=5, enable_categorical=True, tree_method="hist",
                              nthread=1, random_state=0).fit(X, y)
    dm = xgb.DMatrix(X.iloc[:60], enable_categorical=True)
    ts = TreeShap(model)
    ref = model.get_booster().predict(dm, pred_contribs=True)
    attr = ts.explain(X.iloc[:60])
    np.testing.assert_allclose(attr.values, ref[:, :-1], atol=1e-5)  # XGBoost sums in float32
    np.testing.assert_allclose(attr.base_values, ref[:, -1], atol=1e-5)
    inter = ts.explain_interactions(X.iloc[:20])
    ref_i = model.get_booster().predict(xgb.DMatrix(X.iloc[:20], enable_categorical=True), pred_interactions=True)
    np.testing.assert_allclose(inter.values, ref_i[:, :-1, :-1], atol=1e-5)
    assert np.abs(inter.values.sum(axis=2) - attr.values[:20]).max() < 1e-10


def test_xgboost_multiclass(mixed):
    import xgboost as xgb
    X, y = mixed
    target = np.digitize(X["c"].to_numpy(), [-0.5, 0.5])
    model = xgb.XGBClassifier(n_estimators=15, max_depth=4, enable_categorical=True, tree_method="hist",
                              nthread=1).fit(X, target)
    ref = model.get_booster().predict(xgb.DMatrix(X.iloc[:30], enable_categorical=True), pred_contribs=True)
    attr = TreeShap(model).explain(X.iloc[:30])
    np.testing.assert_allclose(attr.values, np.transpose(ref[:, :, :-1], (0, 2, 1)), atol=1e-5)


def test_lightgbm_equals_pred_contrib(mixed):
    import lightgbm as lgb
    X, y = mixed
    model = lgb.LGBMClassifier(n_estimators=30, num_leaves=31, n_jobs=1, verbose=-1, random_state=0).fit(X, y)
    ref = model.booster_.predict(X.iloc[:60], pred_contrib=True)
    attr = TreeShap(model).explain(X.iloc[:60])
    np.testing.assert_allclose(attr.values, ref[:, :-1], atol=1e-9)
    np.testing.assert_allclose(attr.base_values, ref[:, -1], atol=1e-9)


def test_catboost_equals_shap_values(mixed):
    import catboost as cb
    X, y = mixed
    Xc = X.assign(g=X["g"].astype(str))
    model = cb.CatBoostClassifier(iterations=30, depth=5, cat_features=["g"], one_hot_max_size=10, verbose=0,
                                  allow_writing_files=False, thread_count=1, random_seed=0).fit(Xc, y)
    ref = model.get_feature_importance(cb.Pool(Xc.iloc[:60], cat_features=["g"]), type="ShapValues")
    attr = TreeShap(model).explain(Xc.iloc[:60])
    np.testing.assert_allclose(attr.values, ref[:, :-1], atol=1e-9)
    np.testing.assert_allclose(attr.base_values, ref[:, -1], atol=1e-9)


def test_interventional_on_xgboost_equals_exact_and_shap(mixed):
    import xgboost as xgb
    import shap
    X, y = mixed
    Xn = X.drop(columns="g")
    model = xgb.XGBClassifier(n_estimators=20, max_depth=4, nthread=1, random_state=0).fit(Xn, y)
    bg = Xn.iloc[100:120]
    attr = TreeShap(model, background=bg).explain(Xn.iloc[:10])
    peer = shap.TreeExplainer(model, data=bg, feature_perturbation="interventional").shap_values(Xn.iloc[:10])
    np.testing.assert_allclose(attr.values, peer, atol=1e-5)
    prob = TreeShap(model, background=bg, output="probability").explain(Xn.iloc[:10])
    peer_p = shap.TreeExplainer(model, data=bg, feature_perturbation="interventional",
                                model_output="probability").shap_values(Xn.iloc[:10])
    np.testing.assert_allclose(prob.values[..., 1], peer_p, atol=1e-5)
    np.testing.assert_allclose(prob.output, model.predict_proba(Xn.iloc[:10]), atol=1e-5)
