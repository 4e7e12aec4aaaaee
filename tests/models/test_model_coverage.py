"""Models the tree path must read as their users hold them (issue 15, points 3 and 6).

- LightGBM stores "income ($)" as "income_($)": the original frame is accepted, results carry its names, and
  the values equal LightGBM's own `pred_contrib` (path-dependent Tree SHAP computed by LightGBM itself).
- Subclasses of scikit-learn forests (one defined here, and scikit-optimize's) are read; values equal
  shap.TreeExplainer and brute force, totals the subclass's own predict / predict_proba.
- Library data containers (xgboost.DMatrix, lightgbm.Dataset) are refused with a message to pass the table.
- The tree parsers say why they decline a model, and whybox.explain records it; unexpected failures surface.
"""

import re
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import shap
import skopt.learning
import sklearn
import xgboost as xgb
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import whybox
from whybox.errors import AdditivityError, InputError
from whybox.models import tree_parsers, wrap
from whybox.shapley import ExactShapley
from whybox.shapley import tree as tree_shap
from whybox.shapley.tree import TreeShap

NAMES = ["income ($)", "n of kids", "plain", "age in years"]      # LightGBM turns each space into "_"


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=NAMES)
    X.iloc[::11, 1] = np.nan
    score = X["income ($)"] + X["n of kids"].fillna(0) * X["plain"] - 0.5 * X["age in years"]
    return X, score.to_numpy(), (score > 0).astype(int).to_numpy()


# ============================================================================ LightGBM's renamed columns

@pytest.fixture(scope="module", params=["regressor", "classifier", "booster"])
def lgbm(request, frame):
    X, score, label = frame
    kw = dict(n_estimators=20, num_leaves=8, min_child_samples=5, verbose=-1)
    if request.param == "regressor":
        return lgb.LGBMRegressor(**kw).fit(X, score)
    if request.param == "classifier":
        return lgb.LGBMClassifier(**kw).fit(X, label)
    return lgb.train({"objective": "regression", "num_leaves": 8, "min_data_in_leaf": 5, "verbose": -1},
                     lgb.Dataset(X, score), num_boost_round=20)


def _stored(lgbm):
    return (lgbm.booster_ if hasattr(lgbm, "booster_") else lgbm).feature_name()


def test_lightgbm_renamed_columns_accept_the_original_frame(lgbm, frame):
    X = frame[0]
    assert _stored(lgbm) == [n.replace(" ", "_") for n in NAMES]        # what LightGBM did to the names
    shuffled = X.iloc[:30, [3, 0, 2, 1]]                                # the user's order need not be the model's
    attr = TreeShap(lgbm).explain(shuffled)
    assert attr.feature_names == tuple(NAMES)                           # the user's names, in the model's order
    contrib = lgbm.predict(X.iloc[:30], pred_contrib=True)             # LightGBM's own Tree SHAP
    np.testing.assert_allclose(attr.values, contrib[:, :-1], atol=1e-9)
    np.testing.assert_allclose(attr.base_values, contrib[:, -1], atol=1e-9)
    np.testing.assert_allclose(attr.base_values + attr.values.sum(axis=1), lgbm.predict(X.iloc[:30], raw_score=True),
                               atol=1e-9)
    # the frame under the stored names works as before
    again = TreeShap(lgbm).explain(X.iloc[:30].set_axis(_stored(lgbm), axis=1))
    np.testing.assert_array_equal(again.values, attr.values)


def test_lightgbm_renamed_columns_interventional_and_auto(lgbm, frame):
    X = frame[0]
    attr = whybox.explain(lgbm, X.iloc[:20], X.iloc[100:150])
    assert attr.meta["chosen_method"] == "tree" and attr.feature_names == tuple(NAMES)
    np.testing.assert_allclose(attr.base_values + attr.values.sum(axis=1), lgbm.predict(X.iloc[:20], raw_score=True),
                               atol=1e-9)
    background_margin = lgbm.predict(X.iloc[100:150], raw_score=True)
    np.testing.assert_allclose(attr.base_values, background_margin.mean(), atol=1e-9)


def test_lightgbm_renamed_columns_through_the_model_agnostic_path(lgbm, frame):
    """wrap() finds the columns the same way: exact Shapley values on the original frame, in LightGBM's margin."""
    X = frame[0]
    shuffled = X.iloc[:4, [2, 0, 3, 1]]
    attr = whybox.explain(lgbm, shuffled, X.iloc[100:110], method="exact", output="raw")
    assert attr.feature_names == tuple(NAMES)
    np.testing.assert_allclose(attr.base_values + attr.values.sum(axis=1), lgbm.predict(X.iloc[:4], raw_score=True),
                               atol=1e-9)
    tree = TreeShap(lgbm, X.iloc[100:110]).explain(X.iloc[:4])         # the same game, computed another way
    np.testing.assert_allclose(attr.values, tree.values, atol=1e-9)


def test_lightgbm_missing_column_names_it_once(lgbm, frame):
    X = frame[0].drop(columns="plain")
    with pytest.raises(InputError) as err:
        TreeShap(lgbm).explain(X.iloc[:5])
    msg = str(err.value)
    assert "['plain']" in msg and msg.count("income") == 1          # the missing one, then what X has


def test_lightgbm_two_columns_with_the_same_stored_name_are_refused(frame):
    X, score, _ = frame
    model = lgb.LGBMRegressor(n_estimators=5, verbose=-1).fit(X, score)
    clash = X.iloc[:5].assign(**{"n_of kids": 0.0})            # "n of kids" and "n_of kids" both -> "n_of_kids"
    with pytest.raises(InputError, match="would all store as 'n_of_kids'"):
        TreeShap(model).explain(clash)
    exact = X.iloc[:5].assign(**{"n_of_kids": X["n of kids"].iloc[:5] * 0})   # the stored name itself wins
    attr = TreeShap(model).explain(exact)
    np.testing.assert_allclose(attr.base_values + attr.values.sum(axis=1),
                               model.predict(exact[[NAMES[0], "n_of_kids", *NAMES[2:]]].to_numpy(), raw_score=True),
                               atol=1e-9)
    assert attr.feature_names[1] == "n_of_kids"


# ============================================================================ subclasses of scikit-learn forests

class CalibratedForest(RandomForestClassifier):
    """A subclass as a user (or scikit-optimize) writes one: new methods, the parent's predictions."""

    def top_class(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class TemperatureForest(RandomForestClassifier):
    """A subclass whose predict_proba is no longer the average of its trees."""

    def predict_proba(self, X):
        p = super().predict_proba(X) ** 2
        return p / p.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def small(frame):
    X, score, label = frame
    return X.fillna(0.0).to_numpy()[:, :4], score, label


def test_subclass_of_random_forest_is_read(small):
    X, _, label = small
    forest = CalibratedForest(n_estimators=8, max_depth=5, random_state=0).fit(X, label)
    assert tree_shap.supports(forest) and tree_parsers.why_not(forest) is None
    attr = TreeShap(forest).explain(X[:25])
    ref = shap.TreeExplainer(forest).shap_values(X[:25])
    np.testing.assert_allclose(attr.values, ref, atol=1e-12)
    np.testing.assert_allclose(attr.base_values + attr.values.sum(axis=1), forest.predict_proba(X[:25]), atol=1e-12)
    # interventional values against brute force over the subclass's own predict_proba
    background = X[200:230]
    inter = TreeShap(forest, background).explain(X[:6])
    brute = ExactShapley(forest.predict_proba, background).explain(X[:6])
    np.testing.assert_allclose(inter.values, brute.values, atol=1e-10)
    assert whybox.explain(forest, X[:3]).meta["chosen_method"] == "tree"


def test_subclass_that_changes_its_output_fails_the_check(small):
    X, _, label = small
    forest = TemperatureForest(n_estimators=5, max_depth=4, random_state=0).fit(X, label)
    with pytest.raises(AdditivityError, match="TemperatureForest.predict_proba"):
        TreeShap(forest).explain(X[:10])


@pytest.mark.parametrize("cls", [skopt.learning.RandomForestRegressor, skopt.learning.ExtraTreesRegressor],
                         ids=lambda c: c.__name__)
def test_scikit_optimize_forests(small, cls):
    X, score, _ = small
    forest = cls(n_estimators=8, max_depth=5, random_state=0).fit(X, score)
    assert type(forest).__module__.startswith("skopt") and isinstance(forest, sklearn.base.RegressorMixin)
    attr = TreeShap(forest).explain(X[:25])
    np.testing.assert_allclose(attr.values, shap.TreeExplainer(forest).shap_values(X[:25]), atol=1e-10)
    np.testing.assert_allclose(attr.base_values + attr.values.sum(axis=1), forest.predict(X[:25]), atol=1e-10)
    mean, std = forest.predict(X[:3], return_std=True)                 # still the skopt model, std and all
    assert std.shape == (3,)


# ============================================================================ library data containers

def test_library_containers_are_refused_with_a_way_out(frame):
    X, score, _ = frame
    model = xgb.XGBRegressor(n_estimators=5, max_depth=3).fit(X.set_axis([f"c{i}" for i in range(4)], axis=1), score)
    named = X.set_axis([f"c{i}" for i in range(4)], axis=1)
    dmatrix = xgb.DMatrix(named.iloc[:5])
    calls = {"TreeShap.explain": lambda: TreeShap(model).explain(dmatrix),
             "TreeShap background": lambda: TreeShap(model, dmatrix),
             "whybox.explain": lambda: whybox.explain(model, dmatrix),
             "wrap(model)(X)": lambda: wrap(model)(dmatrix),
             "wrap after a first call": lambda: (lambda m: (m(named.iloc[:2]), m(dmatrix)))(wrap(model)),
             "lightgbm.Dataset": lambda: wrap(lgb.LGBMRegressor(n_estimators=2, verbose=-1).fit(named, score))(
                 lgb.Dataset(named.iloc[:5]))}
    for where, call in calls.items():
        with pytest.raises(InputError, match="pass the table you built it from") as err:
            call()
        assert ("xgboost.DMatrix" in str(err.value) or "lightgbm.Dataset" in str(err.value)), where


# ============================================================================ why a tree parser declines

def test_parsers_say_why_they_decline(frame):
    X, score, label = frame
    num = X.fillna(0.0).set_axis([f"c{i}" for i in range(4)], axis=1)
    scaled = make_pipeline(StandardScaler(), RandomForestRegressor(n_estimators=3, random_state=0)).fit(num, score)
    linear = lgb.LGBMRegressor(n_estimators=3, linear_tree=True, verbose=-1).fit(num, score)
    gblinear = xgb.XGBRegressor(booster="gblinear", n_estimators=3).fit(num, score)
    reasons = {"StandardScaler": scaled, "linear_tree": linear, "gblinear": gblinear, "not fitted": lgb.LGBMRegressor(),
               "LogisticRegression": LogisticRegression().fit(num, label)}
    for word, model in reasons.items():
        reason = tree_parsers.why_not(model)
        assert reason is not None and word in reason, (word, reason)
        assert tree_shap.supports(model) is False
    attr = whybox.explain(scaled, num.iloc[:3], num.iloc[:20])
    assert attr.meta["chosen_method"] == "exact" and "StandardScaler" in attr.meta["choice_reason"]
    attr = whybox.explain(linear, num.iloc[:3], num.iloc[:20])
    assert "linear_tree" in attr.meta["choice_reason"]


class _FailingText:
    """A booster whose model text cannot be read (a library failure, not a refusal)."""

    def __init__(self, booster):
        self._booster = booster

    def model_to_string(self, *args, **kwargs):
        raise RuntimeError("model text unavailable")

    def __getattr__(self, name):
        return getattr(self._booster, name)


class BrokenTextRegressor(lgb.LGBMRegressor):
    @property
    def booster_(self):
        return _FailingText(self._Booster)


def test_unexpected_failures_surface(frame):
    X, score, _ = frame
    num = X.fillna(0.0).set_axis([f"c{i}" for i in range(4)], axis=1)
    model = BrokenTextRegressor(n_estimators=3, verbose=-1).fit(num, score)
    with pytest.raises(RuntimeError, match="model text unavailable"):
        tree_parsers.why_not(model)
    with pytest.raises(RuntimeError, match="model text unavailable"):
        tree_shap.supports(model)
    with pytest.warns(UserWarning, match="model text unavailable"):
        attr = whybox.explain(model, num.iloc[:2], num.iloc[:10])
    assert attr.meta["chosen_method"] == "exact" and "RuntimeError" in attr.meta["choice_reason"]


# ============================================================================ the declared scikit-learn floor

def test_declared_scikit_learn_floor_has_the_api_whybox_uses():
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    floor = re.search(r'"scikit-learn>=([\d.]+)"', pyproject).group(1)
    assert tuple(int(p) for p in floor.split(".")[:2]) >= (1, 6)      # sklearn.utils.get_tags is new in 1.6
    src = (Path(__file__).parents[2] / "src" / "whybox" / "models" / "sklearn.py").read_text()
    assert "get_tags" in src and "except Exception" not in src
